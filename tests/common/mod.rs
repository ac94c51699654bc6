//! Helpers shared by the integration tests of the manager and of real
//! message flows: a plain snapshot type, blocking wrappers around the
//! engine's asynchronous calls, and a listener that records its events.
#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use imconv::config::Config;
use imconv::dispatch::Completer;
use imconv::engine::Engine;
use imconv::error::Result;
use imconv::events::Listener;
use imconv::model::{Conversation, ConversationId, IdList, ListFilter, Snapshot, Text};
use imconv::state::Page;
use imconv::write::Write;
use parking_lot::Mutex;

#[derive(Debug)]
pub struct View(pub Conversation, pub bool);

impl Snapshot for View {
    fn build(c: Conversation, stored: bool) -> Arc<View> {
        Arc::new(View(c, stored))
    }
    fn conversation(&self) -> &Conversation {
        &self.0
    }
}

/// Waits for a callback's result; a missing callback fails the test.
pub fn wait<T>(rx: &mpsc::Receiver<T>) -> T {
    rx.recv_timeout(Duration::from_secs(60))
        .expect("no callback within 60 s")
}

/// Starts a call with a fresh completer and waits for its result.
pub fn call<T: Send + 'static>(e: &Engine<View>, start: impl FnOnce(Completer<T>)) -> Result<T> {
    let (tx, rx) = mpsc::channel();
    start(e.completer(move |r| {
        let _ = tx.send(r);
    }));
    wait(&rx)
}

pub fn write(e: &Engine<View>, op: Write) -> Result<()> {
    call(e, |done| e.write(op, done).unwrap())
}

pub fn id(s: &str) -> ConversationId {
    ConversationId::parse(s).unwrap()
}

pub fn ids(list: &[&str]) -> IdList {
    let mut l = IdList::default();
    for s in list {
        l.push(s).unwrap();
    }
    l
}

pub fn text(s: &str) -> Text {
    Text::new(s).unwrap()
}

pub fn get(e: &Engine<View>, s: &str) -> Arc<View> {
    call(e, |done| e.get(id(s), done)).unwrap()
}

pub fn messages(e: &Engine<View>, json: &str) -> Result<()> {
    write(e, Write::Messages(json.as_bytes().to_vec()))
}

pub fn import(e: &Engine<View>, json: &str) -> Result<usize> {
    let doc = json.as_bytes().to_vec();
    call(e, |done| e.import(doc, done).unwrap())
}

pub fn memory() -> Engine<View> {
    Engine::open(&Config::in_memory("me")).unwrap()
}

/// Records every event as a line: "new a,b", "changed c", "deleted d",
/// "total 3".
#[derive(Default)]
pub struct Recorder {
    pub log: Mutex<Vec<String>>,
}

pub fn names(c: &[Arc<View>]) -> String {
    c.iter()
        .map(|v| v.0.id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

impl Listener<View> for Recorder {
    fn on_new(&self, c: &[Arc<View>]) {
        self.log.lock().push(format!("new {}", names(c)));
    }
    fn on_changed(&self, c: &[Arc<View>]) {
        self.log.lock().push(format!("changed {}", names(c)));
    }
    fn on_deleted(&self, ids: &[ConversationId]) {
        let ids: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        self.log.lock().push(format!("deleted {}", ids.join(",")));
    }
    fn on_total_unread_changed(&self, total: u64) {
        self.log.lock().push(format!("total {total}"));
    }
}

/// A folder in the system's temporary directory for one test, removed when
/// dropped: also when the test fails, as the drop runs while the panic
/// unwinds. Not created (`new`) or created empty (`create`).
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("imconv-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    pub fn create(name: &str) -> Scratch {
        let dir = Scratch::new(name);
        std::fs::create_dir_all(&dir.0).unwrap();
        dir
    }
}

impl Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// --- helpers of the flow tests (tests/flows.rs and its siblings) ---

/// Issues a write without waiting; its result arrives on `tx` tagged `tag`.
pub fn write_async(
    e: &Engine<View>,
    op: Write,
    tag: usize,
    tx: &mpsc::Sender<(usize, Result<()>)>,
) {
    let tx = tx.clone();
    e.write(
        op,
        e.completer(move |r| {
            let _ = tx.send((tag, r));
        }),
    )
    .unwrap();
}

pub fn order(e: &Engine<View>) -> Vec<String> {
    let page = call(e, |done| {
        e.page(ListFilter::default(), String::new(), 1000, done)
    })
    .unwrap();
    page.conversations
        .iter()
        .map(|v| v.0.id.as_str().to_string())
        .collect()
}

pub fn msg(conv: &str, msg_id: &str, ts: i64, seq: u64, extra: &str) -> String {
    format!(
        r#"{{"conversationID":"{conv}","msgID":"{msg_id}","timestamp":{ts},"seq":{seq},"sender":"x","isSelf":false,"isRead":false{extra}}}"#
    )
}

pub fn one(conv: &str, msg_id: &str, ts: i64, seq: u64) -> String {
    format!("[{}]", msg(conv, msg_id, ts, seq, ""))
}

pub fn sync(e: &Engine<View>, json: &str) -> Result<usize> {
    let doc = json.as_bytes().to_vec();
    call(e, |done| e.sync(doc, done).unwrap())
}

/// The unread total of the conversations `filter` covers.
pub fn total(e: &Engine<View>, filter: ListFilter) -> u64 {
    call(e, |done| e.unread_total(filter, done)).unwrap()
}

// --- helpers of the manager tests (tests/manager.rs, tests/manager_list.rs) ---

pub fn import_ok(e: &Engine<View>, json: &str) {
    import(e, json).unwrap();
}

pub fn page(e: &Engine<View>, filter: &ListFilter, cursor: &str, n: usize) -> Page<View> {
    let (f, c) = (filter.clone(), cursor.to_string());
    call(e, |done| e.page(f, c, n, done)).unwrap()
}

pub fn all_ids(e: &Engine<View>, filter: &ListFilter) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let p = page(e, filter, &cursor, 2);
        out.extend(p.conversations.iter().map(|v| v.0.id.as_str().to_string()));
        cursor = p.next_cursor;
        if p.finished {
            return out;
        }
    }
}

pub fn text_msg(conv: &str, msg_id: &str, ts: i64, seq: u64, self_: bool) -> String {
    format!(
        r#"{{"conversationID":"{conv}","msgID":"{msg_id}","timestamp":{ts},"seq":{seq},"sender":"x","isSelf":{self_},"isRead":false,"text":"hi"}}"#
    )
}
