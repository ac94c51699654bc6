//! Integration tests of the conversation manager's list (from
//! tests/manager.rs): ordering, stable paging, filters, unread totals, event
//! exactness, reopening.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::events::Removal;
use imconv::model::{ConversationType, ListFilter};
use imconv::store::ReadUpTo;
use imconv::write::{ReadScope, Write};

use common::*;

#[test]
fn ordering_pinned_first_then_order_key_then_id() {
    let e = memory();
    import_ok(
        &e,
        r#"[{"conversationID":"c2c_a","orderKey":1},{"conversationID":"c2c_b","orderKey":3},
                  {"conversationID":"c2c_c","orderKey":2,"isPinned":true},{"conversationID":"c2c_d","orderKey":3},
                  {"conversationID":"c2c_e","orderKey":18446744073709551615}]"#,
    );
    assert_eq!(
        all_ids(&e, &ListFilter::default()),
        ["c2c_c", "c2c_e", "c2c_d", "c2c_b", "c2c_a"]
    );
}

#[test]
fn paging_is_stable_while_conversations_move() {
    let e = memory();
    let docs: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#"{{"conversationID":"c2c_u{i:02}","orderKey":{}}}"#,
                100 + i
            )
        })
        .collect();
    import_ok(&e, &format!("[{}]", docs.join(",")));
    let f = ListFilter::default();
    let first = page(&e, &f, "", 5);
    assert!(!first.finished);
    let got: Vec<String> = first
        .conversations
        .iter()
        .map(|v| v.0.id.as_str().to_string())
        .collect();
    assert_eq!(got, ["c2c_u19", "c2c_u18", "c2c_u17", "c2c_u16", "c2c_u15"]);
    // While the user pages: one already seen and one not yet seen move up,
    // and one not yet seen is deleted.
    messages(
        &e,
        &format!(
            "[{},{}]",
            text_msg("c2c_u17", "x1", 1, 1, false),
            text_msg("c2c_u05", "x2", 1, 1, false)
        ),
    )
    .unwrap();
    write(
        &e,
        Write::Delete {
            ids: ids(&["c2c_u10"]),
        },
    )
    .unwrap();
    let mut rest = Vec::new();
    let mut cursor = first.next_cursor;
    loop {
        let p = page(&e, &f, &cursor, 4);
        rest.extend(p.conversations.iter().map(|v| v.0.id.as_str().to_string()));
        cursor = p.next_cursor;
        if p.finished {
            break;
        }
    }
    // Every one not moved and not deleted comes exactly once, in order.
    let expected: Vec<String> = (0..15)
        .rev()
        .filter(|i| *i != 5 && *i != 10)
        .map(|i| format!("c2c_u{i:02}"))
        .collect();
    assert_eq!(rest, expected);
    assert!(call(&e, |d| e.page(f.clone(), "garbage".into(), 5, d)).is_err());
}

#[test]
fn filters_and_unread_totals() {
    let e = memory();
    import_ok(
        &e,
        r#"[{"conversationID":"c2c_a","unreadCount":3,"markList":[1]},
                  {"conversationID":"c2c_muted","unreadCount":100,"recvOpt":2},
                  {"conversationID":"group_g","unreadCount":4,"groupAtInfoList":[{"seq":1,"atType":1}]},
                  {"conversationID":"group_h","markList":[4294967296]}]"#,
    );
    let f = |kind, mark, unread, at| ListFilter {
        kind,
        mark,
        group: None,
        has_unread: unread,
        has_at: at,
    };
    assert_eq!(
        all_ids(&e, &f(Some(ConversationType::Group), None, false, false)),
        ["group_h", "group_g"]
    );
    assert_eq!(all_ids(&e, &f(None, Some(1), false, false)), ["c2c_a"]);
    assert_eq!(
        all_ids(&e, &f(None, Some(1 << 32), false, false)),
        ["group_h"]
    );
    assert_eq!(all_ids(&e, &f(None, None, true, false)).len(), 3);
    assert_eq!(all_ids(&e, &f(None, None, false, true)), ["group_g"]);
    assert_eq!(
        total(&e, ListFilter::default()),
        7,
        "muted ones are left out"
    );
    assert_eq!(
        total(&e, f(Some(ConversationType::C2c), None, false, false)),
        3
    );
    messages(&e, &format!("[{}]", text_msg("c2c_a", "n1", 1, 1, false))).unwrap();
    assert_eq!(total(&e, ListFilter::default()), 8);
}

#[test]
fn events_are_exact() {
    let e = memory();
    import_ok(&e, r#"[{"conversationID":"c2c_a"}]"#);
    let rec = Arc::new(Recorder::default());
    let listener_id = e.add_listener(rec.clone());
    messages(
        &e,
        &format!(
            "[{},{},{}]",
            text_msg("c2c_a", "1", 1, 1, false),
            text_msg("c2c_b", "2", 1, 1, false),
            text_msg("c2c_b", "3", 2, 2, false)
        ),
    )
    .unwrap();
    // Nothing changes: no event.
    messages(&e, &format!("[{}]", text_msg("c2c_a", "1", 1, 1, false))).unwrap();
    write(
        &e,
        Write::RecvOpt {
            ids: ids(&["c2c_a"]),
            opt: 0,
        },
    )
    .unwrap();
    write(
        &e,
        Write::Pin {
            id: id("c2c_b"),
            pinned: true,
        },
    )
    .unwrap();
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("c2c_a")),
            upto: ReadUpTo::All,
        },
    )
    .unwrap();
    write(
        &e,
        Write::Delete {
            ids: ids(&["c2c_b"]),
        },
    )
    .unwrap();
    assert_eq!(e.remove_listener(listener_id), Removal::Removed);
    write(
        &e,
        Write::Pin {
            id: id("c2c_a"),
            pinned: true,
        },
    )
    .unwrap();
    e.shutdown();
    assert_eq!(
        *rec.log.lock(),
        [
            "new c2c_b",
            "changed c2c_a",
            "total 3",
            "changed c2c_b",
            "changed c2c_a",
            "total 2",
            "deleted c2c_b",
            "total 0",
        ]
    );
}

#[test]
fn the_manager_state_survives_reopening() {
    let scratch = Scratch::new("manager");
    let dir = scratch.to_path_buf();
    let open = |dir: &PathBuf| -> Engine<View> {
        Engine::open(&Config {
            data_dir: Some(dir.clone()),
            ..Config::in_memory("me")
        })
        .unwrap()
    };
    let e = open(&dir);
    messages(&e, &format!("[{}]", text_msg("c2c_a", "m1", 1, 1, false))).unwrap();
    write(
        &e,
        Write::CreateGroup {
            name: text("work"),
            ids: ids(&["c2c_a"]),
        },
    )
    .unwrap();
    write(
        &e,
        Write::Profiles(br#"[{"userID":"q","showName":"Q"}]"#.to_vec()),
    )
    .unwrap();
    let key = get(&e, "c2c_a").0.order_key;
    drop(e);
    let e = open(&dir);
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.unread_count, 1);
    assert_eq!(call(&e, |d| e.groups(d)).unwrap(), ["work"]);
    assert_eq!(get(&e, "c2c_q").0.show_name.as_str(), "Q");
    // Applied messages are remembered; new order keys keep growing.
    messages(
        &e,
        &format!(
            "[{},{}]",
            text_msg("c2c_a", "m1", 1, 1, false),
            text_msg("c2c_b", "m2", 1, 1, false)
        ),
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 1);
    assert!(get(&e, "c2c_b").0.order_key > key);
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn imports_raise_events_too_and_keep_the_total() {
    let e = memory();
    import_ok(&e, r#"[{"conversationID":"c2c_a","unreadCount":1}]"#);
    assert_eq!(total(&e, ListFilter::default()), 1);
    let rec = Arc::new(Recorder::default());
    e.add_listener(rec.clone());
    // a changes (twice in one call: one event), b is new, a third is equal.
    import_ok(
        &e,
        r#"[{"conversationID":"c2c_a","unreadCount":2},{"conversationID":"c2c_b","unreadCount":5},
                  {"conversationID":"c2c_a","unreadCount":3}]"#,
    );
    import_ok(&e, r#"[{"conversationID":"c2c_b","unreadCount":5}]"#);
    write(
        &e,
        Write::Pin {
            id: id("c2c_b"),
            pinned: true,
        },
    )
    .unwrap();
    assert_eq!(total(&e, ListFilter::default()), 8);
    e.shutdown();
    assert_eq!(
        *rec.log.lock(),
        ["new c2c_b", "changed c2c_a", "total 8", "changed c2c_b"]
    );
}
