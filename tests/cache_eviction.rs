//! The cache when the store outgrows it (issue 17, item 4): a sweep frees
//! about an eighth of the capacity, the least recently read, so on a
//! skewed trace it keeps nearly what an exact LRU keeps.

use std::sync::Arc;

use imconv::cache::{Cache, Probe};
use imconv::model::Text;

#[path = "common/zipf.rs"]
mod zipf;

use zipf::{lru_hits, zipf_trace, Rng};

/// Hits of the cache on the trace, loading each miss as the engine does.
fn cache_hits(trace: &[usize], capacity: usize) -> usize {
    let cache: Cache<usize> = Cache::new(capacity);
    let ids: Vec<Text> = (0..=*trace.iter().max().unwrap())
        .map(|k| Text::new(&format!("c2c_user{k}")).unwrap())
        .collect();
    let mut hits = 0;
    for &k in trace {
        match cache.probe(ids[k].as_str()) {
            Probe::Stored(v) => {
                assert_eq!(*v, k);
                hits += 1;
            }
            Probe::NotStored => unreachable!("every key is stored"),
            Probe::Unknown => cache.put(&ids[k], Some(Arc::new(k))),
        }
        assert!(cache.len() <= capacity);
    }
    hits
}

#[test]
fn a_store_five_times_the_cache_keeps_what_an_exact_lru_keeps() {
    let capacity = 2000;
    let trace = zipf_trace(capacity * 5, 1.0, 400_000, 0x1d2c3b4a);
    let lru = lru_hits(&trace, capacity);
    let ours = cache_hits(&trace, capacity);
    let ratio = ours as f64 / lru as f64;
    eprintln!(
        "hit ratio {ratio:.3} of an exact LRU (ours {ours}, LRU {lru} of {})",
        trace.len()
    );
    assert!(
        ratio >= 0.95,
        "hit ratio {:.3} of an exact LRU's ({ours} hits against {lru})",
        ratio
    );
}

#[test]
fn uniform_reads_over_a_larger_store_keep_an_lru_s_hits() {
    // No skew: every sweep of a one-bit clock found few entries read since
    // the last, and dropped nearly the whole cache.
    let capacity = 2000;
    let mut rng = Rng(0x5eed);
    let trace: Vec<usize> = (0..200_000)
        .map(|_| (rng.next() % (capacity as u64 * 5)) as usize)
        .collect();
    let (lru, ours) = (lru_hits(&trace, capacity), cache_hits(&trace, capacity));
    let ratio = ours as f64 / lru as f64;
    eprintln!("uniform: hit ratio {ratio:.3} of an exact LRU (ours {ours}, LRU {lru})");
    assert!(ratio >= 0.9, "hit ratio {ratio:.3} of an exact LRU's");
}

#[test]
fn a_sweep_frees_an_eighth_never_the_whole_cache() {
    // Fill the cache, read only a few entries, then overflow it: the sweep
    // must keep about seven eighths, the entries read first of all.
    let capacity = 800;
    let cache: Cache<usize> = Cache::new(capacity);
    let id = |k: usize| Text::new(&format!("c2c_{k}")).unwrap();
    for k in 0..capacity {
        cache.put(&id(k), Some(Arc::new(k)));
    }
    for k in 0..10 {
        assert!(matches!(cache.probe(id(k).as_str()), Probe::Stored(_)));
    }
    cache.put(&id(capacity), Some(Arc::new(capacity)));
    assert_eq!(cache.len(), capacity - capacity / 8 + 1);
    for k in 0..10 {
        assert!(
            matches!(cache.probe(id(k).as_str()), Probe::Stored(_)),
            "recently read entry {k} was evicted"
        );
    }
    assert!(matches!(
        cache.probe(id(capacity).as_str()),
        Probe::Stored(_)
    ));
}
