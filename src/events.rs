//! Listeners and the events one write raises.
//!
//! A write's events form one batch ([`Events`]), queued on the callback
//! thread after the write commits and before its own callback. Removing a
//! listener takes effect between any two of its calls: after
//! [`Listeners::remove`] returns, no further call reaches it, not even the
//! rest of the batch being delivered. A call already running on the callback
//! thread is waited for when removal comes from another thread, unless that
//! wait could close a cycle (see [`crate::dispatch::wait_on`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, ThreadId};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::dispatch::wait_on;
use crate::model::{ConversationId, ListFilter, Text};

/// Receives the manager's events, on the callback thread. The first four
/// are the conversation list's; the others have defaults that ignore them.
pub trait Listener<V>: Send + Sync {
    fn on_new(&self, conversations: &[Arc<V>]);
    fn on_changed(&self, conversations: &[Arc<V>]);
    fn on_deleted(&self, ids: &[ConversationId]);
    fn on_total_unread_changed(&self, total: u64);
    /// The host reported a stage of its sync with the server.
    fn on_sync(&self, _stage: SyncStage) {}
    /// A conversation group was created, deleted, renamed, or gained or
    /// lost conversations.
    fn on_group(&self, _event: &GroupEvent<Arc<V>>) {}
    /// The unread count of a subscribed filter changed.
    fn on_filtered_unread(&self, _count: &FilteredUnread) {}
    /// The store has a problem (damage found, a failed sync): told once
    /// per problem.
    fn on_store_problem(&self, _problem: &StoreProblem) {}
}

/// A problem of the store itself, told to listeners once: its code
/// (`StoreDamaged`, `StoreFailed`), a message, and the conversations it
/// affects where they are known (damaged ones are left out of lists and
/// fail their lookups until a write replaces them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreProblem {
    pub code: crate::error::ErrorCode,
    pub message: String,
    pub ids: Vec<String>,
}

/// A stage of the host's sync with its server (Tencent's onSyncServerStart,
/// onSyncServerFinish, onSyncServerFailed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncStage {
    Started,
    Finished,
    Failed,
}

/// A conversation group event (Tencent's five), naming its conversations
/// as `T`: IDs while a write runs, views once it committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupEvent<T> {
    Created { name: Text, conversations: Vec<T> },
    Deleted { name: Text },
    Renamed { from: Text, to: Text },
    Added { name: Text, conversations: Vec<T> },
    Removed { name: Text, conversations: Vec<T> },
}

impl<T> GroupEvent<T> {
    /// The same event with each conversation mapped (those `f` drops are
    /// left out).
    pub fn map<U>(self, mut f: impl FnMut(T) -> Option<U>) -> GroupEvent<U> {
        let mut all = |list: Vec<T>| list.into_iter().filter_map(&mut f).collect();
        match self {
            GroupEvent::Created {
                name,
                conversations,
            } => GroupEvent::Created {
                name,
                conversations: all(conversations),
            },
            GroupEvent::Deleted { name } => GroupEvent::Deleted { name },
            GroupEvent::Renamed { from, to } => GroupEvent::Renamed { from, to },
            GroupEvent::Added {
                name,
                conversations,
            } => GroupEvent::Added {
                name,
                conversations: all(conversations),
            },
            GroupEvent::Removed {
                name,
                conversations,
            } => GroupEvent::Removed {
                name,
                conversations: all(conversations),
            },
        }
    }

    /// Membership events that name no conversation are not raised.
    pub fn is_empty(&self) -> bool {
        match self {
            GroupEvent::Added { conversations, .. } | GroupEvent::Removed { conversations, .. } => {
                conversations.is_empty()
            }
            _ => false,
        }
    }
}

/// A subscription's new unread count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilteredUnread {
    pub subscription: u64,
    pub filter: Arc<ListFilter>,
    pub count: u64,
}

/// How a removal went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Removed; no call of it runs any more.
    Removed,
    /// No listener has that ID.
    Unknown,
    /// Removed, and no new call will start, but one call is still running
    /// on another thread, which waits (directly or not) for the calling
    /// thread: waiting for it would hang both.
    RemovedStillRunning,
}

/// One registered listener and whether, and where, it is being called.
struct Registered<V> {
    id: u64,
    listener: Arc<dyn Listener<V>>,
    state: Mutex<CallState>,
    idle: Condvar,
}

struct CallState {
    active: bool,
    /// The thread running one of its calls now.
    running_on: Option<ThreadId>,
}

impl<V> Registered<V> {
    /// Runs `f` on the listener unless it was removed. No panic guard: `f`
    /// calls the host (see `dispatch`); the flag is cleared by a guard.
    fn call(&self, f: impl FnOnce(&dyn Listener<V>)) {
        {
            let mut state = self.state.lock();
            if !state.active {
                return;
            }
            state.running_on = Some(thread::current().id());
        }
        // Cleared however the call ends (a forced unwind from the host
        // included), so a removal never waits for a call that is gone.
        struct Running<'a, V>(&'a Registered<V>);
        impl<V> Drop for Running<'_, V> {
            fn drop(&mut self) {
                self.0.state.lock().running_on = None;
                self.0.idle.notify_all();
            }
        }
        let _running = Running(self);
        f(&*self.listener);
    }
}

/// The listeners of one instance.
pub struct Listeners<V> {
    list: RwLock<Vec<Arc<Registered<V>>>>,
    next_id: AtomicU64,
}

impl<V> Default for Listeners<V> {
    fn default() -> Self {
        Listeners {
            list: RwLock::new(Vec::new()),
            next_id: AtomicU64::new(1),
        }
    }
}

impl<V> Listeners<V> {
    /// Registers a listener; returns its ID.
    pub fn add(&self, listener: Arc<dyn Listener<V>>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.list.write().push(Arc::new(Registered {
            id,
            listener,
            state: Mutex::new(CallState {
                active: true,
                running_on: None,
            }),
            idle: Condvar::new(),
        }));
        id
    }

    /// Unregisters a listener: no call of it starts after this returns, and
    /// one running on another thread is waited for (never one running on
    /// this thread, which is the caller itself).
    pub fn remove(&self, id: u64) -> Removal {
        let registered = {
            let mut list = self.list.write();
            let Some(i) = list.iter().position(|r| r.id == id) else {
                return Removal::Unknown;
            };
            list.remove(i)
        };
        let me = thread::current().id();
        let mut state = registered.state.lock();
        state.active = false;
        match state.running_on {
            None => Removal::Removed,
            Some(t) if t == me => Removal::Removed,
            Some(t) => {
                let waited = wait_on(t, || {
                    while state.running_on.is_some() {
                        registered.idle.wait(&mut state);
                    }
                });
                match waited {
                    Some(()) => Removal::Removed,
                    None => Removal::RemovedStillRunning,
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.read().is_empty()
    }

    /// The listeners registered now (a batch is delivered to these, minus
    /// any removed while it is delivered).
    fn snapshot(&self) -> Vec<Arc<Registered<V>>> {
        self.list.read().clone()
    }
}

/// One write's events.
pub struct Events<V> {
    pub new: Vec<Arc<V>>,
    pub changed: Vec<Arc<V>>,
    pub deleted: Vec<ConversationId>,
    pub groups: Vec<GroupEvent<Arc<V>>>,
    pub sync: Option<SyncStage>,
    /// The new unread total, when it changed.
    pub total: Option<u64>,
    /// Subscriptions whose count changed.
    pub filtered: Vec<FilteredUnread>,
    /// Problems of the store found since the last batch.
    pub problems: Vec<StoreProblem>,
}

impl<V> Default for Events<V> {
    fn default() -> Self {
        Events {
            new: Vec::new(),
            changed: Vec::new(),
            deleted: Vec::new(),
            groups: Vec::new(),
            sync: None,
            total: None,
            filtered: Vec::new(),
            problems: Vec::new(),
        }
    }
}

impl<V> Events<V> {
    pub fn is_empty(&self) -> bool {
        self.new.is_empty()
            && self.changed.is_empty()
            && self.deleted.is_empty()
            && self.groups.is_empty()
            && self.sync.is_none()
            && self.total.is_none()
            && self.filtered.is_empty()
            && self.problems.is_empty()
    }

    /// Delivers the batch, on the callback thread: to each listener, in the
    /// order they were added, new, then changed, then deleted, then group
    /// events, then the sync stage, then the total, then subscriptions'
    /// counts; a listener removed meanwhile gets nothing more.
    pub fn deliver(&self, listeners: &Listeners<V>) {
        for r in listeners.snapshot() {
            if !self.new.is_empty() {
                r.call(|l| l.on_new(&self.new));
            }
            if !self.changed.is_empty() {
                r.call(|l| l.on_changed(&self.changed));
            }
            if !self.deleted.is_empty() {
                r.call(|l| l.on_deleted(&self.deleted));
            }
            for g in &self.groups {
                r.call(|l| l.on_group(g));
            }
            if let Some(stage) = self.sync {
                r.call(|l| l.on_sync(stage));
            }
            if let Some(total) = self.total {
                r.call(|l| l.on_total_unread_changed(total));
            }
            for f in &self.filtered {
                r.call(|l| l.on_filtered_unread(f));
            }
            for p in &self.problems {
                r.call(|l| l.on_store_problem(p));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Listener<()> for Count {
        fn on_new(&self, _: &[Arc<()>]) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn on_changed(&self, _: &[Arc<()>]) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn on_deleted(&self, _: &[ConversationId]) {}
        fn on_total_unread_changed(&self, _: u64) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn removed_listeners_get_nothing_and_unknown_ids_say_so() {
        let ls = Listeners::default();
        let a = Arc::new(Count::default());
        let b = Arc::new(Count::default());
        let ida = ls.add(a.clone());
        ls.add(b.clone());
        let events = Events {
            new: vec![Arc::new(())],
            total: Some(1),
            ..Events::default()
        };
        events.deliver(&ls);
        assert_eq!(ls.remove(ida), Removal::Removed);
        assert_eq!(ls.remove(ida), Removal::Unknown);
        events.deliver(&ls);
        assert_eq!(a.0.load(Ordering::SeqCst), 2);
        assert_eq!(b.0.load(Ordering::SeqCst), 4);
    }

    /// A removal from another thread waits for the call running now.
    #[test]
    fn removal_waits_for_a_running_call() {
        struct Slow {
            entered: std::sync::mpsc::SyncSender<()>,
            done: AtomicUsize,
        }
        impl Listener<()> for Slow {
            fn on_new(&self, _: &[Arc<()>]) {
                let _ = self.entered.send(());
                thread::sleep(std::time::Duration::from_millis(200));
                self.done.store(1, Ordering::SeqCst);
            }
            fn on_changed(&self, _: &[Arc<()>]) {}
            fn on_deleted(&self, _: &[ConversationId]) {}
            fn on_total_unread_changed(&self, _: u64) {}
        }
        let ls = Arc::new(Listeners::default());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let slow = Arc::new(Slow {
            entered: tx,
            done: AtomicUsize::new(0),
        });
        let id = ls.add(slow.clone());
        let ls2 = ls.clone();
        let t = thread::spawn(move || {
            Events {
                new: vec![Arc::new(())],
                ..Events::default()
            }
            .deliver(&ls2)
        });
        rx.recv().unwrap();
        assert_eq!(ls.remove(id), Removal::Removed);
        assert_eq!(slow.done.load(Ordering::SeqCst), 1, "returned mid-call");
        t.join().unwrap();
    }
}
