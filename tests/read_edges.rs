//! Read state at its edges, as an independent model of the README found
//! them in 0.3.0 (issue 25, items 3 to 7): a whole-second position inside
//! a millisecond position's second, retracting a seq-less mentioned
//! message, @ entries of messages a sync's count stopped counting, revoked
//! messages the host says count, and clears of a scope reaching what a
//! clear of one conversation reaches.

mod common;

use imconv::engine::Engine;
use imconv::model::ConversationType;
use imconv::store::ReadUpTo;
use imconv::write::{ReadScope, Write};

use common::*;

const T: i64 = 1_700_000_000_000;

fn m(conv: &str, msg_id: &str, ms: i64, extra: &str) -> String {
    format!(
        r#"{{"conversationID":"{conv}","msgID":"{msg_id}","timestampMs":{ms},"sender":"bob"{extra}}}"#
    )
}

fn apply(e: &Engine<View>, list: &[String]) {
    messages(e, &format!("[{}]", list.join(","))).unwrap();
}

fn mark_read(e: &Engine<View>, conv: &str, msg_id: &str) {
    write(
        e,
        Write::MarkMessageRead {
            id: id(conv),
            msg_id: text(msg_id),
        },
    )
    .unwrap();
}

fn clean(e: &Engine<View>, scope: ReadScope, upto: ReadUpTo) {
    write(e, Write::MarkRead { scope, upto }).unwrap();
}

fn at_list(e: &Engine<View>, conv: &str) -> Vec<(u64, i32)> {
    get(e, conv)
        .0
        .group_at_info_list
        .iter()
        .map(|a| (a.seq, a.at_type))
        .collect()
}

/// bob's messages at T+100, T+522 and T+900 of one second; read up to
/// the one at T+522.
fn read_inside_a_second(e: &Engine<View>) {
    apply(
        e,
        &[
            m("c2c_bob", "a", T + 100, ""),
            m("c2c_bob", "b", T + 522, ""),
            m("c2c_bob", "c", T + 900, ""),
        ],
    );
    mark_read(e, "c2c_bob", "b");
    let c = get(e, "c2c_bob");
    assert_eq!(c.0.read_ms, (T + 522) as u64);
    assert_eq!(c.0.unread_count, 1);
}

#[test]
fn a_whole_second_sync_position_covers_its_whole_second() {
    // Item 3: 0.3.0 ignored a whole second that equals the stored one.
    let e = memory();
    read_inside_a_second(&e);
    sync(
        &e,
        &format!(
            r#"[{{"conversationID":"c2c_bob","c2cReadTimestamp":{}}}]"#,
            T / 1000
        ),
    )
    .unwrap();
    let c = get(&e, "c2c_bob");
    assert_eq!(c.0.unread_count, 0, "c at T+900 is in that second");
    assert_eq!(c.0.read_ms, (T + 999) as u64, "stored as .999");
    // A message of that second arriving afterwards is read.
    apply(&e, &[m("c2c_bob", "d", T + 700, "")]);
    assert_eq!(get(&e, "c2c_bob").0.unread_count, 0);
}

#[test]
fn a_clear_by_the_same_whole_second_moves_the_position_to_its_end() {
    for scope in [ReadScope::One(id("c2c_bob")), ReadScope::AllC2c] {
        let e = memory();
        read_inside_a_second(&e);
        clean(&e, scope.clone(), ReadUpTo::Timestamp(T / 1000));
        let c = get(&e, "c2c_bob");
        assert_eq!(c.0.unread_count, 0, "{scope:?}");
        assert_eq!(c.0.read_ms, (T + 999) as u64, "{scope:?}");
        apply(&e, &[m("c2c_bob", "d", T + 700, "")]);
        assert_eq!(get(&e, "c2c_bob").0.unread_count, 0, "{scope:?}");
    }
}

#[test]
fn retracting_a_seq_less_message_removes_its_own_at_entry() {
    // Item 4: 0.3.0 removed the first entry, turning @all into @me.
    let e = memory();
    apply(
        &e,
        &[
            m("c2c_bob", "a", T + 100, r#","atType":3"#),
            m("c2c_bob", "b", T + 200, r#","atType":1"#),
        ],
    );
    assert_eq!(at_list(&e, "c2c_bob"), [(0, 3), (0, 1)]);
    apply(
        &e,
        &[m("c2c_bob", "b", T + 200, r#","atType":1,"status":6"#)],
    );
    assert_eq!(at_list(&e, "c2c_bob"), [(0, 3)]);
    assert_eq!(get(&e, "c2c_bob").0.unread_count, 1);
    // Read by time, the same: the entry of the message read goes.
    apply(&e, &[m("c2c_bob", "c", T + 300, r#","atType":1"#)]);
    assert_eq!(at_list(&e, "c2c_bob"), [(0, 3), (0, 1)]);
    mark_read(&e, "c2c_bob", "a");
    assert_eq!(at_list(&e, "c2c_bob"), [(0, 1)]);
}

#[test]
fn an_at_entry_of_a_message_a_sync_count_stopped_counting_goes_with_the_next_read() {
    // Item 5: a seq-less group (a Matrix room) with two mentions; the
    // server says 1 unread, so the older stops counting.
    let e = memory();
    apply(
        &e,
        &[
            m("group_room", "a", T + 100, r#","atType":1"#),
            m("group_room", "b", T + 200, r#","atType":2"#),
        ],
    );
    sync(&e, r#"[{"conversationID":"group_room","unreadCount":1}]"#).unwrap();
    // The message that stopped counting takes its entry with it.
    assert_eq!(at_list(&e, "group_room"), [(0, 2)]);
    mark_read(&e, "group_room", "b");
    assert_eq!(at_list(&e, "group_room"), Vec::<(u64, i32)>::new());
    assert_eq!(get(&e, "group_room").0.unread_count, 0);
}

#[test]
fn a_revoked_or_deleted_message_never_counts_whatever_the_verdict() {
    // Item 6.
    let e = memory();
    apply(
        &e,
        &[
            m(
                "c2c_bob",
                "r",
                T + 100,
                r#","status":6,"countsAsUnread":true,"atType":2"#,
            ),
            m(
                "c2c_bob",
                "d",
                T + 200,
                r#","status":4,"countsAsUnread":true"#,
            ),
        ],
    );
    let c = get(&e, "c2c_bob");
    assert_eq!(c.0.unread_count, 0);
    assert!(c.0.group_at_info_list.is_empty());
}

#[test]
fn a_clear_of_every_group_reaches_what_a_clear_of_one_reaches() {
    // Item 7: a group whose sequence covers its last message but whose
    // time position is behind it.
    let scopes = [
        ReadScope::One(id("group_g")),
        ReadScope::AllGroups,
        ReadScope::All,
    ];
    let mut results = Vec::new();
    for scope in scopes {
        let e = memory();
        apply(&e, &[m("group_g", "s1", T + 100, r#","seq":5"#)]);
        sync(
            &e,
            r#"[{"conversationID":"group_g","groupReadSequence":5}]"#,
        )
        .unwrap();
        let before = get(&e, "group_g").0.read_ms;
        assert!(before < (T + 100) as u64);
        clean(&e, scope.clone(), ReadUpTo::All);
        results.push((scope, get(&e, "group_g").0.read_ms));
    }
    for (scope, read_ms) in &results {
        assert_eq!(*read_ms, (T + 100) as u64, "{scope:?}");
    }
    let _ = ConversationType::Group;
}
