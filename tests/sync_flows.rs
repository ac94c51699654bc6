//! Sync intake (from tests/flows.rs, issue 7): named fields merged, the
//! newest-message rule, an authoritative count, all or nothing, and a read
//! position from another device.

mod common;

use std::sync::mpsc;
use std::sync::Arc;

use imconv::engine::Engine;
use imconv::model::ListFilter;
use imconv::store::ReadUpTo;
use imconv::write::{ReadScope, Write};

use common::*;

// --- sync intake ----------------------------------------------------------

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
    assert_eq!(total(&e, ListFilter::default()), 2);
}
