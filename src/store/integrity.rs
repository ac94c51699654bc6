//! The store's integrity: the order index audited at open and rebuilt
//! when damaged, a full check, and the damage reads passed over and
//! writes repaired, handed to the state to tell.

use super::{checksum, verify, Store, Verified};
use crate::error::{Error, ErrorCode, Result};

impl Store {
    /// Whether this store takes writes (not read-only).
    pub fn can_write(&self) -> bool {
        !self.read_only
    }

    /// Rebuilds the order index from the rows (it disagreed with them:
    /// damaged), in a transaction of its own.
    pub fn rebuild_order_index(&mut self) -> Result<()> {
        self.write(|w| Ok(w.conn.execute_batch("REINDEX conversation_order")?))
    }

    /// A full check of the store (see `verify`).
    pub fn verify(&self) -> Result<Verified> {
        verify::verify_with(&self.conn)
    }

    /// The damaged conversations writes replaced since the last call.
    pub fn take_repaired(&self) -> Vec<String> {
        std::mem::take(&mut self.repaired.borrow_mut())
    }

    /// The damage reads passed over since the last call.
    pub fn take_damage(&self) -> Vec<Error> {
        std::mem::take(&mut self.damage.borrow_mut())
    }

    /// The order index's entries must be in order: one whose bytes changed
    /// can sit where keyset paging seeks past it, leaving its conversation
    /// out of every page unseen. Checked before the first page is read (a
    /// walk of the index alone: about 30 bytes per conversation, 15 ms at
    /// 100,000), and rebuilt from the rows when out of order (on a
    /// read-only store, pages fail as damaged).
    pub fn audit_order_index(&mut self) -> Result<()> {
        let problem = match self.order_index_problem() {
            Ok(None) => return Ok(()),
            Ok(Some(problem)) => problem,
            // A part SQLite cannot read: rebuilt like any other damage.
            Err(e) if e.code() == ErrorCode::StoreDamaged => e.message().to_string(),
            Err(e) => return Err(e),
        };
        let e = checksum::index_damage(&problem);
        if self.read_only {
            return Err(e);
        }
        crate::log::warn(format_args!("{}: rebuilding the index", e.message()));
        self.damage.borrow_mut().push(e);
        self.rebuild_order_index()
    }

    /// What is wrong with the order index: an entry out of order, or whose
    /// values are not of their types (`None`: nothing).
    fn order_index_problem(&self) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT is_pinned, sort_order, conversation_id FROM conversation \
             INDEXED BY conversation_order ORDER BY is_pinned, sort_order, conversation_id",
        )?;
        let mut rows = stmt.query([])?;
        let mut last: Option<(i64, i64, Vec<u8>)> = None;
        while let Some(r) = rows.next()? {
            let (Ok(pinned), Ok(order), Ok(Ok(id))) = (
                r.get::<_, i64>(0),
                r.get::<_, i64>(1),
                r.get_ref(2).map(|v| v.as_bytes().map(<[u8]>::to_vec)),
            ) else {
                return Ok(Some("an entry whose values are not of their types".into()));
            };
            if std::str::from_utf8(&id).is_err() {
                return Ok(Some("an entry whose ID is not UTF-8".into()));
            }
            let key = (pinned, order, id);
            if last.as_ref().is_some_and(|l| *l >= key) {
                return Ok(Some("an entry out of order".into()));
            }
            last = Some(key);
        }
        Ok(None)
    }
}

/// A failed COMMIT: an I/O error there (the WAL's sync, or its write) may
/// leave the commit's frames in the WAL, to be replayed after a crash, so
/// its outcome is unknown: `StoreFailed` (the state then fails stop).
/// Anything else (a full disk, a busy lock) failed before the commit was
/// written, and is an ordinary failure.
pub(super) fn commit_failed(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::SystemIoFailure) => Error::new(
            ErrorCode::StoreFailed,
            format!("committing a write failed ({e}): it may or may not be stored"),
        ),
        _ => Error::from(e),
    }
}
