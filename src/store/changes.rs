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
        if self.change_log.get() {
            return Ok(true);
        }
        let exists = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'change_log')",
            [],
            |r| r.get(0),
        )?;
        self.change_log.set(exists);
        Ok(exists)
    }

    /// The last logged seq (0: none, or no log).
    pub fn last_change(&self) -> Result<u64> {
        if !self.has_change_log()? {
            return Ok(0);
        }
        let last: Option<i64> = self
            .conn
            .prepare_cached("SELECT MAX(seq) FROM change_log")?
            .query_row([], |r| r.get(0))?;
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

/// Rows one INSERT of [`Writer::log_changes`] carries (an import of
/// thousands logs them 64 at a time: a fraction of one statement each).
const ROWS_PER_INSERT: usize = 64;

fn insert_rows(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO change_log (kind, id, existed, unread_before, unread_after, payload) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?)");
    }
    sql
}

impl Writer<'_> {
    /// Logs the changes, in order; returns the last one's seq (`None`:
    /// none given).
    pub fn log_changes(&self, changes: &[LoggedChange]) -> Result<Option<u64>> {
        if changes.is_empty() {
            return Ok(None);
        }
        let full = insert_rows(ROWS_PER_INSERT);
        for chunk in changes.chunks(ROWS_PER_INSERT) {
            let sql;
            let sql = if chunk.len() == ROWS_PER_INSERT {
                &full
            } else {
                sql = insert_rows(chunk.len());
                &sql
            };
            let mut stmt = self.conn.prepare_cached(sql)?;
            let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 6);
            let numbers: Vec<[i64; 4]> = chunk
                .iter()
                .map(|c| {
                    [
                        c.kind as i64,
                        i64::from(c.existed),
                        clamp(c.unread_before),
                        clamp(c.unread_after),
                    ]
                })
                .collect();
            for (c, n) in chunk.iter().zip(&numbers) {
                params.extend_from_slice(&[&n[0], &c.id, &n[1], &n[2], &n[3], &c.payload]);
            }
            stmt.execute(params.as_slice())?;
        }
        // Each row took the rowid after the largest (the write lock is
        // held): they are consecutive.
        let last = self.conn.last_insert_rowid() as u64;
        let before_first = last.saturating_sub(changes.len() as u64);
        // Trimmed now and then, as the log passes a multiple of 1,024.
        if last / 1024 != before_first / 1024 && last > CHANGES_KEPT {
            self.conn.execute(
                "DELETE FROM change_log WHERE seq <= ?1",
                [clamp(last - CHANGES_KEPT)],
            )?;
        }
        Ok(Some(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Durability;

    fn row(n: u64) -> LoggedChange {
        LoggedChange {
            seq: 0,
            kind: ChangeKind::Conversation,
            id: format!("c2c_{n}"),
            existed: n.is_multiple_of(2),
            unread_before: n % 3,
            unread_after: n % 5,
            payload: n.is_multiple_of(7).then(|| format!("p{n}")),
        }
    }

    #[test]
    fn rows_are_logged_in_order_and_the_oldest_trimmed_past_the_bound() {
        let mut s = Store::open(None, Durability::Normal).unwrap();
        s.ensure_change_log().unwrap();
        // One row, then a write of 130 (two full INSERTs and a short one).
        let last = s.write(|w| w.log_changes(&[row(1)])).unwrap();
        assert_eq!(last, Some(1));
        let rows: Vec<LoggedChange> = (2..132).map(row).collect();
        assert_eq!(s.write(|w| w.log_changes(&rows)).unwrap(), Some(131));
        assert_eq!(s.write(|w| w.log_changes(&[])).unwrap(), None);
        let Since::Changes(read) = s.changes_since(1).unwrap() else {
            panic!("expected changes");
        };
        assert_eq!(read.len(), 130);
        for (i, c) in read.iter().enumerate() {
            let n = i as u64 + 2;
            assert_eq!((c.seq, c), (n, &LoggedChange { seq: n, ..row(n) }));
        }
        // Past CHANGES_KEPT the oldest go, as the log passes a multiple of
        // 1,024: a reader that far behind reloads, a recent one reads on.
        let total = CHANGES_KEPT + 3 * 1024;
        let mut next = 132;
        while next <= total {
            let upto = (next + 5000).min(total + 1);
            let rows: Vec<LoggedChange> = (next..upto).map(row).collect();
            s.write(|w| w.log_changes(&rows)).unwrap();
            next = upto;
        }
        assert_eq!(s.last_change().unwrap(), total);
        let oldest: i64 = s
            .conn
            .query_row("SELECT MIN(seq) FROM change_log", [], |r| r.get(0))
            .unwrap();
        let oldest = oldest as u64;
        assert!(oldest > total - CHANGES_KEPT - 1024 && oldest <= total - CHANGES_KEPT + 1);
        assert!(matches!(s.changes_since(1).unwrap(), Since::Reload(l) if l == total));
        let Since::Changes(recent) = s.changes_since(total - 10).unwrap() else {
            panic!("expected changes");
        };
        assert_eq!(recent.len(), 10);
    }
}
