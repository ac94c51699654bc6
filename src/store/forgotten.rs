//! Messages forgotten by bounded history (read, at or before the read
//! position, and pushed out of the recent window), so that a late receipt
//! naming one is told from a msgID that was never applied: a forgotten
//! message is at or before the read position, so a read up to it changes
//! nothing, while an unknown one is an error.
//!
//! Each conversation keeps Bloom filters of its forgotten msgIDs, in
//! chunks of [`CHUNK_BYTES`] holding up to [`CHUNK_CAPACITY`] IDs each
//! (about 1.3 bytes per forgotten message; a full chunk answers a wrong
//! "forgotten" for under 1% of never-applied IDs). A forgotten message is
//! never answered "unknown". A transaction collects what it forgets and
//! writes each conversation's filter once, as it commits (a message that
//! pushes a read one out of the window costs no filter write of its own);
//! a unit undone drops what it collected.

use rusqlite::{params, OptionalExtension};

use super::Writer;
use crate::error::Result;

/// Bytes of one filter chunk (4,096 bits).
pub(super) const CHUNK_BYTES: usize = 512;
/// msgIDs per chunk before the next chunk starts: with [`HASHES`] probes
/// the false-positive rate of a full chunk is 0.7%.
pub(super) const CHUNK_CAPACITY: i64 = 400;
const HASHES: u64 = 7;

const LAST_CHUNK: &str = "SELECT chunk, n, bits FROM forgotten_message \
     WHERE conversation_id = ?1 ORDER BY chunk DESC LIMIT 1";
const PUT_CHUNK: &str =
    "INSERT OR REPLACE INTO forgotten_message (conversation_id, chunk, n, bits) VALUES (?1, ?2, ?3, ?4)";
const ALL_CHUNKS: &str = "SELECT bits FROM forgotten_message WHERE conversation_id = ?1";

/// FNV-1a, 64 bits: stable across versions and platforms (the filters
/// live in the store), unlike the standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The filter's bit positions for a msgID (double hashing).
fn positions(msg_id: &str) -> impl Iterator<Item = usize> {
    let h1 = fnv1a(msg_id.as_bytes());
    // splitmix64's finaliser of h1: a second, independent-enough hash.
    let mut z = h1.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let h2 = (z ^ (z >> 31)) | 1;
    let bits = (CHUNK_BYTES * 8) as u64;
    (0..HASHES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % bits) as usize)
}

fn contains(bits: &[u8], msg_id: &str) -> bool {
    bits.len() == CHUNK_BYTES && positions(msg_id).all(|p| bits[p / 8] & (1 << (p % 8)) != 0)
}

fn insert(bits: &mut [u8], msg_id: &str) {
    for p in positions(msg_id) {
        bits[p / 8] |= 1 << (p % 8);
    }
}

impl Writer<'_> {
    /// Records that a message of a conversation was forgotten (written as
    /// the transaction commits).
    pub(super) fn note_forgotten(&mut self, conversation_id: &str, msg_id: String) {
        self.forgotten.push((conversation_id.to_owned(), msg_id));
    }

    /// Whether a message of a conversation was applied once and forgotten
    /// since (see the module's documentation: never false for a forgotten
    /// one; true for under 1% of others).
    pub fn was_forgotten(&self, conversation_id: &str, msg_id: &str) -> Result<bool> {
        if self
            .forgotten
            .iter()
            .any(|(c, m)| c == conversation_id && m == msg_id)
        {
            return Ok(true);
        }
        let mut stmt = self.conn.prepare_cached(ALL_CHUNKS)?;
        let mut rows = stmt.query([conversation_id])?;
        while let Some(row) = rows.next()? {
            if contains(row.get_ref(0)?.as_blob().unwrap_or_default(), msg_id) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Writes what this transaction forgot into its conversations'
    /// filters: one read and one write of each conversation's last chunk.
    pub(super) fn flush_forgotten(&mut self) -> Result<()> {
        let mut all = std::mem::take(&mut self.forgotten);
        self.forgotten_mark = 0;
        // By conversation (stable: in the order forgotten within each).
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rest = all.as_slice();
        while let Some((id, _)) = rest.first() {
            let n = rest.iter().take_while(|(c, _)| c == id).count();
            let (run, tail) = rest.split_at(n);
            rest = tail;
            let last: Option<(i64, i64, Vec<u8>)> = self
                .conn
                .prepare_cached(LAST_CHUNK)?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let (mut chunk, mut n, mut bits) = match last {
                Some((chunk, n, bits)) if bits.len() == CHUNK_BYTES => (chunk, n, bits),
                // A chunk of another size (never written so): start anew.
                Some((chunk, _, _)) => (chunk + 1, 0, vec![0; CHUNK_BYTES]),
                None => (0, 0, vec![0; CHUNK_BYTES]),
            };
            let mut put = self.conn.prepare_cached(PUT_CHUNK)?;
            for (_, msg_id) in run {
                if n >= CHUNK_CAPACITY {
                    put.execute(params![id, chunk, n, bits])?;
                    chunk += 1;
                    n = 0;
                    bits.fill(0);
                }
                insert(&mut bits, msg_id);
                n += 1;
            }
            put.execute(params![id, chunk, n, bits])?;
        }
        Ok(())
    }

    /// A conversation deleted: what it forgot goes with it.
    pub(super) fn drop_forgotten(&mut self, conversation_id: &str) -> Result<()> {
        self.forgotten.retain(|(c, _)| c != conversation_id);
        self.conn
            .prepare_cached("DELETE FROM forgotten_message WHERE conversation_id = ?1")?
            .execute([conversation_id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Durability;
    use crate::store::Store;

    #[test]
    fn a_unit_undone_forgets_nothing_and_a_transaction_writes_each_filter_once() {
        let mut s = Store::open(None, Durability::Normal).unwrap();
        s.write(|w| {
            w.begin_unit()?;
            w.note_forgotten("c2c_a", "undone".into());
            assert!(w.was_forgotten("c2c_a", "undone")?, "seen inside its unit");
            w.rollback_unit()?;
            w.begin_unit()?;
            for i in 0..(CHUNK_CAPACITY + 5) {
                w.note_forgotten("c2c_a", format!("kept-{i}"));
            }
            w.note_forgotten("c2c_b", "other".into());
            w.release_unit()
        })
        .unwrap();
        s.write(|w| {
            assert!(!w.was_forgotten("c2c_a", "undone")?);
            for i in 0..(CHUNK_CAPACITY + 5) {
                assert!(w.was_forgotten("c2c_a", &format!("kept-{i}"))?, "kept-{i}");
            }
            assert!(w.was_forgotten("c2c_b", "other")?);
            assert!(!w.was_forgotten("c2c_b", "kept-0")?);
            w.drop_forgotten("c2c_a")?;
            assert!(!w.was_forgotten("c2c_a", "kept-0")?);
            Ok(())
        })
        .unwrap();
        // Two chunks for c2c_a (400, then 5) were written; gone with it.
        let chunks: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM forgotten_message", [], |r| r.get(0))
            .unwrap();
        assert_eq!(chunks, 1, "c2c_b's one chunk");
    }

    #[test]
    fn a_full_chunk_never_misses_and_rarely_lies() {
        let mut bits = vec![0u8; CHUNK_BYTES];
        for i in 0..CHUNK_CAPACITY {
            insert(&mut bits, &format!("msg-{i}"));
        }
        for i in 0..CHUNK_CAPACITY {
            assert!(contains(&bits, &format!("msg-{i}")), "msg-{i} missed");
        }
        let lies = (0..100_000)
            .filter(|i| contains(&bits, &format!("other-{i}")))
            .count();
        // 0.7% expected; 1% is the documented bound.
        assert!(
            lies < 1_000,
            "{lies} of 100,000 never-applied IDs answered forgotten"
        );
        assert!(
            !contains(&bits[..10], "msg-0"),
            "a chunk of another size answers no"
        );
    }

    #[test]
    fn positions_are_stable_across_versions() {
        // The filters live in the store: the hash must never change.
        assert_eq!(fnv1a(b"m1"), 0x08a9_8b07_b550_9b6b);
        let p: Vec<usize> = positions("m1").collect();
        assert_eq!(p.len(), HASHES as usize);
    }
}
