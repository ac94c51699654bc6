//! Unread-count subscriptions stay exact under any grouping of writes
//! (issue 25, item 1): random bursts of writes issued back to back, so
//! that the writer commits them in groups; after each burst, every
//! subscription's last raised count equals a fresh count by its filter.

mod common;

use std::collections::HashMap;
use std::sync::{mpsc, Arc};

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::events::{FilteredUnread, Listener};
use imconv::model::{ConversationId, ConversationType, ListFilter};
use imconv::store::ReadUpTo;
use imconv::write::{ReadScope, Write};
use parking_lot::Mutex;

use common::*;

/// Keeps each subscription's last raised count.
#[derive(Default)]
struct Counts(Mutex<HashMap<u64, u64>>);

impl Listener<View> for Counts {
    fn on_new(&self, _: &[Arc<View>]) {}
    fn on_changed(&self, _: &[Arc<View>]) {}
    fn on_deleted(&self, _: &[ConversationId]) {}
    fn on_total_unread_changed(&self, _: u64) {}
    fn on_filtered_unread(&self, f: &FilteredUnread) {
        self.0.lock().insert(f.subscription, f.count);
    }
}

/// xorshift64*: the same sequence for a seed on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn filters() -> Vec<ListFilter> {
    vec![
        ListFilter::default(),
        ListFilter {
            kind: Some(ConversationType::C2c),
            ..ListFilter::default()
        },
        ListFilter {
            kind: Some(ConversationType::Group),
            ..ListFilter::default()
        },
        ListFilter {
            mark: Some(2),
            ..ListFilter::default()
        },
    ]
}

const CONVERSATIONS: [&str; 6] = ["c2c_a", "c2c_b", "c2c_c", "group_g", "group_h", "group_k"];

/// One random write of realistic traffic.
fn random_write(rng: &mut Rng, clock: &mut i64) -> Write {
    let conv = CONVERSATIONS[rng.below(CONVERSATIONS.len() as u64) as usize];
    *clock += 1 + rng.below(3) as i64;
    match rng.below(10) {
        0..=3 => Write::Messages(
            format!(
                "[{}]",
                msg(conv, &format!("m{clock}"), *clock, *clock as u64, "")
            )
            .into_bytes(),
        ),
        4 => Write::MarkRead {
            scope: ReadScope::One(id(conv)),
            upto: ReadUpTo::All,
        },
        5 => Write::MarkRead {
            scope: match rng.below(3) {
                0 => ReadScope::AllC2c,
                1 => ReadScope::AllGroups,
                _ => ReadScope::All,
            },
            upto: ReadUpTo::All,
        },
        6 => Write::Delete { ids: ids(&[conv]) },
        7 => Write::RecvOpt {
            ids: ids(&[conv]),
            opt: if rng.below(2) == 0 { 2 } else { 0 },
        },
        8 => Write::Mark {
            ids: ids(&[conv]),
            mark: 2,
            enable: rng.below(2) == 0,
        },
        _ => {
            // A snapshot of the server's list: some conversations with
            // their server counts, the rest deleted.
            let mut kept = Vec::new();
            for c in CONVERSATIONS {
                if rng.below(3) != 0 {
                    let unread = rng.below(5);
                    kept.push(format!(
                        r#"{{"conversationID":"{c}","unreadCount":{unread}}}"#
                    ));
                }
            }
            Write::SyncSnapshot(format!("[{}]", kept.join(",")).into_bytes())
        }
    }
}

/// Subscribes to every filter; returns the IDs with their filters.
fn subscribe_all(e: &Engine<View>) -> Vec<(u64, ListFilter)> {
    filters()
        .into_iter()
        .map(|f| (e.subscribe_unread(f.clone()), f))
        .collect()
}

/// Issues `n` random writes back to back and waits for every callback.
fn burst(e: &Engine<View>, rng: &mut Rng, clock: &mut i64, n: usize) {
    let (tx, rx) = mpsc::channel();
    for tag in 0..n {
        write_async(e, random_write(rng, clock), tag, &tx);
    }
    for _ in 0..n {
        // A refused write (a mark on a deleted conversation) is fine:
        // what counts is that the counts agree with the store.
        let _ = wait(&rx);
    }
}

/// Every subscription's last count (its first count when none was raised
/// yet) against a fresh count by its filter.
fn check(e: &Engine<View>, counts: &Counts, subs: &[(u64, ListFilter)], first: &[u64], at: &str) {
    let raised = counts.0.lock().clone();
    for ((sub, filter), first) in subs.iter().zip(first) {
        let last = raised.get(sub).copied().unwrap_or(*first);
        let fresh = total(e, filter.clone());
        assert_eq!(last, fresh, "subscription {sub} ({filter:?}) {at}");
    }
}

fn run(e: &Engine<View>, seed: u64, bursts: usize) {
    let counts = Arc::new(Counts::default());
    e.add_listener(counts.clone());
    let subs = subscribe_all(e);
    let first: Vec<u64> = subs.iter().map(|(_, f)| total(e, f.clone())).collect();
    let mut rng = Rng(seed);
    let mut clock = 1_700_000_000;
    for b in 0..bursts {
        let n = 1 + rng.below(24) as usize;
        burst(e, &mut rng, &mut clock, n);
        check(
            e,
            &counts,
            &subs,
            &first,
            &format!("after burst {b} (seed {seed})"),
        );
    }
}

#[test]
fn three_messages_back_to_back_raise_one_two_three() {
    // The report's case: one message to each of three conversations.
    for round in 0..20 {
        let e = memory();
        let counts = Arc::new(Counts::default());
        e.add_listener(counts.clone());
        let sub = e.subscribe_unread(ListFilter::default());
        let (tx, rx) = mpsc::channel();
        for (i, c) in ["c2c_a", "c2c_b", "c2c_c"].iter().enumerate() {
            write_async(
                &e,
                Write::Messages(one(c, "m", 10 + i as i64, 1).into_bytes()),
                i,
                &tx,
            );
        }
        for _ in 0..3 {
            wait(&rx).1.unwrap();
        }
        assert_eq!(counts.0.lock().get(&sub), Some(&3), "round {round}");
        write(
            &e,
            Write::MarkRead {
                scope: ReadScope::All,
                upto: ReadUpTo::All,
            },
        )
        .unwrap();
        assert_eq!(counts.0.lock().get(&sub), Some(&0), "round {round}");
    }
}

#[test]
fn every_count_matches_the_store_after_random_bursts() {
    for seed in 1..=12u64 {
        let e = memory();
        run(&e, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, 25);
    }
}

#[test]
fn counts_stay_exact_after_reopen() {
    let dir = Scratch::new("subscriptions-reopen");
    let config = || {
        let mut c = Config::in_memory("me");
        c.data_dir = Some(dir.to_path_buf());
        c
    };
    {
        let e = Engine::<View>::open(&config()).unwrap();
        run(&e, 77, 10);
    }
    let e = Engine::<View>::open(&config()).unwrap();
    run(&e, 78, 10);
}
