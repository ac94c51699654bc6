//! Real message flows (issue 7): writes issued back to back, catch-up
//! syncs, messages that change, read positions, @ mentions, listeners that
//! remove themselves or each other, hostile sizes and queue bounds. Each
//! test reproduces a defect of the first manager.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use imconv::engine::{Engine, MAX_QUEUED_BYTES};
use imconv::error::{ErrorCode, Result};
use imconv::events::{Listener, Removal};
use imconv::model::{Conversation, ConversationId, IdList, ListFilter};
use imconv::store::ReadUpTo;
use imconv::write::{ReadScope, Write};
use parking_lot::Mutex;

use common::*;

/// Issues a write without waiting; its result arrives on `tx` tagged `tag`.
fn write_async(e: &Engine<View>, op: Write, tag: usize, tx: &mpsc::Sender<(usize, Result<()>)>) {
    let tx = tx.clone();
    e.write(
        op,
        e.completer(move |r| {
            let _ = tx.send((tag, r));
        }),
    )
    .unwrap();
}

fn order(e: &Engine<View>) -> Vec<String> {
    let page = call(e, |done| {
        e.page(ListFilter::default(), String::new(), 1000, done)
    })
    .unwrap();
    page.conversations
        .iter()
        .map(|v| v.0.id.as_str().to_string())
        .collect()
}

fn msg(conv: &str, msg_id: &str, ts: i64, seq: u64, extra: &str) -> String {
    format!(
        r#"{{"conversationID":"{conv}","msgID":"{msg_id}","timestamp":{ts},"seq":{seq},"sender":"x","isSelf":false,"isRead":false{extra}}}"#
    )
}

fn one(conv: &str, msg_id: &str, ts: i64, seq: u64) -> String {
    format!("[{}]", msg(conv, msg_id, ts, seq, ""))
}

// --- 1. writes commit in call order -------------------------------------

#[test]
fn back_to_back_writes_commit_in_call_order() {
    let e = memory();
    import(&e, r#"[{"conversationID":"c2c_a"}]"#).unwrap();
    let (tx, rx) = mpsc::channel();
    let mut wrong = 0;
    for round in 0..1000 {
        let pinned_last = round % 2 == 0;
        let draft = format!("d{round}");
        let ops = [
            Write::Pin {
                id: id("c2c_a"),
                pinned: true,
            },
            Write::Pin {
                id: id("c2c_a"),
                pinned: false,
            },
            Write::Draft {
                id: id("c2c_a"),
                text: text(&draft),
            },
            Write::Pin {
                id: id("c2c_a"),
                pinned: pinned_last,
            },
            Write::CustomData {
                ids: ids(&["c2c_a"]),
                data: text(&draft),
            },
        ];
        let n = ops.len();
        for (i, op) in ops.into_iter().enumerate() {
            write_async(&e, op, i, &tx);
        }
        // Callbacks arrive in call order.
        let tags: Vec<usize> = (0..n)
            .map(|_| {
                let (tag, r) = wait(&rx);
                r.unwrap();
                tag
            })
            .collect();
        assert_eq!(tags, (0..n).collect::<Vec<_>>(), "round {round}");
        // A lookup issued after the last on_success sees every write.
        let a = get(&e, "c2c_a");
        if a.0.is_pinned != pinned_last
            || a.0.draft_text.as_str() != draft
            || a.0.custom_data.as_str() != draft
        {
            wrong += 1;
        }
    }
    assert_eq!(wrong, 0, "rounds that ended in the wrong state");
}

#[test]
fn an_import_then_messages_issued_back_to_back_keep_the_message() {
    for round in 0..200 {
        let e = memory();
        let (tx, rx) = mpsc::channel();
        let (itx, irx) = mpsc::channel();
        e.import(
            br#"[{"conversationID":"c2c_a","showName":"A"}]"#.to_vec(),
            e.completer(move |r| {
                let _ = itx.send(r);
            }),
        )
        .unwrap();
        write_async(
            &e,
            Write::Messages(one("c2c_a", "m1", 100, 1).into_bytes()),
            0,
            &tx,
        );
        wait(&irx).unwrap();
        wait(&rx).1.unwrap();
        let a = get(&e, "c2c_a");
        assert_eq!(
            a.0.last_message.as_ref().map(|m| m.msg_id.as_str()),
            Some("m1"),
            "round {round}: the message was lost"
        );
        assert_eq!(a.0.unread_count, 1, "round {round}");
        assert_eq!(a.0.show_name.as_str(), "A", "round {round}");
    }
}

// --- 2. the list orders by activity time ---------------------------------

#[test]
fn a_catch_up_orders_by_message_time_not_arrival() {
    let e = memory();
    messages(&e, &one("c2c_b", "b1", 200, 1)).unwrap();
    messages(&e, &one("c2c_a", "a1", 100, 1)).unwrap();
    messages(&e, &one("c2c_c", "c1", 150, 1)).unwrap();
    assert_eq!(order(&e), ["c2c_b", "c2c_c", "c2c_a"]);
    // Equal times: the most recent action first.
    messages(&e, &one("c2c_d", "d1", 200, 1)).unwrap();
    assert_eq!(order(&e), ["c2c_d", "c2c_b", "c2c_c", "c2c_a"]);
    messages(&e, &one("c2c_b", "b2", 200, 2)).unwrap();
    assert_eq!(order(&e), ["c2c_b", "c2c_d", "c2c_c", "c2c_a"]);
}

// --- 3. read positions ----------------------------------------------------

#[test]
fn late_messages_at_or_before_the_read_position_are_not_unread() {
    let e = memory();
    messages(
        &e,
        &format!(
            "[{},{}]",
            msg("c2c_a", "a1", 20, 0, ""),
            msg("c2c_a", "a2", 30, 0, "")
        ),
    )
    .unwrap();
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("c2c_a")),
            upto: ReadUpTo::Timestamp(25),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 1);
    // Late: t=22 and t=25 are at or before the read timestamp.
    messages(&e, &one("c2c_a", "late", 22, 0)).unwrap();
    messages(&e, &one("c2c_a", "late2", 25, 0)).unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 1);
    messages(&e, &one("c2c_a", "new", 26, 0)).unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 2);

    // Groups: by sequence; a late @ mention below it is not kept either.
    messages(&e, &one("group_g", "g1", 10, 10)).unwrap();
    messages(&e, &one("group_g", "g2", 11, 11)).unwrap();
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("group_g")),
            upto: ReadUpTo::Sequence(11),
        },
    )
    .unwrap();
    let late_at = format!(
        "[{}]",
        msg("group_g", "g0", 9, 9, r#","groupAtUserList":["me"]"#)
    );
    messages(&e, &late_at).unwrap();
    let g = get(&e, "group_g");
    assert_eq!(g.0.unread_count, 0);
    assert!(g.0.group_at_info_list.is_empty());
}

#[test]
fn the_position_kind_must_match_the_conversation_type() {
    let e = memory();
    messages(&e, &one("c2c_a", "a1", 20, 0)).unwrap();
    messages(&e, &one("group_g", "g1", 20, 5)).unwrap();
    for (scope, upto) in [
        (ReadScope::One(id("c2c_a")), ReadUpTo::Sequence(3)),
        (ReadScope::One(id("group_g")), ReadUpTo::Timestamp(3)),
        (ReadScope::AllC2c, ReadUpTo::Sequence(3)),
        (ReadScope::AllGroups, ReadUpTo::Timestamp(3)),
        (ReadScope::All, ReadUpTo::Timestamp(3)),
    ] {
        let what = format!("{scope:?} {upto:?}");
        let err = write(&e, Write::MarkRead { scope, upto }).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidParameters, "{what}");
    }
    assert_eq!(get(&e, "c2c_a").0.unread_count, 1);
}

#[test]
fn clearing_everything_clears_mentions_of_conversations_without_unread() {
    let e = memory();
    import(
        &e,
        r#"[{"conversationID":"group_g","unreadCount":0,"groupAtInfoList":[{"seq":4,"atType":1}]}]"#,
    )
    .unwrap();
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::All,
            upto: ReadUpTo::All,
        },
    )
    .unwrap();
    assert!(get(&e, "group_g").0.group_at_info_list.is_empty());
}

// --- 4. messages update in place -----------------------------------------

#[test]
fn a_status_update_replaces_the_last_message_and_nothing_else() {
    let e = memory();
    messages(&e, &one("c2c_b", "b0", 40, 0)).unwrap();
    messages(&e, &one("c2c_b", "b1", 50, 1)).unwrap();
    messages(
        &e,
        &format!("[{}]", msg("c2c_a", "m1", 100, 1, r#","status":1"#)),
    )
    .unwrap();
    let before = get(&e, "c2c_a").0.clone();
    let rec = Arc::new(Recorder::default());
    e.add_listener(rec.clone());
    messages(
        &e,
        &format!("[{}]", msg("c2c_a", "m1", 100, 1, r#","status":2"#)),
    )
    .unwrap();
    let after = get(&e, "c2c_a").0.clone();
    let last = after.last_message.as_ref().unwrap();
    assert_eq!(last.status, 2);
    assert!(last.json.as_str().contains(r#""status":2"#));
    assert_eq!(after.unread_count, before.unread_count);
    assert_eq!(after.order_key, before.order_key);
    // An identical redelivery raises nothing; an edit of an older message
    // that is not the last one changes nothing visible.
    messages(
        &e,
        &format!("[{}]", msg("c2c_a", "m1", 100, 1, r#","status":2"#)),
    )
    .unwrap();
    messages(
        &e,
        &format!("[{}]", msg("c2c_b", "b0", 40, 0, r#","text":"edited""#)),
    )
    .unwrap();
    e.shutdown();
    assert_eq!(*rec.log.lock(), ["changed c2c_a"]);
    assert_eq!(order_of(&after, &before), std::cmp::Ordering::Equal);
}

fn order_of(a: &Conversation, b: &Conversation) -> std::cmp::Ordering {
    a.order_key.cmp(&b.order_key)
}

#[test]
fn msg_id_must_be_1_to_128_bytes() {
    let e = memory();
    for bad in [String::new(), "x".repeat(129)] {
        let err = messages(&e, &one("c2c_a", &bad, 1, 1)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidParameters, "{err}");
        assert!(err.message().contains("msgID"), "{err}");
    }
    messages(&e, &one("c2c_a", &"x".repeat(128), 1, 1)).unwrap();
}

// --- 5. @ mentions from messages -----------------------------------------

#[test]
fn mentions_are_learned_from_group_messages() {
    let e = memory();
    let all = "__kImSDK_MesssageAtALL__";
    messages(
        &e,
        &format!(
            "[{},{},{},{},{}]",
            msg("group_g", "g1", 1, 1, r#","groupAtUserList":["me"]"#),
            msg("group_g", "g2", 2, 2, &format!(r#","groupAtUserList":["{all}"]"#)),
            msg(
                "group_g",
                "g3",
                3,
                3,
                &format!(r#","groupAtUserList":["{all}","me"]"#)
            ),
            msg("group_g", "g4", 4, 4, r#","groupAtUserList":["someone"]"#),
            // Read already: no mention.
            r#"{"conversationID":"group_g","msgID":"g5","timestamp":5,"seq":5,"isRead":true,"groupAtUserList":["me"]}"#,
        ),
    )
    .unwrap();
    let g = get(&e, "group_g");
    let at: Vec<(u64, i32)> =
        g.0.group_at_info_list
            .iter()
            .map(|a| (a.seq, a.at_type))
            .collect();
    assert_eq!(at, [(1, 1), (2, 2), (3, 3)]);
    let has_at = ListFilter {
        has_at: true,
        ..ListFilter::default()
    };
    let page = call(&e, |d| e.page(has_at.clone(), String::new(), 10, d)).unwrap();
    assert_eq!(page.conversations.len(), 1);
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("group_g")),
            upto: ReadUpTo::Sequence(2),
        },
    )
    .unwrap();
    let at: Vec<u64> = get(&e, "group_g")
        .0
        .group_at_info_list
        .iter()
        .map(|a| a.seq)
        .collect();
    assert_eq!(at, [3]);
}

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

#[test]
fn an_order_key_at_the_top_of_the_range_freezes_nothing() {
    let e = memory();
    // The top of the range: 2^64 - 1, the latest time's last tick.
    import(
        &e,
        r#"[{"conversationID":"c2c_top","orderKey":18446744073709551615},
            {"conversationID":"c2c_b","orderKey":1},{"conversationID":"c2c_c","orderKey":2}]"#,
    )
    .unwrap();
    // Later moves neither tie nor list the newest last.
    messages(&e, &one("c2c_c", "c1", 100, 1)).unwrap();
    messages(&e, &one("c2c_b", "b1", 200, 1)).unwrap();
    assert_eq!(order(&e), ["c2c_top", "c2c_b", "c2c_c"]);
    let (b, c) = (get(&e, "c2c_b").0.order_key, get(&e, "c2c_c").0.order_key);
    assert_eq!((b >> 32, c >> 32), (200, 100));
    // The imported key holds until the conversation's own next activity.
    messages(&e, &one("c2c_top", "t1", 300, 1)).unwrap();
    assert_eq!(order(&e), ["c2c_top", "c2c_b", "c2c_c"]);
    assert_eq!(get(&e, "c2c_top").0.order_key >> 32, 300);
    messages(&e, &one("c2c_c", "c2", 400, 2)).unwrap();
    assert_eq!(order(&e), ["c2c_c", "c2c_top", "c2c_b"]);
    // Times past the range count as its last second, and what the rule
    // computes there exports and imports back unchanged.
    import(
        &e,
        r#"[{"conversationID":"c2c_far","lastMessage":{"msgID":"f","timestamp":9000000000}}]"#,
    )
    .unwrap();
    let far = get(&e, "c2c_far").0.clone();
    assert_eq!(far.order_key >> 32, imconv::model::MAX_ACTIVITY_TIME);
    let json = imconv::json::conversation_to_json(&far).unwrap();
    let again = imconv::json::parse_conversations(format!("[{json}]").as_bytes()).unwrap();
    assert_eq!(again[0], far);
}

// --- 9. import resets the applied-message state ---------------------------

#[test]
fn an_import_forgets_the_messages_of_what_it_replaces() {
    let e = memory();
    messages(&e, &one("c2c_a", "m1", 100, 1)).unwrap();
    import(&e, r#"[{"conversationID":"c2c_a","unreadCount":0}]"#).unwrap();
    // Redelivered after the import: counted again, and the last message.
    messages(&e, &one("c2c_a", "m1", 100, 1)).unwrap();
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.unread_count, 1);
    assert_eq!(a.0.last_message.as_ref().unwrap().msg_id.as_str(), "m1");
    // Cleaning by position works from the imported state.
    import(&e, r#"[{"conversationID":"c2c_a","unreadCount":4,"lastMessage":{"msgID":"m9","timestamp":900}}]"#).unwrap();
    // The imported last message redelivered changes nothing.
    messages(&e, &one("c2c_a", "m9", 900, 0)).unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 4);
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("c2c_a")),
            upto: ReadUpTo::Timestamp(900),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 0);
}

// --- 10. bounds -----------------------------------------------------------

#[test]
fn oversized_fields_are_refused() {
    let e = memory();
    import(&e, r#"[{"conversationID":"c2c_a"}]"#).unwrap();
    let huge = "x".repeat(10 << 20);
    let err = messages(&e, &one("c2c_a", &huge, 1, 1)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    let err = write(
        &e,
        Write::Draft {
            id: id("c2c_a"),
            text: text(&huge),
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(err.message().contains("draft"), "{err}");
    let err = write(
        &e,
        Write::Profiles(format!(r#"[{{"userID":"a","showName":"{huge}"}}]"#).into_bytes()),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(err.message().contains("showName"), "{err}");
    let err = import(
        &e,
        &format!(r#"[{{"conversationID":"c2c_a","faceUrl":"{huge}"}}]"#),
    )
    .unwrap_err();
    assert!(err.message().contains("faceUrl"), "{err}");
    let err = write(
        &e,
        Write::CreateGroup {
            name: text("a\u{1}b"),
            ids: IdList::default(),
        },
    )
    .unwrap_err();
    assert!(err.message().contains("control"), "{err}");
    let a = get(&e, "c2c_a");
    assert!(a.0.draft_text.is_empty() && a.0.face_url.is_empty());
    assert!(a.0.last_message.is_none());
}

#[test]
fn the_write_queue_is_bounded_and_refuses_at_once() {
    let e = memory();
    // Documents of about 1 MiB issued without waiting fill the queue far
    // faster than one writer commits them. How many fit depends on how many
    // the writer took meanwhile, so the verdict reads the refusal itself:
    // what was waiting at that moment, which must be the bound.
    let element = format!(
        r#"{{"conversationID":"c2c_a","showName":"{}"}}"#,
        "n".repeat(1000)
    );
    let doc = format!("[{}]", vec![element; 1000].join(","));
    let (tx, rx) = mpsc::channel();
    let mut accepted = 0;
    let mut refused = None;
    while refused.is_none() && accepted < 1_000_000 {
        let tx = tx.clone();
        match e.import(
            doc.clone().into_bytes(),
            e.completer(move |r| {
                let _ = tx.send(r.map_err(|e| e.code()));
            }),
        ) {
            Ok(()) => accepted += 1,
            Err(err) => refused = Some(err),
        }
    }
    let err = refused.expect("a million documents of 1 MiB were all queued: no bound");
    assert_eq!(err.code(), ErrorCode::QueueFull, "{err}");
    assert!(err.message().contains("queue is full"), "{err}");
    // "the write queue is full (N writes, B bytes waiting; ..."
    let numbers: Vec<usize> = err
        .message()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (waiting, bytes) = (numbers[0], numbers[1]);
    assert!(waiting >= 1 && waiting <= accepted, "{err}");
    assert!(
        bytes <= MAX_QUEUED_BYTES && bytes + doc.len() + 1024 > MAX_QUEUED_BYTES,
        "refused below the bound: {err}"
    );
    // Every accepted write gets exactly one callback: committed, or failed
    // with Shutdown when the instance is freed with writes still queued.
    e.shutdown();
    drop(tx);
    let results: Vec<_> = rx.iter().collect();
    assert_eq!(results.len(), accepted);
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(1000) | Err(ErrorCode::Shutdown))));
}

// --- sync intake ----------------------------------------------------------

fn sync(e: &Engine<View>, json: &str) -> Result<usize> {
    let doc = json.as_bytes().to_vec();
    call(e, |done| e.sync(doc, done).unwrap())
}

#[test]
fn sync_merges_named_fields_and_creates_missing_conversations() {
    let e = memory();
    import(
        &e,
        r#"[{"conversationID":"c2c_a","showName":"A","draftText":"keep","customData":"x","recvOpt":2}]"#,
    )
    .unwrap();
    write(
        &e,
        Write::Profiles(br#"[{"userID":"new","showName":"Newbie"}]"#.to_vec()),
    )
    .unwrap();
    let rec = Arc::new(Recorder::default());
    e.add_listener(rec.clone());
    let n = sync(
        &e,
        r#"[{"conversationID":"c2c_a","showName":"Alice","unreadCount":3},
            {"conversationID":"c2c_new","lastMessage":{"msgID":"n1","timestamp":500}}]"#,
    )
    .unwrap();
    assert_eq!(n, 2);
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.show_name.as_str(), "Alice");
    assert_eq!(a.0.unread_count, 3);
    // Fields it does not name stay, local ones included.
    assert_eq!(a.0.draft_text.as_str(), "keep");
    assert_eq!(a.0.custom_data.as_str(), "x");
    assert_eq!(a.0.recv_opt, 2);
    let n = get(&e, "c2c_new");
    assert!(n.1);
    assert_eq!(n.0.show_name.as_str(), "Newbie");
    assert_eq!(n.0.last_message.as_ref().unwrap().msg_id.as_str(), "n1");
    // Placed by its activity time.
    assert_eq!(n.0.order_key >> 32, 500);
    e.shutdown();
    // One batch: muted a's count does not enter the total.
    assert_eq!(*rec.log.lock(), ["new c2c_new", "changed c2c_a"]);
}

#[test]
fn sync_follows_the_newest_message_rule_and_an_authoritative_count() {
    let e = memory();
    messages(
        &e,
        &format!(
            "[{},{},{}]",
            msg("c2c_a", "m1", 100, 0, ""),
            msg("c2c_a", "m2", 200, 0, ""),
            msg("c2c_a", "m3", 300, 0, "")
        ),
    )
    .unwrap();
    let key = get(&e, "c2c_a").0.order_key;
    // An older last message does not replace the newer one, nor move it.
    sync(
        &e,
        r#"[{"conversationID":"c2c_a","lastMessage":{"msgID":"old","timestamp":50}}]"#,
    )
    .unwrap();
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.last_message.as_ref().unwrap().msg_id.as_str(), "m3");
    assert_eq!(a.0.order_key, key);
    // The server says 1 unread: the newest remembered message stays unread,
    // so reading up to t=200 leaves it, and reading to 300 clears it.
    sync(&e, r#"[{"conversationID":"c2c_a","unreadCount":1}]"#).unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 1);
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("c2c_a")),
            upto: ReadUpTo::Timestamp(200),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 1);
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("c2c_a")),
            upto: ReadUpTo::Timestamp(300),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 0);
    // A newer one moves it; the same msgID updates it in place.
    sync(
        &e,
        r#"[{"conversationID":"c2c_a","lastMessage":{"msgID":"m4","timestamp":400,"status":1}}]"#,
    )
    .unwrap();
    let key4 = get(&e, "c2c_a").0.order_key;
    assert_eq!(key4 >> 32, 400);
    sync(
        &e,
        r#"[{"conversationID":"c2c_a","lastMessage":{"msgID":"m4","timestamp":400,"status":2}}]"#,
    )
    .unwrap();
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.last_message.as_ref().unwrap().status, 2);
    assert_eq!(a.0.order_key, key4);
    // Redelivered as a message: not counted again.
    messages(&e, &one("c2c_a", "m4", 400, 0)).unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 0);
    // Not even once a newer message has replaced it, nor the older one the
    // sync did not take.
    messages(&e, &one("c2c_a", "m5", 500, 0)).unwrap();
    messages(&e, &one("c2c_a", "m4", 400, 0)).unwrap();
    messages(&e, &one("c2c_a", "old", 50, 0)).unwrap();
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.unread_count, 1);
    assert_eq!(a.0.last_message.as_ref().unwrap().msg_id.as_str(), "m5");
}

#[test]
fn sync_and_import_are_all_or_nothing_and_apply_the_manager_rules() {
    let e = memory();
    // Pins: at most 50.
    let pins: Vec<String> = (0..51)
        .map(|i| format!(r#"{{"conversationID":"c2c_p{i}","isPinned":true}}"#))
        .collect();
    let err = sync(&e, &format!("[{}]", pins.join(","))).unwrap_err();
    assert!(err.message().contains("pinned"), "{err}");
    let err = import(&e, &format!("[{}]", pins.join(","))).unwrap_err();
    assert!(err.message().contains("pinned"), "{err}");
    assert_eq!(e.stored_count().unwrap(), 0);
    // Marks must not be 0; bad group names are refused, new ones created.
    let err = sync(&e, r#"[{"conversationID":"c2c_a","markList":[0]}]"#).unwrap_err();
    assert!(err.message().contains("markList[0]"), "{err}");
    let err = import(
        &e,
        r#"[{"conversationID":"c2c_a"},{"conversationID":"c2c_b","conversationGroupList":["a\u0007"]}]"#,
    )
    .unwrap_err();
    assert!(err.message().starts_with("element 1"), "{err}");
    assert_eq!(e.stored_count().unwrap(), 0);
    sync(
        &e,
        r#"[{"conversationID":"c2c_a","conversationGroupList":["work"]}]"#,
    )
    .unwrap();
    assert_eq!(call(&e, |d| e.groups(d)).unwrap(), ["work"]);
    // 21 groups in all: refused.
    let many: Vec<String> = (0..20).map(|i| format!(r#""g{i}""#)).collect();
    let err = import(
        &e,
        &format!(
            r#"[{{"conversationID":"c2c_b","conversationGroupList":[{}]}}]"#,
            many.join(",")
        ),
    )
    .unwrap_err();
    assert!(err.message().contains("at most 20"), "{err}");
    assert_eq!(e.stored_count().unwrap(), 1);
}

// --- writes that share a transaction keep their own result ----------------

#[test]
fn a_failing_write_among_queued_ones_fails_alone() {
    let e = memory();
    import(&e, r#"[{"conversationID":"c2c_a"}]"#).unwrap();
    let rec = Arc::new(Recorder::default());
    e.add_listener(rec.clone());
    let (tx, rx) = mpsc::channel();
    // A large import ahead of a round makes its writes queue up behind it,
    // so that they share a transaction.
    let big = format!(
        "[{}]",
        (0..2000)
            .map(|i| format!(
                r#"{{"conversationID":"c2c_bulk{i}","faceUrl":"{}"}}"#,
                "u".repeat(200)
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    for round in 0..200 {
        let draft = format!("d{round}");
        if round % 10 == 0 {
            let (itx, irx) = mpsc::channel();
            e.import(
                big.clone().into_bytes(),
                e.completer(move |r| {
                    let _ = itx.send(r);
                }),
            )
            .unwrap();
            // Collected after the round's writes, which queue behind it.
            std::thread::spawn(move || wait(&irx).unwrap());
        }
        let ops = [
            Write::Pin {
                id: id("c2c_a"),
                pinned: round % 2 == 0,
            },
            // Not stored: fails, and must not undo its neighbours.
            Write::Pin {
                id: id("c2c_missing"),
                pinned: true,
            },
            Write::Draft {
                id: id("c2c_a"),
                text: text(&draft),
            },
            // Fails its checks in the writer, in its place.
            Write::Mark {
                ids: ids(&["c2c_a"]),
                mark: 0,
                enable: true,
            },
        ];
        for (i, op) in ops.into_iter().enumerate() {
            write_async(&e, op, i, &tx);
        }
        let results: Vec<(usize, bool)> = (0..4)
            .map(|_| {
                let (tag, r) = wait(&rx);
                (tag, r.is_ok())
            })
            .collect();
        assert_eq!(
            results,
            [(0, true), (1, false), (2, true), (3, false)],
            "round {round}"
        );
        let a = get(&e, "c2c_a");
        assert_eq!(a.0.is_pinned, round % 2 == 0, "round {round}");
        assert_eq!(a.0.draft_text.as_str(), draft, "round {round}");
    }
    assert!(!get(&e, "c2c_missing").1);
    let stats = e.write_stats();
    assert!(
        stats.largest >= 4,
        "writes never shared a transaction: {stats:?}"
    );
    e.shutdown();
    // Two changes a round (pin, draft), none from the failed writes.
    let log = rec.log.lock();
    let mine: Vec<&String> = log.iter().filter(|l| !l.contains("bulk")).collect();
    assert_eq!(mine.len(), 400, "{:?}", &mine[..10.min(mine.len())]);
    assert!(mine.iter().all(|l| *l == "changed c2c_a"));
}

#[test]
fn the_order_and_its_tick_survive_reopening() {
    let scratch = Scratch::new("flows-order");
    let dir = scratch.to_path_buf();
    let open = || {
        Engine::<View>::open(&imconv::config::Config {
            data_dir: Some(dir.clone()),
            ..imconv::config::Config::in_memory("me")
        })
        .unwrap()
    };
    let e = open();
    import(
        &e,
        r#"[{"conversationID":"c2c_top","orderKey":18446744073709551615}]"#,
    )
    .unwrap();
    messages(&e, &one("c2c_a", "a1", 100, 1)).unwrap();
    messages(&e, &one("c2c_b", "b1", 100, 1)).unwrap();
    assert_eq!(order(&e), ["c2c_top", "c2c_b", "c2c_a"]);
    drop(e);
    let e = open();
    assert_eq!(order(&e), ["c2c_top", "c2c_b", "c2c_a"]);
    // Same second after reopening: the later action still ranks first.
    messages(&e, &one("c2c_a", "a2", 100, 2)).unwrap();
    assert_eq!(order(&e), ["c2c_top", "c2c_a", "c2c_b"]);
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_read_position_from_sync_is_a_read_on_another_device() {
    let e = memory();
    messages(
        &e,
        &format!(
            "[{},{},{}]",
            msg("group_g", "g1", 1, 1, r#","groupAtUserList":["me"]"#),
            msg("group_g", "g2", 2, 2, ""),
            msg("group_g", "g3", 3, 3, r#","groupAtUserList":["me"]"#)
        ),
    )
    .unwrap();
    messages(
        &e,
        &format!(
            "[{},{}]",
            msg("c2c_a", "a1", 10, 0, ""),
            msg("c2c_a", "a2", 20, 0, "")
        ),
    )
    .unwrap();
    sync(
        &e,
        r#"[{"conversationID":"group_g","groupReadSequence":2},{"conversationID":"c2c_a","c2cReadTimestamp":10}]"#,
    )
    .unwrap();
    let g = get(&e, "group_g");
    assert_eq!(g.0.unread_count, 1);
    assert_eq!(g.0.group_read_sequence, 2);
    let at: Vec<u64> = g.0.group_at_info_list.iter().map(|a| a.seq).collect();
    assert_eq!(at, [3]);
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.unread_count, 1);
    assert_eq!(a.0.c2c_read_timestamp, 10);
    // A late message below the synced position is not unread either.
    messages(&e, &one("group_g", "g0", 0, 2)).unwrap();
    assert_eq!(get(&e, "group_g").0.unread_count, 1);
    assert_eq!(total(&e), 2);
}

fn total(e: &Engine<View>) -> u64 {
    call(e, |done| e.unread_total(ListFilter::default(), done)).unwrap()
}
