//! The one place that delivers callbacks.
//!
//! Every instance has one callback thread. Completions are queued to it and
//! run one at a time, in order, with no lock held, so a host needs no locking
//! in its callbacks and may call back into the library from them.
//!
//! The thread also runs the engine's cheap work, such as answering the
//! lookups waiting for it from the cache: a [`Job`] gets the context the
//! dispatcher was started with (the engine's state).
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

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, ReentrantMutex};

use crate::error::{Error, Result};
use crate::host_thread::HostThread;
use crate::platform::EventPair;

/// What the dispatcher's jobs are handed: the engine's state.
pub type Context = dyn Any + Send + Sync;

/// A unit of work on the callback thread: a delivery, or work that serves
/// requests (which then deliver in place with [`Completer::complete_now`]).
pub trait Job: Send {
    fn run(self: Box<Self>, context: &Context);

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
    context: Arc<Context>,
    /// A hint that the queue is not empty, read without the lock while the
    /// thread spins before it sleeps.
    queued: AtomicBool,
    /// Set by a job that asks, from the callback thread, for a teardown after
    /// it returns (see [`Dispatcher::stop_after_current`]).
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
        if taken.wrapping_sub(self.seen.load(Ordering::Relaxed)) <= max {
            return Ok(());
        }
        let returned = self.returned.load(Ordering::Acquire);
        self.seen.fetch_max(returned, Ordering::Relaxed);
        let waiting = taken.wrapping_sub(returned);
        if waiting <= max {
            return Ok(());
        }
        self.taken.fetch_sub(1, Ordering::Relaxed);
        Err(waiting - 1)
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
    /// Starts the callback thread; its jobs get `context`.
    pub fn start(name: &str, context: Arc<Context>) -> std::io::Result<Dispatcher> {
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
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            thread_id: Some(thread_id),
            host: None,
            context,
            queued: AtomicBool::new(false),
            hook_pending: AtomicBool::new(false),
            hooks: Mutex::new(None),
            reads: ReadCount::default(),
        });
        // The shared state names the thread, so the thread waits for it.
        let _ = tx.send(shared.clone());
        Ok(Dispatcher {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Host delivery: no thread; the host runs the jobs with `dispatch`, on
    /// its own thread, and polls `event_fd` to learn when some wait.
    pub fn start_host(context: Arc<Context>) -> std::io::Result<Dispatcher> {
        let event = EventPair::new()?;
        Ok(Dispatcher {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                wake: Condvar::new(),
                thread_id: None,
                host: Some(HostDelivery {
                    event,
                    serial: ReentrantMutex::new(()),
                    current: Mutex::new(None),
                }),
                context,
                queued: AtomicBool::new(false),
                hook_pending: AtomicBool::new(false),
                hooks: Mutex::new(None),
                reads: ReadCount::default(),
            }),
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
    /// It does not keep the dispatcher alive (the engine's state holds one,
    /// and the dispatcher holds the state).
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
        self.shared.post(Box::new(|_: &Context| {}));
    }
}

/// Callback threads told to stop without being joined (`stop_soon`).
static STOPPING: Mutex<Vec<(ThreadId, HostThread)>> = parking_lot::const_mutex(Vec::new());

/// Host delivery: teardowns asked for from inside a callback, each by the
/// host thread that finishes it when its dispatch resumes.
static HOST_TEARDOWNS: Mutex<Vec<ThreadId>> = parking_lot::const_mutex(Vec::new());

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
static WAITS: Mutex<Vec<(ThreadId, ThreadId)>> = parking_lot::const_mutex(Vec::new());

/// Whether `target` waits, directly or through others, for the calling
/// thread (so that waiting for `target` would close a cycle).
fn waits_for_me(waits: &[(ThreadId, ThreadId)], target: ThreadId) -> bool {
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

impl Drop for Dispatcher {
    fn drop(&mut self) {
        if self.thread.lock().is_some() && !self.is_callback_thread() {
            self.stop_and_join();
        }
    }
}

/// The jobs the callback thread took from the queue and has not run yet.
/// Should a host end the thread inside one of them, the rest go back to
/// the front of the queue, for the thread that frees the instance.
struct Batch<'a> {
    shared: &'a Shared,
    jobs: VecDeque<Box<dyn Job>>,
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if !self.jobs.is_empty() {
            let mut q = self.shared.queue.lock();
            while let Some(job) = self.jobs.pop_back() {
                q.jobs.push_front(job);
            }
        }
    }
}

fn run_loop(shared: &Shared) {
    let mut after_drain: Option<Hook> = None;
    let mut batch = Batch {
        shared,
        jobs: VecDeque::new(),
    };
    let mut spin = Spin::default();
    loop {
        spin.wait_for_work(shared);
        {
            let mut q = shared.queue.lock();
            shared.queued.store(false, Ordering::Relaxed);
            while q.jobs.is_empty() && !q.stopping {
                q.sleeping = true;
                let slept = Instant::now();
                shared.wake.wait(&mut q);
                spin.woken_after(slept.elapsed());
            }
            if q.jobs.is_empty() {
                q.exited = true;
                break;
            }
            std::mem::swap(&mut batch.jobs, &mut q.jobs);
        }
        while let Some(job) = batch.jobs.pop_front() {
            run_job(job, shared);
            if shared.hook_pending.swap(false, Ordering::Acquire) {
                if let Some((before, after)) = shared.hooks.lock().take() {
                    shared.queue.lock().stopping = true;
                    run_hook(before);
                    after_drain = Some(after);
                }
            }
        }
        shrink_if_drained(&mut batch.jobs);
    }
    if let Some(after) = after_drain {
        run_hook(after);
    }
}

/// The longest the idle thread watches for work before it sleeps. A call
/// that arrives meanwhile costs no wake-up (a futex wake is ~10-20 us on a
/// busy virtual machine, far more than serving a cached lookup).
const MAX_SPIN: Duration = Duration::from_micros(50);

/// How long the idle thread watches for work, adapted to how work arrives:
/// a watch that ends with work (a wake-up saved), or a sleep that a watch
/// of [`MAX_SPIN`] would have covered, doubles the next watch, up to
/// [`MAX_SPIN`]; a watch that ends in a longer sleep halves it, down to
/// none. Under a steady stream of calls it watches the full time; when work
/// is sparse the watches shrink to nothing within a few idle periods, so the
/// thread gives its CPU back (an idle instance uses none).
struct Spin {
    budget: Duration,
}

impl Default for Spin {
    fn default() -> Self {
        Spin { budget: MAX_SPIN }
    }
}

impl Spin {
    const MIN: Duration = Duration::from_micros(1);

    fn grow(&mut self) {
        self.budget = (self.budget.max(Self::MIN) * 2).min(MAX_SPIN);
    }

    /// After a sleep of `slept`: had a watch covered it, grow.
    fn woken_after(&mut self, slept: Duration) {
        if slept <= MAX_SPIN {
            self.grow();
        }
    }

    /// Returns once work is queued or the budget is spent.
    fn wait_for_work(&mut self, shared: &Shared) {
        if shared.queued.load(Ordering::Acquire) {
            return;
        }
        let found = !self.budget.is_zero() && spin_for_work(shared, self.budget);
        self.after_watch(found);
    }

    /// After a watch that did (or did not) see work come.
    fn after_watch(&mut self, found: bool) {
        if found {
            self.grow();
        } else if self.budget > Self::MIN {
            self.budget /= 2;
        } else {
            self.budget = Duration::ZERO;
        }
    }
}

/// Watches for queued work for up to `budget`; true when some came.
fn spin_for_work(shared: &Shared, budget: Duration) -> bool {
    let start = Instant::now();
    let mut spins = 0u32;
    while !shared.queued.load(Ordering::Acquire) {
        spins += 1;
        if spins.is_multiple_of(64) {
            if start.elapsed() > budget {
                return false;
            }
            // Let a host thread on the same core run.
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    true
}

/// Whether a queue is empty; one that grew past [`KEPT_JOBS`] in a burst
/// gives its memory back then.
fn shrink_if_drained(jobs: &mut VecDeque<Box<dyn Job>>) -> bool {
    if !jobs.is_empty() {
        return false;
    }
    if jobs.capacity() > KEPT_JOBS {
        *jobs = VecDeque::new();
    }
    true
}

/// Runs one job. No panic guard here: the host's callbacks inside it must
/// not run under one (see the module docs), so each job guards its own
/// work ([`guarded`]) and a delivery's host call runs outside the guard.
fn run_job(job: Box<dyn Job>, shared: &Shared) {
    let counted = job.is_counted_read();
    job.run(&*shared.context);
    if counted {
        shared.reads.give_back();
    }
}

/// Runs the library's own work inside a job: a panic is logged and comes
/// back as `None` (what it was working on is dropped, and each promise
/// dropped fails its call with IMCONV_ERR_INTERNAL). Never wrap a call of
/// the host's in it.
pub fn guarded<R>(work: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(r) => Some(r),
        Err(_) => {
            crate::log::error(format_args!("a panic while serving a call was caught"));
            None
        }
    }
}

fn run_hook(hook: Hook) {
    if catch_unwind(AssertUnwindSafe(hook)).is_err() {
        crate::log::error(format_args!("a panic during teardown was caught"));
    }
}

impl<F: FnOnce(&Context) + Send> Job for F {
    fn run(self: Box<Self>, context: &Context) {
        (*self)(context)
    }
}

/// Queues jobs on a dispatcher's callback thread.
#[derive(Clone)]
pub struct Poster(std::sync::Weak<Shared>);

impl Poster {
    /// Queues `job`; once the dispatcher is gone the job is dropped unrun.
    pub fn execute(&self, job: Box<dyn Job>) {
        if let Some(shared) = self.0.upgrade() {
            shared.post(job);
        }
    }
}

/// The job and the result, in one allocation.
struct Delivery<T, F> {
    deliver: F,
    result: Option<Result<T>>,
    /// A read's: counted among the bounded reads until delivered.
    counted: bool,
}

trait Slot<T>: Job {
    fn fill(&mut self, result: Result<T>);
}

impl<T: Send, F: FnOnce(Result<T>) + Send> Job for Delivery<T, F> {
    fn run(self: Box<Self>, _: &Context) {
        let Delivery {
            deliver, result, ..
        } = *self;
        let result = result.unwrap_or_else(|| Err(Error::internal("completed without a result")));
        deliver(result)
    }

    fn is_counted_read(&self) -> bool {
        self.counted
    }
}

impl<T: Send, F: FnOnce(Result<T>) + Send> Slot<T> for Delivery<T, F> {
    fn fill(&mut self, result: Result<T>) {
        self.result = Some(result);
    }
}

/// The promise behind one accepted call; see the module docs.
pub struct Completer<T: Send + 'static> {
    slot: Option<Box<dyn Slot<T>>>,
    shared: Arc<Shared>,
}

impl<T: Send + 'static> Completer<T> {
    /// Queues the result for delivery on the callback thread.
    pub fn complete(mut self, result: Result<T>) {
        self.finish(result);
    }

    /// Delivers the result right here. Only on the callback thread, from a
    /// job: the delivery is then in order and never concurrent with another.
    pub fn complete_now(mut self, result: Result<T>) {
        debug_assert!(self.shared.is_delivering_thread());
        if let Some(mut slot) = self.slot.take() {
            slot.fill(result);
            run_job(slot, &self.shared);
        }
    }

    /// Drops the promise without any delivery: only for a call that is
    /// refused before it was accepted (the refusal is its return value).
    pub fn cancel(mut self) {
        if let Some(slot) = self.slot.take() {
            if slot.is_counted_read() {
                self.shared.reads.give_back();
            }
        }
    }

    fn finish(&mut self, result: Result<T>) {
        if let Some(mut slot) = self.slot.take() {
            slot.fill(result);
            self.shared.post(slot);
        }
    }
}

impl<T: Send + 'static> Drop for Completer<T> {
    fn drop(&mut self) {
        if self.slot.is_some() {
            let error = if thread::panicking() {
                Error::internal("internal error: a panic was caught while serving the call")
            } else {
                Error::shutdown()
            };
            self.finish(Err(error));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn reads_are_bounded_until_delivered() {
        let d = Dispatcher::start_host(Arc::new(())).unwrap();
        let delivered = Arc::new(AtomicUsize::new(0));
        let mut held = Vec::new();
        for _ in 0..10 {
            let n = delivered.clone();
            let c = d.read_completer(10, move |_: Result<()>| {
                n.fetch_add(1, Ordering::SeqCst);
            });
            held.push(c.unwrap_or_else(|n| panic!("refused below the bound ({n} waiting)")));
        }
        assert_eq!(d.read_completer(10, |_: Result<()>| {}).err(), Some(10));
        // A cancelled read gives its place back at once.
        held.pop().unwrap().cancel();
        let c = d.read_completer(10, |_: Result<()>| {}).ok().unwrap();
        c.cancel();
        // Completed but not dispatched: still waiting, still counted.
        for c in held.drain(..5) {
            c.complete(Ok(()));
        }
        assert!(d.read_completer(10, |_: Result<()>| {}).is_ok_and(|c| {
            c.cancel();
            true
        }));
        let full = d.read_completer(10, |_: Result<()>| {});
        assert!(full.is_ok());
        assert_eq!(d.read_completer(10, |_: Result<()>| {}).err(), Some(10));
        drop(full);
        assert_eq!(d.dispatch(0), 6);
        assert_eq!(delivered.load(Ordering::SeqCst), 5);
        // Delivered: places are free again.
        for _ in 0..5 {
            d.read_completer(10, |_: Result<()>| {})
                .ok()
                .unwrap()
                .cancel();
        }
        drop(held);
        d.run_all();
    }

    #[test]
    fn a_drained_flood_gives_its_memory_back() {
        let mut jobs: VecDeque<Box<dyn Job>> = VecDeque::new();
        for _ in 0..100_000 {
            jobs.push_back(Box::new(|_: &Context| {}));
        }
        assert!(!shrink_if_drained(&mut jobs));
        jobs.clear();
        assert!(jobs.capacity() >= 100_000);
        assert!(shrink_if_drained(&mut jobs));
        assert!(jobs.capacity() <= KEPT_JOBS);
        let mut small: VecDeque<Box<dyn Job>> = VecDeque::with_capacity(100);
        assert!(shrink_if_drained(&mut small));
        assert!(small.capacity() >= 100, "a small queue keeps its room");
    }

    #[test]
    fn delivers_in_order_on_one_thread() {
        let d = Dispatcher::start("test-cb", Arc::new(())).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..1000 {
            let seen = seen.clone();
            let c = d.completer(move |r: Result<u32>| {
                let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
                seen.lock()
                    .push((r.unwrap(), Some(comm.trim().to_string())))
            });
            c.complete(Ok(i));
        }
        d.stop_and_join();
        let seen = seen.lock();
        assert_eq!(seen.len(), 1000);
        for (i, (v, name)) in seen.iter().enumerate() {
            assert_eq!(*v, i as u32);
            assert_eq!(name.as_deref(), Some("test-cb"));
        }
    }

    #[test]
    fn dropped_completer_fails_with_shutdown_and_panicking_with_internal() {
        let d = Dispatcher::start("test-cb", Arc::new(())).unwrap();
        let codes = Arc::new(Mutex::new(Vec::new()));
        let c1 = {
            let codes = codes.clone();
            d.completer(move |r: Result<()>| codes.lock().push(r.unwrap_err().code()))
        };
        drop(c1);
        let c2 = {
            let codes = codes.clone();
            d.completer(move |r: Result<()>| codes.lock().push(r.unwrap_err().code()))
        };
        let joined = thread::spawn(move || {
            let _c = c2;
            panic!("boom (expected by the test)");
        })
        .join();
        assert!(joined.is_err());
        d.stop_and_join();
        assert_eq!(
            *codes.lock(),
            vec![ErrorCode::Shutdown, ErrorCode::Internal]
        );
    }

    #[test]
    fn the_idle_watch_shrinks_to_nothing_when_work_is_sparse_and_grows_back() {
        let mut spin = Spin::default();
        assert_eq!(spin.budget, MAX_SPIN);
        // Watches that see nothing, each followed by a long sleep.
        for _ in 0..8 {
            spin.after_watch(false);
            spin.woken_after(Duration::from_millis(10));
        }
        assert_eq!(spin.budget, Duration::ZERO, "sparse work: no more watching");
        // Work that comes soon after the thread sleeps brings the watch back.
        for _ in 0..8 {
            spin.woken_after(Duration::from_micros(5));
        }
        assert_eq!(spin.budget, MAX_SPIN);
        // A watch that sees work keeps it at the most.
        spin.after_watch(true);
        assert_eq!(spin.budget, MAX_SPIN);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn an_idle_callback_thread_uses_no_cpu() {
        let d = Dispatcher::start("test-idle", Arc::new(())).unwrap();
        // Sparse work: a delivery every 2 ms, then nothing.
        for _ in 0..20 {
            d.completer(|_: Result<()>| {}).complete(Ok(()));
            thread::sleep(Duration::from_millis(2));
        }
        thread::sleep(Duration::from_millis(20));
        let before = thread_cpu_of("test-idle");
        thread::sleep(Duration::from_millis(300));
        let used = thread_cpu_of("test-idle") - before;
        assert!(
            used < Duration::from_millis(3),
            "{used:?} of CPU while idle"
        );
        d.stop_and_join();
    }

    /// CPU time of this process's thread named `name` (Linux: from /proc).
    #[cfg(target_os = "linux")]
    fn thread_cpu_of(name: &str) -> Duration {
        for entry in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = entry.unwrap().path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim() != name {
                continue;
            }
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
            // Fields after the command's closing parenthesis: utime is the
            // 12th, stime the 13th, in clock ticks (100 a second here).
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            let f: Vec<u64> = rest
                .split(' ')
                .skip(11)
                .take(2)
                .map(|x| x.parse().unwrap())
                .collect();
            return Duration::from_millis((f[0] + f[1]) * 10);
        }
        panic!("no thread named {name}");
    }

    #[test]
    fn stop_soon_drains_then_finishes() {
        let d = Arc::new(Dispatcher::start("test-cb", Arc::new(())).unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = {
            let d2 = d.clone();
            let order = order.clone();
            d.completer(move |_: Result<()>| {
                let o1 = order.clone();
                let o2 = order.clone();
                d2.stop_soon(
                    Box::new(move || o1.lock().push("before")),
                    Box::new(move || o2.lock().push("after")),
                );
                order.lock().push("first");
            })
        };
        first.complete(Ok(()));
        for _ in 0..10 {
            let count = count.clone();
            let order = order.clone();
            d.completer(move |_: Result<()>| {
                count.fetch_add(1, Ordering::SeqCst);
                order.lock().push("queued");
            })
            .complete(Ok(()));
        }
        for _ in 0..200 {
            if order.lock().last() == Some(&"after") {
                break;
            }
            thread::sleep(std::time::Duration::from_millis(5));
        }
        let order = order.lock();
        assert_eq!(order.first(), Some(&"first"));
        assert_eq!(order.last(), Some(&"after"));
        assert_eq!(count.load(Ordering::SeqCst), 10);
    }
}
