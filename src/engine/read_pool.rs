//! The reads an instance hands to its runtime's blocking pool (cache
//! misses, pages, totals, group lists), counted so that freeing the
//! instance can let every accepted read finish instead of dropping it.
//!
//! [`ReadPool::settle`] is the turn: it waits for the reads running (or
//! queued) on the pool, and from then on a read runs on the thread that
//! asks for it, which after shutdown is only ever the thread delivering
//! what is still owed. So a read accepted before free is answered, not
//! failed with SHUTDOWN, whichever thread frees.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tokio::runtime::Handle;

pub struct ReadPool {
    handle: Handle,
    running: Mutex<Running>,
    idle: Condvar,
}

#[derive(Default)]
struct Running {
    /// Reads handed to the pool that have not run to their end (or been
    /// dropped unrun).
    tasks: usize,
    /// Set by `settle`: reads run on the calling thread.
    inline: bool,
}

/// Counts one read as running until it is dropped: after it ran, or
/// unrun when the runtime drops it.
struct Task(Arc<ReadPool>);

impl Drop for Task {
    fn drop(&mut self) {
        let mut running = self.0.running.lock();
        running.tasks -= 1;
        if running.tasks == 0 {
            self.0.idle.notify_all();
        }
    }
}

impl ReadPool {
    pub fn new(handle: Handle) -> Arc<ReadPool> {
        Arc::new(ReadPool {
            handle,
            running: Mutex::new(Running::default()),
            idle: Condvar::new(),
        })
    }

    /// Runs `read` on the blocking pool; after [`ReadPool::settle`], right
    /// here.
    pub fn spawn(self: &Arc<Self>, read: impl FnOnce() + Send + 'static) {
        {
            let mut running = self.running.lock();
            if !running.inline {
                running.tasks += 1;
                drop(running);
                let task = Task(self.clone());
                self.handle.spawn_blocking(move || {
                    let _task = task;
                    read();
                });
                return;
            }
        }
        // On the delivering thread: a panic must not reach it (the read's
        // promise, dropped by the panic, fails with IMCONV_ERR_INTERNAL).
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    }

    /// Waits until every read handed to the pool has run; later reads run
    /// on the thread that asks. Called once the instance accepts no calls,
    /// before its runtime is dropped.
    pub fn settle(&self) {
        let mut running = self.running.lock();
        running.inline = true;
        while running.tasks > 0 {
            self.idle.wait(&mut running);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn settle_waits_for_queued_reads_then_runs_reads_inline() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let pool = ReadPool::new(runtime.handle().clone());
        let ran = Arc::new(AtomicUsize::new(0));
        // One slow read holds the only blocking thread; nine queue behind it.
        for i in 0..10 {
            let ran = ran.clone();
            pool.spawn(move || {
                if i == 0 {
                    std::thread::sleep(Duration::from_millis(50));
                }
                ran.fetch_add(1, Ordering::SeqCst);
            });
        }
        pool.settle();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            10,
            "settle returned before every read ran"
        );
        let here = std::thread::current().id();
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        pool.spawn(move || *s.lock() = Some(std::thread::current().id()));
        assert_eq!(
            *seen.lock(),
            Some(here),
            "a read after settle runs on the asking thread"
        );
        drop(runtime);
    }

    #[test]
    fn a_read_dropped_unrun_is_not_waited_for() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pool = ReadPool::new(runtime.handle().clone());
        runtime.shutdown_background();
        pool.spawn(|| unreachable!("the runtime is gone: the read is dropped"));
        pool.settle();
    }
}
