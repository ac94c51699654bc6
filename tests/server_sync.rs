//! What a server-driven client needs beyond Tencent's calls: a sync of the
//! server's whole list (`Write::SyncSnapshot`, `imconv_sync_snapshot`).

mod common;

use std::sync::Arc;

use imconv::engine::Engine;
use imconv::error::ErrorCode;
use imconv::write::Write;

use common::*;

fn snapshot(e: &Engine<View>, json: &str) -> imconv::error::Result<usize> {
    call(e, |done| {
        e.sync_snapshot(json.as_bytes().to_vec(), done).unwrap()
    })
}

fn stored(e: &Engine<View>, id: &str) -> bool {
    get(e, id).1
}

#[test]
fn a_snapshot_deletes_what_the_server_no_longer_lists() {
    let e = memory();
    import(
        &e,
        r#"[{"conversationID":"c2c_a","showName":"A"},{"conversationID":"c2c_b"},
            {"conversationID":"group_g","unreadCount":3},{"conversationID":"group_left","unreadCount":2}]"#,
    )
    .unwrap();
    let recorder = Arc::new(Recorder::default());
    e.add_listener(recorder.clone());
    // The server's list: a and g (g renamed), and a new conversation n.
    let n = snapshot(
        &e,
        r#"[{"conversationID":"c2c_a"},{"conversationID":"group_g","showName":"G2"},
            {"conversationID":"c2c_n","unreadCount":1}]"#,
    )
    .unwrap();
    assert_eq!(n, 3);
    assert!(stored(&e, "c2c_a") && stored(&e, "group_g") && stored(&e, "c2c_n"));
    assert!(!stored(&e, "c2c_b") && !stored(&e, "group_left"));
    assert_eq!(
        get(&e, "c2c_a").0.show_name.as_str(),
        "A",
        "merged, not replaced"
    );
    assert_eq!(get(&e, "group_g").0.show_name.as_str(), "G2");
    // One batch: the new one, the changed one, one deletion of both, the total.
    assert_eq!(
        *recorder.log.lock(),
        vec![
            "new c2c_n",
            "changed group_g",
            "deleted c2c_b,group_left",
            "total 4"
        ]
    );
}

#[test]
fn a_failing_snapshot_deletes_nothing_and_an_empty_one_deletes_all() {
    let e = memory();
    import(
        &e,
        r#"[{"conversationID":"c2c_a"},{"conversationID":"c2c_b"}]"#,
    )
    .unwrap();
    let err = snapshot(
        &e,
        r#"[{"conversationID":"c2c_a"},{"conversationID":"bad"}]"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(err.message().contains("element 1"), "{}", err.message());
    assert!(stored(&e, "c2c_a") && stored(&e, "c2c_b"), "all or nothing");
    snapshot(&e, "[]").unwrap();
    assert!(!stored(&e, "c2c_a") && !stored(&e, "c2c_b"));
}

#[test]
fn a_snapshot_sees_the_writes_queued_before_it() {
    // Writes queued back to back (sharing the snapshot's transaction or
    // not): the snapshot judges the list as the earlier ones left it.
    let e = memory();
    import(&e, r#"[{"conversationID":"c2c_a"}]"#).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for op in [
        Write::Import(br#"[{"conversationID":"c2c_early"}]"#.to_vec()),
        Write::SyncSnapshot(br#"[{"conversationID":"c2c_a"}]"#.to_vec()),
        Write::Import(br#"[{"conversationID":"c2c_late"}]"#.to_vec()),
    ] {
        let tx = tx.clone();
        let done = e.completer(move |r: imconv::error::Result<()>| tx.send(r.is_ok()).unwrap());
        e.submit(Ok(op), done).unwrap();
    }
    for _ in 0..3 {
        assert!(wait(&rx));
    }
    assert!(stored(&e, "c2c_a") && stored(&e, "c2c_late"));
    assert!(
        !stored(&e, "c2c_early"),
        "written before the snapshot, not on its list"
    );
}

fn count(e: &Engine<View>, id: &str) -> (u64, usize) {
    let v = get(e, id);
    (v.0.unread_count, v.0.group_at_info_list.len())
}

#[test]
fn a_message_deleted_or_revoked_after_it_arrived_stops_counting() {
    // Drift 2 of issue 16: 0.2.0 kept counting it, and kept its @ entry.
    let e = memory();
    let m = |id: &str, seq: u64, extra: &str| {
        format!(
            r#"{{"conversationID":"group_g","msgID":"{id}","timestamp":{seq},"seq":{seq},"sender":"bob","groupAtUserList":["me"]{extra}}}"#
        )
    };
    messages(
        &e,
        &format!("[{},{},{}]", m("m1", 1, ""), m("m2", 2, ""), m("m3", 3, "")),
    )
    .unwrap();
    assert_eq!(count(&e, "group_g"), (3, 3));
    let recorder = Arc::new(Recorder::default());
    e.add_listener(recorder.clone());
    messages(&e, &format!("[{}]", m("m2", 2, r#","status":6"#))).unwrap(); // revoked
    assert_eq!(count(&e, "group_g"), (2, 2));
    let seqs: Vec<u64> = get(&e, "group_g")
        .0
        .group_at_info_list
        .iter()
        .map(|a| a.seq)
        .collect();
    assert_eq!(seqs, vec![1, 3], "the revoked message's @ entry went");
    messages(&e, &format!("[{}]", m("m1", 1, r#","status":4"#))).unwrap(); // deleted
    messages(
        &e,
        &format!("[{}]", m("m3", 3, r#","countsAsUnread":false"#)),
    )
    .unwrap(); // the host's verdict
    assert_eq!(count(&e, "group_g"), (0, 0));
    // Never twice: retracting again, or redelivering as countable, changes nothing.
    messages(
        &e,
        &format!(
            "[{},{}]",
            m("m2", 2, r#","status":6"#),
            m("m1", 1, r#","countsAsUnread":true"#)
        ),
    )
    .unwrap();
    assert_eq!(count(&e, "group_g"), (0, 0));
    let log = recorder.log.lock().clone();
    assert_eq!(
        log,
        vec![
            "changed group_g",
            "total 2",
            "changed group_g",
            "total 1",
            "changed group_g",
            "total 0"
        ]
    );
    // The last message, revoked, shows as revoked.
    assert_eq!(
        get(&e, "group_g")
            .0
            .last_message
            .as_ref()
            .unwrap()
            .msg_id
            .as_str(),
        "m3"
    );
}

#[test]
fn the_hosts_verdicts_count_and_mention_whatever_the_engines_rule() {
    // Drift 3 of issue 16: a muted room's messages never count when the
    // server says so; a DM can be a highlight.
    let e = memory();
    messages(
        &e,
        r#"[{"conversationID":"group_muted","msgID":"a","timestamp":1,"seq":1,"countsAsUnread":false},
            {"conversationID":"c2c_bob","msgID":"b","timestamp":1,"atType":1},
            {"conversationID":"c2c_bob","msgID":"c","timestamp":2,"isSelf":true,"countsAsUnread":true},
            {"conversationID":"group_g","msgID":"d","timestamp":1,"seq":1,"groupAtUserList":["me"],"atType":0},
            {"conversationID":"group_g","msgID":"e","timestamp":2,"seq":2,"atType":2}]"#,
    )
    .unwrap();
    assert_eq!(count(&e, "group_muted"), (0, 0));
    assert_eq!(
        count(&e, "c2c_bob"),
        (2, 1),
        "a DM highlight, and a verdict over isSelf"
    );
    assert_eq!(get(&e, "c2c_bob").0.group_at_info_list[0].at_type, 1);
    let g = get(&e, "group_g");
    assert_eq!(g.0.unread_count, 2);
    let at: Vec<(u64, i32)> =
        g.0.group_at_info_list
            .iter()
            .map(|a| (a.seq, a.at_type))
            .collect();
    assert_eq!(
        at,
        vec![(2, 2)],
        "atType 0 overrides groupAtUserList; 2 is @all"
    );
    let err = messages(
        &e,
        r#"[{"conversationID":"c2c_x","msgID":"x","timestamp":1,"atType":4}]"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(
        err.message().contains("atType") && err.message().contains("0 to 3"),
        "{}",
        err.message()
    );
    assert!(!stored(&e, "c2c_x"), "all or nothing");
}

#[test]
fn retracting_a_message_without_a_mention_keeps_the_others_at_entry() {
    // Found by the live Synapse test: messages without sequences (Matrix)
    // all have seq 0, and retracting any of them removed the first @ entry.
    let e = memory();
    messages(
        &e,
        r#"[{"conversationID":"group_m","msgID":"$mention","timestampMs":1000,"atType":1},
            {"conversationID":"group_m","msgID":"$typo","timestampMs":2000}]"#,
    )
    .unwrap();
    assert_eq!(count(&e, "group_m"), (2, 1));
    messages(
        &e,
        r#"[{"conversationID":"group_m","msgID":"$typo","timestampMs":2000,"status":6}]"#,
    )
    .unwrap();
    assert_eq!(count(&e, "group_m"), (1, 1), "the mention's entry stays");
    messages(
        &e,
        r#"[{"conversationID":"group_m","msgID":"$mention","timestampMs":1000,"status":6}]"#,
    )
    .unwrap();
    assert_eq!(count(&e, "group_m"), (0, 0));
}
