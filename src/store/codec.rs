//! The row codec: a conversation to its columns and back (lists as JSON
//! text, u64 values bit-cast), and a corrupt column named.

use std::fmt::{self, Write};

use rusqlite::Row;

use crate::error::{Error, ErrorCode, Result};
use crate::json::parse_stored_message;
use crate::model::{Conversation, ConversationId, GroupAtInfo, Text};

/// The list columns of `c`, as JSON text in the reused buffer: the
/// group @ entries, the marks and the conversation groups, in the
/// returned ranges of it.
pub(super) fn encode_lists<'b>(text: &'b mut String, c: &Conversation) -> Lists<'b> {
    text.clear();
    let at_end = encode_list(text, c.group_at_info_list.iter(), |out, a| {
        write!(out, "[{},{}]", a.seq, a.at_type)
    });
    let marks_end = encode_list(text, c.mark_list.iter(), |out, m| write!(out, "{m}"));
    let groups_end = encode_list(text, c.conversation_group_list.iter(), |out, g| {
        out.push_str(&serde_json::to_string(g.as_str()).map_err(|_| fmt::Error)?);
        Ok(())
    });
    Lists {
        at: &text[..at_end],
        marks: &text[at_end..marks_end],
        groups: &text[marks_end..groups_end],
    }
}

/// The list columns of one conversation, encoded (see [`encode_lists`]).
pub(super) struct Lists<'a> {
    pub(super) at: &'a str,
    pub(super) marks: &'a str,
    pub(super) groups: &'a str,
}

/// Up to where a conversation is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadUpTo {
    All,
    /// A whole second (one-to-one conversations, Tencent's position).
    Timestamp(i64),
    /// A sequence (groups).
    Sequence(u64),
    /// One message, by its place: its time (milliseconds) and sequence.
    Message {
        ms: i64,
        seq: u64,
    },
}

/// order_key with its top bit flipped: compares as i64 the way the u64 does.
pub fn sort_order(order_key: u64) -> i64 {
    (order_key ^ (1 << 63)) as i64
}

pub fn order_key_of(sort_order: i64) -> u64 {
    (sort_order as u64) ^ (1 << 63)
}

/// Appends `[a,b,...]` to `out`; returns where it ends.
pub(super) fn encode_list<T>(
    out: &mut String,
    items: impl Iterator<Item = T>,
    mut item: impl FnMut(&mut String, T) -> fmt::Result,
) -> usize {
    out.push('[');
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = item(out, v);
    }
    out.push(']');
    out.len()
}

pub(super) fn corrupt(column: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::StoreDamaged,
        format!("stored column '{column}' is damaged: {why}"),
    )
}

pub(super) fn column_json<T: serde::de::DeserializeOwned>(
    row: &Row,
    idx: usize,
    name: &str,
) -> Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| corrupt(name, e))
}

pub(super) fn column_text(row: &Row, idx: usize, name: &str) -> Result<Text> {
    let s: String = row.get(idx)?;
    Text::new(&s).map_err(|e| corrupt(name, e.message()))
}

/// Reads one row. The outer result is SQLite's; the inner one is ours (a row
/// that does not decode is reported as a database error, never a panic).
/// A row of `SELECT columns!(), checksum`, verified, then decoded.
pub(super) fn read_row(row: &Row) -> rusqlite::Result<Result<Conversation>> {
    Ok(super::checksum::verify_row(row, ROW_COLUMNS).and_then(|()| decode_row(row)))
}

/// How many columns `columns!()` names (the checksum follows them).
pub(super) const ROW_COLUMNS: usize = 20;

pub(super) fn decode_row(row: &Row) -> Result<Conversation> {
    let id: String = row.get(0)?;
    let id = ConversationId::parse(&id).map_err(|e| corrupt("conversation_id", e.message()))?;
    let last_message = match row.get::<_, Option<String>>(7)? {
        None => None,
        Some(json) => {
            Some(parse_stored_message(&json).map_err(|e| corrupt("last_message", e.message()))?)
        }
    };
    let at: Vec<(u64, i32)> = column_json(row, 8, "group_at_info")?;
    let groups: Vec<String> = column_json(row, 15, "conversation_groups")?;
    Ok(Conversation {
        id,
        group_type: column_text(row, 2, "group_type")?,
        show_name: column_text(row, 3, "show_name")?,
        face_url: column_text(row, 4, "face_url")?,
        unread_count: row.get::<_, i64>(5)? as u64,
        recv_opt: row.get(6)?,
        last_message,
        group_at_info_list: at
            .into_iter()
            .map(|(seq, at_type)| GroupAtInfo { seq, at_type })
            .collect(),
        draft_text: column_text(row, 9, "draft_text")?,
        draft_timestamp: row.get::<_, i64>(10)? as u64,
        is_pinned: row.get(11)?,
        order_key: row.get::<_, i64>(12)? as u64,
        mark_list: column_json::<Vec<u64>>(row, 13, "mark_list")?.into(),
        custom_data: column_text(row, 14, "custom_data")?,
        conversation_group_list: groups
            .iter()
            .map(|g| Text::new(g).map_err(|e| corrupt("conversation_groups", e.message())))
            .collect::<Result<_>>()?,
        c2c_read_timestamp: row.get::<_, i64>(16)? as u64,
        group_read_sequence: row.get::<_, i64>(17)? as u64,
        read_ms: row.get::<_, i64>(19)?.max(0) as u64,
    })
}
