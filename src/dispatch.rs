//! The one place that delivers callbacks.
//!
//! Every instance has one callback thread. Completions are queued to it and
//! run one at a time, in order, with no lock held, so a host needs no locking
//! in its callbacks and may call back into the library from them.
//!
//! The thread also runs the engine's cheap work, such as answering the
//! lookups waiting for it from the cache: a [`Job`] carries what it needs
//! (the engine's jobs hold the state they serve), so the dispatcher knows
//! nothing of them and no job can find its context missing.
//!
//! A [`Completer`] is the promise behind one accepted call: it is completed
//! exactly once. If it is dropped unfinished (the runtime shut down, or the
//! work panicked), it completes itself with a shutdown or internal error, so
//! no call is ever left without its callback.
//!
//! The host's callbacks run with no `catch_unwind` above them, on a thread
//! with none at its base ([`crate::host_thread`]): a job guards its own work
//! ([`guarded`]) and calls the host outside the guard, so a forced unwind
//! from the host (`pthread_exit`, a cancellation) is never caught as a
//! panic (glibc aborts a process that catches one). A callback thread ended
//! that way leaves its queue to the thread that frees the instance.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, ThreadId};

use parking_lot::{Condvar, Mutex, ReentrantMutex};

use crate::error::Result;
use crate::host_thread::HostThread;
use crate::platform::EventPair;

mod completer;
#[cfg(test)]
mod tests;
mod waits;
mod worker;

pub use completer::*;
pub use waits::*;
pub use worker::guarded;
use worker::*;

/// A unit of work on the callback thread: a delivery, or work that serves
/// requests (which then deliver in place with [`Completer::complete_now`]).
pub trait Job: Send {
    fn run(self: Box<Self>);

    /// A read's delivery (see [`Dispatcher::read_completer`]): once run or
    /// dropped, its place among the bounded reads is given back.
    fn is_counted_read(&self) -> bool {
        false
    }
}

type Hook = Box<dyn FnOnce() + Send>;

/// A drained queue keeps this much room for the next burst; a larger one
/// (a flood of calls) gives its memory back.
const KEPT_JOBS: usize = 4096;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Box<dyn Job>>,
    /// No more jobs will be posted once the queue drains; exit then.
    stopping: bool,
    /// The thread waits on the condvar (a post must wake it).
    sleeping: bool,
    /// The thread has exited; a late post runs inline rather than be lost.
    exited: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// The callback thread (thread delivery).
    thread_id: Option<ThreadId>,
    /// Host delivery: the host runs the jobs (see [`Dispatcher::dispatch`]).
    host: Option<HostDelivery>,
    /// A hint that the queue is not empty, read without the lock while the
    /// thread spins before it sleeps.
    queued: AtomicBool,
    /// Set by a job that asks, from the callback thread, for a teardown after
    /// it returns (see [`Dispatcher::stop_soon`]).
    hook_pending: AtomicBool,
    hooks: Mutex<Option<(Hook, Hook)>>,
    reads: ReadCount,
}

/// The reads accepted and not yet delivered, bounded by
/// [`Dispatcher::read_completer`]: callers count what they take, the
/// delivering thread what it gives back, each on a cache line of its own,
/// so that a read costs no line bouncing between the two; the callers look
/// at what was given back only when their count nears the bound.
#[derive(Default)]
struct ReadCount {
    taken: Padded<AtomicUsize>,
    returned: Padded<AtomicUsize>,
    /// `returned` as a caller last read it.
    seen: Padded<AtomicUsize>,
}

#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl ReadCount {
    /// Takes a place; Err(how many wait) when `max` wait already.
    fn take(&self, max: usize) -> std::result::Result<(), usize> {
        let taken = self.taken.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        self.admit(taken, max)
    }

    /// The bound's check for a read that counted itself as the `taken`th.
    /// Reads taken after it may have been delivered before this check, so
    /// that more was given back than `taken` counts: that is fewer reads
    /// waiting, so the difference is signed (unsigned, it wrapped to a
    /// huge count and the read was refused).
    fn admit(&self, taken: usize, max: usize) -> std::result::Result<(), usize> {
        let waiting_after = |returned: usize| taken.wrapping_sub(returned) as isize;
        if waiting_after(self.seen.load(Ordering::Relaxed)) <= max as isize {
            return Ok(());
        }
        let returned = self.returned.load(Ordering::Acquire);
        self.seen.fetch_max(returned, Ordering::Relaxed);
        let waiting = waiting_after(returned);
        if waiting <= max as isize {
            return Ok(());
        }
        self.taken.fetch_sub(1, Ordering::Relaxed);
        Err(waiting as usize - 1)
    }

    fn give_back(&self) {
        self.returned.fetch_add(1, Ordering::Release);
    }
}

/// Host delivery: a socket pair whose read end is readable while jobs wait
/// (the host polls it), and who is delivering now.
struct HostDelivery {
    event: EventPair,
    /// One thread delivers at a time; others wait here. Reentrant: a
    /// callback may run a nested event loop that dispatches again (Qt's
    /// modal `exec()`, a nested GLib main loop), which runs further
    /// callbacks on the same thread, one at a time as ever.
    serial: ReentrantMutex<()>,
    current: Mutex<Option<ThreadId>>,
}

impl HostDelivery {
    fn notify(&self) {
        self.event.notify();
    }

    fn clear(&self) {
        self.event.clear();
    }
}

/// Host delivery: marks the calling thread as the one delivering, until
/// dropped (also when a forced unwind passes through the dispatch).
struct Delivering<'a> {
    host: &'a HostDelivery,
    previous: Option<ThreadId>,
}

impl<'a> Delivering<'a> {
    fn enter(host: &'a HostDelivery) -> Delivering<'a> {
        let previous = host.current.lock().replace(thread::current().id());
        Delivering { host, previous }
    }
}

impl Drop for Delivering<'_> {
    fn drop(&mut self) {
        *self.host.current.lock() = self.previous;
    }
}

impl Shared {
    fn new(thread_id: Option<ThreadId>, host: Option<HostDelivery>) -> Shared {
        Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            thread_id,
            host,
            queued: AtomicBool::new(false),
            hook_pending: AtomicBool::new(false),
            hooks: Mutex::new(None),
            reads: ReadCount::default(),
        }
    }

    /// On the thread delivering this dispatcher's jobs now.
    fn is_delivering_thread(&self) -> bool {
        let me = thread::current().id();
        match &self.host {
            None => self.thread_id == Some(me),
            Some(host) => *host.current.lock() == Some(me),
        }
    }

    fn post(&self, job: Box<dyn Job>) {
        let mut q = self.queue.lock();
        if q.exited {
            // Unreachable by construction (the engine stops the runtime
            // before the dispatcher); never lose a callback if it happens.
            drop(q);
            run_job(job, self);
            return;
        }
        q.jobs.push_back(job);
        self.queued.store(true, Ordering::Release);
        if let Some(host) = &self.host {
            if q.jobs.len() == 1 {
                host.notify();
            }
            return;
        }
        if q.sleeping {
            q.sleeping = false;
            self.wake.notify_one();
        }
    }
}

pub struct Dispatcher {
    shared: Arc<Shared>,
    thread: Mutex<Option<HostThread>>,
}

impl Dispatcher {
    /// Starts the callback thread. A job carries what it needs (the
    /// dispatcher hands it nothing), so no job can find its context missing.
    pub fn start(name: &str) -> std::io::Result<Dispatcher> {
        let (id_tx, id_rx) = std::sync::mpsc::channel::<ThreadId>();
        let (tx, rx) = std::sync::mpsc::channel::<Arc<Shared>>();
        let thread = HostThread::spawn(name, move || {
            crate::log::library_thread();
            let _ = id_tx.send(thread::current().id());
            if let Ok(shared) = rx.recv() {
                run_loop(&shared);
            }
        })?;
        let thread_id = id_rx
            .recv()
            .map_err(|_| std::io::Error::other("the callback thread did not start"))?;
        let shared = Arc::new(Shared::new(Some(thread_id), None));
        // The shared state names the thread, so the thread waits for it.
        let _ = tx.send(shared.clone());
        Ok(Dispatcher {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Host delivery: no thread; the host runs the jobs with `dispatch`, on
    /// its own thread, and polls `event_fd` to learn when some wait.
    pub fn start_host() -> std::io::Result<Dispatcher> {
        let event = EventPair::new()?;
        Ok(Dispatcher {
            shared: Arc::new(Shared::new(
                None,
                Some(HostDelivery {
                    event,
                    serial: ReentrantMutex::new(()),
                    current: Mutex::new(None),
                }),
            )),
            thread: Mutex::new(None),
        })
    }

    pub fn is_host_delivery(&self) -> bool {
        self.shared.host.is_some()
    }

    /// Host delivery: a descriptor readable while jobs wait (-1: thread
    /// delivery).
    pub fn event_fd(&self) -> i32 {
        self.shared.host.as_ref().map_or(-1, |h| h.event.fd())
    }

    /// Host delivery: runs up to `max` waiting jobs (0: all waiting now) on
    /// the calling thread, one at a time, and returns how many ran. A
    /// teardown asked for from inside one (`stop_soon`) is done here before
    /// it returns: everything still owed is delivered. From inside a job
    /// (a nested event loop) it runs further jobs the same way. Thread
    /// delivery: 0.
    pub fn dispatch(&self, max: usize) -> usize {
        let Some(host) = &self.shared.host else {
            return 0;
        };
        let _one_at_a_time = host.serial.lock();
        let _current = Delivering::enter(host);
        let limit = if max == 0 {
            self.shared.queue.lock().jobs.len()
        } else {
            max
        };
        let mut ran = 0;
        let mut after = None;
        while ran < limit {
            let Some(job) = self.shared.queue.lock().jobs.pop_front() else {
                break;
            };
            run_job(job, &self.shared);
            ran += 1;
            if let Some((before, after_drain)) = self.take_hooks() {
                run_hook(before);
                ran += self.run_all();
                after = Some(after_drain);
                break;
            }
        }
        drop(_current);
        if shrink_if_drained(&mut self.shared.queue.lock().jobs) {
            host.clear();
            // A post between the check and the clear must stay signalled.
            if !self.shared.queue.lock().jobs.is_empty() {
                host.notify();
            }
        }
        if let Some(after) = after {
            run_hook(after);
        }
        ran
    }

    /// Host delivery, at teardown: runs every job still queued, and every
    /// job those post, on the calling thread, once no other thread is
    /// dispatching (callbacks never run at once). Returns how many ran.
    pub fn run_all(&self) -> usize {
        let Some(host) = &self.shared.host else {
            return 0;
        };
        let _one_at_a_time = host.serial.lock();
        let current = Delivering::enter(host);
        let mut ran = 0;
        loop {
            // Popped in a statement of its own: the queue's lock must not be
            // held while the job runs (it may post).
            let next = self.shared.queue.lock().jobs.pop_front();
            let Some(job) = next else { break };
            run_job(job, &self.shared);
            ran += 1;
        }
        drop(current);
        host.clear();
        ran
    }

    fn take_hooks(&self) -> Option<(Hook, Hook)> {
        if self.shared.hook_pending.swap(false, Ordering::Acquire) {
            self.shared.hooks.lock().take()
        } else {
            None
        }
    }

    /// A promise whose result is handed to `deliver` on the callback thread.
    pub fn completer<T, F>(&self, deliver: F) -> Completer<T>
    where
        T: Send + 'static,
        F: FnOnce(Result<T>) + Send + 'static,
    {
        Completer {
            slot: Some(Box::new(Delivery {
                deliver,
                result: None,
                counted: false,
            })),
            shared: self.shared.clone(),
        }
    }

    /// A promise for a read, which takes one of at most `max` places of
    /// reads accepted and not yet delivered (given back once delivered).
    /// Err(how many wait) when none is free: the read is refused at once.
    pub fn read_completer<T, F>(
        &self,
        max: usize,
        deliver: F,
    ) -> std::result::Result<Completer<T>, usize>
    where
        T: Send + 'static,
        F: FnOnce(Result<T>) + Send + 'static,
    {
        self.shared.reads.take(max)?;
        Ok(Completer {
            slot: Some(Box::new(Delivery {
                deliver,
                result: None,
                counted: true,
            })),
            shared: self.shared.clone(),
        })
    }

    /// Runs `job` on the callback thread, in order with deliveries.
    pub fn execute(&self, job: Box<dyn Job>) {
        self.shared.post(job);
    }

    /// A handle that queues jobs, for code that does not own the dispatcher.
    /// It does not keep the dispatcher alive (the engine's core holds one,
    /// and the dispatcher holds the core).
    pub fn poster(&self) -> Poster {
        Poster(Arc::downgrade(&self.shared))
    }

    /// The callback thread's ID (what a wait on it names, see [`wait_on`]);
    /// `None` with host delivery.
    pub fn thread_id(&self) -> Option<ThreadId> {
        self.shared.thread_id
    }

    /// True on this dispatcher's callback thread, i.e. inside a callback.
    pub fn is_callback_thread(&self) -> bool {
        self.shared.is_delivering_thread()
    }

    /// Delivers everything queued, then stops and joins the thread. Must not
    /// be called from the callback thread, nor where the join could close a
    /// cycle of waits (see `stop_soon` and [`wait_on`]).
    pub fn stop_and_join(&self) {
        debug_assert!(!self.is_callback_thread());
        {
            let mut q = self.shared.queue.lock();
            q.stopping = true;
            self.shared.wake.notify_one();
        }
        if let Some(handle) = self.thread.lock().take() {
            handle.join();
        }
        // A callback thread that a host ended (a forced unwind from its
        // callback) left jobs behind: they are delivered here, one at a
        // time, rather than lost.
        loop {
            let next = {
                let mut q = self.shared.queue.lock();
                q.exited = true;
                q.jobs.pop_front()
            };
            let Some(job) = next else { break };
            run_job(job, &self.shared);
        }
    }

    /// Stops without waiting, from any thread: once the job the callback
    /// thread is running returns (at once if it is idle), the thread runs
    /// `before_drain` (which must make sure nothing more is posted later),
    /// delivers everything still queued, runs `after_drain` and exits.
    pub fn stop_soon(&self, before_drain: Hook, after_drain: Hook) {
        let after_drain = if self.is_host_delivery() {
            // The host thread delivering now finishes the teardown once this
            // callback returns: until then `join_stopped` must wait for it
            // (and, on that thread, cannot).
            let me = thread::current().id();
            HOST_TEARDOWNS.lock().push(me);
            Box::new(move || {
                after_drain();
                let mut pending = HOST_TEARDOWNS.lock();
                if let Some(i) = pending.iter().position(|t| *t == me) {
                    pending.swap_remove(i);
                }
            }) as Hook
        } else {
            after_drain
        };
        *self.shared.hooks.lock() = Some((before_drain, after_drain));
        self.shared.hook_pending.store(true, Ordering::Release);
        // Nobody here can join the thread: `join_stopped` does, for a host
        // that must know it is gone (before dlclose).
        if let (Some(handle), Some(id)) = (self.thread.lock().take(), self.shared.thread_id) {
            STOPPING.lock().push((id, handle));
        }
        // Wakes the thread if it sleeps; the hook runs after this no-op.
        self.shared.post(Box::new(|| {}));
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        if self.thread.lock().is_some() && !self.is_callback_thread() {
            self.stop_and_join();
        }
    }
}
