//! One store, several instances (issue 28), in one process: `"shared"`
//! instances open beside each other (and only beside each other), each
//! sees the others' writes at its next call and its listeners hear of them
//! (also while idle), counts stay exact whichever instance applies a
//! message, and a suspended instance refuses calls, holds nothing and
//! catches up as it resumes. The same across processes: `shared_processes`.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::error::{ErrorCode, Result};
use imconv::model::ListFilter;
use imconv::write::Write;

use common::*;

fn config(data: &Path, shared: bool, read_only: bool) -> Config {
    Config {
        data_dir: Some(data.to_path_buf()),
        shared,
        read_only,
        ..Config::in_memory("me")
    }
}

fn open(data: &Path) -> Engine<View> {
    Engine::open(&config(data, true, false)).unwrap()
}

fn code<T>(r: Result<T>) -> ErrorCode {
    match r {
        Ok(_) => ErrorCode::Ok,
        Err(e) => e.code(),
    }
}

/// Waits (at most 60 s: a missing event fails the test, a slow machine
/// does not) until the recorder holds `line`.
fn heard(rec: &Recorder, line: &str) {
    let start = Instant::now();
    while !rec.log.lock().iter().any(|l| l == line) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never heard {line:?}: {:?}",
            rec.log.lock()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn shared_instances_open_together_and_only_together() {
    let data = Scratch::new("shared-modes");
    let a = open(&data);
    let b = open(&data);
    // Not shared beside shared: refused, both ways.
    assert_eq!(
        code(Engine::<View>::open(&config(&data, false, false))),
        ErrorCode::StoreLocked
    );
    assert_eq!(
        code(Engine::<View>::open(&config(&data, false, true))),
        ErrorCode::StoreLocked
    );
    drop((a, b));
    let ro = Engine::<View>::open(&config(&data, false, true)).unwrap();
    assert_eq!(
        code(Engine::<View>::open(&config(&data, true, false))),
        ErrorCode::StoreLocked
    );
    drop(ro);
    let alone = Engine::<View>::open(&config(&data, false, false)).unwrap();
    assert_eq!(
        code(Engine::<View>::open(&config(&data, true, false))),
        ErrorCode::StoreLocked
    );
    assert_eq!(
        code(Engine::<View>::open(&config(&data, true, true))),
        ErrorCode::StoreLocked
    );
    drop(alone);
    // A shared read-only instance beside a shared writer.
    let w = open(&data);
    let r = Engine::<View>::open(&config(&data, true, true)).unwrap();
    messages(&w, &one("c2c_bob", "m1", 100, 0)).unwrap();
    assert_eq!(get(&r, "c2c_bob").0.unread_count, 1);
}

#[test]
fn each_instance_sees_the_others_writes_at_its_next_call() {
    let data = Scratch::new("shared-visible");
    let a = open(&data);
    let b = open(&data);
    import_ok(&a, r#"[{"conversationID":"c2c_bob","showName":"Bob"}]"#);
    // b caches it.
    assert_eq!(get(&b, "c2c_bob").0.show_name.as_str(), "Bob");
    assert_eq!(total(&b, ListFilter::default()), 0);
    messages(&a, &one("c2c_bob", "m1", 100, 0)).unwrap();
    // Lookup (single and batch), total and page at b: a's write.
    assert_eq!(get(&b, "c2c_bob").0.unread_count, 1);
    let batch = call(&b, |done| b.get_many(ids(&["c2c_bob"]), done)).unwrap();
    assert_eq!(batch[0].0.unread_count, 1);
    assert_eq!(total(&b, ListFilter::default()), 1);
    // The same message applied by b too counts once; a sees b's read.
    messages(&b, &one("c2c_bob", "m1", 100, 0)).unwrap();
    messages(&b, &one("c2c_bob", "m2", 200, 0)).unwrap();
    assert_eq!(get(&a, "c2c_bob").0.unread_count, 2);
    write(
        &a,
        Write::MarkMessageRead {
            id: id("c2c_bob"),
            msg_id: text("m2"),
        },
    )
    .unwrap();
    // An older read position applied later by b does not move it back.
    write(
        &b,
        Write::MarkMessageRead {
            id: id("c2c_bob"),
            msg_id: text("m1"),
        },
    )
    .unwrap();
    assert_eq!(get(&a, "c2c_bob").0.unread_count, 0);
    assert_eq!(get(&b, "c2c_bob").0.unread_count, 0);
    // Deletes and pages.
    messages(&b, &one("c2c_carol", "c1", 300, 0)).unwrap();
    assert_eq!(
        all_ids(&a, &ListFilter::default()),
        ["c2c_carol", "c2c_bob"]
    );
    write(
        &a,
        Write::Delete {
            ids: ids(&["c2c_carol"]),
        },
    )
    .unwrap();
    assert!(!get(&b, "c2c_carol").1);
    assert_eq!(all_ids(&b, &ListFilter::default()), ["c2c_bob"]);
}

#[test]
fn listeners_hear_of_the_other_instances_writes_while_idle() {
    let data = Scratch::new("shared-events");
    let a = open(&data);
    let b = open(&data);
    let rec = Arc::new(Recorder::default());
    b.add_listener(rec.clone());
    // b knows the total (it listens), then only a writes: b makes no call.
    assert_eq!(total(&b, ListFilter::default()), 0);
    messages(&a, &one("c2c_bob", "m1", 100, 0)).unwrap();
    heard(&rec, "new c2c_bob");
    heard(&rec, "total 1");
    messages(&a, &one("c2c_bob", "m2", 200, 0)).unwrap();
    heard(&rec, "changed c2c_bob");
    heard(&rec, "total 2");
    write(
        &a,
        Write::Delete {
            ids: ids(&["c2c_bob"]),
        },
    )
    .unwrap();
    heard(&rec, "deleted c2c_bob");
    heard(&rec, "total 0");
    // b's own writes are told once, as its own.
    let before = rec.log.lock().len();
    messages(&b, &one("c2c_dan", "d1", 300, 0)).unwrap();
    heard(&rec, "new c2c_dan");
    std::thread::sleep(Duration::from_millis(50));
    let after: Vec<String> = rec.log.lock()[before..].to_vec();
    assert_eq!(after, ["new c2c_dan", "total 1"]);
}

#[test]
fn a_suspended_instance_refuses_calls_and_catches_up_as_it_resumes() {
    let data = Scratch::new("shared-suspend");
    let a = open(&data);
    let b = open(&data);
    let rec = Arc::new(Recorder::default());
    a.add_listener(rec.clone());
    messages(&a, &one("c2c_bob", "m1", 100, 0)).unwrap();
    assert_eq!(get(&a, "c2c_bob").0.unread_count, 1);
    a.suspend().unwrap();
    let refused = a.write(
        Write::Delete {
            ids: ids(&["c2c_bob"]),
        },
        a.completer(|_| {}),
    );
    assert_eq!(code(refused), ErrorCode::Suspended);
    assert_eq!(
        code(a.read_completer::<u64, _>(|_| {})),
        ErrorCode::Suspended
    );
    // b writes meanwhile, never blocked.
    messages(&b, &one("c2c_bob", "m2", 200, 0)).unwrap();
    messages(&b, &one("c2c_eve", "e1", 300, 0)).unwrap();
    a.resume().unwrap();
    heard(&rec, "new c2c_eve");
    assert_eq!(get(&a, "c2c_bob").0.unread_count, 2);
    assert_eq!(total(&a, ListFilter::default()), 3);
    // Resuming twice, suspending twice: nothing more.
    a.resume().unwrap();
    a.suspend().unwrap();
    a.suspend().unwrap();
    a.resume().unwrap();
    messages(&a, &one("c2c_eve", "e2", 400, 0)).unwrap();
    assert_eq!(get(&b, "c2c_eve").0.unread_count, 2);
}

#[test]
fn an_instance_that_is_not_shared_suspends_and_reloads_as_it_resumes() {
    let data = Scratch::new("alone-suspend");
    let a = Engine::<View>::open(&config(&data, false, false)).unwrap();
    messages(&a, &one("c2c_bob", "m1", 100, 0)).unwrap();
    assert_eq!(get(&a, "c2c_bob").0.unread_count, 1);
    a.suspend().unwrap();
    {
        // Another instance takes the store meanwhile (a's lock is gone).
        let other = Engine::<View>::open(&config(&data, false, false)).unwrap();
        messages(&other, &one("c2c_bob", "m2", 200, 0)).unwrap();
        // a cannot resume while it is open.
        assert_eq!(code(a.resume()), ErrorCode::StoreLocked);
    }
    a.resume().unwrap();
    assert_eq!(get(&a, "c2c_bob").0.unread_count, 2);
}
