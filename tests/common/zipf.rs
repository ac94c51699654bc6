//! Seeded lookup traces and an exact LRU to measure a cache against,
//! shared by `tests/cache_eviction.rs` and `benches/cache_zipf.rs`
//! (included by path: it is no test of its own).

use std::collections::{BTreeMap, HashMap};

/// A seeded xorshift64*: the same trace on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `len` draws from a Zipf distribution over `n` keys with exponent `s`;
/// ranks are spread over the key space, so that hot keys are not the first
/// inserted.
pub fn zipf_trace(n: usize, s: f64, len: usize, seed: u64) -> Vec<usize> {
    let weights: Vec<f64> = (1..=n).map(|k| 1.0 / (k as f64).powf(s)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(n);
    let mut acc = 0.0;
    for w in weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut rng = Rng(seed);
    (0..len)
        .map(|_| {
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            (cdf.partition_point(|&c| c < u).min(n - 1) * 7919) % n
        })
        .collect()
}

/// Hits of an exact LRU of `capacity` entries on the trace.
pub fn lru_hits(trace: &[usize], capacity: usize) -> usize {
    let mut last: HashMap<usize, usize> = HashMap::new();
    let mut by_time: BTreeMap<usize, usize> = BTreeMap::new();
    let mut hits = 0;
    for (t, &k) in trace.iter().enumerate() {
        if let Some(old) = last.insert(k, t) {
            by_time.remove(&old);
            hits += 1;
        } else if last.len() > capacity {
            let (&oldest, &key) = by_time.iter().next().expect("not empty");
            by_time.remove(&oldest);
            last.remove(&key);
        }
        by_time.insert(t, k);
    }
    hits
}
