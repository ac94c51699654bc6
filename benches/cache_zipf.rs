//! The cache when the store outgrows it (`make bench`): a store on disk of
//! SIZE conversations behind a cache of SIZE / 5 (1,000,000 behind the
//! default 200,000), looked up in batches of 100 along a Zipf trace
//! (s = 1.0) of 4 x SIZE lookups, 5 runs, each on a freshly opened (empty)
//! cache. Reports the hit ratio, that of an exact LRU of the same capacity
//! simulated on the same trace (the baseline, "lru"), and the lookup
//! throughput, as result lines for `benches/report.py`.
//!
//! usage: cache_zipf SIZE RESULTS.jsonl

use std::io::Write as _;
use std::sync::mpsc;
use std::time::Instant;

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::ffi::ConversationView;
use imconv::model::IdList;

const RUNS: usize = 5;
const BATCH: usize = 100;

#[path = "support/mod.rs"]
mod support;
#[path = "../tests/common/zipf.rs"]
mod zipf;

use zipf::{lru_hits, zipf_trace};

fn line(
    out: &mut std::fs::File,
    implementation: &str,
    metric: &str,
    size: usize,
    unit: &str,
    runs: &mut [f64],
) {
    runs.sort_by(f64::total_cmp);
    let median = runs[runs.len() / 2];
    writeln!(
        out,
        r#"{{"implementation":"{implementation}","metric":"{metric}","size":{size},"unit":"{unit}","median":{median},"min":{},"max":{},"runs":{}}}"#,
        runs[0],
        runs[runs.len() - 1],
        runs.len()
    )
    .expect("results file");
    eprintln!("  {implementation:<10} {metric:<28} {size:>8}  median {median:>12.4} {unit}");
}

fn main() {
    // `cargo bench` adds "--bench": only the positional arguments count.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let size: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(args.get(1).map_or("cache_zipf.jsonl", String::as_str))
        .expect("results file");
    let dir = std::env::temp_dir().join(format!("imconv-cache-zipf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let capacity = size / 5;
    let config = format!(
        r#"{{"user_id":"bench","data_dir":"{}","cache_capacity":{capacity}}}"#,
        dir.display()
    );
    let config = Config::parse(&config).expect("config");
    let engine: Engine<ConversationView> = Engine::open(&config).expect("open");
    let doc: Vec<String> = (0..size)
        .map(|i| {
            format!(
                r#"{{"conversationID":"c2c_user{i:07}","showName":"User {i}","unreadCount":{}}}"#,
                i % 7
            )
        })
        .collect();
    support::import_and_wait(&engine, &doc);
    drop(engine);
    let (tx, rx) = mpsc::channel();
    let ids: Vec<String> = (0..size).map(|i| format!("c2c_user{i:07}")).collect();
    let (mut hit_rates, mut lru_rates, mut rates) = (vec![], vec![], vec![]);
    for run in 0..RUNS {
        // What the cache sees: each batch's distinct IDs, in order.
        let trace: Vec<usize> = zipf_trace(size, 1.0, size * 4, 0x5eed + run as u64)
            .chunks(BATCH)
            .flat_map(|c| {
                let mut seen = std::collections::HashSet::new();
                c.iter().copied().filter(move |k| seen.insert(*k))
            })
            .collect();
        // Opened again: the cache starts empty, as the simulated LRU does.
        let engine: Engine<ConversationView> = Engine::open(&config).expect("open");
        let inserted = engine.cache_inserts();
        let started = Instant::now();
        for chunk in trace.chunks(BATCH) {
            let mut list = IdList::with_capacity(chunk.len());
            for &k in chunk {
                list.push_checked(&ids[k]);
            }
            let done = tx.clone();
            engine.get_many(
                list,
                engine.completer(move |r| done.send(r.map(|_| ())).expect("channel")),
            );
            rx.recv().expect("callback").expect("lookup");
        }
        let seconds = started.elapsed().as_secs_f64();
        let misses = (engine.cache_inserts() - inserted) as usize;
        let hit_rate = (trace.len() - misses) as f64 / trace.len() as f64;
        let lru = lru_hits(&trace, capacity) as f64 / trace.len() as f64;
        hit_rates.push(hit_rate);
        lru_rates.push(lru);
        rates.push(trace.len() as f64 / seconds);
    }
    line(
        &mut out,
        "imconv",
        "cache_zipf_hit_ratio",
        size,
        "hit ratio",
        &mut hit_rates,
    );
    line(
        &mut out,
        "lru",
        "cache_zipf_hit_ratio",
        size,
        "hit ratio",
        &mut lru_rates,
    );
    line(
        &mut out,
        "imconv",
        "cache_zipf_throughput",
        size,
        "lookups/s",
        &mut rates,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
