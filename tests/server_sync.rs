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
