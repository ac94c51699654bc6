//! What the benchmark programs share (included by path): importing their
//! conversations and waiting for it.

use std::sync::mpsc;

use imconv::engine::Engine;
use imconv::ffi::ConversationView;

/// Conversations per import call: a million in one document would pass the
/// document limit (64 MiB).
const PER_CALL: usize = 100_000;

/// Imports the conversation objects `items` as JSON arrays of at most
/// `PER_CALL` and waits until they are committed.
pub fn import_and_wait(engine: &Engine<ConversationView>, items: &[String]) {
    for chunk in items.chunks(PER_CALL) {
        let (tx, rx) = mpsc::channel();
        engine
            .import(
                format!("[{}]", chunk.join(",")).into_bytes(),
                engine.completer(move |r| tx.send(r.map(|_| ())).expect("channel")),
            )
            .expect("import");
        rx.recv().expect("callback").expect("import");
    }
}
