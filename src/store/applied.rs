//! Remembered messages (de-duplication, and which count as unread): the
//! newest few in their conversation's row (see [`super::window`]), the rest
//! in the `applied_message` table. Every operation here sees both as one
//! set, so that callers never know where a record is.
//!
//! A window is read from its row on first use in a unit of work and kept in
//! the [`Writer`]; [`Writer::put`] writes it with the row, trimmed to its
//! size (what falls out goes to the table or, read and at or before the
//! read position, is forgotten); a unit's end writes those changed without
//! their row ([`Writer::flush_windows`]); a unit undone forgets them.

use rusqlite::{params, Connection, OptionalExtension};

use super::window::{Record, Retain, Window};
use super::{corrupt, ReadUpTo, Writer};
use crate::error::Result;
use crate::model::{ms_covering_second, Conversation};

/// Marking messages read walks the unread index of the conversation only
/// (see migration 4): all of them, or one range of read positions
/// (timestamps, or sequences as stored: one or two ranges of the signed
/// column, see [`Writer::mark_messages_read`]). The index is named in each:
/// without statistics, SQLite 3.54's planner walks the primary key instead.
pub(super) const MARK_READ_ALL: &str =
    "UPDATE applied_message INDEXED BY applied_unread SET unread = 0 WHERE conversation_id = ?1 AND unread = 1";
pub(super) const MARK_READ_RANGE: &str = concat!(
    "UPDATE applied_message INDEXED BY applied_unread SET unread = 0 WHERE conversation_id = ?1 AND unread = 1 AND ",
    read_position!(),
    " BETWEEN ?2 AND ?3 RETURNING seq, at_type, msg_id"
);
/// A group's messages without a sequence (read position 0 in the index:
/// a group's position is its sequence) up to a time. The index is named:
/// without statistics the planner would walk the primary key instead.
pub(super) const MARK_READ_UNPLACED: &str = concat!(
    "UPDATE applied_message INDEXED BY applied_unread SET unread = 0 WHERE conversation_id = ?1 AND unread = 1 AND ",
    read_position!(),
    " = 0 AND timestamp <= ?2 RETURNING seq, at_type, msg_id"
);
/// See [`Writer::forget_read`]: one-to-one messages and group messages
/// without a sequence by time, sequenced ones by sequence (signed here: the
/// sequences past 2^63 are not forgotten). The same test as
/// `Retain::forgets` for a window's records.
const FORGET_READ: &str = "DELETE FROM applied_message WHERE conversation_id = ?1 AND unread = 0 \
     AND msg_id IS NOT ?4 AND CASE WHEN substr(conversation_id, 1, 4) = 'c2c_' OR seq = 0 \
     THEN timestamp BETWEEN 0 AND ?2 ELSE seq BETWEEN 1 AND ?3 END RETURNING msg_id";
pub(super) const COUNT_UNREAD: &str =
    "SELECT COUNT(*) FROM applied_message INDEXED BY applied_unread WHERE conversation_id = ?1 AND unread = 1";
const READ_WINDOW: &str = "SELECT recent FROM conversation WHERE conversation_id = ?1";
const WRITE_WINDOW: &str = "UPDATE conversation SET recent = ?2 WHERE conversation_id = ?1";
const KEEP_IN_TABLE: &str =
    "INSERT OR REPLACE INTO applied_message (msg_id, conversation_id, timestamp, seq, unread, at_type) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// What marking messages read did: how many, and the sequence and @ type
/// of each that had added an @ entry (that entry goes with it).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Marked {
    pub count: u64,
    pub mentions: Vec<(u64, i32)>,
    /// The msgIDs marked (not for `ReadUpTo::All`, which marks them all).
    pub msg_ids: Vec<String>,
}

/// What is remembered of an applied message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Milliseconds.
    pub time_ms: i64,
    pub seq: u64,
    /// It counts as unread now.
    pub unread: bool,
    /// The @ type it added to its conversation's list (0: none).
    pub at_type: i32,
}

/// A message as remembered for de-duplication and unread counting.
pub struct AppliedMessage<'a> {
    pub msg_id: &'a str,
    pub conversation_id: &'a str,
    /// Milliseconds.
    pub time_ms: i64,
    pub seq: u64,
    pub unread: bool,
    /// The @ type it added to the conversation's list (0: none).
    pub at_type: i32,
}

impl AppliedMessage<'_> {
    fn record(&self) -> Record {
        Record {
            msg_id: self.msg_id.to_owned(),
            time_ms: self.time_ms,
            seq: self.seq,
            unread: self.unread,
            at_type: self.at_type,
        }
    }
}

fn is_c2c(id: &str) -> bool {
    id.starts_with("c2c_")
}

impl Writer<'_> {
    /// The window of a conversation, read from its row on first use (empty
    /// for a conversation not stored).
    fn window(&mut self, id: &str) -> Result<&mut Window> {
        if !self.windows.contains_key(id) {
            let bytes: Option<Option<Vec<u8>>> = self
                .conn
                .prepare_cached(READ_WINDOW)?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let window = match bytes.flatten() {
                None => Window::default(),
                // A damaged window is dropped, never read: its messages
                // are forgotten (one delivered again could count again),
                // the table is looked in, and the write rewrites it.
                Some(b) => Window::decode(&b).unwrap_or_else(|e| {
                    self.found.push(super::checksum::damaged(
                        id,
                        &format!("its recent window {e}; dropped"),
                    ));
                    Window {
                        spilled: true,
                        dirty: true,
                        ..Window::default()
                    }
                }),
            };
            self.windows.insert(id.to_owned(), window);
        }
        self.windows.get_mut(id).ok_or_else(|| {
            crate::error::Error::internal("internal error: a window read is missing")
        })
    }

    /// The window of `c` to write with its row, trimmed: `None` when it
    /// did not change (the row keeps what it has).
    pub(super) fn window_for_row(&mut self, c: &Conversation) -> Result<Option<bool>> {
        // An import reads no window: no key to hash per row.
        if self.windows.is_empty() {
            return Ok(None);
        }
        let Some(window) = self.windows.get_mut(c.id.as_str()) else {
            return Ok(None);
        };
        if !window.dirty {
            return Ok(None);
        }
        let retain = Retain {
            read_ms: c.read_ms,
            read_seq: c.group_read_sequence,
            keep: c.last_message.as_ref().map(|m| m.msg_id.as_str()),
        };
        let id = c.id.as_str();
        let mut forgot = Vec::new();
        let spilled = window.overflow(is_c2c(id), &retain, |m| forgot.push(m));
        window.spilled |= !spilled.is_empty();
        window.dirty = false;
        let any = window.encode(&mut self.blob);
        keep_in_table(self.conn, id, &spilled)?;
        for m in forgot {
            self.note_forgotten(id, m);
        }
        Ok(Some(any))
    }

    /// Writes the windows that changed without their row being written
    /// (at the end of a unit of work), and forgets every window read: the
    /// next unit reads them again from the rows.
    pub fn flush_windows(&mut self) -> Result<()> {
        for (id, window) in &mut self.windows {
            if !window.dirty {
                continue;
            }
            // The row is not at hand: nothing is forgotten here.
            let spilled = window.overflow(is_c2c(id), &Retain::nothing(), |_| {});
            window.spilled |= !spilled.is_empty();
            keep_in_table(self.conn, id, &spilled)?;
            let bytes = window
                .encode(&mut self.blob)
                .then_some(self.blob.as_slice());
            self.conn
                .prepare_cached(WRITE_WINDOW)?
                .execute(params![id, bytes])?;
        }
        self.windows.clear();
        Ok(())
    }

    /// Whether any message is remembered in the table (a fresh store's
    /// import then has nothing to forget there; windows go with the rows
    /// an import replaces).
    pub fn any_applied_message(&self) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM applied_message LIMIT 1")?
            .exists([])?)
    }

    /// Forgets what is remembered of a conversation's messages (an import
    /// replaced it).
    pub fn forget_messages(&mut self, id: &str) -> Result<()> {
        let window = self.window(id)?;
        window.clear();
        if !std::mem::take(&mut window.spilled) {
            return Ok(());
        }
        window.dirty = true;
        self.conn
            .prepare_cached("DELETE FROM applied_message WHERE conversation_id = ?1")?
            .execute([id])?;
        Ok(())
    }

    /// After an authoritative unread count `n` (sync): the newest `n`
    /// remembered unread messages stay unread, older ones count as read
    /// (newest by time, then sequence; in a tie, the later arrival in the
    /// window is newer). Returns the sequence and @ type of each message
    /// that stopped counting with an @ entry (its entry goes too).
    pub fn keep_newest_unread(&mut self, id: &str, n: u64) -> Result<Vec<(u64, i32)>> {
        struct Unread {
            time_ms: i64,
            seq: i64,
            in_table: bool,
            at_type: i32,
            msg_id: String,
        }
        let conn = self.conn;
        let table: Vec<Unread> = if self.window(id)?.spilled {
            conn.prepare_cached(
                "SELECT timestamp, seq, msg_id, at_type FROM applied_message \
                 WHERE conversation_id = ?1 AND unread = 1",
            )?
            .query_map([id], |r| {
                Ok(Unread {
                    time_ms: r.get(0)?,
                    seq: r.get(1)?,
                    in_table: true,
                    msg_id: r.get(2)?,
                    at_type: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?
        } else {
            Vec::new()
        };
        let window = self.window(id)?;
        // Latest arrival first: the window's newest, then its older ones,
        // then the table's (they fell out of the window before), so that
        // the stable sort keeps the later arrival of a tie.
        let mut unread: Vec<Unread> = window
            .records
            .iter()
            .rev()
            .filter(|r| r.unread)
            .map(|r| Unread {
                time_ms: r.time_ms,
                seq: r.seq as i64,
                in_table: false,
                at_type: r.at_type,
                msg_id: r.msg_id.clone(),
            })
            .collect();
        unread.extend(table);
        unread.sort_by_key(|u| std::cmp::Reverse((u.time_ms, u.seq)));
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let mut stmt = conn.prepare_cached(
            "UPDATE applied_message SET unread = 0 WHERE conversation_id = ?1 AND msg_id = ?2",
        )?;
        let mut mentions = Vec::new();
        for u in unread.iter().skip(n) {
            if u.in_table {
                stmt.execute([id, &u.msg_id])?;
            } else if let Some(r) = window.find_mut(&u.msg_id) {
                r.unread = false;
                window.dirty = true;
            }
            if u.at_type != 0 {
                mentions.push((u.seq as u64, u.at_type));
            }
        }
        Ok(mentions)
    }

    /// A remembered message's position changed (a status update brought the
    /// server's time or sequence).
    pub fn move_message(&mut self, m: &AppliedMessage) -> Result<()> {
        let c2c = is_c2c(m.conversation_id);
        let window = self.window(m.conversation_id)?;
        if window.reposition(m.msg_id, m.time_ms, m.seq, c2c) || !window.spilled {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "UPDATE applied_message SET timestamp = ?3, seq = ?4 \
                 WHERE conversation_id = ?1 AND msg_id = ?2",
            )?
            .execute(params![
                m.conversation_id,
                m.msg_id,
                m.time_ms,
                m.seq as i64
            ])?;
        Ok(())
    }

    /// Remembers an applied message that is not remembered yet (see
    /// [`Writer::applied`]), in its conversation's window.
    pub fn record_message(&mut self, m: &AppliedMessage) -> Result<()> {
        let c2c = is_c2c(m.conversation_id);
        self.window(m.conversation_id)?.insert(m.record(), c2c);
        Ok(())
    }

    /// Remembers a message as read unless it is remembered already (a
    /// sync's last message: applied later, it is not counted again).
    pub fn remember_message(&mut self, m: &AppliedMessage) -> Result<()> {
        if self.applied(m.conversation_id, m.msg_id)?.is_some() {
            return Ok(());
        }
        let c2c = is_c2c(m.conversation_id);
        let record = Record {
            unread: false,
            at_type: 0,
            ..m.record()
        };
        self.window(m.conversation_id)?.insert(record, c2c);
        Ok(())
    }

    /// Marks a conversation's remembered messages read up to a position
    /// (all of them for `ReadUpTo::All`); returns how many it marked. In
    /// the table it walks only the unread ones at or before the position
    /// (an index holds unread messages apart), never the whole history.
    pub fn mark_messages_read(&mut self, id: &str, upto: ReadUpTo) -> Result<Marked> {
        let tx = self.conn;
        let mut marked = Marked::default();
        let c2c = is_c2c(id);
        let window = self.window(id)?;
        window.mark_read(c2c, upto, |r| {
            marked.count += 1;
            if upto != ReadUpTo::All {
                if r.at_type != 0 {
                    marked.mentions.push((r.seq, r.at_type));
                }
                marked.msg_ids.push(r.msg_id.clone());
            }
        });
        if !window.spilled {
            return Ok(marked);
        }
        match upto {
            ReadUpTo::All => {
                marked.count += tx.prepare_cached(MARK_READ_ALL)?.execute([id])? as u64
            }
            ReadUpTo::Timestamp(t) => {
                let ms = ms_covering_second(t.max(0) as u64) as i64;
                mark_rows(tx, MARK_READ_RANGE, params![id, i64::MIN, ms], &mut marked)?
            }
            ReadUpTo::Sequence(s) => mark_sequences(tx, id, 0, s, &mut marked)?,
            ReadUpTo::Message { ms, .. } if c2c => {
                mark_rows(tx, MARK_READ_RANGE, params![id, i64::MIN, ms], &mut marked)?
            }
            ReadUpTo::Message { ms, seq } => {
                if seq > 0 {
                    mark_sequences(tx, id, 1, seq, &mut marked)?;
                }
                mark_rows(tx, MARK_READ_UNPLACED, params![id, ms], &mut marked)?
            }
        }
        Ok(marked)
    }

    /// A message applied to this conversation before: its position
    /// (timestamp, seq), or `None`.
    pub fn applied(&mut self, conversation_id: &str, msg_id: &str) -> Result<Option<Applied>> {
        let window = self.window(conversation_id)?;
        if let Some(r) = window.find(msg_id) {
            return Ok(Some(Applied {
                time_ms: r.time_ms,
                seq: r.seq,
                unread: r.unread,
                at_type: r.at_type,
            }));
        }
        if !window.spilled {
            return Ok(None);
        }
        Ok(self
            .conn
            .prepare_cached(
                "SELECT timestamp, seq, unread, at_type FROM applied_message WHERE conversation_id = ?1 AND msg_id = ?2",
            )?
            .query_row([conversation_id, msg_id], |r| {
                Ok(Applied {
                    time_ms: r.get(0)?,
                    seq: r.get::<_, i64>(1)? as u64,
                    unread: r.get(2)?,
                    at_type: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// Forgets the remembered messages of a conversation, in the table,
    /// that are at or before its read position (`read_ms`, and `read_seq`
    /// for sequenced group messages), but `keep` (its last message): they
    /// are read, and coming again they stay read, so forgetting them
    /// changes no count, order or last message. The newest
    /// [`super::RECENT_KEPT`] stay in the window. It walks the
    /// conversation's messages in the table, which this keeps few.
    pub fn forget_read(
        &mut self,
        id: &str,
        read_ms: u64,
        read_seq: u64,
        keep: Option<&str>,
    ) -> Result<u64> {
        if !self.window(id)?.spilled {
            return Ok(0);
        }
        let read_ms = if read_ms == 0 {
            -1
        } else {
            read_ms.min(i64::MAX as u64) as i64
        };
        let gone: Vec<String> = self
            .conn
            .prepare_cached(FORGET_READ)?
            .query_map(
                params![id, read_ms, read_seq.min(i64::MAX as u64) as i64, keep],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let n = gone.len();
        for m in gone {
            self.note_forgotten(id, m);
        }
        // All gone: later messages need not look in the table.
        let left = self
            .conn
            .prepare_cached("SELECT 1 FROM applied_message WHERE conversation_id = ?1 LIMIT 1")?
            .exists([id])?;
        if !left {
            let window = self.window(id)?;
            window.spilled = false;
            window.dirty = true;
        }
        Ok(n as u64)
    }

    /// Forgets just these messages, just read (see [`Writer::forget_read`];
    /// used while many unread messages remain after the read position, so
    /// that a read costs what it marks, not the backlog), but `keep`.
    pub fn forget_marked(
        &mut self,
        id: &str,
        msg_ids: &[String],
        keep: Option<&str>,
    ) -> Result<()> {
        let conn = self.conn;
        let window = self.window(id)?;
        let mut stmt = conn.prepare_cached(
            "DELETE FROM applied_message WHERE conversation_id = ?1 AND msg_id = ?2",
        )?;
        let mut gone = Vec::new();
        for msg_id in msg_ids.iter().filter(|m| Some(m.as_str()) != keep) {
            if window.remove(msg_id) || (window.spilled && stmt.execute(params![id, msg_id])? > 0) {
                gone.push(msg_id.clone());
            }
        }
        drop(stmt);
        for m in gone {
            self.note_forgotten(id, m);
        }
        Ok(())
    }

    /// A remembered message stops counting as unread (it was retracted).
    pub fn forget_unread(&mut self, conversation_id: &str, msg_id: &str) -> Result<()> {
        let window = self.window(conversation_id)?;
        if let Some(r) = window.find_mut(msg_id) {
            r.unread = false;
            window.dirty = true;
            return Ok(());
        }
        if !window.spilled {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "UPDATE applied_message SET unread = 0 WHERE conversation_id = ?1 AND msg_id = ?2",
            )?
            .execute([conversation_id, msg_id])?;
        Ok(())
    }

    /// Remembered messages of a conversation that are unread.
    pub fn unread_messages(&mut self, id: &str) -> Result<u64> {
        let window = self.window(id)?;
        let in_window = window.unread();
        if !window.spilled {
            return Ok(in_window);
        }
        let n: i64 = self
            .conn
            .prepare_cached(COUNT_UNREAD)?
            .query_row([id], |r| r.get(0))?;
        Ok(in_window + n as u64)
    }
}

/// Keeps records that fell out of a window in the table.
fn keep_in_table(conn: &Connection, id: &str, records: &[Record]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(KEEP_IN_TABLE)?;
    for r in records {
        stmt.execute(params![
            r.msg_id,
            id,
            r.time_ms,
            r.seq as i64,
            r.unread,
            r.at_type
        ])?;
    }
    Ok(())
}

/// Runs a marking statement (`... RETURNING seq, at_type, msg_id`), adding what it
/// marked to `marked`.
fn mark_rows(
    tx: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    marked: &mut Marked,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut rows = stmt.query(args)?;
    while let Some(r) = rows.next()? {
        marked.count += 1;
        let at_type: i32 = r.get(1)?;
        if at_type != 0 {
            marked.mentions.push((r.get::<_, i64>(0)? as u64, at_type));
        }
        marked.msg_ids.push(r.get(2)?);
    }
    Ok(())
}

/// Marks the messages of sequence `from` up to `s`: sequences are u64
/// stored bit-cast, so that is one or two ranges of the signed column.
fn mark_sequences(tx: &Connection, id: &str, from: i64, s: u64, marked: &mut Marked) -> Result<()> {
    let upto = s.min(i64::MAX as u64) as i64;
    mark_rows(tx, MARK_READ_RANGE, params![id, from, upto], marked)?;
    if s > i64::MAX as u64 {
        mark_rows(tx, MARK_READ_RANGE, params![id, i64::MIN, s as i64], marked)?;
    }
    Ok(())
}

/// How many messages a store remembers, windows and table together: of one
/// conversation, or of all (`None`). For tests and measurements, on a
/// connection of their own.
pub fn count_remembered(conn: &Connection, id: Option<&str>) -> Result<u64> {
    let mut n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM applied_message WHERE ?1 IS NULL OR conversation_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(
        "SELECT recent FROM conversation WHERE recent IS NOT NULL \
         AND (?1 IS NULL OR conversation_id = ?1)",
    )?;
    let mut rows = stmt.query([id])?;
    while let Some(r) = rows.next()? {
        let bytes: Vec<u8> = r.get(0)?;
        let window = Window::decode(&bytes).map_err(|e| corrupt("recent", e))?;
        n += window.records.len() as i64;
    }
    Ok(n as u64)
}
