//! The store's upkeep after commits, off the writer: WAL checkpoints on a
//! connection of their own, and "normal" durability's WAL sync (see
//! [`super::wal_sync`]). Both run on the runtime; the writer only counts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::Handle;

use super::wal_sync::WalSync;
use crate::store::Checkpointer;

/// Row changes committed between two checkpoints: about 1,500 WAL pages
/// under a stream of messages (each changes its conversation's row and its
/// applied-message record). 1,000 and 16,000 measured the same.
const CHECKPOINT_AFTER_CHANGES: u64 = 4_000;

pub(super) struct Upkeep {
    handle: Handle,
    checkpoints: Arc<Checkpoints>,
    /// "normal" durability on disk: the WAL's sync after commits.
    wal_sync: Option<Arc<WalSync>>,
}

/// The checkpoint connection and when to use it: a commit adds its row
/// changes to `owed`; past [`CHECKPOINT_AFTER_CHANGES`] one checkpoint runs
/// on the blocking pool (one at a time), so the writer never waits for it.
struct Checkpoints {
    conn: Mutex<Option<Checkpointer>>,
    running: AtomicBool,
    owed: AtomicU64,
}

impl Upkeep {
    pub(super) fn new(
        handle: Handle,
        checkpointer: Option<Checkpointer>,
        wal_sync: Option<Arc<WalSync>>,
    ) -> Upkeep {
        Upkeep {
            handle,
            checkpoints: Arc::new(Checkpoints {
                conn: Mutex::new(checkpointer),
                running: AtomicBool::new(false),
                owed: AtomicU64::new(0),
            }),
            wal_sync,
        }
    }

    /// After a commit that changed `row_changes` rows: a checkpoint when
    /// enough are owed, a WAL sync when one is due.
    pub(super) fn after_commit(&self, row_changes: u64) {
        self.checkpoints.note_commit(row_changes, &self.handle);
        if let (Some(wal_sync), true) = (&self.wal_sync, row_changes > 0) {
            wal_sync.note_commit(&self.handle);
        }
    }

    /// Closes the checkpoint connection (before the store's last one, which
    /// checkpoints as it closes).
    pub(super) fn close(&self) {
        drop(self.checkpoints.conn.lock().take());
    }

    /// "normal" durability's WAL sync, if any.
    pub(super) fn wal_sync(&self) -> Option<&Arc<WalSync>> {
        self.wal_sync.as_ref()
    }

    /// Takes a new checkpoint connection (after a rekey replaced the
    /// database).
    pub(super) fn reopen(&self, checkpointer: Option<Checkpointer>) {
        *self.checkpoints.conn.lock() = checkpointer;
    }
}

impl Checkpoints {
    fn note_commit(self: &Arc<Self>, changes: u64, handle: &Handle) {
        let owed = self.owed.fetch_add(changes, Ordering::Relaxed) + changes;
        if owed < CHECKPOINT_AFTER_CHANGES || self.running.swap(true, Ordering::Acquire) {
            return;
        }
        self.owed.store(0, Ordering::Relaxed);
        let this = self.clone();
        // After shutdown the task is dropped unrun: closing the last
        // connection checkpoints anyway.
        handle.spawn_blocking(move || {
            if let Some(c) = this.conn.lock().as_ref() {
                if let Err(e) = c.run() {
                    crate::log::warn(format_args!("a WAL checkpoint failed: {}", e.message()));
                }
            }
            this.running.store(false, Ordering::Release);
        });
    }
}
