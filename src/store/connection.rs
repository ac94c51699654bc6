//! The writer's connection: how it is configured (at open, and again
//! after a rekey), and the read-only connection that falls back to SQLite's
//! `immutable` where the WAL's side files cannot be made.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{keying, Store, BACKSTOP_CHECKPOINT_PAGES, DATABASE_FILE, WAL_SIZE_LIMIT};
use crate::config::Durability;
use crate::error::{Error, ErrorCode, Result};
use crate::key::StoreKey;

/// A read-only connection that can read, or the same opened `immutable`:
/// SQLite reads a WAL-mode database through its `-shm` file, which it
/// cannot create on a read-only file system (or in a folder it cannot
/// write). When the WAL is absent or empty the database file is the whole
/// store, and `immutable` reads it without the side files (nothing can
/// write it meanwhile: the store's lock is held shared). A WAL that holds
/// writes cannot be read that way: refused, saying what to do.
pub(super) fn read_only_or_immutable(
    conn: Connection,
    dir: &Path,
    path: &Path,
    key: Option<&StoreKey>,
) -> Result<(Connection, bool)> {
    let probe = conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0));
    let Err(first) = probe else {
        return Ok((conn, false));
    };
    drop(conn);
    let wal = dir.join(format!("{DATABASE_FILE}-wal"));
    let wal_holds_writes = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    if wal_holds_writes {
        return Err(Error::new(
            ErrorCode::Io,
            format!(
                "{}: cannot be read ({first}): its WAL holds writes that SQLite reads through a \
                 -shm file it cannot create here (a read-only file system, or a folder this \
                 process cannot write); open it read-write once where it can be written, or copy \
                 its folder somewhere writable",
                path.display()
            ),
        ));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(immutable_uri(path), flags)
        .map_err(|e| Error::from(e).context(format_args!("opening {}", path.display())))?;
    keying::key_connection(&conn, key)?;
    crate::log::info(format_args!(
        "{}: its folder cannot be written (a read-only file system?): read as it is, without the \
         WAL's side files",
        path.display()
    ));
    Ok((conn, true))
}

/// The `file:` URI that opens `path` immutable (bytes outside the URI's
/// unreserved set percent-encoded).
pub(super) fn immutable_uri(path: &Path) -> String {
    let mut uri = immutable_uri_base(path);
    uri.push_str("?immutable=1");
    uri
}

/// The `file:` URI of `path`, without parameters (bytes outside the URI's
/// unreserved set percent-encoded; never a quote).
pub(super) fn immutable_uri_base(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

impl Store {
    pub(super) fn configure(&mut self) -> Result<()> {
        self.configure_connection()?;
        self.migrate()?;
        self.check_schema()
    }

    /// The settings of the writer's connection (at open, and after a rekey
    /// opened it again).
    pub(super) fn configure_connection(&mut self) -> Result<()> {
        let conn = &self.conn;
        let on_disk = self.dir.is_some();
        if on_disk && !self.read_only {
            let mode = switch_to_wal(conn)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::new(
                    ErrorCode::Database,
                    format!("database: could not switch to WAL mode (got {mode})"),
                ));
            }
        }
        let sync = match self.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        // Writes queued together share a transaction with one savepoint
        // each; a savepoint's journal stays in memory instead of spilling
        // to a temporary file.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        if on_disk && !self.read_only {
            // Checkpoints run on a connection of their own, off the writer
            // (see [`Checkpointer`]); the writer checkpoints by itself only
            // as a backstop, should the WAL grow this far regardless.
            conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)?;
            // A WAL that grew (a burst) is cut back when it starts over.
            conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        }
        conn.busy_timeout(crate::error::BUSY_TIMEOUT)?;
        // SQLite checks each cell's size against its page as it reads it:
        // more damage found by SQLite itself, at a cost too small to see.
        conn.pragma_update(None, "cell_size_check", true)?;
        Ok(())
    }
}

/// `PRAGMA journal_mode=WAL`, retried while another process switches the
/// same new store (two shared instances creating it at once: each holds
/// a read lock and wants the exclusive one, and SQLite answers one of them
/// BUSY at once rather than wait in a deadlock; its lock is gone then, so
/// the other switches, and the retry finds WAL).
fn switch_to_wal(conn: &Connection) -> Result<String> {
    let start = std::time::Instant::now();
    loop {
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && start.elapsed() < crate::error::BUSY_TIMEOUT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            done => return Ok(done?),
        }
    }
}
