//! Pages of the ordered list on a store on disk, where they are read beside
//! the writer (a reader connection, views from the cache) and fall back to
//! the writer's connection for what the cache lacks. The manager tests page
//! stores in memory, which have no reader.

mod common;

use std::path::Path;

use common::*;
use imconv::config::Config;
use imconv::engine::Engine;
use imconv::model::{ConversationType, ListFilter};

fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("pages-{name}"))
}

fn on_disk(dir: &Path, cache_capacity: usize) -> Engine<View> {
    Engine::open(&Config {
        data_dir: Some(dir.to_path_buf()),
        cache_capacity,
        ..Config::in_memory("me")
    })
    .unwrap()
}

/// 60 conversations: pinned ones, marks, both kinds, order keys that tie.
fn document() -> String {
    let items: Vec<String> = (0..60)
        .map(|i| {
            let id = if i % 2 == 0 {
                format!("c2c_u{i:02}")
            } else {
                format!("group_g{i:02}")
            };
            format!(
                r#"{{"conversationID":"{id}","orderKey":{},"isPinned":{},"markList":{},"unreadCount":{}}}"#,
                (i * 7) % 23,
                i % 20 == 3,
                if i % 3 == 0 { "[4]" } else { "[]" },
                i % 4
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn all_ids(e: &Engine<View>, filter: &ListFilter, per_page: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (f, c) = (filter.clone(), cursor.clone());
        let p = call(e, |done| e.page(f, c, per_page, done)).unwrap();
        out.extend(p.conversations.iter().map(|v| v.0.id.as_str().to_string()));
        cursor = p.next_cursor;
        if p.finished {
            return out;
        }
    }
}

fn filters() -> Vec<ListFilter> {
    vec![
        ListFilter::default(),
        ListFilter {
            kind: Some(ConversationType::Group),
            ..ListFilter::default()
        },
        ListFilter {
            mark: Some(4),
            has_unread: true,
            ..ListFilter::default()
        },
    ]
}

#[test]
fn pages_on_disk_equal_pages_in_memory_cached_or_not() {
    let reference = memory();
    import(&reference, &document()).unwrap();
    for (name, capacity) in [("cached", 1000), ("uncached", 4)] {
        let dir = scratch(name);
        let e = on_disk(&dir, capacity);
        import(&e, &document()).unwrap();
        for filter in filters() {
            for per_page in [1, 7, 100] {
                assert_eq!(
                    all_ids(&e, &filter, per_page),
                    all_ids(&reference, &filter, per_page),
                    "{name}, {filter:?}, {per_page} a page"
                );
            }
        }
        let beside = e.pages_beside_writer();
        if capacity == 1000 {
            // Every page (the import cached all 60) was read beside the writer.
            assert!(beside >= 60 + 9 + 3, "{beside} pages beside the writer");
        } else {
            // Most rows are not cached: those pages went to the writer.
            assert!(beside < 60, "{beside} pages beside the writer");
        }
        e.shutdown();
        drop(e);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_page_after_a_write_shows_it_and_bad_cursors_fail() {
    let dir = scratch("after-write");
    let e = on_disk(&dir, 1000);
    import(&e, &document()).unwrap();
    // The instance's first page audits the order index on the writer's
    // side; later ones are read beside it.
    call(&e, |done| {
        e.page(ListFilter::default(), String::new(), 10, done)
    })
    .unwrap();
    messages(
        &e,
        r#"[{"conversationID":"c2c_u10","msgID":"m1","timestamp":1900000000,"seq":1,
             "sender":"peer","textElem":{"text":"new"}}]"#,
    )
    .unwrap();
    // Right after the write's callback: moved up (below the pinned ones),
    // with the message it was moved by.
    let p = call(&e, |done| {
        e.page(ListFilter::default(), String::new(), 10, done)
    })
    .unwrap();
    let first_unpinned = p.conversations.iter().find(|v| !v.0.is_pinned).unwrap();
    assert_eq!(first_unpinned.0.id.as_str(), "c2c_u10");
    assert_eq!(
        first_unpinned
            .0
            .last_message
            .as_ref()
            .map(|m| m.msg_id.as_str()),
        Some("m1")
    );
    assert!(e.pages_beside_writer() >= 1);
    let Err(err) = call(&e, |done| {
        e.page(ListFilter::default(), "garbage".into(), 10, done)
    }) else {
        panic!("a garbage cursor was taken");
    };
    assert!(err.message().contains("invalid cursor"), "{err}");
    e.shutdown();
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}
