//! The callback thread's loop: jobs taken in batches, a short spin before
//! sleeping, and each job's own panic guard.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use super::{Hook, Job, Shared, KEPT_JOBS};

/// The jobs the callback thread took from the queue and has not run yet.
/// Should a host end the thread inside one of them, the rest go back to
/// the front of the queue, for the thread that frees the instance.
pub(super) struct Batch<'a> {
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

pub(super) fn run_loop(shared: &Shared) {
    let mut after_drain: Option<Hook> = None;
    let mut batch = Batch {
        shared,
        jobs: VecDeque::new(),
    };
    let mut spin = Spin::default();
    loop {
        spin.wait_for_work(shared);
        if !take_jobs(shared, &mut batch.jobs, &mut spin) {
            break;
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

/// Takes every queued job into `jobs` (empty), sleeping until one is
/// posted; false when the dispatcher stops with nothing left (the thread
/// then exits). The hint that jobs are queued is cleared as they are taken,
/// not before the sleep: a post that wakes the thread sets it again, and
/// were it left set, the next watch would see it, end at once and send
/// the thread back to sleep, so that every call of a steady stream paid a
/// wake-up.
pub(super) fn take_jobs(
    shared: &Shared,
    jobs: &mut VecDeque<Box<dyn Job>>,
    spin: &mut Spin,
) -> bool {
    let mut q = shared.queue.lock();
    while q.jobs.is_empty() && !q.stopping {
        q.sleeping = true;
        let slept = Instant::now();
        shared.wake.wait(&mut q);
        spin.woken_after(slept.elapsed());
    }
    shared.queued.store(false, Ordering::Relaxed);
    if q.jobs.is_empty() {
        q.exited = true;
        return false;
    }
    std::mem::swap(jobs, &mut q.jobs);
    true
}

/// The longest the idle thread watches for work before it sleeps. A call
/// that arrives meanwhile costs no wake-up (a futex wake is ~10-20 us on a
/// busy virtual machine, far more than serving a cached lookup).
pub(super) const MAX_SPIN: Duration = Duration::from_micros(50);

/// How long the idle thread watches for work, adapted to how work arrives:
/// a watch that ends with work (a wake-up saved), or a sleep that a watch
/// of [`MAX_SPIN`] would have covered, doubles the next watch, up to
/// [`MAX_SPIN`]; a watch that ends in a longer sleep halves it, down to
/// none. Under a steady stream of calls it watches the full time; when work
/// is sparse the watches shrink to nothing within a few idle periods, so the
/// thread gives its CPU back (an idle instance uses none).
pub(super) struct Spin {
    pub(super) budget: Duration,
}

impl Default for Spin {
    fn default() -> Self {
        Spin { budget: MAX_SPIN }
    }
}

impl Spin {
    const MIN: Duration = Duration::from_micros(1);

    pub(super) fn grow(&mut self) {
        self.budget = (self.budget.max(Self::MIN) * 2).min(MAX_SPIN);
    }

    /// After a sleep of `slept`: had a watch covered it, grow.
    pub(super) fn woken_after(&mut self, slept: Duration) {
        if slept <= MAX_SPIN {
            self.grow();
        }
    }

    /// Returns once work is queued or the budget is spent.
    pub(super) fn wait_for_work(&mut self, shared: &Shared) {
        if shared.queued.load(Ordering::Acquire) {
            return;
        }
        let found = !self.budget.is_zero() && spin_for_work(shared, self.budget);
        self.after_watch(found);
    }

    /// After a watch that did (or did not) see work come.
    pub(super) fn after_watch(&mut self, found: bool) {
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
pub(super) fn spin_for_work(shared: &Shared, budget: Duration) -> bool {
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
pub(super) fn shrink_if_drained(jobs: &mut VecDeque<Box<dyn Job>>) -> bool {
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
pub(super) fn run_job(job: Box<dyn Job>, shared: &Shared) {
    let counted = job.is_counted_read();
    job.run();
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

pub(super) fn run_hook(hook: Hook) {
    if catch_unwind(AssertUnwindSafe(hook)).is_err() {
        crate::log::error(format_args!("a panic during teardown was caught"));
    }
}

impl<F: FnOnce() + Send> Job for F {
    fn run(self: Box<Self>) {
        (*self)()
    }
}
