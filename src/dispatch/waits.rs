//! Threads a teardown left to join, and the record of cross-thread waits
//! that refuses a wait closing a cycle (a thread waiting, through others,
//! for itself).

use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::host_thread::HostThread;

/// Callback threads told to stop without being joined (`stop_soon`).
pub(super) static STOPPING: Mutex<Vec<(ThreadId, HostThread)>> =
    parking_lot::const_mutex(Vec::new());

/// Host delivery: teardowns asked for from inside a callback, each by the
/// host thread that finishes it when its dispatch resumes.
pub(super) static HOST_TEARDOWNS: Mutex<Vec<ThreadId>> = parking_lot::const_mutex(Vec::new());

/// How [`join_stopped`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joined {
    /// Every such thread has exited.
    All,
    /// Some still run after the timeout.
    TimedOut,
    /// Called from such a thread: it would wait for itself.
    SelfWait,
}

/// Joins every callback thread told to stop without a join, once it has
/// finished its teardown and exited, waiting up to `timeout`.
pub fn join_stopped(timeout: Duration) -> Joined {
    let me = thread::current().id();
    if STOPPING.lock().iter().any(|(id, _)| *id == me) || HOST_TEARDOWNS.lock().contains(&me) {
        return Joined::SelfWait;
    }
    let deadline = Instant::now() + timeout;
    loop {
        let finished: Vec<(ThreadId, HostThread)> = {
            let mut stopping = STOPPING.lock();
            let (done, running): (Vec<_>, Vec<_>) =
                stopping.drain(..).partition(|(_, h)| h.is_finished());
            *stopping = running;
            done
        };
        for (_, handle) in finished {
            handle.join();
        }
        if STOPPING.lock().is_empty() && HOST_TEARDOWNS.lock().is_empty() {
            return Joined::All;
        }
        if Instant::now() >= deadline {
            return Joined::TimedOut;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Who waits for whom: (waiting thread, thread it waits for). A callback
/// thread may wait for another instance's callback thread (to join it, or
/// for a listener call on it to return); two such waits in a cycle would
/// hang both forever, so a wait that would close a cycle is refused.
pub(super) static WAITS: Mutex<Vec<(ThreadId, ThreadId)>> = parking_lot::const_mutex(Vec::new());

/// Whether `target` waits, directly or through others, for the calling
/// thread (so that waiting for `target` would close a cycle).
pub(super) fn waits_for_me(waits: &[(ThreadId, ThreadId)], target: ThreadId) -> bool {
    let me = thread::current().id();
    let mut at = target;
    // Each thread waits for at most one other, so the chain is a path.
    for _ in 0..=waits.len() {
        if at == me {
            return true;
        }
        match waits.iter().find(|(w, _)| *w == at) {
            Some(&(_, next)) => at = next,
            None => return false,
        }
    }
    true
}

/// Runs `wait`, a wait for something only `target` can finish, recorded as
/// "this thread waits for `target`" meanwhile. Refuses (returns `None`
/// without running `wait`) when `target` waits, directly or not, for this
/// thread: the wait could never end.
pub fn wait_on<R>(target: ThreadId, wait: impl FnOnce() -> R) -> Option<R> {
    let me = thread::current().id();
    {
        let mut waits = WAITS.lock();
        if waits_for_me(&waits, target) {
            return None;
        }
        waits.push((me, target));
    }
    struct Done(ThreadId);
    impl Drop for Done {
        fn drop(&mut self) {
            WAITS.lock().retain(|(w, _)| *w != self.0);
        }
    }
    let _done = Done(me);
    Some(wait())
}
