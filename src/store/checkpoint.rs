//! Checkpoints off the writer's thread, on a connection of their own.

use rusqlite::Connection;

use crate::error::Result;

/// Pages in the WAL past which the writer checkpoints by itself. Normally
/// the [`Checkpointer`] keeps the WAL far below this.
pub(super) const BACKSTOP_CHECKPOINT_PAGES: i64 = 8_000;

/// Copies committed pages from the WAL into the database file, on a
/// connection of its own, so that the writer never stops for it.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its
/// threshold (1,000 pages by default), on the writer's thread: measured,
/// that was a third of the writer's time under a stream of messages, and
/// each checkpoint copied again the pages every commit rewrites (the top of
/// the order index, the rows of busy conversations). Checkpointing less
/// often and elsewhere copies each page once per round and lets the writer
/// go on meanwhile (a PASSIVE checkpoint runs beside readers and the one
/// writer, never waiting for either).
pub struct Checkpointer {
    pub(super) conn: Connection,
}

/// Bytes a WAL file keeps when it starts over.
pub(super) const WAL_SIZE_LIMIT: i64 = 16 << 20;

impl Checkpointer {
    /// Copies what the WAL holds into the database without waiting for
    /// anyone (PASSIVE). Returns the WAL's pages and how many of them are
    /// copied now.
    ///
    /// The WAL starts over only once a checkpoint has copied all of it; a
    /// writer that never pauses keeps this one from ever quite catching up,
    /// and then the writer's own backstop checkpoint finishes the few pages
    /// left (cheap, as this one copied the rest) and the WAL starts over.
    pub fn run(&self) -> Result<(i64, i64)> {
        Ok(self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?)
    }
}
