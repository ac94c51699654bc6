//! Queries on any connection to the store: one conversation, ordered
//! pages by cursor, and the read-only connection beside the writer.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::checksum::{damaged, damaged_id, unreadable_entry};
use super::{read_row, PAGE_AFTER, PAGE_AFTER_ALL, PAGE_FIRST, PAGE_FIRST_ALL};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Conversation, ListFilter};

pub(super) const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    ", checksum FROM conversation WHERE conversation_id = ?1"
);

/// [`super::Store::page`] on any connection to the store.
pub(super) fn page_with(
    conn: &Connection,
    filter: &ListFilter,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<Vec<Cursor>> {
    // Two statements, so that the cursor is a plain range on the index
    // (an `?7 IS NULL OR ...` would make SQLite scan from the top).
    let read = |r: &Row| {
        Ok(Cursor {
            id: r.get(0)?,
            pinned: r.get(1)?,
            sort_order: r.get(2)?,
        })
    };
    if filter.is_empty() {
        let rows = match after {
            None => conn
                .prepare_cached(PAGE_FIRST_ALL)?
                .query_map([limit as i64], read)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unreadable_entry)?,
            Some(c) => conn
                .prepare_cached(PAGE_AFTER_ALL)?
                .query_map(
                    params![limit as i64, c.pinned, c.sort_order, c.id.as_str()],
                    read,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unreadable_entry)?,
        };
        return Ok(rows);
    }
    let (kind, mark, group, unread, at) = filter_params(filter)?;
    let rows = match after {
        None => {
            let mut stmt = conn.prepare_cached(PAGE_FIRST)?;
            let rows =
                stmt.query_map(params![kind, mark, group, unread, at, limit as i64], read)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unreadable_entry)?
        }
        Some(c) => {
            let mut stmt = conn.prepare_cached(PAGE_AFTER)?;
            let rows = stmt.query_map(
                params![
                    kind,
                    mark,
                    group,
                    unread,
                    at,
                    limit as i64,
                    c.pinned,
                    c.sort_order,
                    c.id.as_str()
                ],
                read,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unreadable_entry)?
        }
    };
    Ok(rows)
}

/// Conversation groups (name, position) in creation order.
pub(super) fn groups_with(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, position FROM conversation_group ORDER BY position")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One conversation, verified: its row's checksum, and that the row is the
/// one asked for (a damaged B-tree can lead a search to another).
pub(super) fn load_with(conn: &Connection, id: &str) -> Result<Option<Conversation>> {
    let mut stmt = conn.prepare_cached(SELECT_ONE)?;
    let row = stmt.query_row([id], read_row).optional()?;
    let Some(c) = row.transpose().map_err(|e| as_damage_of(id, e))? else {
        confirm_absent(conn, id)?;
        return Ok(None);
    };
    if c.id.as_str() != id {
        return Err(damaged(
            id,
            &format!("a search for it found the row of {}", c.id.as_str()),
        ));
    }
    Ok(Some(c))
}

/// Rows on each side of where a missing ID would be that a miss checks.
const AROUND: usize = 16;

const BEFORE: &str = concat!(
    "SELECT ",
    columns!(),
    ", checksum FROM conversation WHERE conversation_id < ?1 ORDER BY conversation_id DESC LIMIT 16"
);
const AFTER: &str = concat!(
    "SELECT ",
    columns!(),
    ", checksum FROM conversation WHERE conversation_id > ?1 ORDER BY conversation_id LIMIT 16"
);

/// A miss is answered as "not stored" only when the rows around where `id`
/// would be are intact and in order around it: damage to a row's key, or
/// to a page that leads the search astray, would otherwise pass a stored
/// conversation off as not stored.
fn confirm_absent(conn: &Connection, id: &str) -> Result<()> {
    for (sql, before) in [(BEFORE, true), (AFTER, false)] {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query([id]).map_err(|e| as_damage_of(id, e.into()))?;
        let mut last: Option<String> = None;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(|e| as_damage_of(id, e.into()))? {
            n += 1;
            super::checksum::verify_row(row, super::ROW_COLUMNS).map_err(|e| {
                damaged(
                    id,
                    &format!(
                        "a row beside where it would be is damaged ({})",
                        e.message()
                    ),
                )
            })?;
            let this: String = row.get(0)?;
            let in_order = match &last {
                None => (this.as_str() < id) == before && this != id,
                Some(prev) => (this.as_str() < prev.as_str()) == before,
            };
            if !in_order {
                return Err(damaged(
                    id,
                    "the rows around where it would be are out of order",
                ));
            }
            last = Some(this);
        }
        debug_assert!(n <= AROUND);
    }
    Ok(())
}

/// A failure to read `id`'s row that is damage (a checksum, a column that
/// does not decode, SQLite's own "malformed"), named after `id`.
fn as_damage_of(id: &str, e: Error) -> Error {
    match e.code() {
        ErrorCode::StoreDamaged if damaged_id(&e) == Some(id) => e,
        ErrorCode::StoreDamaged => damaged(id, e.message()),
        _ => e,
    }
}

/// Where a page ends: the next page starts strictly after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub id: String,
    pub pinned: bool,
    pub sort_order: i64,
}

impl Cursor {
    /// The opaque text handed to callers: `<pinned>:<sort_order>:<id>`.
    pub fn encode(&self) -> String {
        format!("{}:{}:{}", self.pinned as u8, self.sort_order, self.id)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let mut parts = text.splitn(3, ':');
        let pinned = match parts.next()? {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        let sort_order = parts.next()?.parse().ok()?;
        let id = parts.next()?.to_string();
        Some(Cursor {
            id,
            pinned,
            sort_order,
        })
    }
}

pub(super) type FilterParams = (Option<i32>, Option<String>, Option<String>, bool, bool);

pub(super) fn filter_params(f: &ListFilter) -> Result<FilterParams> {
    let group = match &f.group {
        Some(g) => Some(serde_json::to_string(g).map_err(|e| Error::internal(e.to_string()))?),
        None => None,
    };
    Ok((
        f.kind.map(|k| k.as_i32()),
        f.mark.map(|m| m.to_string()),
        group,
        f.has_unread,
        f.has_at,
    ))
}

/// A read-only connection beside the writer: each query reads the last
/// committed state, and never waits for the writer (nor the writer for it).
pub struct Reader {
    pub(super) conn: Connection,
}

impl Reader {
    /// As [`super::Store::verify`], beside the writer.
    pub fn verify(&self) -> Result<super::Verified> {
        super::verify::verify_with(&self.conn)
    }

    /// As [`super::Store::page`].
    pub fn page(
        &self,
        filter: &ListFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Cursor>> {
        page_with(&self.conn, filter, after, limit)
    }
}
