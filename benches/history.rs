//! Bounded history (`make bench`): MESSAGES messages into CONVERSATIONS
//! one-to-one conversations of a store on disk, in calls of 1,000, the
//! user reading every conversation after each 100 messages of it (reads
//! keeping up). Reports the store's growth per message beyond the
//! conversations themselves (the file, checkpointed, against the same
//! conversations without messages) and the rate, as result lines for
//! `benches/report.py`.
//!
//! usage: history MESSAGES CONVERSATIONS RESULTS.jsonl

use std::io::Write as _;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::ffi::ConversationView;
use imconv::store::ReadUpTo;
use imconv::write::{ReadScope, Write};

#[path = "support/mod.rs"]
mod support;

fn wait(rx: &mpsc::Receiver<imconv::error::Result<()>>) {
    rx.recv().expect("callback").expect("write");
}

fn write(
    engine: &Engine<ConversationView>,
    op: Write,
    rx: &mpsc::Receiver<imconv::error::Result<()>>,
    tx: &mpsc::Sender<imconv::error::Result<()>>,
) {
    let tx = tx.clone();
    engine
        .write(op, engine.completer(move |r| tx.send(r).expect("channel")))
        .expect("accepted");
    wait(rx);
}

fn file_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("bench/conversations.db"))
        .expect("database")
        .len()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let messages: u64 = args
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let conversations: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let results = args.get(2).map_or("history.jsonl", String::as_str);
    let dir = std::env::temp_dir().join(format!("imconv-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config::parse(&format!(
        r#"{{"user_id":"bench","data_dir":"{}"}}"#,
        dir.display()
    ))
    .expect("config");
    let (tx, rx) = mpsc::channel();
    let engine: Engine<ConversationView> = Engine::open(&config).expect("open");
    let doc: Vec<String> = (0..conversations)
        .map(|c| format!(r#"{{"conversationID":"c2c_u{c}","showName":"User {c}"}}"#))
        .collect();
    support::import_and_wait(&engine, &doc);
    drop(engine);
    let base = file_size(&dir);
    let engine: Engine<ConversationView> = Engine::open(&config).expect("open");
    let started = Instant::now();
    let per_call = 1000;
    let mut sent = 0u64;
    while sent < messages {
        let items: Vec<String> = (sent..(sent + per_call).min(messages))
            .map(|n| {
                format!(
                    r#"{{"conversationID":"c2c_u{}","msgID":"m{n}","timestampMs":{},"sender":"u","text":"See you at the station at half past eight"}}"#,
                    n % conversations,
                    1_700_000_000_000 + n
                )
            })
            .collect();
        sent += items.len() as u64;
        write(
            &engine,
            Write::Messages(format!("[{}]", items.join(",")).into_bytes()),
            &rx,
            &tx,
        );
        if sent.is_multiple_of(conversations * 100) {
            write(
                &engine,
                Write::MarkRead {
                    scope: ReadScope::AllC2c,
                    upto: ReadUpTo::All,
                },
                &rx,
                &tx,
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(engine);
    let per_message = file_size(&dir).saturating_sub(base) as f64 / messages as f64;
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(results)
        .expect("results file");
    for (metric, unit, value) in [
        ("history_bytes_per_message", "bytes", per_message),
        (
            "history_messages_rate",
            "messages/s",
            messages as f64 / seconds,
        ),
    ] {
        writeln!(
            out,
            r#"{{"implementation":"imconv","metric":"{metric}","size":{messages},"unit":"{unit}","median":{value},"min":{value},"max":{value},"runs":1}}"#
        )
        .expect("results file");
        eprintln!("  imconv     {metric:<28} {messages:>8}  {value:>12.4} {unit}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
