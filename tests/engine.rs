//! Integration tests of the safe core: the engine with its store, cache,
//! runtime and dispatcher, through a test snapshot type.

mod common;
use common::Scratch;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use imconv::config::{Config, Durability};
use imconv::dispatch::Completer;
use imconv::engine::Engine;
use imconv::error::{ErrorCode, Result};
use imconv::model::{Conversation, ConversationId, IdList, Snapshot};

/// A snapshot that records whether it was stored; building one named
/// "boom" panics, to exercise the panic guard.
#[derive(Debug)]
struct View {
    conversation: Conversation,
    stored: bool,
}

impl Snapshot for View {
    fn build(conversation: Conversation, stored: bool) -> Arc<View> {
        if conversation.show_name.as_str() == "boom" {
            panic!("snapshot build panicked (expected by the test)");
        }
        Arc::new(View {
            conversation,
            stored,
        })
    }
    fn conversation(&self) -> &Conversation {
        &self.conversation
    }
}

fn id(s: &str) -> ConversationId {
    ConversationId::parse(s).unwrap()
}

/// Makes one call and waits for its result.
fn call<T: Send + 'static>(engine: &Engine<View>, start: impl FnOnce(Completer<T>)) -> Result<T> {
    let (tx, rx) = mpsc::channel();
    start(engine.completer(move |r| {
        tx.send(r).unwrap();
    }));
    rx.recv_timeout(Duration::from_secs(30))
        .expect("no callback within 30 s")
}

fn import(engine: &Engine<View>, json: &str) -> Result<usize> {
    let doc = json.as_bytes().to_vec();
    call(engine, |done| engine.import(doc, done).unwrap())
}

fn get(engine: &Engine<View>, s: &str) -> Arc<View> {
    call(engine, |done| engine.get(id(s), done)).unwrap()
}

fn list(engine: &Engine<View>, ids: &[&str]) -> Vec<String> {
    let mut list = IdList::with_capacity(ids.len());
    for s in ids {
        list.push(s).unwrap();
    }
    let ids = list;
    call(engine, |done| engine.get_many(ids, done))
        .unwrap()
        .iter()
        .map(|v| v.conversation.id.as_str().to_string())
        .collect()
}

fn memory() -> Engine<View> {
    Engine::open(&Config::in_memory("me")).unwrap()
}

fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("it-{name}"))
}

fn on_disk(dir: &Path) -> Result<Engine<View>> {
    Engine::open(&Config {
        data_dir: Some(dir.to_path_buf()),
        ..Config::in_memory("me")
    })
}

const SAMPLE: &str = r#"[
    {"conversationID":"c2c_a","showName":"A","unreadCount":1},
    {"conversationID":"c2c_b","showName":"B"},
    {"conversationID":"group_g","showName":"G","groupType":"Work"}
]"#;

#[test]
fn get_returns_stored_or_a_temporary_that_is_not_saved() {
    let e = memory();
    assert_eq!(import(&e, SAMPLE).unwrap(), 3);
    let a = get(&e, "c2c_a");
    assert!(a.stored);
    assert_eq!(a.conversation.show_name.as_str(), "A");
    assert_eq!(a.conversation.unread_count, 1);

    let t = get(&e, "group_new");
    assert!(!t.stored);
    assert_eq!(t.conversation, Conversation::temporary(id("group_new")));
    assert_eq!(e.stored_count().unwrap(), 3);
    assert!(list(&e, &["group_new"]).is_empty());
    // Asking again (now a cached miss) answers the same.
    assert!(!get(&e, "group_new").stored);
}

#[test]
fn list_keeps_request_order_each_id_once_and_leaves_out_missing() {
    let e = memory();
    import(&e, SAMPLE).unwrap();
    let ids = ["group_g", "c2c_x", "c2c_b", "group_g", "c2c_a", "c2c_b"];
    assert_eq!(list(&e, &ids), ["group_g", "c2c_b", "c2c_a"]);
    // Second time from the cache: same answer.
    assert_eq!(list(&e, &ids), ["group_g", "c2c_b", "c2c_a"]);
    assert!(list(&e, &[]).is_empty());
}

#[test]
fn large_batches_follow_the_same_rules() {
    let e = memory();
    let docs: Vec<String> = (0..3000)
        .map(|i| format!(r#"{{"conversationID":"c2c_u{i}"}}"#))
        .collect();
    import(&e, &format!("[{}]", docs.join(","))).unwrap();
    // 6000 IDs: each stored one twice, newest first, with misses between.
    let mut ids = Vec::new();
    for i in (0..3000).rev() {
        ids.push(format!("c2c_u{i}"));
        ids.push(format!("c2c_missing{i}"));
    }
    ids.extend((0..3000).map(|i| format!("c2c_u{i}")));
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let got = list(&e, &refs);
    let expected: Vec<String> = (0..3000).rev().map(|i| format!("c2c_u{i}")).collect();
    assert_eq!(got, expected);
}

#[test]
fn import_upserts_and_the_last_duplicate_wins() {
    let e = memory();
    import(&e, SAMPLE).unwrap();
    get(&e, "c2c_a"); // cached
    import(
        &e,
        r#"[{"conversationID":"c2c_a","showName":"A1"},{"conversationID":"c2c_a","showName":"A2"}]"#,
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").conversation.show_name.as_str(), "A2");
    assert_eq!(get(&e, "c2c_a").conversation.unread_count, 0);
    assert_eq!(e.stored_count().unwrap(), 3);
}

#[test]
fn a_bad_element_stores_nothing_of_the_call() {
    let e = memory();
    import(&e, SAMPLE).unwrap();
    get(&e, "c2c_new"); // cached as not stored
    let err = import(
        &e,
        r#"[{"conversationID":"c2c_a","showName":"changed"},
            {"conversationID":"c2c_new"},
            {"conversationID":"c2c_c","markList":[-1]}]"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(
        err.message().starts_with("element 2: field 'markList[0]'"),
        "{err}"
    );
    assert_eq!(e.stored_count().unwrap(), 3);
    assert_eq!(get(&e, "c2c_a").conversation.show_name.as_str(), "A");
    assert!(!get(&e, "c2c_new").stored);
}

#[test]
fn data_survives_reopening_and_the_store_is_locked_while_open() {
    let dir = scratch("reopen");
    let e = on_disk(&dir).unwrap();
    import(&e, SAMPLE).unwrap();
    let before = get(&e, "group_g").conversation.clone();
    let locked = on_disk(&dir).err().unwrap();
    assert_eq!(locked.code(), ErrorCode::StoreLocked);
    e.shutdown();
    drop(e);
    let e = on_disk(&dir).unwrap();
    assert_eq!(get(&e, "group_g").conversation, before);
    assert_eq!(e.stored_count().unwrap(), 3);
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cached_lookup_does_not_touch_sqlite() {
    let dir = scratch("cache-only");
    let e = on_disk(&dir).unwrap();
    import(&e, SAMPLE).unwrap();
    get(&e, "c2c_b");
    assert!(!get(&e, "c2c_zz").stored);
    // Change the database behind the engine's back (never do this for real).
    let db = rusqlite::Connection::open(dir.join("me/conversations.db")).unwrap();
    db.execute(
        "DELETE FROM conversation WHERE conversation_id = 'c2c_b'",
        [],
    )
    .unwrap();
    db.execute(
        "INSERT INTO conversation SELECT 'c2c_zz', conv_type, group_type, 'ZZ', face_url, \
         unread_count, recv_opt, last_message, group_at_info, draft_text, draft_timestamp, \
         is_pinned, order_key, mark_list, custom_data, conversation_groups, c2c_read_timestamp, \
         group_read_sequence, sort_order, read_ms, recent, checksum FROM conversation \
         WHERE conversation_id = 'c2c_a'",
        [],
    )
    .unwrap();
    drop(db);
    // Cached answers (hit and known miss) did not read the store ...
    assert!(get(&e, "c2c_b").stored);
    assert!(!get(&e, "c2c_zz").stored);
    // ... while an uncached ID does.
    assert!(get(&e, "c2c_a").stored);
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_small_cache_evicts_and_reloads_correctly() {
    let dir = scratch("evict");
    let e: Engine<View> = Engine::open(&Config {
        data_dir: Some(dir.clone()),
        cache_capacity: 16,
        ..Config::in_memory("me")
    })
    .unwrap();
    let docs: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"conversationID":"c2c_u{i}","unreadCount":{i}}}"#))
        .collect();
    import(&e, &format!("[{}]", docs.join(","))).unwrap();
    for round in 0..2 {
        for i in (0..500).step_by(7) {
            let v = get(&e, &format!("c2c_u{i}"));
            assert!(v.stored, "round {round}, {i}");
            assert_eq!(v.conversation.unread_count, i as u64);
        }
        assert!(e.cached_count() <= 16);
    }
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_panic_in_the_work_becomes_an_internal_error_callback() {
    let e = memory();
    let err = import(&e, r#"[{"conversationID":"c2c_p","showName":"boom"}]"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    // The instance keeps working.
    import(&e, SAMPLE).unwrap();
    assert!(get(&e, "c2c_a").stored);
}

#[test]
fn a_panic_in_one_queued_write_fails_that_write_alone() {
    let e = memory();
    for round in 0..50 {
        let (tx, rx) = std::sync::mpsc::channel();
        for (i, name) in ["ok", "boom", "fine"].into_iter().enumerate() {
            let tx = tx.clone();
            let doc = format!(r#"[{{"conversationID":"c2c_{name}{round}","showName":"{name}"}}]"#);
            e.import(
                doc.into_bytes(),
                e.completer(move |r: Result<usize>| {
                    let _ = tx.send((i, r.map_err(|e| e.code())));
                }),
            )
            .unwrap();
        }
        let got: Vec<_> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(30)).unwrap())
            .collect();
        assert_eq!(
            got,
            [(0, Ok(1)), (1, Err(ErrorCode::Internal)), (2, Ok(1))],
            "round {round}"
        );
        assert!(get(&e, &format!("c2c_ok{round}")).stored);
        assert!(!get(&e, &format!("c2c_boom{round}")).stored);
        assert!(get(&e, &format!("c2c_fine{round}")).stored);
    }
}

#[test]
fn shutdown_delivers_every_callback_before_it_returns() {
    let dir = scratch("shutdown");
    let e = on_disk(&dir).unwrap();
    import(&e, SAMPLE).unwrap();
    let delivered = Arc::new(AtomicUsize::new(0));
    let shutdowns = Arc::new(AtomicUsize::new(0));
    const N: usize = 5000;
    for i in 0..N {
        let delivered = delivered.clone();
        let shutdowns = shutdowns.clone();
        let done = e.completer(move |r: Result<Arc<View>>| {
            if let Err(err) = r {
                assert_eq!(err.code(), ErrorCode::Shutdown);
                shutdowns.fetch_add(1, Ordering::SeqCst);
            }
            delivered.fetch_add(1, Ordering::SeqCst);
        });
        e.get(id(&format!("c2c_m{i}")), done);
    }
    e.shutdown();
    assert_eq!(delivered.load(Ordering::SeqCst), N);
    assert!(!e.is_accepting());
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// In the child: import, report, then wait to be killed.
const CHILD_ENV: &str = "IMCONV_KILL9_CHILD_DIR";

#[test]
fn a_completed_import_survives_kill_9() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let e: Engine<View> = Engine::open(&Config {
            data_dir: Some(PathBuf::from(dir)),
            durability: Durability::Normal,
            ..Config::in_memory("me")
        })
        .unwrap();
        import(&e, SAMPLE).unwrap();
        println!("IMPORTED");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let dir = scratch("kill9");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_completed_import_survives_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.as_os_str())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        use std::io::BufRead;
        assert!(out.read_line(&mut line).unwrap() > 0, "child exited early");
        if line.contains("IMPORTED") {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The lock died with the process; the data did not.
    let e = on_disk(&dir).unwrap();
    assert_eq!(e.stored_count().unwrap(), 3);
    assert_eq!(get(&e, "group_g").conversation.show_name.as_str(), "G");
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

const PAD: &str =
    "https://cdn.example.com/avatars/a-long-enough-path/to-make-the-document-large.png";

fn many(n: usize, f: impl Fn(usize) -> String) -> String {
    format!("[{}]", (0..n).map(f).collect::<Vec<_>>().join(","))
}

#[test]
fn a_large_import_is_all_or_nothing_across_chunks() {
    let e = memory();
    import(&e, SAMPLE).unwrap();
    // 1000 elements (parsed in chunks on a second thread); the last is bad.
    let doc = many(1000, |i| {
        if i == 999 {
            r#"{"conversationID":"c2c_last","recvOpt":7}"#.to_string()
        } else {
            format!(r#"{{"conversationID":"c2c_u{i}","faceUrl":"{PAD}"}}"#)
        }
    });
    assert!(
        doc.len() > 64 * 1024,
        "big enough to be parsed on a second thread"
    );
    let err = import(&e, &doc).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(
        err.message().starts_with("element 999: field 'recvOpt'"),
        "{err}"
    );
    assert_eq!(e.stored_count().unwrap(), 3);
    assert!(list(&e, &["c2c_u0", "c2c_u500"]).is_empty());

    // A panic while parsing a later chunk: internal error, nothing stored.
    let doc = many(1000, |i| {
        let name = if i == 700 { "boom" } else { "ok" };
        format!(r#"{{"conversationID":"c2c_p{i}","showName":"{name}","faceUrl":"{PAD}"}}"#)
    });
    let err = import(&e, &doc).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal, "{err}");
    assert_eq!(e.stored_count().unwrap(), 3);

    // Success: every element, and the last of a repeated ID wins.
    let doc = many(1000, |i| {
        let id = if i == 900 { 5 } else { i };
        format!(r#"{{"conversationID":"c2c_u{id}","unreadCount":{i},"faceUrl":"{PAD}"}}"#)
    });
    assert_eq!(import(&e, &doc).unwrap(), 1000);
    assert_eq!(e.stored_count().unwrap(), 3 + 999);
    assert_eq!(get(&e, "c2c_u5").conversation.unread_count, 900);
    assert_eq!(get(&e, "c2c_u998").conversation.unread_count, 998);
}

#[test]
fn a_store_records_its_user_and_refuses_another() {
    let dir = scratch("owner");
    drop(on_disk(&dir).unwrap());
    // Someone else's store in this user's folder (a copied folder, or a
    // hash collision): refused, never shared.
    {
        let mut store =
            imconv::store::Store::open(Some(&dir.join("me")), Durability::Normal).unwrap();
        store.set_owner("someone-else").unwrap();
    }
    let err = on_disk(&dir).err().unwrap();
    assert_eq!(err.code(), ErrorCode::Database);
    assert!(err.message().contains("belongs to user_id"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
