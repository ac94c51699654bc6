//! The recent window (issue 17, item 2): a conversation's newest remembered
//! messages live in its own row, the rest in `applied_message`. Where a
//! record is must never change a result: de-duplication, counts, @ entries,
//! reads, retractions and a server's count see both as one set, across a
//! restart and a unit of work undone.

mod common;

use std::path::Path;

use imconv::config::{Config, Durability};
use imconv::engine::Engine;
use imconv::model::{Conversation, ConversationId};
use imconv::store::{count_remembered, AppliedMessage, ReadUpTo, Store, RECENT_KEPT};
use imconv::write::{ReadScope, Write};

use common::*;

fn on_disk(dir: &Path) -> Engine<View> {
    Engine::open(&Config {
        data_dir: Some(dir.to_path_buf()),
        ..Config::in_memory("me")
    })
    .unwrap()
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("me/conversations.db")).unwrap()
}

/// Rows of the table alone (what fell out of the windows).
fn table_rows(dir: &Path) -> i64 {
    db(dir)
        .query_row("SELECT COUNT(*) FROM applied_message", [], |r| r.get(0))
        .unwrap()
}

/// The window's flag byte, in hex: 01 while some of its records are in the table.
fn spilled_flag(dir: &Path, conv: &str) -> String {
    db(dir)
        .query_row(
            "SELECT hex(substr(recent, 2, 1)) FROM conversation WHERE conversation_id = ?1",
            [conv],
            |r| r.get(0),
        )
        .unwrap()
}

fn remembered(dir: &Path, conv: &str) -> u64 {
    count_remembered(&db(dir), Some(conv)).unwrap()
}

/// Message `i` of a conversation: in a group it carries a sequence, and
/// every fifth mentions the user.
fn message(conv: &str, i: u64, extra: &str) -> String {
    let group = conv.starts_with("group_");
    let seq = if group {
        format!(r#","seq":{i}"#)
    } else {
        String::new()
    };
    let at = if group && i.is_multiple_of(5) {
        r#","atType":1"#
    } else {
        ""
    };
    format!(
        r#"{{"conversationID":"{conv}","msgID":"{conv}-{i}","timestampMs":{}{seq}{at},"sender":"bob","text":"m{i}"{extra}}}"#,
        1_700_000_000_000 + i * 10
    )
}

fn batch(conv: &str, range: std::ops::RangeInclusive<u64>, extra: &str) -> String {
    let items: Vec<String> = range.map(|i| message(conv, i, extra)).collect();
    format!("[{}]", items.join(","))
}

/// (unread count, @ entries).
fn counts(e: &Engine<View>, conv: &str) -> (u64, usize) {
    let v = get(e, conv);
    (v.0.unread_count, v.0.group_at_info_list.len())
}

#[test]
fn a_quiet_conversation_keeps_its_messages_in_its_own_row() {
    let dir = Scratch::new("window-quiet");
    let e = on_disk(&dir);
    for c in 0..50 {
        messages(&e, &batch(&format!("c2c_u{c}"), 1..=3, "")).unwrap();
    }
    assert_eq!(table_rows(&dir), 0, "no record of its own page");
    assert_eq!(count_remembered(&db(&dir), None).unwrap(), 150);
    // Coming again, after a restart, nothing counts twice.
    drop(e);
    let e = on_disk(&dir);
    for c in 0..50 {
        messages(
            &e,
            &batch(&format!("c2c_u{c}"), 1..=3, r#","countsAsUnread":true"#),
        )
        .unwrap();
        assert_eq!(counts(&e, &format!("c2c_u{c}")).0, 3);
    }
}

#[test]
fn a_busy_conversation_spills_into_the_table_and_still_counts_each_message_once() {
    let dir = Scratch::new("window-busy");
    let e = on_disk(&dir);
    let g = "group_g";
    messages(&e, &batch(g, 1..=30, "")).unwrap();
    assert_eq!(counts(&e, g), (30, 6));
    let kept = RECENT_KEPT;
    assert_eq!(table_rows(&dir), 30 - kept, "what falls out unread is kept");
    assert_eq!(spilled_flag(&dir, g), "01");
    assert_eq!(remembered(&dir, g), 30);
    // Everything again, after a restart: from the row and from the table.
    drop(e);
    let e = on_disk(&dir);
    messages(&e, &batch(g, 1..=30, r#","countsAsUnread":true"#)).unwrap();
    assert_eq!(counts(&e, g), (30, 6));
    // A read up to 15 marks 15 in the table, with their 3 mentions.
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id(g)),
            upto: ReadUpTo::Sequence(15),
        },
    )
    .unwrap();
    assert_eq!(counts(&e, g), (15, 3));
    // Retracting one in the table (20, a mention) and one in the window
    // (29): each stops counting once.
    for _ in 0..2 {
        messages(
            &e,
            &format!(
                "[{},{}]",
                message(g, 20, r#","status":6"#),
                message(g, 29, r#","status":6"#)
            ),
        )
        .unwrap();
    }
    assert_eq!(counts(&e, g), (13, 2));
    // A receipt for a message in the window reads everything before it,
    // in both places.
    write(
        &e,
        Write::MarkMessageRead {
            id: id(g),
            msg_id: text(&format!("{g}-{}", 30 - kept + 2)),
        },
    )
    .unwrap();
    // Left: the newest RECENT_KEPT - 2 but 29 (retracted), and the
    // mentions of 25 and 30.
    let unread_after = (kept - 2) as u64 - 1;
    assert_eq!(counts(&e, g), (unread_after, 2));
    // The server says 2: the 2 newest stay unread, wherever they are.
    write(
        &e,
        Write::Sync(format!(r#"[{{"conversationID":"{g}","unreadCount":2}}]"#).into_bytes()),
    )
    .unwrap();
    assert_eq!(counts(&e, g).0, 2);
    messages(&e, &batch(g, 1..=30, r#","countsAsUnread":true"#)).unwrap();
    assert_eq!(counts(&e, g).0, 2);
    // Reading all leaves the window (and nothing in the table).
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id(g)),
            upto: ReadUpTo::All,
        },
    )
    .unwrap();
    assert_eq!(counts(&e, g), (0, 0));
    assert_eq!(remembered(&dir, g), RECENT_KEPT as u64);
    assert_eq!(table_rows(&dir), 0);
    assert_eq!(
        spilled_flag(&dir, g),
        "00",
        "nothing left to look for there"
    );
}

#[test]
fn with_reads_keeping_up_nothing_reaches_the_table() {
    // The steady state of a client: each message read soon after it comes.
    // What falls out of the window is read: it is forgotten, not written.
    let dir = Scratch::new("window-steady");
    let e = on_disk(&dir);
    for i in 1..=100u64 {
        messages(&e, &batch("c2c_bob", i..=i, "")).unwrap();
        if i % 3 == 0 {
            write(
                &e,
                Write::MarkMessageRead {
                    id: id("c2c_bob"),
                    msg_id: text(&format!("c2c_bob-{i}")),
                },
            )
            .unwrap();
        }
    }
    assert_eq!(table_rows(&dir), 0);
    assert_eq!(remembered(&dir, "c2c_bob"), RECENT_KEPT as u64);
    assert_eq!(counts(&e, "c2c_bob").0, 1);
}

#[test]
fn a_unit_undone_undoes_its_window_too() {
    let dir = Scratch::new("window-unit");
    let mut s = Store::open(Some(&*dir), Durability::Normal).unwrap();
    let conv = Conversation::empty(ConversationId::parse("c2c_a").unwrap());
    let m = |msg_id| AppliedMessage {
        msg_id,
        conversation_id: "c2c_a",
        time_ms: 5,
        seq: 0,
        unread: true,
        at_type: 0,
    };
    s.write(|w| {
        w.put(&conv)?;
        w.begin_unit()?;
        w.record_message(&m("kept"))?;
        w.release_unit()?;
        w.begin_unit()?;
        w.record_message(&m("undone"))?;
        assert!(w.applied("c2c_a", "undone")?.is_some());
        w.rollback_unit()?;
        w.begin_unit()?;
        assert!(w.applied("c2c_a", "undone")?.is_none());
        assert!(w.applied("c2c_a", "kept")?.is_some());
        w.release_unit()
    })
    .unwrap();
    // And a window changed without its row being written reaches the row.
    s.write(|w| w.record_message(&m("alone"))).unwrap();
    drop(s);
    let mut s = Store::open(Some(&*dir), Durability::Normal).unwrap();
    let found = s
        .write(|w| {
            Ok([
                w.applied("c2c_a", "kept")?,
                w.applied("c2c_a", "undone")?,
                w.applied("c2c_a", "alone")?,
            ])
        })
        .unwrap()
        .map(|a| a.is_some());
    assert_eq!(found, [true, false, true]);
}
