//! Real message flows (issue 7): writes issued back to back, catch-up
//! syncs, messages that change, read positions, @ mentions, listeners that
//! remove themselves or each other, hostile sizes and queue bounds. Each
//! test reproduces a defect of the first manager.

mod common;

use std::sync::mpsc;
use std::sync::Arc;

use imconv::engine::MAX_QUEUED_BYTES;
use imconv::error::ErrorCode;
use imconv::model::{Conversation, IdList, ListFilter};
use imconv::store::ReadUpTo;
use imconv::write::{ReadScope, Write};

use common::*;

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
