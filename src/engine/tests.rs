//! The engine's own rules: the write queue's groups, refusals that deliver
//! nothing, and shutdown's answer to every accepted call.

use std::sync::mpsc;

use super::*;
use crate::test_support::{message, TestView};

/// A promise whose result arrives on `tx`, tagged with `n`.
fn reply<T: Send + 'static>(
    e: &Engine<TestView>,
    n: usize,
    tx: &mpsc::Sender<(usize, Result<T>)>,
) -> Completer<T> {
    let tx = tx.clone();
    e.completer(move |r| {
        let _ = tx.send((n, r));
    })
}

#[test]
fn writes_queued_behind_a_busy_writer_commit_in_bounded_groups_in_order() {
    let e = Engine::<TestView>::open(&Config::in_memory("me")).unwrap();
    let (tx, rx) = mpsc::channel();
    let n = 2 * GROUP_WRITES + 2;
    // The store is held while every write is queued: the writer, started by
    // the first, waits for it, so what it finds queued is known.
    e.core
        .state
        .with_store(|_| {
            for i in 0..n {
                let op = message(&format!("c2c_{i}"), "m", i as i64 + 1);
                e.write(op, reply(&e, i, &tx)).unwrap();
            }
            Ok(())
        })
        .unwrap();
    let order: Vec<usize> = (0..n)
        .map(|_| {
            let (i, r) = rx.recv().unwrap();
            r.unwrap();
            i
        })
        .collect();
    assert_eq!(order, (0..n).collect::<Vec<_>>(), "callbacks in call order");
    let stats = e.write_stats();
    assert_eq!(stats.writes, n as u64);
    // The first group holds what was queued when the writer took it (one or
    // more); at least 2 x 64 waited behind it, so full groups followed.
    assert_eq!(stats.largest, GROUP_WRITES as u64, "{stats:?}");
    assert!(stats.transactions >= 3, "{stats:?}");
    assert_eq!(e.stored_count().unwrap(), n as u64);
}

#[test]
fn a_refused_write_delivers_nothing_and_shutdown_answers_the_rest() {
    let e = Engine::<TestView>::open(&Config::in_memory("me")).unwrap();
    let (tx, rx) = mpsc::channel();
    e.write(message("c2c_a", "m1", 1), reply(&e, 0, &tx))
        .unwrap();
    e.shutdown();
    // Accepted before shutdown: one callback, with the write's result when
    // the writer had taken it, else SHUTDOWN (the queue is failed).
    let (n, r) = rx.recv().unwrap();
    assert_eq!(n, 0);
    if let Err(e) = r {
        assert_eq!(e.code(), ErrorCode::Shutdown, "{}", e.message());
    }
    // After shutdown a write is refused by its return value alone.
    let refused = e.write(message("c2c_b", "m2", 2), reply(&e, 1, &tx));
    assert_eq!(refused.unwrap_err().code(), ErrorCode::Shutdown);
    drop(e);
    drop(tx);
    assert!(rx.recv().is_err(), "the refused write was delivered too");
}

#[test]
fn a_read_only_instance_refuses_writes_and_still_reads() {
    let dir = std::env::temp_dir().join(format!(
        "imconv-engine-unit-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config {
        data_dir: Some(dir.clone()),
        ..Config::in_memory("me")
    };
    {
        let e = Engine::<TestView>::open(&config).unwrap();
        let (tx, rx) = mpsc::channel();
        e.write(message("c2c_a", "m1", 1), reply(&e, 0, &tx))
            .unwrap();
        rx.recv().unwrap().1.unwrap();
    }
    let e = Engine::<TestView>::open(&Config {
        read_only: true,
        ..config
    })
    .unwrap();
    let (tx, rx) = mpsc::channel();
    let refused = e.write(message("c2c_b", "m2", 2), reply(&e, 0, &tx));
    let err = refused.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReadOnly);
    assert!(err.message().contains("read_only"), "{}", err.message());
    let (vtx, vrx) = mpsc::channel();
    e.get(
        ConversationId::parse("c2c_a").unwrap(),
        e.completer(move |r| {
            let _ = vtx.send(r);
        }),
    );
    let a = vrx.recv().unwrap().unwrap();
    assert!(a.1, "the stored conversation reads back");
    assert_eq!(a.0.unread_count, 1);
    drop(e);
    drop(tx);
    assert!(rx.recv().is_err(), "the refused write was delivered");
    std::fs::remove_dir_all(&dir).unwrap();
}
