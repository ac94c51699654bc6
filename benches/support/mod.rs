//! What the benchmark programs share (included by path): importing their
//! conversations and waiting for it.

use std::sync::mpsc;

use imconv::engine::Engine;
use imconv::ffi::ConversationView;

/// Imports the conversation objects `items` as one JSON array and waits
/// until it is committed.
pub fn import_and_wait(engine: &Engine<ConversationView>, items: &[String]) {
    let (tx, rx) = mpsc::channel();
    engine
        .import(
            format!("[{}]", items.join(",")).into_bytes(),
            engine.completer(move |r| tx.send(r.map(|_| ())).expect("channel")),
        )
        .expect("import");
    rx.recv().expect("callback").expect("import");
}
