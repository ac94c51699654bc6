//! A full check of the store (`imconv_verify_store`): SQLite's integrity
//! check of every page and index, and every conversation row verified and
//! decoded, recent window included.

use rusqlite::Connection;

use super::checksum::verify_row;
use super::window::Window;
use super::{decode_row, load_with, ROW_COLUMNS};
use crate::error::{ErrorCode, Result};
use crate::model::Conversation;

/// What a full check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verified {
    /// Conversations whose rows are damaged, in key order.
    pub damaged: Vec<String>,
    /// What SQLite's integrity check and the scan found that is no one
    /// conversation's (a page, an index, the file): empty when sound.
    pub structure: Vec<String>,
}

const SCAN: &str = concat!(
    "SELECT ",
    columns!(),
    ", checksum, recent FROM conversation WHERE conversation_id > ?1 ORDER BY conversation_id"
);

/// Most problems SQLite's integrity check lists.
const MAX_FINDINGS: usize = 100;

/// Checks the store on `conn` (a read: it sees one snapshot).
pub(super) fn verify_with(conn: &Connection) -> Result<Verified> {
    let mut found = Verified::default();
    match integrity_check(conn) {
        Ok(lines) => found.structure.extend(lines),
        Err(e) => found
            .structure
            .push(format!("the integrity check stopped: {e}")),
    }
    let mut bad_keys = Vec::new();
    walk_rows(conn, &mut found.structure, |id, row| {
        if row.is_none() {
            bad_keys.push(id);
        }
    });
    // A damaged row's key may itself be damaged, and read as another
    // conversation's: the names come from the order index, each looked up
    // as a lookup would (verified, a miss confirmed around it).
    let mut listed = std::collections::HashSet::new();
    match index_ids(conn) {
        Ok(ids) => {
            for id in ids {
                match load_with(conn, &id) {
                    Ok(Some(_)) => {}
                    Ok(None) => found
                        .structure
                        .push(format!("the order index lists {id}, which is not stored")),
                    Err(e) if e.code() == ErrorCode::StoreDamaged => found.damaged.push(id.clone()),
                    Err(e) => found.structure.push(e.message().to_string()),
                }
                listed.insert(id);
            }
        }
        Err(e) => found
            .structure
            .push(format!("the order index cannot be read: {e}")),
    }
    // Damaged rows the index does not name go by the key they read as.
    for key in bad_keys {
        if !listed.contains(&key) {
            found.damaged.push(key);
        }
    }
    found.damaged.sort();
    found.damaged.dedup();
    found.structure.truncate(MAX_FINDINGS);
    Ok(found)
}

/// Every ID the order index holds (a walk of the index alone).
pub(super) fn index_ids(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT conversation_id FROM conversation INDEXED BY conversation_order \
         ORDER BY is_pinned, sort_order, conversation_id",
    )?;
    let ids = stmt.query_map([], |r| {
        Ok(String::from_utf8_lossy(r.get_ref(0)?.as_bytes().unwrap_or(b"?")).into_owned())
    })?;
    ids.collect()
}

/// A key past `last` that skips further the more often the scan stalled
/// there: `level` 0 is just past `last` itself, each level drops one more
/// character and steps the one before (c2c_u12 → c2c_u13 → c2c_v → c2d).
fn skip(last: &str, level: usize) -> Option<String> {
    let chars: Vec<char> = last.chars().collect();
    if level == 0 {
        return Some(format!("{last}\0"));
    }
    let keep = chars.len().checked_sub(level)?;
    let mut next: String = chars[..keep].iter().collect();
    let stepped = char::from_u32(chars[keep] as u32 + 1)?;
    next.push(stepped);
    Some(next)
}

/// Every row, in key order: `each(key, the conversation if the row is
/// sound)`. Past a part of the table that cannot be read, the walk goes on
/// after it (see `skip`), so that one damaged page does not hide the rest;
/// what stopped it goes to `problems`.
pub(super) fn walk_rows(
    conn: &Connection,
    problems: &mut Vec<String>,
    mut each: impl FnMut(String, Option<Conversation>),
) {
    let mut after = String::new();
    let mut level = 0;
    while let Err((last, e)) = scan_from(conn, &after, &mut each) {
        if problems.len() < MAX_FINDINGS {
            problems.push(format!(
                "the conversation table cannot be read after {after:?}: {e}"
            ));
        }
        level = if last > after { 0 } else { level + 1 };
        match skip(&last, level) {
            Some(next) => after = next,
            None => break,
        }
    }
}

/// Walks the rows after `after` to the end; `Err((last key read, error))`
/// when a read failed.
fn scan_from(
    conn: &Connection,
    after: &str,
    each: &mut impl FnMut(String, Option<Conversation>),
) -> std::result::Result<(), (String, String)> {
    let mut last = after.to_string();
    let fail = |last: &String, e: rusqlite::Error| (last.clone(), e.to_string());
    let mut stmt = conn.prepare(SCAN).map_err(|e| fail(&last, e))?;
    let mut rows = stmt.query([after]).map_err(|e| fail(&last, e))?;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(()),
            Err(e) => return Err(fail(&last, e)),
        };
        let id = match row.get_ref(0) {
            Ok(v) => String::from_utf8_lossy(v.as_bytes().unwrap_or(b"?")).into_owned(),
            Err(e) => return Err(fail(&last, e)),
        };
        let window_sound = match row.get::<_, Option<Vec<u8>>>(ROW_COLUMNS + 1) {
            Ok(None) => true,
            Ok(Some(b)) => Window::decode(&b).is_ok(),
            Err(_) => false,
        };
        let sound = verify_row(row, ROW_COLUMNS)
            .and_then(|()| decode_row(row))
            .ok()
            .filter(|_| window_sound);
        last = id.clone();
        each(id, sound);
    }
}

/// SQLite's integrity check: its findings (none when it says "ok").
fn integrity_check(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA integrity_check({MAX_FINDINGS})"))?;
    let lines = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(lines.into_iter().filter(|l| l != "ok").collect())
}
