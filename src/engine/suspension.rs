//! A shared instance's following of other processes (catching up before a
//! read, and the idle watcher that delivers their events while the host
//! calls nothing), and suspension.
//!
//! The watcher is one thread per shared instance (`imconv-watch`) that
//! sleeps on the mapped change counter (a futex: no CPU while nothing is
//! written). When another process publishes a change and someone listens,
//! it queues one catch-up on the blocking pool, whose events go to the
//! callback thread like any write's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{Core, Engine};
use crate::error::{Error, ErrorCode, Result};
use crate::model::Snapshot;

/// The idle watcher's handle: stopped and joined at shutdown.
pub(super) struct Watcher {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl<V: Snapshot> Core<V> {
    /// Before a read on the blocking pool: catches up with other
    /// processes' writes when the counter moved (their events are queued
    /// before the read's answer).
    pub(super) fn fresh(self: &Arc<Self>) -> Result<()> {
        if self.state.is_stale() {
            if let Some(events) = self.state.catch_up()? {
                self.post_events(events);
            }
        }
        Ok(())
    }

    /// The watcher's catch-up, one at a time: queued on the blocking pool
    /// unless one is queued already (that one covers this change too, or
    /// runs again).
    fn catch_up_later(self: &Arc<Self>) {
        if self.catching.swap(true, Ordering::AcqRel) {
            return;
        }
        let core = self.clone();
        self.reads.spawn(move || loop {
            if let Err(e) = core.fresh() {
                if e.code() != ErrorCode::Suspended && e.code() != ErrorCode::Shutdown {
                    crate::log::warn(format_args!(
                        "catching up with another process's writes failed: {}",
                        e.message()
                    ));
                }
            }
            core.catching.store(false, Ordering::Release);
            // A change published while it ran, which the watcher left to it.
            if !core.state.is_stale()
                || core.state.is_suspended()
                || core.catching.swap(true, Ordering::AcqRel)
            {
                return;
            }
        });
    }

    /// Someone would hear of another process's write.
    fn listening(&self) -> bool {
        !self.state.listeners.is_empty() || self.state.subscriptions.any()
    }
}

/// Starts the idle watcher of a shared instance (`None` otherwise).
pub(super) fn start_watcher<V: Snapshot>(core: &Arc<Core<V>>) -> Result<Option<Watcher>> {
    if core.state.sharing().is_none() {
        return Ok(None);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (watching, stopping) = (core.clone(), stop.clone());
    let thread = std::thread::Builder::new()
        .name("imconv-watch".into())
        .spawn(move || {
            crate::log::library_thread();
            let Some(sharing) = watching.state.sharing() else {
                return;
            };
            while !stopping.load(Ordering::Acquire) {
                // Nobody to tell: no wake-up per write (the next call
                // catches up); adding a listener unparks it.
                if !watching.listening() {
                    std::thread::park();
                    continue;
                }
                // Read before the check: a change after it moves the
                // counter past `seen`, and the wait returns at once.
                let seen = sharing.map().counter();
                if watching.state.is_stale() && !watching.state.is_suspended() {
                    watching.catch_up_later();
                }
                sharing.map().wait_while(seen);
            }
        })
        .map_err(|e| Error::from(e).context("starting the watcher thread"))?;
    Ok(Some(Watcher { stop, thread }))
}

impl<V: Snapshot> Engine<V> {
    /// Stops and joins the idle watcher (at shutdown).
    pub(super) fn stop_watcher(core: &Core<V>) {
        let Some(w) = core.watcher.lock().take() else {
            return;
        };
        w.stop.store(true, Ordering::Release);
        w.thread.thread().unpark();
        if let Some(s) = core.state.sharing() {
            s.map().wake_all();
        }
        let _ = w.thread.join();
    }

    /// Suspends the instance (see `imconv_suspend`): new calls are refused
    /// with `Suspended`; the writes queued before finish; the WAL is
    /// synced; every connection, file and lock of the store is closed.
    /// Blocks until then.
    pub fn suspend(&self) -> Result<()> {
        if !self.is_accepting() {
            return Err(Error::shutdown());
        }
        if self.core.suspending.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let mut q = self.core.writes.lock();
            while q.draining && !q.closed {
                self.core.drained.wait(&mut q);
            }
        }
        if let Some(wal_sync) = self.core.upkeep.wal_sync() {
            wal_sync.sync();
            wal_sync.pause(true);
        }
        self.core.upkeep.close();
        self.core.state.suspend();
        crate::log::info(format_args!("suspended: the store's files are all closed"));
        Ok(())
    }

    /// Opens the store again after [`Engine::suspend`] and catches up (the
    /// events of what other instances wrote meanwhile are queued). On
    /// failure the instance stays suspended.
    pub fn resume(&self) -> Result<()> {
        if !self.is_accepting() {
            return Err(Error::shutdown());
        }
        if !self.core.suspending.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some(events) = self.core.state.resume()? {
            self.core.post_events(events);
        }
        self.core.upkeep.reopen(self.core.state.checkpointer());
        if let Some(wal_sync) = self.core.upkeep.wal_sync() {
            wal_sync.pause(false);
        }
        self.core.suspending.store(false, Ordering::Release);
        crate::log::info(format_args!("resumed"));
        Ok(())
    }

    /// Someone may listen now: the idle watcher starts watching.
    pub(super) fn wake_watcher(&self) {
        if let Some(w) = self.core.watcher.lock().as_ref() {
            w.thread.thread().unpark();
        }
    }

    /// `Suspended` while the instance is suspended (calls are refused).
    pub(super) fn refuse_if_suspended(&self) -> Result<()> {
        if self.core.suspending.load(Ordering::Acquire) {
            return Err(crate::state::suspended());
        }
        Ok(())
    }
}
