//! The read jobs the callback thread runs: a page read beside the writer, and
//! the queued single lookups answered together in one batched probe.

use std::sync::Arc;

use super::Core;
use crate::cache::Probe;
use crate::dispatch::{guarded, Completer, Job};
use crate::error::Error;
use crate::inject::{self, Stage};
use crate::model::{IdList, ListFilter, Snapshot};
use crate::state::Page;

/// A page on the callback thread: read beside the writer when it can be,
/// else on the blocking pool.
pub(super) struct PageJob<V: Snapshot> {
    pub(super) core: Arc<Core<V>>,
    pub(super) filter: ListFilter,
    pub(super) cursor: String,
    pub(super) count: usize,
    pub(super) done: Completer<Page<V>>,
}

impl<V: Snapshot> Job for PageJob<V> {
    fn run(self: Box<Self>) {
        let PageJob {
            core,
            filter,
            cursor,
            count,
            done,
        } = *self;
        // The page is read under a panic guard, delivered outside it.
        match guarded(|| core.state.page_beside_writer(&filter, &cursor, count)) {
            Some(Some(page)) => done.complete_now(page),
            Some(None) => core.page_later(filter, cursor, count, done),
            None => done.complete_now(Err(Error::internal(
                "internal error: a panic was caught while serving the call",
            ))),
        }
    }
}

/// getConversation calls waiting to be answered: their IDs in one buffer,
/// and their promises, in call order.
pub(super) struct PendingLookups<V: Snapshot> {
    pub(super) ids: IdList,
    pub(super) replies: Vec<Completer<Arc<V>>>,
    /// Scratch for the answers while the group is answered.
    pub(super) answers: Vec<Probe<V>>,
}

impl<V: Snapshot> Default for PendingLookups<V> {
    fn default() -> Self {
        PendingLookups {
            ids: IdList::default(),
            replies: Vec::new(),
            answers: Vec::new(),
        }
    }
}

/// Most waiting lookups whose buffers are kept for reuse.
pub(super) const KEPT_LOOKUP_CAPACITY: usize = 1 << 16;

/// Answers every getConversation waiting, on the callback thread: the
/// cached ones in place, in call order; misses go to the blocking pool.
pub(super) struct AnswerLookups<V: Snapshot>(pub(super) Arc<Core<V>>);

impl<V: Snapshot> Job for AnswerLookups<V> {
    fn run(self: Box<Self>) {
        let core = &self.0;
        let state = &core.state;
        // The library's work runs under a panic guard (a panic drops the
        // group's promises, which fail with IMCONV_ERR_INTERNAL); each
        // answer is delivered outside it.
        let Some(mut waiting) = guarded(|| {
            // The waiting group is swapped for the emptied buffers of the
            // last one: the lock is held for a swap, nothing is allocated.
            let mut waiting = std::mem::take(&mut *core.spare_lookups.lock());
            std::mem::swap(&mut waiting, &mut *core.lookups.lock());
            inject::point(Stage::Work);
            // Probed first, delivered after: no lock is held during a callback.
            let PendingLookups { ids, answers, .. } = &mut waiting;
            state.cache.probe_each(ids.iter(), |p| answers.push(p));
            waiting
        }) else {
            return;
        };
        let PendingLookups {
            ids,
            replies,
            answers,
        } = &mut waiting;
        for (i, (done, answer)) in replies.drain(..).zip(answers.drain(..)).enumerate() {
            match answer {
                Probe::Stored(v) => done.complete_now(Ok(v)),
                Probe::NotStored => match guarded(|| V::build(state.temporary(ids.id(i)), false)) {
                    Some(v) => done.complete_now(Ok(v)),
                    None => done.complete_now(Err(Error::internal(
                        "internal error: a panic was caught while serving the call",
                    ))),
                },
                Probe::Unknown => core.load_later(ids.id(i), done),
            }
        }
        ids.clear();
        // A burst's buffers are kept for the next group, unless huge.
        if waiting.replies.capacity() <= KEPT_LOOKUP_CAPACITY {
            *core.spare_lookups.lock() = waiting;
        }
    }
}

/// Keeps the first of each view, in place. One ID has one view in the
/// cache, so a repeated ID shows as the same pointer: no string is hashed
/// again. The set of pointers seen is a small open-addressing table in a
/// buffer the thread reuses, so a batch allocates nothing here.
pub(super) fn dedup_views<V>(mut views: Vec<Arc<V>>) -> Vec<Arc<V>> {
    thread_local! {
        static SEEN: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if views.len() < 2 {
        return views;
    }
    let size = (views.len() * 2).next_power_of_two();
    let shift = 64 - size.trailing_zeros();
    SEEN.with_borrow_mut(|seen| {
        seen.clear();
        seen.resize(size, 0);
        views.retain(|v| {
            let ptr = Arc::as_ptr(v) as usize;
            let mut at = ((ptr as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize;
            loop {
                match seen[at] {
                    0 => {
                        seen[at] = ptr;
                        return true;
                    }
                    p if p == ptr => return false,
                    _ => at = (at + 1) & (size - 1),
                }
            }
        });
        // A huge batch leaves no huge buffer behind.
        if seen.capacity() > 1 << 16 {
            *seen = Vec::new();
        }
    });
    views
}
