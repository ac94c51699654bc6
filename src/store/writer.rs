//! The writer: the rows of one transaction (see `Store::write`), its
//! units of work and the order index around a first import.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::{
    checksum, encode_lists, load_with, query, sort_order, window, ReadUpTo, CREATE_ORDER_INDEX,
    ROW_COLUMNS,
};
use crate::error::{Error, Result};
use crate::model::{Conversation, Kept};

/// An upsert that updates a stored row in place (a REPLACE would delete and
/// re-insert it, touching the order index even when the order is the same).
pub(super) const UPSERT: &str = concat!(
    "INSERT INTO conversation (",
    columns!(),
    ", recent, checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?23) \
     ON CONFLICT (conversation_id) DO UPDATE SET conv_type = excluded.conv_type, \
     group_type = excluded.group_type, show_name = excluded.show_name, face_url = excluded.face_url, \
     unread_count = excluded.unread_count, recv_opt = excluded.recv_opt, \
     last_message = excluded.last_message, group_at_info = excluded.group_at_info, \
     draft_text = excluded.draft_text, draft_timestamp = excluded.draft_timestamp, \
     is_pinned = excluded.is_pinned, order_key = excluded.order_key, mark_list = excluded.mark_list, \
     custom_data = excluded.custom_data, conversation_groups = excluded.conversation_groups, \
     c2c_read_timestamp = excluded.c2c_read_timestamp, \
     group_read_sequence = excluded.group_read_sequence, sort_order = excluded.sort_order, \
     read_ms = excluded.read_ms, checksum = excluded.checksum, \
     recent = CASE WHEN ?22 THEN excluded.recent ELSE conversation.recent END"
);

/// An insert that leaves a stored row alone: its change count tells an
/// import whether the conversation was new (see [`Writer::insert_or_read`]).
pub(super) const INSERT_NEW: &str = concat!(
    "INSERT INTO conversation (",
    columns!(),
    ", checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21) \
     ON CONFLICT (conversation_id) DO NOTHING"
);

/// What a replaced row keeps (see [`Kept`]): the whole row, verified.
pub(super) const READ_KEPT: &str = query::SELECT_ONE;

/// Writes conversations inside one transaction (see [`super::Store::write`]).
pub struct Writer<'t> {
    pub(super) conn: &'t Connection,
    pub(super) stmt: rusqlite::CachedStatement<'t>,
    /// The import's insert, prepared at its first row and held for the
    /// rest: taking it from the statement cache row by row cost an import
    /// a tenth of its writer's time (measured).
    pub(super) insert_new: Option<rusqlite::CachedStatement<'t>>,
    /// Reused for the list columns, which are stored as JSON text.
    pub(super) buffer: String,
    /// The recent windows read in this unit of work (see `applied`).
    pub(super) windows: HashMap<String, window::Window>,
    /// Reused for an encoded window.
    pub(super) blob: Vec<u8>,
    /// msgIDs this transaction forgot (conversation, msgID), written into
    /// their filters once, as it commits (see `forgotten`).
    pub(super) forgotten: Vec<(String, String)>,
    /// How many of `forgotten` were there when the current unit began: a
    /// unit undone forgets its own.
    pub(super) forgotten_mark: usize,
    /// Damaged conversations this transaction replaced whole.
    pub repaired: Vec<String>,
    /// Damage the transaction found and passed over (a recent window).
    pub(super) found: Vec<Error>,
}

impl<'t> Writer<'t> {
    /// Writes one conversation, replacing a stored one of the same ID.
    /// Its recent window, when read and changed, is written with it.
    pub fn put(&mut self, c: &Conversation) -> Result<()> {
        let window = self.window_for_row(c)?;
        let lists = encode_lists(&mut self.buffer, c);
        let sum = checksum::of_params(row_params!(c, lists))?;
        let bytes = (window == Some(true)).then_some(self.blob.as_slice());
        self.stmt
            .execute(row_params!(c, lists, bytes, window.is_some(), sum))?;
        Ok(())
    }

    /// Writes a conversation that replaces whatever was stored under its ID
    /// (an import): its recent window starts empty.
    pub fn put_replacing(&mut self, c: &Conversation) -> Result<()> {
        if !self.windows.is_empty() {
            self.windows.remove(c.id.as_str());
        }
        let lists = encode_lists(&mut self.buffer, c);
        let sum = checksum::of_params(row_params!(c, lists))?;
        let none: Option<&[u8]> = None;
        self.stmt.execute(row_params!(c, lists, none, true, sum))?;
        Ok(())
    }

    /// Writes a conversation that is not stored (Ok(None)); a stored one is
    /// left as it is and what it keeps when replaced is returned instead
    /// (Ok(Some)): an import that did not read what it replaces learns it
    /// here, at the cost of a second statement only for conversations that
    /// existed (a first restore pays nothing).
    pub fn insert_or_read(&mut self, c: &Conversation) -> Result<Option<Kept>> {
        let lists = encode_lists(&mut self.buffer, c);
        let sum = checksum::of_params(row_params!(c, lists))?;
        let insert = match &mut self.insert_new {
            Some(stmt) => stmt,
            empty => empty.insert(self.conn.prepare_cached(INSERT_NEW)?),
        };
        let inserted = insert.execute(row_params!(c, lists, sum))?;
        if inserted == 1 {
            return Ok(None);
        }
        // A damaged row keeps nothing: it is replaced whole.
        let kept = self
            .conn
            .prepare_cached(READ_KEPT)?
            .query_row([c.id.as_str()], |r| {
                Ok(
                    checksum::verify_row(r, ROW_COLUMNS).map(|()| -> rusqlite::Result<Kept> {
                        Ok(Kept {
                            c2c_read_timestamp: r.get::<_, i64>(16)? as u64,
                            group_read_sequence: r.get::<_, i64>(17)? as u64,
                            order_key: r.get::<_, i64>(12)? as u64,
                            read_ms: r.get::<_, i64>(19)?.max(0) as u64,
                            unread_part: crate::model::unread_part(
                                r.get::<_, i64>(5)?.max(0) as u64,
                                r.get(6)?,
                            ),
                        })
                    }),
                )
            })?;
        match kept {
            Ok(kept) => Ok(Some(kept?)),
            Err(e) => {
                crate::log::warn(format_args!("{}: replaced whole", e.message()));
                self.repaired.push(c.id.as_str().to_string());
                self.put_replacing(c)?;
                Ok(None)
            }
        }
    }

    /// Starts a nested unit inside the transaction: undone alone by
    /// `rollback_unit`, kept by `release_unit`. Writes queued together share
    /// one transaction, each in a unit of its own, so that each stays all or
    /// nothing.
    pub fn begin_unit(&mut self) -> Result<()> {
        self.forgotten_mark = self.forgotten.len();
        self.conn.prepare_cached("SAVEPOINT unit")?.execute([])?;
        Ok(())
    }

    pub fn release_unit(&mut self) -> Result<()> {
        self.flush_windows()?;
        self.conn.prepare_cached("RELEASE unit")?.execute([])?;
        Ok(())
    }

    pub fn rollback_unit(&mut self) -> Result<()> {
        // What the unit changed in its windows is undone with its rows.
        self.windows.clear();
        self.forgotten.truncate(self.forgotten_mark);
        self.conn.prepare_cached("ROLLBACK TO unit")?.execute([])?;
        self.release_unit()
    }

    /// Records the last order tick handed out.
    pub fn set_order_tick(&mut self, tick: u64) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('order_tick', ?1)")?
            .execute([tick as i64])?;
        Ok(())
    }

    /// Whether no conversation is stored (a first import then builds the
    /// order index once, after its rows: see [`Writer::drop_order_index`]).
    pub fn no_conversations(&self) -> Result<bool> {
        Ok(!self
            .conn
            .prepare_cached("SELECT 1 FROM conversation LIMIT 1")?
            .exists([])?)
    }

    /// Drops the order index, which [`Writer::create_order_index`] builds
    /// again later in the same transaction (a failure in between undoes
    /// both). Filling an empty table, one sort at the end costs less than
    /// an index entry per row.
    pub fn drop_order_index(&mut self) -> Result<()> {
        self.conn.execute_batch("DROP INDEX conversation_order")?;
        Ok(())
    }

    pub fn create_order_index(&mut self) -> Result<()> {
        self.conn.execute_batch(CREATE_ORDER_INDEX)?;
        Ok(())
    }

    /// Every stored conversation's ID (a whole-list sync compares them
    /// with the server's list).
    pub fn conversation_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT conversation_id FROM conversation")?;
        let ids = stmt.query_map([], |row| row.get(0))?;
        Ok(ids.collect::<rusqlite::Result<Vec<String>>>()?)
    }

    /// Deletes a conversation and what is kept about its messages.
    pub fn delete(&mut self, id: &str) -> Result<()> {
        self.windows.remove(id);
        let tx = self.conn;
        tx.prepare_cached("DELETE FROM conversation WHERE conversation_id = ?1")?
            .execute([id])?;
        tx.prepare_cached("DELETE FROM applied_message WHERE conversation_id = ?1")?
            .execute([id])?;
        self.drop_forgotten(id)
    }

    /// Creates or moves a conversation group.
    pub fn put_group(&mut self, name: &str, position: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO conversation_group (name, position) VALUES (?1, ?2)",
            )?
            .execute(params![name, position])?;
        Ok(())
    }

    pub fn delete_group(&mut self, name: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM conversation_group WHERE name = ?1")?
            .execute([name])?;
        Ok(())
    }

    /// Records a user's or group's display name and avatar.
    pub fn put_profile(&mut self, id: &str, name: &str, face_url: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO profile (conversation_id, name, face_url) VALUES (?1, ?2, ?3)")?
            .execute(params![id, name, face_url])?;
        Ok(())
    }

    pub fn load(&self, id: &str) -> Result<Option<Conversation>> {
        load_with(self.conn, id)
    }

    /// IDs of the stored conversations of one type or all (`None`) that
    /// marking read up to `upto` would change: those with unread messages
    /// or @ mentions, and those whose read position is behind it (for
    /// `ReadUpTo::All`, behind their last message). Positions are u64
    /// stored bit-cast, so a negative one is 2^63 or more; where SQL cannot
    /// be exact (a sequence past 2^63 in the JSON) it errs towards listing
    /// a conversation, which the clear then leaves as it is.
    pub fn ids_to_mark_read(&self, kind: Option<i32>, upto: ReadUpTo) -> Result<Vec<String>> {
        let (sql, position) = match upto {
            ReadUpTo::All => (
                "SELECT conversation_id FROM conversation WHERE (?1 IS NULL OR conv_type = ?1) \
                 AND (unread_count <> 0 OR group_at_info <> '[]' OR (last_message IS NOT NULL AND ( \
                   read_ms < COALESCE(json_extract(last_message, '$.timestampMs'), \
                                      json_extract(last_message, '$.timestamp') * 1000) \
                   OR (conv_type = 2 AND COALESCE(json_extract(last_message, '$.seq'), 0) <> 0 \
                       AND (group_read_sequence < 0 OR group_read_sequence < json_extract(last_message, '$.seq'))))))",
                None,
            ),
            ReadUpTo::Timestamp(t) => (
                "SELECT conversation_id FROM conversation WHERE (?1 IS NULL OR conv_type = ?1) \
                 AND (unread_count <> 0 OR group_at_info <> '[]' \
                   OR (c2c_read_timestamp >= 0 AND c2c_read_timestamp < ?2) \
                   OR (conv_type = 1 AND ?2 > 0 AND read_ms < CASE WHEN ?2 >= 9223372036854775 \
                     THEN 9223372036854775807 ELSE ?2 * 1000 + 999 END))",
                Some(t),
            ),
            ReadUpTo::Sequence(s) if s <= i64::MAX as u64 => (
                "SELECT conversation_id FROM conversation WHERE (?1 IS NULL OR conv_type = ?1) \
                 AND (unread_count <> 0 OR group_at_info <> '[]' \
                   OR (group_read_sequence >= 0 AND group_read_sequence < ?2))",
                Some(s as i64),
            ),
            ReadUpTo::Sequence(s) => (
                "SELECT conversation_id FROM conversation WHERE (?1 IS NULL OR conv_type = ?1) \
                 AND (unread_count <> 0 OR group_at_info <> '[]' \
                   OR group_read_sequence >= 0 OR group_read_sequence < ?2)",
                Some(s as i64),
            ),
            // One message is read in one conversation, never in a scope.
            ReadUpTo::Message { .. } => {
                return Err(Error::internal("a message position names one conversation"))
            }
        };
        let mut stmt = self.conn.prepare_cached(sql)?;
        // Clearing everything compares with each conversation's own last
        // message: its statement takes no position.
        let ids = match position {
            Some(p) => stmt
                .query_map(params![kind, p], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?,
            None => stmt
                .query_map(params![kind], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?,
        };
        Ok(ids)
    }

    /// IDs of the conversations in a conversation group.
    pub fn group_members(&self, name: &str) -> Result<Vec<String>> {
        let quoted = serde_json::to_string(name).map_err(|e| Error::internal(e.to_string()))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT conversation_id FROM conversation \
             WHERE instr(',' || substr(conversation_groups, 2, length(conversation_groups) - 2) || ',', ',' || ?1 || ',') > 0",
        )?;
        let rows = stmt.query_map([quoted], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Conversation groups in creation order, with their positions.
    pub fn groups(&self) -> Result<Vec<(String, i64)>> {
        query::groups_with(self.conn)
    }

    /// The newest activity time (seconds) any stored conversation is
    /// placed by: the high 32 bits of the largest order key (two index
    /// seeks, pinned and not). 0 for an empty store.
    pub fn newest_activity(&self) -> Result<u64> {
        let mut newest = 0;
        for pinned in [0, 1] {
            let top: Option<i64> = self
                .conn
                .prepare_cached("SELECT MAX(sort_order) FROM conversation WHERE is_pinned = ?1")?
                .query_row([pinned], |r| r.get(0))?;
            if let Some(sort) = top {
                // sort_order is the key with its top bit flipped.
                let key = (sort as u64) ^ (1 << 63);
                newest = newest.max(key >> 32);
            }
        }
        Ok(newest)
    }

    pub fn pinned_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM conversation WHERE is_pinned = 1")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }
}
