//! The promise of an accepted call: a `Completer` delivers exactly one
//! result, and dropping it unfulfilled fails the call with a shutdown
//! error instead of losing it.

use std::sync::Arc;
use std::thread;

use super::{run_job, Job, Shared};
use crate::error::{Error, Result};

/// Queues jobs on a dispatcher's callback thread.
#[derive(Clone)]
pub struct Poster(pub(super) std::sync::Weak<Shared>);

impl Poster {
    /// Queues `job`; once the dispatcher is gone the job is dropped unrun.
    pub fn execute(&self, job: Box<dyn Job>) {
        if let Some(shared) = self.0.upgrade() {
            shared.post(job);
        }
    }
}

/// The job and the result, in one allocation.
pub(super) struct Delivery<T, F> {
    pub(super) deliver: F,
    pub(super) result: Option<Result<T>>,
    /// A read's: counted among the bounded reads until delivered.
    pub(super) counted: bool,
}

pub(super) trait Slot<T>: Job {
    fn fill(&mut self, result: Result<T>);
}

impl<T: Send, F: FnOnce(Result<T>) + Send> Job for Delivery<T, F> {
    fn run(self: Box<Self>) {
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
    pub(super) slot: Option<Box<dyn Slot<T>>>,
    pub(super) shared: Arc<Shared>,
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
