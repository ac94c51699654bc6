//! The cache when the store outgrows it (issue 17, item 4): a sweep frees
//! about an eighth of the capacity, the least recently read, so on a
//! skewed trace it keeps nearly what an exact LRU keeps.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use imconv::cache::{Cache, Probe};
use imconv::model::Text;

/// A seeded xorshift64*: the same trace on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `len` draws from a Zipf distribution over `n` keys with exponent `s`.
fn zipf_trace(n: usize, s: f64, len: usize, seed: u64) -> Vec<usize> {
    let weights: Vec<f64> = (1..=n).map(|k| 1.0 / (k as f64).powf(s)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(n);
    let mut acc = 0.0;
    for w in weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut rng = Rng(seed);
    // Ranks are spread over the key space, so that hot keys are not the
    // first inserted.
    (0..len)
        .map(|_| {
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            let rank = cdf.partition_point(|&c| c < u).min(n - 1);
            (rank * 7919) % n
        })
        .collect()
}

/// Hits of an exact LRU of `capacity` entries on the trace.
fn lru_hits(trace: &[usize], capacity: usize) -> usize {
    let mut last: HashMap<usize, usize> = HashMap::new();
    let mut by_time: BTreeMap<usize, usize> = BTreeMap::new();
    let mut hits = 0;
    for (t, &k) in trace.iter().enumerate() {
        if let Some(old) = last.insert(k, t) {
            by_time.remove(&old);
            hits += 1;
        } else if last.len() > capacity {
            let (&oldest, &key) = by_time.iter().next().unwrap();
            by_time.remove(&oldest);
            last.remove(&key);
        }
        by_time.insert(t, k);
    }
    hits
}

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
