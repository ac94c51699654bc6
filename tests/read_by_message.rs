//! Reading up to a message and millisecond time (issue 16, items 1 and 2):
//! a receipt names a message, not a second; messages and conversations in
//! the same second order by their milliseconds.

mod common;

use imconv::error::ErrorCode;
use imconv::json::conversation_to_json;
use imconv::model::ListFilter;
use imconv::write::Write;

use common::*;

fn mark_read(e: &imconv::engine::Engine<View>, conv: &str, msg: &str) -> imconv::error::Result<()> {
    write(
        e,
        Write::MarkMessageRead {
            id: id(conv),
            msg_id: text(msg),
        },
    )
}

fn sync(e: &imconv::engine::Engine<View>, json: &str) -> imconv::error::Result<usize> {
    call(e, |done| e.sync(json.as_bytes().to_vec(), done).unwrap())
}

fn unread(e: &imconv::engine::Engine<View>, conv: &str) -> u64 {
    get(e, conv).0.unread_count
}

/// "quick 1", "quick 2", "quick 3" from bob in one second, and one more
/// a second later.
const QUICK: &str = r#"[
    {"conversationID":"c2c_bob","msgID":"q1","timestampMs":1700000000100,"sender":"bob"},
    {"conversationID":"c2c_bob","msgID":"q2","timestampMs":1700000000200,"sender":"bob"},
    {"conversationID":"c2c_bob","msgID":"q3","timestampMs":1700000000300,"sender":"bob"},
    {"conversationID":"c2c_bob","msgID":"q4","timestampMs":1700000001000,"sender":"bob"}]"#;

#[test]
fn a_receipt_reads_up_to_its_message_not_its_second() {
    // Drift 1 of issue 16: 0.2.0 could only read a one-to-one conversation
    // up to a whole second, so reading "quick 1" read "quick 2" and "quick 3".
    let e = memory();
    messages(&e, QUICK).unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 4);
    mark_read(&e, "c2c_bob", "q1").unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 3, "q2, q3 and q4 are still unread");
    let c = get(&e, "c2c_bob");
    assert_eq!(
        c.0.c2c_read_timestamp, 1700000000,
        "the second it reads up to"
    );
    // A message of that second that arrives now, after q1: unread; one
    // before q1: read.
    messages(
        &e,
        r#"[{"conversationID":"c2c_bob","msgID":"q0","timestampMs":1700000000050},
            {"conversationID":"c2c_bob","msgID":"q2b","timestampMs":1700000000250}]"#,
    )
    .unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 4);
    mark_read(&e, "c2c_bob", "q3").unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 1, "only q4 is left");
    // Positions only move forward: reading q2 now changes nothing.
    mark_read(&e, "c2c_bob", "q2").unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 1);
    // The same second as a whole (the old call) still reads all of it.
    write(
        &e,
        Write::MarkRead {
            scope: imconv::write::ReadScope::One(id("c2c_bob")),
            upto: imconv::store::ReadUpTo::Timestamp(1700000001),
        },
    )
    .unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 0);
}

#[test]
fn a_sync_element_reads_up_to_its_read_msg_id() {
    let e = memory();
    messages(&e, QUICK).unwrap();
    sync(&e, r#"[{"conversationID":"c2c_bob","readMsgID":"q2"}]"#).unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 2);
    // A receipt for a message never applied here is passed over.
    sync(&e, r#"[{"conversationID":"c2c_bob","readMsgID":"nope"}]"#).unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 2);
    // A whole-second position covers its whole second (issue 25, item 3):
    // q3, in the same second as q2, is read too.
    sync(
        &e,
        r#"[{"conversationID":"c2c_bob","c2cReadTimestamp":1700000000}]"#,
    )
    .unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 1);
}

#[test]
fn an_unknown_message_or_conversation_fails_and_changes_nothing() {
    let e = memory();
    messages(&e, QUICK).unwrap();
    let err = mark_read(&e, "c2c_bob", "missing").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(
        err.message().contains("\"missing\"") && err.message().contains("c2c_bob"),
        "{}",
        err.message()
    );
    let err = mark_read(&e, "c2c_nobody", "q1").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert_eq!(unread(&e, "c2c_bob"), 4);
}

#[test]
fn a_group_reads_by_sequence_or_by_time_without_one() {
    let e = memory();
    // Sequenced (Tencent): read up to m2 by its sequence, @ entries up to it go.
    messages(
        &e,
        r#"[{"conversationID":"group_t","msgID":"m1","timestamp":10,"seq":1,"groupAtUserList":["me"]},
            {"conversationID":"group_t","msgID":"m2","timestamp":10,"seq":2},
            {"conversationID":"group_t","msgID":"m3","timestamp":10,"seq":3,"groupAtUserList":["me"]}]"#,
    )
    .unwrap();
    mark_read(&e, "group_t", "m2").unwrap();
    let c = get(&e, "group_t");
    assert_eq!((c.0.unread_count, c.0.group_read_sequence), (1, 2));
    let seqs: Vec<u64> = c.0.group_at_info_list.iter().map(|a| a.seq).collect();
    assert_eq!(seqs, vec![3]);
    // No sequences (Matrix): the order is the messages' time; the host's
    // @ verdicts go with the messages they came with.
    messages(
        &e,
        r#"[{"conversationID":"group_m","msgID":"$a","timestampMs":5000,"atType":1},
            {"conversationID":"group_m","msgID":"$b","timestampMs":5001},
            {"conversationID":"group_m","msgID":"$c","timestampMs":5002,"atType":1}]"#,
    )
    .unwrap();
    assert_eq!(unread(&e, "group_m"), 3);
    mark_read(&e, "group_m", "$b").unwrap();
    let c = get(&e, "group_m");
    assert_eq!(c.0.unread_count, 1);
    assert_eq!(c.0.group_at_info_list.len(), 1, "$a's @ went, $c's stays");
    // A message of before the read position that arrives late is read.
    messages(
        &e,
        r#"[{"conversationID":"group_m","msgID":"$late","timestampMs":4999}]"#,
    )
    .unwrap();
    assert_eq!(unread(&e, "group_m"), 1);
    mark_read(&e, "group_m", "$c").unwrap();
    let c = get(&e, "group_m");
    assert_eq!((c.0.unread_count, c.0.group_at_info_list.len()), (0, 0));
}

#[test]
fn a_one_to_one_mention_goes_when_its_message_is_read() {
    let e = memory();
    messages(
        &e,
        r#"[{"conversationID":"c2c_bob","msgID":"a","timestampMs":1000,"atType":1},
            {"conversationID":"c2c_bob","msgID":"b","timestampMs":2000,"atType":1}]"#,
    )
    .unwrap();
    mark_read(&e, "c2c_bob", "a").unwrap();
    let c = get(&e, "c2c_bob");
    assert_eq!((c.0.unread_count, c.0.group_at_info_list.len()), (1, 1));
}

#[test]
fn messages_of_one_second_order_by_their_milliseconds() {
    let e = memory();
    // Arrive newest first: the later millisecond is the last message anyway.
    messages(
        &e,
        r#"[{"conversationID":"c2c_bob","msgID":"late","timestampMs":1700000000900},
            {"conversationID":"c2c_bob","msgID":"early","timestampMs":1700000000100}]"#,
    )
    .unwrap();
    let c = get(&e, "c2c_bob");
    let last = c.0.last_message.as_ref().unwrap();
    assert_eq!(last.msg_id.as_str(), "late");
    assert_eq!(
        last.timestamp, 1700000000,
        "timestamp defaults to timestampMs / 1000"
    );
    // Two conversations active in the same second list by milliseconds,
    // whatever the arrival order.
    messages(
        &e,
        r#"[{"conversationID":"c2c_x","msgID":"x","timestampMs":1700000005700},
            {"conversationID":"c2c_y","msgID":"y","timestampMs":1700000005300}]"#,
    )
    .unwrap();
    let ids: Vec<String> = page(&e)
        .iter()
        .map(|v| v.0.id.as_str().to_string())
        .collect();
    assert_eq!(ids, vec!["c2c_x", "c2c_y", "c2c_bob"]);
    // A timestamp that disagrees with timestampMs is refused, named.
    let err = messages(
        &e,
        r#"[{"conversationID":"c2c_z","msgID":"z","timestamp":5,"timestampMs":9000}]"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(err.message().contains("timestampMs"), "{}", err.message());
}

fn page(e: &imconv::engine::Engine<View>) -> Vec<std::sync::Arc<View>> {
    call(e, |done| {
        e.page(ListFilter::default(), String::new(), 100, done)
    })
    .unwrap()
    .conversations
}

#[test]
fn an_exported_conversation_keeps_its_milliseconds_and_read_position() {
    let e = memory();
    messages(&e, QUICK).unwrap();
    mark_read(&e, "c2c_bob", "q1").unwrap();
    let json = conversation_to_json(&get(&e, "c2c_bob").0).unwrap();
    assert!(json.contains(r#""timestampMs":1700000001000"#), "{json}");
    assert!(
        json.contains(r#""readTimestampMs":1700000000100"#),
        "{json}"
    );
    // Restored elsewhere, the read position is the same: q2 and q3 are
    // after it, a redelivered q1 is not.
    let other = memory();
    import(&other, &format!("[{json}]")).unwrap();
    messages(&other, QUICK).unwrap();
    assert_eq!(unread(&other, "c2c_bob"), 3 + 2, "imported 3, then q2, q3");
}

/// Twenty messages from bob, m1 to m20, a second apart from
/// 1700000001.000.
fn twenty_from_bob(e: &imconv::engine::Engine<View>) {
    let list: Vec<String> = (1..=20)
        .map(|i| {
            format!(
                r#"{{"conversationID":"c2c_bob","msgID":"m{i}","timestampMs":{},"sender":"bob"}}"#,
                1_700_000_000_000u64 + i * 1000
            )
        })
        .collect();
    messages(e, &format!("[{}]", list.join(","))).unwrap();
}

/// Twenty messages from bob, read up to the last: m1..m11 fall out of the
/// recent window and are forgotten (the window keeps the newest 8 and the
/// last message).
fn forgetting(e: &imconv::engine::Engine<View>) {
    twenty_from_bob(e);
    mark_read(e, "c2c_bob", "m20").unwrap();
    assert_eq!(unread(e, "c2c_bob"), 0);
}

#[test]
fn a_late_receipt_for_a_forgotten_message_succeeds_and_changes_nothing() {
    // Issue 25, item 2: 0.3.0 failed with 6017 here.
    let e = memory();
    forgetting(&e);
    let before = get(&e, "c2c_bob").0.clone();
    mark_read(&e, "c2c_bob", "m3").unwrap();
    assert_eq!(get(&e, "c2c_bob").0, before);
    let err = mark_read(&e, "c2c_bob", "m999").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(err.message().contains("never applied"), "{}", err.message());
}

#[test]
fn a_sync_whose_receipt_names_a_forgotten_or_unknown_message_stores_the_rest() {
    let e = memory();
    forgetting(&e);
    // 0.3.0 failed this whole sync: c2c_new was not stored.
    sync(
        &e,
        r#"[{"conversationID":"c2c_new","unreadCount":4},{"conversationID":"c2c_bob","readMsgID":"m3"}]"#,
    )
    .unwrap();
    assert_eq!(unread(&e, "c2c_new"), 4);
    assert_eq!(unread(&e, "c2c_bob"), 0);
    // A msgID never applied here is passed over; the element's other
    // fields apply.
    sync(
        &e,
        r#"[{"conversationID":"c2c_bob","readMsgID":"nowhere","showName":"Bob B"}]"#,
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_bob").0.show_name.as_str(), "Bob B");
}

#[test]
fn a_receipt_for_what_the_same_element_just_read_and_forgot_succeeds() {
    let e = memory();
    twenty_from_bob(&e);
    assert_eq!(unread(&e, "c2c_bob"), 20);
    // The element's own position reads (and forgets) m1..m11 before its
    // receipt names m5.
    sync(
        &e,
        r#"[{"conversationID":"c2c_bob","c2cReadTimestamp":1700000019,"readMsgID":"m5"}]"#,
    )
    .unwrap();
    assert_eq!(unread(&e, "c2c_bob"), 1, "m20 is after the position");
}

#[test]
fn what_was_forgotten_is_known_after_reopen_and_goes_with_a_delete() {
    let dir = Scratch::new("forgotten-reopen");
    let config = || {
        let mut c = imconv::config::Config::in_memory("me");
        c.data_dir = Some(dir.to_path_buf());
        c
    };
    {
        let e = imconv::engine::Engine::<View>::open(&config()).unwrap();
        forgetting(&e);
    }
    let e = imconv::engine::Engine::<View>::open(&config()).unwrap();
    mark_read(&e, "c2c_bob", "m1").unwrap();
    write(
        &e,
        Write::Delete {
            ids: ids(&["c2c_bob"]),
        },
    )
    .unwrap();
    messages(
        &e,
        r#"[{"conversationID":"c2c_bob","msgID":"n1","timestampMs":1800000000000,"sender":"bob"}]"#,
    )
    .unwrap();
    let err = mark_read(&e, "c2c_bob", "m1").unwrap_err();
    assert!(err.message().contains("never applied"), "{}", err.message());
}
