//! Restoring a backup (`"restore_from"`): the backup is verified, the
//! store it replaces is moved aside inside the store's folder (one such
//! copy is kept), and the backup takes the database's name, all under the
//! store's lock, before the store is opened as usual.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::keying::{file_kind, key_connection, refuse_mismatch, FileKind};
use super::lock::{locked_elsewhere, refuse_links};
use super::schema::SCHEMA_VERSION;
use super::DATABASE_FILE;
use crate::error::{Error, ErrorCode, Result};
use crate::key::StoreKey;
use crate::model::quote;
use crate::platform;

/// What the replaced store's database and WAL are renamed to (SQLite finds
/// a database's WAL by its name plus `-wal`, so the two stay a pair).
pub const REPLACED_SUFFIX: &str = ".replaced";

/// Replaces the store in `dir` with the backup at `from`, for `user_id`.
/// Refused, with nothing changed, when the backup is not a whole store of
/// this user (SQLite's integrity check, its schema, its owner) or the
/// store is open in another instance.
/// An encrypted backup opens with `key` (the store's key when the backup
/// was made); a key that does not open it is refused as `WrongKey`.
pub fn restore_from_backup(
    dir: &Path,
    from: &Path,
    user_id: &str,
    key: Option<&StoreKey>,
) -> Result<()> {
    verify_backup(from, user_id, key)?;
    platform::create_private_dir(dir)
        .map_err(|e| Error::from(e).context(format_args!("creating {}", dir.display())))?;
    refuse_links(dir)?;
    let db = dir.join(DATABASE_FILE);
    // The lock on the store it replaces, held until the backup is in place.
    let _lock = lock_existing(&db, dir)?;
    let tmp = dir.join(format!(".{DATABASE_FILE}.restoring"));
    let step = |what: &str, e: io::Error| {
        Error::from(e).context(format_args!(
            "restoring {} from {}: {what}",
            dir.display(),
            from.display()
        ))
    };
    let _ = fs::remove_file(&tmp);
    copy_synced(from, &tmp).map_err(|e| step("copying the backup", e))?;
    let replaced =
        swap_in(dir, &tmp, REPLACED_SUFFIX).map_err(|e| step("putting it in place", e))?;
    crate::log::info(format_args!(
        "restored the store {} from {} (the store it replaced: {})",
        dir.display(),
        from.display(),
        replaced.display()
    ));
    Ok(())
}

/// Puts the database file `new` (in `dir`) in place of the store's,
/// whose database and WAL are moved aside as `<name><suffix>(-wal)`
/// (replacing an earlier such copy: one is kept), and syncs the folder.
/// The store's lock must be held. Returns the path of the copy aside.
pub(super) fn swap_in(dir: &Path, new: &Path, suffix: &str) -> io::Result<std::path::PathBuf> {
    let db = dir.join(DATABASE_FILE);
    let aside = dir.join(format!("{DATABASE_FILE}{suffix}"));
    let aside_wal = dir.join(format!("{DATABASE_FILE}{suffix}-wal"));
    for old in [&aside, &aside_wal] {
        match fs::remove_file(old) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let wal = dir.join(format!("{DATABASE_FILE}-wal"));
    if db.exists() {
        fs::rename(&db, &aside)?;
        if wal.exists() {
            fs::rename(&wal, &aside_wal)?;
        }
    }
    let _ = fs::remove_file(dir.join(format!("{DATABASE_FILE}-shm")));
    fs::rename(new, &db)?;
    platform::sync_dir(dir)?;
    Ok(aside)
}

/// The backup is a whole store of `user_id`: SQLite's integrity check
/// passes, its schema is one this version opens, and it belongs to no
/// other user.
fn verify_backup(from: &Path, user_id: &str, key: Option<&StoreKey>) -> Result<()> {
    let refused = |why: String| {
        Error::new(
            ErrorCode::Database,
            format!(
                "restore_from {}: {why}; the store was left as it was",
                from.display()
            ),
        )
    };
    if !from.is_file() {
        return Err(Error::new(
            ErrorCode::Io,
            format!("restore_from {}: no such file", from.display()),
        ));
    }
    let conn = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(|e| refused(format!("cannot be opened ({e})")))?;
    let kind = file_kind(from)?;
    refuse_mismatch(kind, key, from)
        .map_err(|e| refused(e.message().to_string()).with_code(e.code()))?;
    key_connection(&conn, key)?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) if key.is_some() && kind != FileKind::Plain => {
                refused("does not open with this encryption_key".to_string())
                    .with_code(ErrorCode::WrongKey)
            }
            _ => refused(format!("is not a store ({e})")),
        })?;
    if check != "ok" {
        return Err(refused(format!("is damaged (integrity check: {check})")));
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if !(1..=SCHEMA_VERSION).contains(&version) {
        return Err(refused(format!(
            "has schema version {version}, which this library ({SCHEMA_VERSION}) does not open"
        )));
    }
    let owner: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'user_id'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| refused(format!("is not a store ({e})")))?;
    if let Some(owner) = owner.filter(|o| o != user_id) {
        return Err(refused(format!(
            "belongs to user_id {}, not {}",
            quote(&owner),
            quote(user_id)
        )));
    }
    Ok(())
}

/// Takes the store's lock on its database when there is one.
pub(super) fn lock_existing(db: &Path, dir: &Path) -> Result<Option<File>> {
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(platform::NO_FOLLOW)
        .open(db)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::from(e).context(format_args!("opening {}", db.display()))),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Err(locked_elsewhere(dir)),
        Err(TryLockError::Error(e)) => {
            Err(Error::from(e).context(format_args!("locking {}", db.display())))
        }
    }
}

/// Copies a file to a new owner-only one, synced.
fn copy_synced(from: &Path, to: &Path) -> io::Result<()> {
    let mut source = File::open(from)?;
    let mut target = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(platform::NO_FOLLOW)
        .open(to)?;
    io::copy(&mut source, &mut target)?;
    target.sync_all()
}
