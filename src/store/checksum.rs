//! Checksums of what the store keeps: a conversation row (over its column
//! values as SQLite holds them, its ID included) and a recent window's
//! bytes. A row is verified each time it is read, so that a value decoded
//! from damaged bytes is never answered or built on: damage shows as
//! `StoreDamaged` naming the conversation.
//!
//! The hash is a word-at-a-time mix whose every step is a bijection of its
//! state (xor, multiply by an odd constant, rotate): a change in any one
//! word, which covers every single flipped bit and every burst of up to 8
//! bytes, always changes the checksum; other damage goes unseen with odds
//! of 2^-64. It guards against bit rot, not an attacker.

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::Row;

use crate::error::{Error, ErrorCode, Result};

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// The running state of one checksum.
pub(super) struct Sum(u64);

impl Sum {
    pub(super) fn new(domain: u64) -> Sum {
        Sum(domain ^ 0x243f_6a88_85a3_08d3)
    }

    fn word(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(MULTIPLIER).rotate_left(29);
    }

    pub(super) fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
    }

    pub(super) fn value(&mut self, v: ValueRef<'_>) {
        match v {
            ValueRef::Null => self.word(0),
            ValueRef::Integer(i) => {
                self.word(1);
                self.word(i as u64);
            }
            ValueRef::Real(f) => {
                self.word(2);
                self.word(f.to_bits());
            }
            ValueRef::Text(t) => {
                self.word(3);
                self.bytes(t);
            }
            ValueRef::Blob(b) => {
                self.word(4);
                self.bytes(b);
            }
        }
    }

    /// The checksum (a final mix, so that nearby states spread).
    pub(super) fn finish(self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Domains, so that equal bytes of different kinds sum differently.
pub(super) const ROW: u64 = 1;
pub(super) const WINDOW: u64 = 2;

/// The checksum of a row's values as they are bound to a statement.
pub(super) fn of_params(values: &[&dyn ToSql]) -> Result<i64> {
    let mut sum = Sum::new(ROW);
    for v in values {
        match v.to_sql()? {
            ToSqlOutput::Borrowed(r) => sum.value(r),
            ToSqlOutput::Owned(o) => sum.value(ValueRef::from(&o)),
            _ => {
                return Err(Error::internal(
                    "internal error: a row value of an unknown kind",
                ))
            }
        }
    }
    Ok(sum.finish() as i64)
}

/// Verifies a row read with its first `n` columns summed and the checksum
/// in column `n`; `Err(StoreDamaged)` naming `id` (as the row says) when
/// they disagree.
pub(super) fn verify_row(row: &Row, n: usize) -> Result<()> {
    let mut sum = Sum::new(ROW);
    for i in 0..n {
        sum.value(row.get_ref(i)?);
    }
    let stored: Option<i64> = row.get(n).unwrap_or(None);
    if stored == Some(sum.finish() as i64) {
        return Ok(());
    }
    let id = match row.get_ref(0) {
        Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
        _ => "?".to_string(),
    };
    Err(damaged(&id, "its stored row fails its checksum"))
}

/// Damage found in conversation `id`.
pub fn damaged(id: &str, why: &str) -> Error {
    Error::new(
        ErrorCode::StoreDamaged,
        format!("conversation {id} is damaged in the store: {why}"),
    )
}

/// The ID a damage error names (see [`damaged`]), if it names one.
pub fn damaged_id(e: &Error) -> Option<&str> {
    if e.code() != ErrorCode::StoreDamaged {
        return None;
    }
    let rest = e.message().strip_prefix("conversation ")?;
    rest.split_once(" is damaged in the store")
        .map(|(id, _)| id)
}

const INDEX_DAMAGE: &str = "the order index is damaged: ";

/// Damage in the order index, found at the entry of `id` (or where an
/// entry could not be read).
pub fn index_damage(id: &str) -> Error {
    Error::new(
        ErrorCode::StoreDamaged,
        format!("the store is damaged: {INDEX_DAMAGE}it disagrees with the row of {id}"),
    )
}

/// Whether `e` is [`index_damage`] (repaired by rebuilding the index).
pub fn is_index_damage(e: &Error) -> bool {
    e.code() == ErrorCode::StoreDamaged && e.message().contains(INDEX_DAMAGE)
}

/// A listed entry that does not decode (its bytes changed): index damage.
pub(super) fn unreadable_entry(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(..) => Error::from(e),
        other => Error::new(
            ErrorCode::StoreDamaged,
            format!("the store is damaged: {INDEX_DAMAGE}an entry does not decode ({other})"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_single_bit_flip_changes_the_sum() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        let base = {
            let mut s = Sum::new(ROW);
            s.bytes(&data);
            s.finish()
        };
        for bit in 0..data.len() * 8 {
            let mut d = data.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            let mut s = Sum::new(ROW);
            s.bytes(&d);
            assert_ne!(s.finish(), base, "bit {bit}");
        }
    }

    #[test]
    fn a_damage_error_names_its_conversation() {
        let e = damaged("c2c_a b", "why");
        assert_eq!(damaged_id(&e), Some("c2c_a b"));
        assert_eq!(damaged_id(&Error::internal("x")), None);
    }
}
