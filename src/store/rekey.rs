//! Changing a store's key (`imconv_rekey`): encrypting a plain store,
//! changing the key, or decrypting, by writing a whole new database and
//! swapping it in, so that a crash at any moment leaves a store that opens
//! with exactly one of the two keys and holds every committed write.
//!
//! The steps, the store's lock held throughout (the new file is locked
//! before it takes the database's name):
//! 1. `VACUUM INTO` a work folder, keyed with the new key (or plain): a
//!    copy of what is committed; synced.
//! 2. Every connection to the old database closes (the caller has closed
//!    the others): SQLite checkpoints and removes the WAL, so no frame of
//!    the old database is left to be replayed onto the new one.
//! 3. The key check is removed (synced): from here until step 5 no check
//!    confirms either key, so neither is ever taken for damage.
//! 4. The new file is renamed over the database (synced).
//! 5. The store reopens with the new key, which writes its key check.
//!
//! A crash before 4 leaves the old database (old key); after it, the new
//! one (new key). A failure before 4 reopens the old database.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::keying::{self, CIPHER};
use super::lock::lock_file;
use super::{immutable_uri_base, Store, DATABASE_FILE};
use crate::error::{Error, ErrorCode, Result};
use crate::key::{wipe, StoreKey};
use crate::platform;

/// The work folder inside the store's folder (removed at every open).
pub(super) const REKEY_DIR: &str = ".rekeying";

impl Store {
    /// Re-encrypts the store with `new` (`None`: plain). The caller has
    /// closed every other connection to the store and runs nothing else on
    /// it meanwhile; after this returns (either way) they may be opened
    /// again with [`Store::reader`] and [`Store::checkpointer`].
    pub fn rekey(&mut self, new: Option<StoreKey>) -> Result<()> {
        let dir = match (&self.dir, self.read_only) {
            (None, _) => {
                return Err(Error::invalid_parameters(
                    "rekey: the store is in memory (nothing is at rest to encrypt)",
                ))
            }
            (Some(_), true) => {
                return Err(Error::new(
                    ErrorCode::ReadOnly,
                    "rekey: the instance was opened read-only",
                ))
            }
            (Some(dir), false) => dir.clone(),
        };
        if self.key.is_none() && new.is_none() {
            return Ok(());
        }
        let work = dir.join(REKEY_DIR);
        let step = |what: &str, e: io::Error| {
            Error::from(e).context(format_args!("rekey of {}: {what}", dir.display()))
        };
        let _ = fs::remove_dir_all(&work);
        platform::create_private_dir(&work).map_err(|e| step("making a work folder", e))?;
        let fresh = work.join(DATABASE_FILE);
        let copied = self
            .copy_keyed(&fresh, new.as_ref())
            .and_then(|()| {
                // Owner-only like the store (SQLite made it with the umask's
                // mode), synced before it takes the database's name.
                fs::set_permissions(&fresh, fs::Permissions::from_mode(0o600))
                    .and_then(|()| fs::File::open(&fresh))
                    .and_then(|f| f.sync_all())
                    .and_then(|()| platform::sync_dir(&work))
                    .map_err(|e| step("syncing the new database", e))
            })
            .and_then(|()| lock_file(&fresh));
        let new_lock = match copied {
            Ok(lock) => lock,
            Err(e) => {
                let _ = fs::remove_dir_all(&work);
                return Err(e);
            }
        };
        // Step 2: the last connection to the old database closes.
        drop(std::mem::replace(
            &mut self.conn,
            Connection::open_in_memory()?,
        ));
        let swapped = old_wal_gone(&dir)
            .and_then(|()| keying::remove_key_check(&dir))
            .and_then(|()| fs::rename(&fresh, dir.join(DATABASE_FILE)))
            .and_then(|()| platform::sync_dir(&dir));
        let key = match swapped {
            Ok(()) => {
                self._lock = Some(new_lock);
                new
            }
            Err(e) => {
                // Nothing was renamed: the old database, under the old key.
                drop(new_lock);
                let _ = fs::remove_dir_all(&work);
                self.reconnect(&dir, self.key.clone())
                    .map_err(|r| r.context("rekey failed, and reopening the store failed"))?;
                return Err(step("putting the new database in place", e));
            }
        };
        let _ = fs::remove_dir_all(&work);
        self.reconnect(&dir, key)
            .map_err(|e| e.context("rekey: reopening the store with its new key"))?;
        crate::log::info(format_args!(
            "the store {} is now {}",
            dir.display(),
            if self.key.is_some() {
                "encrypted with its new key"
            } else {
                "plain (not encrypted)"
            }
        ));
        Ok(())
    }

    /// Step 1: `VACUUM INTO` `to`, encrypted with `new` or plain. The
    /// statement's text (which holds the key) is wiped afterwards.
    fn copy_keyed(&self, to: &Path, new: Option<&StoreKey>) -> Result<()> {
        let raw = new.map(StoreKey::raw_text);
        let key = raw.as_ref().map_or("", |r| r.as_str());
        let uri = immutable_uri_base(to);
        let mut statement = String::with_capacity(uri.len() + key.len() + 64);
        statement.push_str("VACUUM INTO '");
        statement.push_str(&uri);
        statement.push_str("?cipher=");
        statement.push_str(CIPHER);
        statement.push_str("&key=");
        statement.push_str(key);
        statement.push('\'');
        let done = self.conn.execute_batch(&statement);
        let mut bytes = statement.into_bytes();
        wipe(&mut bytes);
        done.map_err(|e| Error::from(e).context(format_args!("rekey: writing {}", to.display())))
    }

    /// Opens the database again (after step 4, or after a failure before
    /// it) with `key`, configured as at open.
    fn reconnect(&mut self, dir: &Path, key: Option<StoreKey>) -> Result<()> {
        let path: PathBuf = dir.join(DATABASE_FILE);
        let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW
            | OpenFlags::SQLITE_OPEN_READ_WRITE;
        let conn = Connection::open_with_flags(&path, flags)?;
        keying::key_connection(&conn, key.as_ref())?;
        let kind = keying::file_kind(&path)?;
        keying::confirm_key(&conn, kind, key.as_ref(), dir, false)?;
        keying::size_cache(&conn, key.as_ref())?;
        self.conn = conn;
        self.key = key;
        self.configure_connection()
    }
}

/// After the last connection closed, SQLite has removed the WAL; one that
/// is left holding frames would be replayed onto the new database.
fn old_wal_gone(dir: &Path) -> io::Result<()> {
    let wal = dir.join(format!("{DATABASE_FILE}-wal"));
    match fs::metadata(&wal) {
        Ok(m) if m.len() > 0 => Err(io::Error::other(format!(
            "{} still holds writes after its last connection closed (another connection is \
             open?)",
            wal.display()
        ))),
        _ => {
            let _ = fs::remove_file(dir.join(format!("{DATABASE_FILE}-shm")));
            Ok(())
        }
    }
}
