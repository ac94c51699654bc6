//! Listeners that remove themselves or each other (from tests/flows.rs,
//! issue 7): mid-batch, across two instances, behind a blocked callback.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use imconv::engine::Engine;
use imconv::events::{Listener, Removal};
use imconv::model::ConversationId;
use imconv::write::Write;
use parking_lot::Mutex;

use common::*;

// --- 6. a listener that removes itself gets nothing more ------------------

struct SelfRemoving {
    engine: Arc<Engine<View>>,
    me: OnceLock<u64>,
    log: Mutex<Vec<String>>,
}

impl Listener<View> for SelfRemoving {
    fn on_new(&self, c: &[Arc<View>]) {
        self.log.lock().push(format!("new {}", names(c)));
        assert_eq!(
            self.engine.remove_listener(*self.me.get().unwrap()),
            Removal::Removed
        );
    }
    fn on_changed(&self, c: &[Arc<View>]) {
        self.log.lock().push(format!("changed {}", names(c)));
    }
    fn on_deleted(&self, _: &[ConversationId]) {
        self.log.lock().push("deleted".into());
    }
    fn on_total_unread_changed(&self, total: u64) {
        self.log.lock().push(format!("total {total}"));
    }
}

/// Removes another listener on its first `on_new`.
struct RemoveOther {
    engine: Arc<Engine<View>>,
    victim: OnceLock<u64>,
}

impl Listener<View> for RemoveOther {
    fn on_new(&self, _: &[Arc<View>]) {
        if let Some(&v) = self.victim.get() {
            let _ = self.engine.remove_listener(v);
        }
    }
    fn on_changed(&self, _: &[Arc<View>]) {}
    fn on_deleted(&self, _: &[ConversationId]) {}
    fn on_total_unread_changed(&self, _: u64) {}
}

#[test]
fn a_listener_removed_mid_batch_gets_nothing_more() {
    let e = Arc::new(memory());
    // Itself, in on_new: no on_total_unread_changed of the same batch.
    let l = Arc::new(SelfRemoving {
        engine: e.clone(),
        me: OnceLock::new(),
        log: Mutex::new(Vec::new()),
    });
    let _ = l.me.set(e.add_listener(l.clone()));
    // By another listener that runs first: nothing of the batch.
    let remover = Arc::new(RemoveOther {
        engine: e.clone(),
        victim: OnceLock::new(),
    });
    e.add_listener(remover.clone());
    let victim = Arc::new(Recorder::default());
    let _ = remover.victim.set(e.add_listener(victim.clone()));
    messages(&e, &one("c2c_a", "m1", 1, 1)).unwrap();
    messages(&e, &one("c2c_b", "m1", 1, 1)).unwrap();
    e.shutdown();
    assert_eq!(*l.log.lock(), ["new c2c_a"]);
    assert!(victim.log.lock().is_empty(), "{:?}", victim.log.lock());
}

// --- 7. no deadlock across instances --------------------------------------

/// On its first event, removes the other instance's listener.
struct CrossRemover {
    other: OnceLock<(Arc<Engine<View>>, u64)>,
    arrived: Arc<std::sync::Barrier>,
    calls: AtomicUsize,
}

impl Listener<View> for CrossRemover {
    fn on_new(&self, _: &[Arc<View>]) {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            // Both callback threads are inside an event now.
            self.arrived.wait();
            let (engine, id) = self.other.get().unwrap();
            engine.remove_listener(*id);
        }
    }
    fn on_changed(&self, _: &[Arc<View>]) {}
    fn on_deleted(&self, _: &[ConversationId]) {}
    fn on_total_unread_changed(&self, _: u64) {}
}

/// Runs `f` on a thread and fails the test if it does not end in time.
fn within(seconds: u64, what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(seconds))
        .unwrap_or_else(|_| panic!("{what}: still running after {seconds} s (a deadlock)"));
}

#[test]
fn two_instances_removing_each_others_listeners_do_not_deadlock() {
    within(30, "cross removal", || {
        let a = Arc::new(memory());
        let b = Arc::new(memory());
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let la = Arc::new(CrossRemover {
            other: OnceLock::new(),
            arrived: barrier.clone(),
            calls: AtomicUsize::new(0),
        });
        let lb = Arc::new(CrossRemover {
            other: OnceLock::new(),
            arrived: barrier,
            calls: AtomicUsize::new(0),
        });
        let ida = a.add_listener(la.clone());
        let idb = b.add_listener(lb.clone());
        let _ = la.other.set((b.clone(), idb));
        let _ = lb.other.set((a.clone(), ida));
        let (tx, rx) = mpsc::channel();
        write_async(
            &a,
            Write::Messages(one("c2c_x", "1", 1, 1).into_bytes()),
            0,
            &tx,
        );
        write_async(
            &b,
            Write::Messages(one("c2c_x", "1", 1, 1).into_bytes()),
            1,
            &tx,
        );
        wait(&rx).1.unwrap();
        wait(&rx).1.unwrap();
        // Later events reach neither.
        messages(&a, &one("c2c_y", "2", 2, 2)).unwrap();
        messages(&b, &one("c2c_y", "2", 2, 2)).unwrap();
        assert_eq!(la.calls.load(Ordering::SeqCst), 1);
        assert_eq!(lb.calls.load(Ordering::SeqCst), 1);
        // Break the cycles.
        drop(la.other.get().cloned());
        a.shutdown();
        b.shutdown();
    });
}

/// Blocks its callback until released.
struct Blocker {
    entered: mpsc::SyncSender<()>,
    release: Mutex<Option<mpsc::Receiver<()>>>,
}

#[test]
fn removing_a_listener_does_not_wait_for_unrelated_queued_callbacks() {
    let e = Arc::new(memory());
    import(&e, r#"[{"conversationID":"c2c_a"}]"#).unwrap();
    let listener_id = e.add_listener(Arc::new(Recorder::default()));
    let (entered_tx, entered_rx) = mpsc::sync_channel(1);
    let (release_tx, release_rx) = mpsc::channel();
    let blocker = Arc::new(Blocker {
        entered: entered_tx,
        release: Mutex::new(Some(release_rx)),
    });
    // A lookup whose callback blocks the callback thread.
    let b = blocker.clone();
    e.get(
        id("c2c_a"),
        e.completer(move |_| {
            let _ = b.entered.send(());
            if let Some(rx) = b.release.lock().take() {
                let _ = rx.recv();
            }
        }),
    );
    entered_rx.recv().unwrap();
    let e2 = e.clone();
    within(10, "remove_listener behind a blocked callback", move || {
        assert_eq!(e2.remove_listener(listener_id), Removal::Removed);
    });
    release_tx.send(()).unwrap();
}

// --- 8. order keys never saturate ----------------------------------------
