//! A large import into an empty store builds the order index once, after
//! its rows (issue 17, item 1): the index is there afterwards, pages use
//! it, and a failing import leaves store and index as they were.

mod common;

use std::path::Path;

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::model::ListFilter;

use common::*;

fn on_disk(dir: &Path) -> Engine<View> {
    Engine::open(&Config {
        data_dir: Some(dir.to_path_buf()),
        ..Config::in_memory("me")
    })
    .unwrap()
}

fn has_order_index(dir: &Path) -> bool {
    let db = rusqlite::Connection::open(dir.join("me/conversations.db")).unwrap();
    db.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'conversation_order'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        == 1
}

/// `n` conversations with activity times in a scattered order (large
/// enough to be parsed beside the writer).
fn document(n: u64, bad_last: bool) -> String {
    let mut items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"conversationID":"c2c_u{i}","lastMessage":{{"msgID":"m{i}","timestamp":{}}}}}"#,
                1_700_000_000 + (i * 7919) % n
            )
        })
        .collect();
    if bad_last {
        items.push(r#"{"conversationID":"bad"}"#.into());
    }
    format!("[{}]", items.join(","))
}

#[test]
fn a_large_first_import_leaves_the_order_index_and_the_order() {
    let dir = Scratch::new("import-fill");
    let e = on_disk(&dir);
    let err = import(&e, &document(2000, true)).unwrap_err();
    assert!(err.message().contains("element 2000"), "{}", err.message());
    assert_eq!(e.stored_count().unwrap(), 0, "all or nothing");
    drop(e);
    assert!(
        has_order_index(&dir),
        "the failed import took the index with it"
    );
    let e = on_disk(&dir);
    assert_eq!(import(&e, &document(2000, false)).unwrap(), 2000);
    let page = call(&e, |done| {
        e.page(ListFilter::default(), String::new(), 1000, done)
    })
    .unwrap();
    let times: Vec<i64> = page
        .conversations
        .iter()
        .map(|v| v.0.last_message.as_ref().unwrap().timestamp)
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(times[0], 1_700_000_000 + 1999);
    drop(e);
    assert!(has_order_index(&dir));
}
