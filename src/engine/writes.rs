//! The write queue and its drain: the one writer of an instance commits
//! what is queued, in order, in transactions of a bounded size.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::Core;
use crate::dispatch::Completer;
use crate::error::Result;
use crate::model::Snapshot;
use crate::write::Write;

/// Most writes, and about the most bytes, one transaction takes from the
/// queue.
pub(super) const GROUP_WRITES: usize = 64;
pub(super) const GROUP_BYTES: usize = 4 << 20;

/// What a queued write answers with.
pub(super) enum Reply {
    Done(Completer<()>),
    Count(Completer<usize>),
}

impl Reply {
    fn complete(self, result: Result<usize>) {
        match self {
            Reply::Done(c) => c.complete(result.map(|_| ())),
            Reply::Count(c) => c.complete(result),
        }
    }

    pub(super) fn cancel(self) {
        match self {
            Reply::Done(c) => c.cancel(),
            Reply::Count(c) => c.cancel(),
        }
    }
}

pub(super) struct Queued {
    /// The write, or why its arguments were refused (delivered in order).
    pub(super) op: Result<Write>,
    pub(super) reply: Reply,
    pub(super) bytes: usize,
}

/// What the writer has done so far (for tests and benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions committed (or rolled back).
    pub transactions: u64,
    /// Writes they held.
    pub writes: u64,
    /// The most writes one transaction held.
    pub largest: u64,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) items: VecDeque<Queued>,
    pub(super) bytes: usize,
    /// A drain runs (or is spawned): it takes everything queued.
    pub(super) draining: bool,
    /// Shut down: nothing is taken any more.
    pub(super) closed: bool,
    pub(super) stats: WriteStats,
}

/// The writer: commits what is queued, in order, until the queue is empty.
/// One runs at a time per instance.
pub(super) fn drain<V: Snapshot>(core: &Arc<Core<V>>) {
    loop {
        let group = {
            let mut q = core.writes.lock();
            if q.items.is_empty() || q.closed {
                q.draining = false;
                core.drained.notify_all();
                return;
            }
            let mut group = Vec::new();
            let mut bytes = 0;
            while let Some(item) = q.items.front() {
                // A backup or a rekey is a group of its own (see `Write::runs_alone`).
                let alone = item.op.as_ref().is_ok_and(Write::runs_alone);
                if !group.is_empty()
                    && (alone || group.len() == GROUP_WRITES || bytes + item.bytes > GROUP_BYTES)
                {
                    break;
                }
                bytes += item.bytes;
                group.extend(q.items.pop_front());
                if alone {
                    break;
                }
            }
            q.bytes -= bytes;
            let n = group.len() as u64;
            q.stats.transactions += 1;
            q.stats.writes += n;
            q.stats.largest = q.stats.largest.max(n);
            group
        };
        // A panic outside a write's own work (each write's is caught in
        // `transact`) fails the group's calls with INTERNAL, not the queue.
        let _ = catch_unwind(AssertUnwindSafe(move || {
            let mut group = group;
            if let [Queued {
                op: Ok(Write::Backup(path)),
                ..
            }] = group.as_slice()
            {
                let result = core.state.backup(path).map(|()| 0);
                if let Some(item) = group.pop() {
                    item.reply.complete(result);
                }
                return;
            }
            if let [Queued {
                op: Ok(Write::Rekey(key)),
                ..
            }] = group.as_mut_slice()
            {
                // Every connection to the old database closes first (see
                // `Store::rekey`); the checkpoint connection opens again on
                // the new one.
                let key = key.take();
                core.upkeep.close();
                let result = core.state.rekey(key).map(|()| 0);
                core.upkeep.reopen(core.state.checkpointer());
                if let Some(item) = group.pop() {
                    item.reply.complete(result);
                }
                return;
            }
            let committed = core
                .state
                .transact(&mut group, |item, txn| match &mut item.op {
                    Ok(op) => {
                        op.validate()?;
                        op.apply(txn)
                    }
                    Err(e) => Err(e.clone()),
                });
            core.upkeep.after_commit(committed.row_changes);
            if let Some(events) = committed.foreign {
                core.post_events(events);
            }
            for (item, outcome) in group.drain(..).zip(committed.outcomes) {
                if let Some(events) = outcome.events {
                    core.post_events(events);
                }
                item.reply.complete(outcome.result);
            }
        }));
    }
}
