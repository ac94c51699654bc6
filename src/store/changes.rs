//! The change log of a `"shared"` store: every write of a shared instance
//! appends what it changed (inside its own transaction, so a change is
//! logged if and only if it committed), and the other instances read the
//! rows past the last one they applied to catch their caches, totals and
//! listeners up. `seq` (the rowid) only grows: only the oldest rows are
//! ever deleted, so the newest stays and no seq is handed out twice (no
//! AUTOINCREMENT: it would write `sqlite_sequence` with every row); the counter in `conversations.db-changes`
//! (see `crate::shared_map`) tells that there is something to read.
//!
//! The table exists once a shared instance opened the store read-write. A
//! write by an instance that is not shared logs nothing: such an instance
//! opens alone, and logs one `Reset` as it opens, so that a shared
//! instance suspended meanwhile reloads everything as it resumes.

use rusqlite::params;

use super::{Store, Writer};
use crate::error::Result;

/// The change counter's file, beside the database (mapped shared).
pub const CHANGES_FILE: &str = "conversations.db-changes";

/// Rows kept: a shared instance that falls further behind (suspended for
/// that many changes) reloads whole instead of reading the log.
pub const CHANGES_KEPT: u64 = 100_000;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS change_log ( \
    seq INTEGER PRIMARY KEY, \
    kind INTEGER NOT NULL, \
    id TEXT NOT NULL, \
    existed INTEGER NOT NULL, \
    unread_before INTEGER NOT NULL, \
    unread_after INTEGER NOT NULL, \
    payload TEXT)";

/// What a logged row says changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A conversation's row (written or deleted).
    Conversation = 0,
    /// A profile (name, avatar) of a user or group.
    Profile = 1,
    /// A conversation group event (its payload says which).
    Group = 2,
    /// Written by an instance that logs nothing: reload whole.
    Reset = 3,
}

/// One logged change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedChange {
    pub seq: u64,
    pub kind: ChangeKind,
    /// The conversation (or profile's) ID; empty for a group event.
    pub id: String,
    /// The conversation was stored before the write.
    pub existed: bool,
    /// Its part of the unread total before and after (see
    /// `state::unread_part`), saturated at i64::MAX.
    pub unread_before: u64,
    pub unread_after: u64,
    pub payload: Option<String>,
}

/// What a reader finds past its position.
pub enum Since {
    /// The changes, in order (maybe none).
    Changes(Vec<LoggedChange>),
    /// Rows it needs were trimmed, or a non-shared instance wrote: reload
    /// whole. Carries the log's last seq.
    Reload(u64),
}

fn kind_of(n: i64) -> ChangeKind {
    match n {
        1 => ChangeKind::Profile,
        2 => ChangeKind::Group,
        3 => ChangeKind::Reset,
        _ => ChangeKind::Conversation,
    }
}

fn clamp(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

impl Store {
    /// Begins the write transaction now, taking the write lock (waiting
    /// up to `BUSY_TIMEOUT` for another process's): a shared instance
    /// reads what other processes wrote under it, before writing. The
    /// next [`Store::write`] commits it; [`Store::abandon_write`] undoes it.
    pub fn begin_write(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Runs `f` in one read snapshot (a read transaction, unless one is
    /// open already): what it reads in several queries is one state.
    pub fn read_snapshot<R>(&self, f: impl FnOnce(&Store) -> Result<R>) -> Result<R> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN")?;
        let result = f(self);
        let _ = self
            .conn
            .execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
        result
    }

    /// Rolls back a transaction [`Store::begin_write`] began, if open.
    pub fn abandon_write(&self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// Makes the log (a shared instance that writes, at open).
    pub fn ensure_change_log(&self) -> Result<()> {
        self.conn.execute_batch(CREATE)?;
        Ok(())
    }

    fn has_change_log(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'change_log')",
            [],
            |r| r.get(0),
        )?)
    }

    /// The last logged seq (0: none, or no log).
    pub fn last_change(&self) -> Result<u64> {
        if !self.has_change_log()? {
            return Ok(0);
        }
        let last: Option<i64> =
            self.conn
                .query_row("SELECT MAX(seq) FROM change_log", [], |r| r.get(0))?;
        Ok(last.unwrap_or(0) as u64)
    }

    /// An instance that logs nothing opens read-write: if the store has a
    /// log, one `Reset` row tells the shared instances to reload whole.
    pub fn log_reset(&self) -> Result<()> {
        if self.has_change_log()? {
            self.conn.execute(
                "INSERT INTO change_log (kind, id, existed, unread_before, unread_after) \
                 VALUES (?1, '', 0, 0, 0)",
                [ChangeKind::Reset as i64],
            )?;
        }
        Ok(())
    }

    /// The changes logged after `pos`, read in one snapshot with what the
    /// caller reads next only if it is inside a transaction already.
    pub fn changes_since(&self, pos: u64) -> Result<Since> {
        if !self.has_change_log()? {
            return Ok(if pos == 0 {
                Since::Changes(Vec::new())
            } else {
                Since::Reload(0)
            });
        }
        let last = self.last_change()?;
        if last == pos {
            return Ok(Since::Changes(Vec::new()));
        }
        // A log behind the reader: another store took this one's place
        // (deleted and made again while the reader was suspended).
        if last < pos {
            return Ok(Since::Reload(last));
        }
        let oldest: Option<i64> =
            self.conn
                .query_row("SELECT MIN(seq) FROM change_log", [], |r| r.get(0))?;
        if oldest.is_none_or(|o| o as u64 > pos + 1) {
            return Ok(Since::Reload(last));
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, kind, id, existed, unread_before, unread_after, payload \
             FROM change_log WHERE seq > ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([clamp(pos)], |r| {
            Ok(LoggedChange {
                seq: r.get::<_, i64>(0)? as u64,
                kind: kind_of(r.get(1)?),
                id: r.get(2)?,
                existed: r.get(3)?,
                unread_before: r.get::<_, i64>(4)? as u64,
                unread_after: r.get::<_, i64>(5)? as u64,
                payload: r.get(6)?,
            })
        })?;
        let changes = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        if changes.iter().any(|c| c.kind == ChangeKind::Reset) {
            return Ok(Since::Reload(last));
        }
        Ok(Since::Changes(changes))
    }
}

impl Writer<'_> {
    /// Logs one change; returns its seq.
    pub fn log_change(&self, change: &LoggedChange) -> Result<u64> {
        self.conn
            .prepare_cached(
                "INSERT INTO change_log (kind, id, existed, unread_before, unread_after, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                change.kind as i64,
                change.id,
                change.existed,
                clamp(change.unread_before),
                clamp(change.unread_after),
                change.payload
            ])?;
        let seq = self.conn.last_insert_rowid() as u64;
        // Trimmed now and then, as the log passes a multiple of 1,024.
        if seq.is_multiple_of(1024) && seq > CHANGES_KEPT {
            self.conn.execute(
                "DELETE FROM change_log WHERE seq <= ?1",
                [clamp(seq - CHANGES_KEPT)],
            )?;
        }
        Ok(seq)
    }
}
