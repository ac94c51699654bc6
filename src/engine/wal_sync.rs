//! "normal" durability's bound on what a power cut can lose.
//!
//! With `synchronous=NORMAL` SQLite syncs the WAL only at checkpoints, so
//! commits acknowledged since the last one live in the page cache until
//! then: a power cut could lose any number of them. Here the WAL is synced
//! (fdatasync) at most `interval` after the first commit it does not cover
//! yet, so a write acknowledged longer ago than that survives a power cut.
//! One timer at a time; a commit while one is pending costs an atomic swap.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

use crate::error::Error;

pub struct WalSync {
    wal: PathBuf,
    /// A failed sync: the writes since the last one may be lost, so the
    /// store fails stop (see `state::Health::fail`).
    on_failure: Box<dyn Fn(&Error) + Send + Sync>,
    interval: Duration,
    /// A sync is scheduled and has not started yet.
    scheduled: AtomicBool,
    /// Suspended: the store's files stay closed, the sync does nothing
    /// (the suspension synced last).
    paused: AtomicBool,
}

impl WalSync {
    pub fn new(
        wal: PathBuf,
        interval: Duration,
        on_failure: Box<dyn Fn(&Error) + Send + Sync>,
    ) -> Arc<WalSync> {
        Arc::new(WalSync {
            wal,
            on_failure,
            interval,
            scheduled: AtomicBool::new(false),
            paused: AtomicBool::new(false),
        })
    }

    /// After a commit: schedules a sync `interval` from now unless one is
    /// scheduled already (which then covers this commit too: it starts
    /// later than the commit and syncs the whole file).
    pub fn note_commit(self: &Arc<Self>, handle: &Handle) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        let pool = handle.clone();
        // After shutdown the task is dropped unrun: closing the store
        // checkpoints, which syncs the WAL and the database.
        handle.spawn(async move {
            tokio::time::sleep(this.interval).await;
            pool.spawn_blocking(move || this.sync());
        });
    }

    /// While paused (suspended), syncs do nothing.
    pub fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
    }

    /// Syncs the WAL now. Commits from here on schedule the next sync.
    pub fn sync(&self) {
        self.scheduled.store(false, Ordering::Release);
        if self.paused.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = crate::platform::sync_file_data(&self.wal) {
            // The WAL is gone only once the store closed (and checkpointed).
            if e.kind() != std::io::ErrorKind::NotFound {
                (self.on_failure)(&Error::new(
                    crate::error::ErrorCode::StoreFailed,
                    format!(
                        "syncing {} failed: {e} (writes of the last {} ms may be lost in a power cut)",
                        self.wal.display(),
                        self.interval.as_millis()
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_schedules_one_sync_that_covers_the_next_ones() {
        /// Removed when dropped, also when the test fails.
        struct Scratch(std::path::PathBuf);
        impl Drop for Scratch {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir =
            Scratch(std::env::temp_dir().join(format!("imconv-walsync-{}", std::process::id())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let wal = dir.0.join("x-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap();
        let s = WalSync::new(wal, Duration::from_millis(20), Box::new(|_| {}));
        s.note_commit(rt.handle());
        assert!(s.scheduled.load(Ordering::Acquire));
        // More commits meanwhile schedule nothing more.
        s.note_commit(rt.handle());
        let start = std::time::Instant::now();
        while s.scheduled.load(Ordering::Acquire) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the sync never ran"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // Once it ran, the next commit schedules the next one.
        s.note_commit(rt.handle());
        assert!(s.scheduled.load(Ordering::Acquire));
        drop(rt);
    }
}
