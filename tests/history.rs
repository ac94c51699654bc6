//! Bounded history (issue 17, item 3): a message at or before its
//! conversation's read position, not its last message and not among its
//! newest `RECENT_KEPT`, is forgotten; coming again it changes nothing; and
//! with reads keeping up the store stays small.

mod common;

use std::path::Path;
use std::sync::Arc;

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::store::{count_remembered, ReadUpTo, RECENT_KEPT};
use imconv::write::{ReadScope, Write};

use common::*;

fn on_disk(dir: &Path) -> Engine<View> {
    Engine::open(&Config {
        data_dir: Some(dir.to_path_buf()),
        ..Config::in_memory("me")
    })
    .unwrap()
}

/// Remembered messages per conversation, read from the file itself.
fn remembered(dir: &Path, conversation: &str) -> i64 {
    let db = rusqlite::Connection::open(dir.join("me/conversations.db")).unwrap();
    count_remembered(&db, Some(conversation)).unwrap() as i64
}

/// Message `i` of a conversation: one-to-one by time, groups by sequence,
/// "group_m" (a Matrix room) by time without sequences.
fn message(conv: &str, i: u64, extra: &str) -> String {
    let seq = if conv == "group_g" {
        format!(r#","seq":{i}"#)
    } else {
        String::new()
    };
    format!(
        r#"{{"conversationID":"{conv}","msgID":"{conv}-{i}","timestampMs":{}{seq},"sender":"bob","text":"hi {i}"{extra}}}"#,
        1_700_000_000_000 + i * 10
    )
}

fn batch(conv: &str, range: std::ops::RangeInclusive<u64>, extra: &str) -> String {
    let items: Vec<String> = range.map(|i| message(conv, i, extra)).collect();
    format!("[{}]", items.join(","))
}

#[test]
fn a_forgotten_message_coming_again_changes_nothing() {
    let dir = Scratch::new("history-redelivery");
    let e = on_disk(&dir);
    for conv in ["c2c_bob", "group_g", "group_m"] {
        messages(&e, &batch(conv, 1..=100, "")).unwrap();
        let read = if conv == "group_g" {
            Write::MarkRead {
                scope: ReadScope::One(id(conv)),
                upto: ReadUpTo::Sequence(90),
            }
        } else {
            Write::MarkMessageRead {
                id: id(conv),
                msg_id: text(&format!("{conv}-90")),
            }
        };
        write(&e, read).unwrap();
    }
    let kept = RECENT_KEPT.max(10);
    let before: Vec<_> = ["c2c_bob", "group_g", "group_m"]
        .iter()
        .map(|c| get(&e, c).0.clone())
        .collect();
    for (conv, c) in ["c2c_bob", "group_g", "group_m"].iter().zip(&before) {
        assert_eq!(c.unread_count, 10, "{conv}");
        // The newest RECENT_KEPT and the 10 unread stay.
        assert_eq!(remembered(&dir, conv), kept, "{conv}");
    }
    let recorder = Arc::new(Recorder::default());
    e.add_listener(recorder.clone());
    // Every forgotten message again, plainly and with every variation that
    // could count, mention, retract or edit.
    let forgotten = 1..=(100 - kept as u64);
    for conv in ["c2c_bob", "group_g", "group_m"] {
        for extra in [
            "",
            r#","countsAsUnread":true"#,
            r#","atType":1,"groupAtUserList":["me"]"#,
            r#","status":6"#,
            r#","text":"edited""#,
        ] {
            messages(&e, &batch(conv, forgotten.clone(), extra)).unwrap();
        }
    }
    assert!(recorder.log.lock().is_empty(), "{:?}", recorder.log.lock());
    for (conv, c) in ["c2c_bob", "group_g", "group_m"].iter().zip(&before) {
        assert_eq!(&get(&e, conv).0, c, "{conv}");
        assert_eq!(remembered(&dir, conv), kept, "nothing remembered again");
    }
    // A receipt on a message still in the window is taken; on a forgotten
    // one (a late receipt) it succeeds and changes nothing; on one never
    // applied it fails, saying so.
    write(
        &e,
        Write::MarkMessageRead {
            id: id("c2c_bob"),
            msg_id: text(&format!("c2c_bob-{}", 101 - RECENT_KEPT)),
        },
    )
    .unwrap();
    let bob = get(&e, "c2c_bob").0.clone();
    recorder.log.lock().clear();
    write(
        &e,
        Write::MarkMessageRead {
            id: id("c2c_bob"),
            msg_id: text("c2c_bob-3"),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_bob").0, bob, "a late receipt changes nothing");
    assert!(recorder.log.lock().is_empty(), "{:?}", recorder.log.lock());
    let err = write(
        &e,
        Write::MarkMessageRead {
            id: id("c2c_bob"),
            msg_id: text("c2c_bob-never"),
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), imconv::error::ErrorCode::InvalidParameters);
    assert!(
        err.message()
            .contains("\"c2c_bob-never\" was never applied"),
        "{}",
        err.message()
    );
}

/// The database file's size once closed (the WAL checkpointed into it).
fn file_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("me/conversations.db"))
        .unwrap()
        .len()
}

#[test]
fn with_reads_keeping_up_the_store_stays_small() {
    let dir = Scratch::new("history-size");
    let (conversations, per_conversation, read_every) = (100u64, 1000u64, 50u64);
    let e = on_disk(&dir);
    let doc: Vec<String> = (0..conversations)
        .map(|c| format!(r#"{{"conversationID":"c2c_u{c}","showName":"User {c}"}}"#))
        .collect();
    import(&e, &format!("[{}]", doc.join(","))).unwrap();
    drop(e);
    let base = file_size(&dir);
    let e = on_disk(&dir);
    for round in 0..per_conversation / read_every {
        let first = round * read_every + 1;
        let last = first + read_every - 1;
        let mut items = Vec::new();
        for c in 0..conversations {
            let conv = format!("c2c_u{c}");
            items.extend((first..=last).map(|i| message(&conv, i, "")));
        }
        messages(&e, &format!("[{}]", items.join(","))).unwrap();
        // The user reads every conversation up to its newest message.
        write(
            &e,
            Write::MarkRead {
                scope: ReadScope::AllC2c,
                upto: ReadUpTo::All,
            },
        )
        .unwrap();
    }
    drop(e);
    let total = conversations * per_conversation;
    let per_message = (file_size(&dir).saturating_sub(base)) as f64 / total as f64;
    // What stays is the recent window in each conversation's row (and
    // pages the table freed for reuse); without forgetting, 70 a message.
    eprintln!("{per_message:.1} bytes a message beyond the conversations");
    assert!(per_message <= 16.0, "{per_message:.1} bytes a message");
    let db = rusqlite::Connection::open(dir.join("me/conversations.db")).unwrap();
    let rows = count_remembered(&db, None).unwrap() as i64;
    assert_eq!(rows, conversations as i64 * RECENT_KEPT);
}

#[test]
fn a_read_into_a_large_backlog_forgets_what_it_read_and_nothing_else() {
    // 500 unread; reading the first 10 marks and forgets those 10 only (it
    // does not walk the 490 left), and they stay read when they come again.
    let dir = Scratch::new("history-backlog");
    let e = on_disk(&dir);
    messages(&e, &batch("c2c_bob", 1..=500, "")).unwrap();
    write(
        &e,
        Write::MarkMessageRead {
            id: id("c2c_bob"),
            msg_id: text("c2c_bob-10"),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_bob").0.unread_count, 490);
    assert_eq!(remembered(&dir, "c2c_bob"), 490);
    messages(&e, &batch("c2c_bob", 1..=10, r#","countsAsUnread":true"#)).unwrap();
    assert_eq!(get(&e, "c2c_bob").0.unread_count, 490);
    assert_eq!(remembered(&dir, "c2c_bob"), 490);
    // Reading the rest leaves the window and the last message.
    write(
        &e,
        Write::MarkMessageRead {
            id: id("c2c_bob"),
            msg_id: text("c2c_bob-500"),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_bob").0.unread_count, 0);
    assert_eq!(remembered(&dir, "c2c_bob"), RECENT_KEPT);
}
