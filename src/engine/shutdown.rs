//! Shutting an instance down: what is owed is delivered, then every
//! thread is joined and the store closed.

use parking_lot::Mutex;
use tokio::runtime::Runtime;

use super::{Core, Engine};
use crate::dispatch::{guarded, wait_on};
use crate::model::Snapshot;

use std::sync::atomic::Ordering;

impl<V: Snapshot> Engine<V> {
    /// Shuts down and waits: stops accepting calls, fails the queued writes
    /// with `Shutdown`, lets the one being committed finish, delivers every
    /// callback, joins every thread and closes the store. From a thread
    /// where waiting could deadlock it does what `close` does instead.
    pub fn shutdown(&self) {
        self.close(Box::new(|| {}));
    }

    /// Shuts down; runs `finally` once the last callback was delivered and
    /// every thread but the callback thread is gone. Returns true when all
    /// of that happened before it returned (the callback thread was joined
    /// too). From the callback thread itself, or where the callback thread
    /// waits (directly or through other instances) for this thread, it
    /// cannot wait: it returns false at once, and the callback thread does
    /// the rest after its current callback and then exits.
    pub fn close(&self, finally: Box<dyn FnOnce() + Send>) -> bool {
        self.accepting.store(false, Ordering::Release);
        let stop = {
            let (runtime, core) = (self.runtime.clone(), self.core.clone());
            // The library's own work runs under a panic guard; what
            // delivers the host's callbacks (run_all, stop_and_join) must
            // not, so this function has no guard around it (see `dispatch`).
            move || {
                guarded(|| stop_runtime(&runtime, &core));
            }
        };
        // The store closes only once everything owed was delivered: a read
        // still queued for the delivering thread runs there, on the store.
        let core = self.core.clone();
        let finally: Box<dyn FnOnce() + Send> = Box::new(move || {
            guarded(|| {
                core.upkeep.close();
                core.state.close()
            });
            guarded(finally);
        });
        if self.dispatcher.is_host_delivery() && !self.is_callback_thread() {
            // The host delivers: what is owed is delivered right here.
            stop.clone()();
            self.dispatcher.run_all();
            finally();
            return true;
        }
        if let (false, Some(thread_id)) = (self.is_callback_thread(), self.dispatcher.thread_id()) {
            let joined = wait_on(thread_id, || {
                stop.clone()();
                self.dispatcher.stop_and_join();
            });
            if joined.is_some() {
                finally();
                return true;
            }
            // The stop above did not run: the callback thread does it.
        }
        self.dispatcher.stop_soon(Box::new(stop), finally);
        false
    }
}

/// Stops taking writes and fails those still queued with `Shutdown`; lets
/// every read already handed to the blocking pool finish (later ones run on
/// the thread that delivers, see [`super::read_pool`]); dropping the
/// runtime then waits for the write being committed and joins the
/// runtime's threads. The store stays open for the deliveries still owed:
/// `close` closes it after them.
fn stop_runtime<V: Snapshot>(runtime: &Mutex<Option<Runtime>>, core: &Core<V>) {
    Engine::stop_watcher(core);
    let queued = {
        let mut q = core.writes.lock();
        q.closed = true;
        std::mem::take(&mut q.items)
    };
    drop(queued);
    core.reads.settle();
    let rt = runtime.lock().take();
    drop(rt);
}

impl<V: Snapshot> Drop for Engine<V> {
    fn drop(&mut self) {
        if self.runtime.lock().is_some() && !self.is_callback_thread() {
            self.shutdown();
        }
    }
}
