//! Failures that are nobody's call still reach the log (0.2.0 dropped both
//! without a word): a page read on the reader connection that fails (the
//! page is read on the writer's instead), and a view that cannot be written
//! as JSON (`imconv_conversation_to_json` returns NULL).
//!
//! The fault injection and the log are global to the process, so this
//! binary holds one test.

mod common;

use std::sync::Arc;

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::ffi::{imconv_conversation, imconv_conversation_to_json, ConversationView};
use imconv::inject::{self, Fault};
use imconv::log::{self, Level};
use imconv::model::{Conversation, LastMessage, ListFilter, Snapshot, Text};
use parking_lot::Mutex;

use common::*;

#[test]
fn failures_without_a_caller_are_logged() {
    let lines: Arc<Mutex<Vec<(Level, String)>>> = Arc::default();
    let sink = lines.clone();
    log::set_sink(
        Level::Debug,
        Some(Arc::new(move |level, line: &str| {
            sink.lock().push((level, line.to_string()))
        })),
    );

    // A page on the reader connection, then one whose read there fails.
    let dir = Scratch::new("logged-failures");
    let e: Engine<View> = Engine::open(&Config {
        data_dir: Some(dir.to_path_buf()),
        ..Config::in_memory("me")
    })
    .unwrap();
    import(
        &e,
        r#"[{"conversationID":"c2c_a"},{"conversationID":"c2c_b"},{"conversationID":"c2c_c"}]"#,
    )
    .unwrap();
    for id in ["c2c_a", "c2c_b", "c2c_c"] {
        get(&e, id); // cached: the reader's page needs its views
    }
    let page = |e: &Engine<View>| {
        call(e, |done| {
            e.page(ListFilter::default(), String::new(), 10, done)
        })
        .unwrap()
    };
    // The first page audits the order index, on the writer's side; the
    // next is read beside it.
    assert_eq!(page(&e).conversations.len(), 3);
    assert_eq!(page(&e).conversations.len(), 3);
    assert_eq!(e.pages_beside_writer(), 1);
    inject::fail_at(Some(Fault::ReaderPage));
    let fell_back = page(&e);
    inject::fail_at(None);
    assert_eq!(fell_back.conversations.len(), 3, "read on the writer's");
    assert_eq!(e.pages_beside_writer(), 1);
    e.shutdown();
    assert!(
        lines
            .lock()
            .iter()
            .any(|(level, line)| *level == Level::Warn
                && line.contains("reader connection failed")
                && line.contains("injected")),
        "{:?}",
        lines.lock()
    );

    // A view whose stored last message is not JSON.
    let mut c = Conversation::empty(imconv::model::ConversationId::parse("c2c_x").unwrap());
    c.last_message = Some(LastMessage {
        msg_id: Text::new("m").unwrap(),
        sender: Text::default(),
        timestamp: 1,
        timestamp_ms: 1000,
        seq: 0,
        status: 0,
        is_self: false,
        is_read: false,
        json: Text::new("{not json").unwrap(),
    });
    let view = ConversationView::build(c, true);
    let raw = Arc::as_ptr(&view).cast::<imconv_conversation>();
    let json = unsafe { imconv_conversation_to_json(raw) };
    assert!(json.is_null());
    assert!(
        lines
            .lock()
            .iter()
            .any(|(level, line)| *level == Level::Error
                && line.contains("imconv_conversation_to_json failed")
                && line.contains("stored lastMessage")),
        "{:?}",
        lines.lock()
    );
    log::set_sink(Level::Debug, None);
}
