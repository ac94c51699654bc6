//! The recent window: the newest few remembered messages of a conversation,
//! kept inside its own row (column `recent`). A message writes that row
//! anyway (its count, its last message, its order), so remembering it there
//! costs no page of its own; only what falls out of the window and must
//! still be remembered (unread, or not yet at or before the read position)
//! goes to the `applied_message` table, with its unread index.
//!
//! Pure data and its byte format; the writer (`super::applied`) decides
//! when a window is read, changed and written.

use super::ReadUpTo;
use crate::model::ms_covering_second;

/// How many of a conversation's newest messages its row remembers, read or
/// not: a receipt, an edit or a redaction usually names one of these. Small
/// enough that a row with ids of 40 bytes stays on its page (SQLite moves
/// what passes about 1,000 bytes of a row to an overflow page).
pub const RECENT_KEPT: i64 = 8;

/// Format of the encoded window (its first byte; flags follow).
const FORMAT: u8 = 2;
/// The format before checksums: the same, without the trailing 8 bytes.
const FORMAT_UNCHECKED: u8 = 1;

fn window_sum(bytes: &[u8]) -> u64 {
    let mut sum = super::checksum::Sum::new(super::checksum::WINDOW);
    sum.bytes(bytes);
    sum.finish()
}

/// Flag: some of the conversation's records may be in the table.
const SPILLED: u8 = 1;

/// One remembered message, as the table holds one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub msg_id: String,
    /// Milliseconds.
    pub time_ms: i64,
    pub seq: u64,
    /// It counts as unread now.
    pub unread: bool,
    /// The @ type it added to its conversation's list (0: none).
    pub at_type: i32,
}

impl Record {
    /// Newest last, as `applied::FORGET_READ` ranks a conversation's
    /// messages: by time in a one-to-one conversation, by (signed) sequence
    /// then time in a group.
    fn rank(&self, c2c: bool) -> (i64, i64) {
        (if c2c { 0 } else { self.seq as i64 }, self.time_ms)
    }

    /// Its place in the read order, as the unread index has it
    /// (`read_position!`): time one-to-one, (signed) sequence in a group.
    fn position(&self, c2c: bool) -> i64 {
        if c2c {
            self.time_ms
        } else {
            self.seq as i64
        }
    }
}

/// What a record's conversation says about forgetting (see
/// [`Window::overflow`]): its read position and its last message.
pub struct Retain<'a> {
    pub read_ms: u64,
    pub read_seq: u64,
    pub keep: Option<&'a str>,
}

impl Retain<'_> {
    /// Nothing may be forgotten (no read position known).
    pub fn nothing() -> Retain<'static> {
        Retain {
            read_ms: 0,
            read_seq: 0,
            keep: None,
        }
    }

    /// Read, at or before the read position and not the last message: the
    /// same test as `applied::FORGET_READ`.
    fn forgets(&self, r: &Record, c2c: bool) -> bool {
        if r.unread || Some(r.msg_id.as_str()) == self.keep {
            return false;
        }
        if c2c || r.seq == 0 {
            self.read_ms > 0 && r.time_ms >= 0 && r.time_ms as u64 <= self.read_ms
        } else {
            (r.seq as i64) >= 1 && r.seq <= self.read_seq.min(i64::MAX as u64)
        }
    }
}

/// A conversation's window, ordered oldest first, and whether it changed
/// since it was read from its row.
#[derive(Debug, Default)]
pub struct Window {
    pub records: Vec<Record>,
    /// Some of the conversation's records may be in the table (set when
    /// one goes there): when not, nothing needs to look there.
    pub spilled: bool,
    pub dirty: bool,
}

impl Window {
    pub fn find(&self, msg_id: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.msg_id == msg_id)
    }

    pub fn find_mut(&mut self, msg_id: &str) -> Option<&mut Record> {
        self.records.iter_mut().find(|r| r.msg_id == msg_id)
    }

    /// Adds a record in its place (after any of equal rank: the later
    /// arrival counts as newer). The window may hold more than
    /// [`RECENT_KEPT`] until [`Window::overflow`] trims it.
    pub fn insert(&mut self, r: Record, c2c: bool) {
        let rank = r.rank(c2c);
        let at = self.records.partition_point(|x| x.rank(c2c) <= rank);
        self.records.insert(at, r);
        self.dirty = true;
    }

    /// Moves a record to a new place in the order (its time or sequence
    /// changed).
    pub fn reposition(&mut self, msg_id: &str, time_ms: i64, seq: u64, c2c: bool) -> bool {
        let Some(i) = self.records.iter().position(|r| r.msg_id == msg_id) else {
            return false;
        };
        let mut r = self.records.remove(i);
        r.time_ms = time_ms;
        r.seq = seq;
        self.insert(r, c2c);
        true
    }

    pub fn remove(&mut self, msg_id: &str) -> bool {
        let before = self.records.len();
        self.records.retain(|r| r.msg_id != msg_id);
        let removed = self.records.len() != before;
        self.dirty |= removed;
        removed
    }

    pub fn clear(&mut self) {
        self.dirty |= !self.records.is_empty();
        self.records.clear();
    }

    pub fn unread(&self) -> u64 {
        self.records.iter().filter(|r| r.unread).count() as u64
    }

    /// Trims the window to [`RECENT_KEPT`], oldest first: what `retain`
    /// forgets goes (its msgID to `forgot`), the rest is returned to be
    /// kept in the table.
    pub fn overflow(
        &mut self,
        c2c: bool,
        retain: &Retain,
        mut forgot: impl FnMut(String),
    ) -> Vec<Record> {
        let excess = self.records.len().saturating_sub(RECENT_KEPT as usize);
        if excess == 0 {
            return Vec::new();
        }
        self.dirty = true;
        let mut kept = Vec::new();
        for r in self.records.drain(..excess) {
            if retain.forgets(&r, c2c) {
                forgot(r.msg_id);
            } else {
                kept.push(r);
            }
        }
        kept
    }

    /// Marks the unread records up to `upto` read, as the table's marking
    /// statements do (`applied::MARK_READ_*`): calls `each` with every one
    /// it marks.
    pub fn mark_read(&mut self, c2c: bool, upto: ReadUpTo, mut each: impl FnMut(&Record)) {
        let reads = Reads::of(c2c, upto);
        for r in self.records.iter_mut().filter(|r| r.unread) {
            if reads.covers(r, c2c) {
                r.unread = false;
                self.dirty = true;
                each(r);
            }
        }
    }

    /// The byte form kept in the row; false (nothing to keep: NULL) for
    /// an empty window with nothing in the table.
    pub fn encode(&self, out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.records.is_empty() && !self.spilled {
            return false;
        }
        out.push(FORMAT);
        out.push(if self.spilled { SPILLED } else { 0 });
        for r in &self.records {
            put_varint(out, r.msg_id.len() as u64);
            out.extend_from_slice(r.msg_id.as_bytes());
            put_varint(out, zigzag(r.time_ms));
            put_varint(out, r.seq);
            put_varint(out, zigzag(r.at_type as i64) << 1 | r.unread as u64);
        }
        let sum = window_sum(out);
        out.extend_from_slice(&sum.to_le_bytes());
        true
    }

    /// Reads what [`Window::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Window, String> {
        let (&format, _) = bytes.split_first().ok_or("empty")?;
        // Format 2 ends in the checksum of what precedes it; format 1
        // (before checksums) is read as it is until it is written again.
        let bytes = match format {
            FORMAT => {
                let (body, sum) = bytes
                    .split_last_chunk::<8>()
                    .ok_or("shorter than its checksum")?;
                if u64::from_le_bytes(*sum) != window_sum(body) {
                    return Err("it fails its checksum".into());
                }
                body
            }
            FORMAT_UNCHECKED => bytes,
            _ => return Err(format!("unknown format {format}")),
        };
        let rest = &bytes[1..];
        let (&flags, mut rest) = rest.split_first().ok_or("no flags")?;
        if flags & !SPILLED != 0 {
            return Err(format!("unknown flags {flags}"));
        }
        let mut records = Vec::new();
        while !rest.is_empty() {
            let len = take_varint(&mut rest)? as usize;
            if len > rest.len() {
                return Err("a msgID runs past the end".into());
            }
            let (id, tail) = rest.split_at(len);
            rest = tail;
            let msg_id = std::str::from_utf8(id)
                .map_err(|_| "a msgID is not UTF-8")?
                .to_owned();
            let time_ms = unzigzag(take_varint(&mut rest)?);
            let seq = take_varint(&mut rest)?;
            let flags = take_varint(&mut rest)?;
            let at_type =
                i32::try_from(unzigzag(flags >> 1)).map_err(|_| "an @ type is out of range")?;
            records.push(Record {
                msg_id,
                time_ms,
                seq,
                unread: flags & 1 == 1,
                at_type,
            });
        }
        Ok(Window {
            records,
            spilled: flags & SPILLED != 0,
            dirty: false,
        })
    }
}

/// The positions a read covers, as the marking statements select them:
/// ranges of the (signed) read position, and for a group's message read by
/// time, its messages without a sequence up to that time.
struct Reads {
    all: bool,
    ranges: [(i64, i64); 2],
    unplaced_upto: Option<i64>,
}

impl Reads {
    fn of(c2c: bool, upto: ReadUpTo) -> Reads {
        const EMPTY: (i64, i64) = (1, 0);
        let mut reads = Reads {
            all: false,
            ranges: [EMPTY; 2],
            unplaced_upto: None,
        };
        let sequences = |from: i64, s: u64| {
            let high = if s > i64::MAX as u64 {
                (i64::MIN, s as i64)
            } else {
                EMPTY
            };
            [(from, s.min(i64::MAX as u64) as i64), high]
        };
        match upto {
            ReadUpTo::All => reads.all = true,
            ReadUpTo::Timestamp(t) => {
                reads.ranges[0] = (i64::MIN, ms_covering_second(t.max(0) as u64) as i64)
            }
            ReadUpTo::Sequence(s) => reads.ranges = sequences(0, s),
            ReadUpTo::Message { ms, .. } if c2c => reads.ranges[0] = (i64::MIN, ms),
            ReadUpTo::Message { ms, seq } => {
                if seq > 0 {
                    reads.ranges = sequences(1, seq);
                }
                reads.unplaced_upto = Some(ms);
            }
        }
        reads
    }

    fn covers(&self, r: &Record, c2c: bool) -> bool {
        let p = r.position(c2c);
        self.all
            || self.ranges.iter().any(|&(lo, hi)| lo <= p && p <= hi)
            || self
                .unplaced_upto
                .is_some_and(|ms| p == 0 && r.time_ms <= ms)
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(rest: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, tail) = rest.split_first().ok_or("a number runs past the end")?;
        *rest = tail;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a number is too long".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, time_ms: i64, seq: u64, unread: bool) -> Record {
        Record {
            msg_id: id.into(),
            time_ms,
            seq,
            unread,
            at_type: 0,
        }
    }

    #[test]
    fn a_window_reads_back_what_it_wrote_extremes_included() {
        let mut w = Window::default();
        w.insert(rec("a", i64::MIN, u64::MAX, true), false);
        w.insert(rec("", -1, 0, false), false);
        w.insert(
            Record {
                at_type: i32::MIN,
                ..rec("é long id", i64::MAX, 7, true)
            },
            false,
        );
        let mut bytes = Vec::new();
        assert!(w.encode(&mut bytes));
        let back = Window::decode(&bytes).unwrap();
        assert_eq!(back.records, w.records);
        assert!(!back.dirty && !back.spilled);
        assert!(!Window::default().encode(&mut bytes));
        // Empty, with records in the table: that is kept.
        let spilled = Window {
            spilled: true,
            ..Window::default()
        };
        assert!(spilled.encode(&mut bytes));
        assert!(Window::decode(&bytes).unwrap().spilled);
    }

    #[test]
    fn a_damaged_window_is_an_error_not_a_panic() {
        let mut w = Window::default();
        w.insert(rec("abc", 5, 1, true), true);
        let mut bytes = Vec::new();
        w.encode(&mut bytes);
        // Nothing at all, or a record cut anywhere (the format byte alone
        // is an empty window).
        assert!(Window::decode(&[]).is_err());
        assert!(Window::decode(&[FORMAT]).is_err());
        assert!(Window::decode(&[FORMAT, 2]).is_err());
        for cut in 3..bytes.len() {
            assert!(Window::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Window::decode(&[2, 0]).is_err());
        assert!(Window::decode(&[
            FORMAT, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ])
        .is_err());
    }

    #[test]
    fn overflow_keeps_the_newest_and_hands_back_what_must_be_remembered() {
        let mut w = Window::default();
        // Arriving newest first: the order is by time, not arrival.
        for i in (1..=12).rev() {
            w.insert(rec(&format!("m{i}"), i * 10, 0, i % 2 == 0), true);
        }
        // Read up to 60 ms: m1, m3 (read) go; m2, m4 (unread) are kept.
        let retain = Retain {
            read_ms: 60,
            read_seq: 0,
            keep: None,
        };
        let mut forgot = Vec::new();
        let spilled = w.overflow(true, &retain, |m| forgot.push(m));
        let ids = |v: &[Record]| v.iter().map(|r| r.msg_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&spilled), ["m2", "m4"]);
        assert_eq!(forgot, ["m1", "m3"]);
        assert_eq!(w.records.len(), RECENT_KEPT as usize);
        assert_eq!(w.records[0].msg_id, "m5");
        assert_eq!(w.records.last().unwrap().msg_id, "m12");
        // Nothing read: everything that falls out is kept in the table.
        let mut w = Window::default();
        for i in 1..=10 {
            w.insert(rec(&format!("m{i}"), i, 0, false), true);
        }
        assert_eq!(
            ids(&w.overflow(true, &Retain::nothing(), |m| panic!("{m} forgotten"))),
            ["m1", "m2"]
        );
    }

    #[test]
    fn a_group_ranks_by_sequence_and_reads_like_the_table() {
        let mut w = Window::default();
        w.insert(rec("late", 1, 9, true), false);
        w.insert(rec("early", 100, 2, true), false);
        w.insert(rec("unplaced", 50, 0, true), false);
        assert_eq!(w.records[0].msg_id, "unplaced");
        assert_eq!(w.records[2].msg_id, "late");
        let mut marked = Vec::new();
        w.mark_read(false, ReadUpTo::Message { ms: 60, seq: 2 }, |r| {
            marked.push(r.msg_id.clone())
        });
        assert_eq!(marked, ["unplaced", "early"]);
        assert_eq!(w.unread(), 1);
        w.mark_read(false, ReadUpTo::All, |_| {});
        assert_eq!(w.unread(), 0);
    }
}
