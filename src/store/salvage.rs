//! Rebuilding a damaged store (`"on_damage": "rebuild"`): every readable
//! conversation is salvaged into a new store, which takes the database's
//! place; the damaged files are moved aside inside the store's folder (one
//! such copy is kept), all under the store's lock.
//!
//! What is salvaged: every conversation whose row is intact (its checksum
//! holds and it decodes), with every field, local-only ones included
//! (drafts, custom data, pins, marks, groups, read positions), found by a
//! walk of the table and by the order index; the conversation groups those
//! conversations name, in their order where it can be read. What is not:
//! damaged conversations (named in [`Rebuilt::lost`] where any part of the
//! store names them), the remembered messages used to recognise one
//! delivered twice (a message delivered again may count again), and the
//! recorded profiles (they come back with the next profile update).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::keying::key_connection;
use super::lock::refuse_links;
use super::restore::{lock_existing, swap_in};
use super::verify::{index_ids, walk_rows};
use super::{load_with, Store, StoreOptions, DATABASE_FILE};
use crate::config::Durability;
use crate::error::{Error, Result};
use crate::key::StoreKey;
use crate::model::Conversation;

/// What the damaged files are renamed to.
pub const DAMAGED_SUFFIX: &str = ".damaged";

/// What a rebuild did.
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// Conversations carried over.
    pub salvaged: usize,
    /// Conversations some part of the store named that could not be read
    /// (others may be lost without a trace).
    pub lost: Vec<String>,
    /// Where the damaged database was moved.
    pub aside: PathBuf,
}

/// Rebuilds the damaged store in `dir` for `user_id`.
/// An encrypted store (`key`) is read as it is (its header is ciphertext
/// but for the salt and the fields that stay clear: nothing to mend) and
/// rebuilt encrypted with the same key.
pub fn rebuild_damaged(
    dir: &Path,
    user_id: &str,
    durability: Durability,
    key: Option<&StoreKey>,
) -> Result<Rebuilt> {
    refuse_links(dir)?;
    let db = dir.join(DATABASE_FILE);
    let _lock = lock_existing(&db, dir)?;
    let work = dir.join(".rebuilding");
    let _ = fs::remove_dir_all(&work);
    let step = |what: &str, e: std::io::Error| {
        Error::from(e).context(format_args!("rebuilding {}: {what}", dir.display()))
    };
    // Read from a copy whose header is mended: the damaged files stay as
    // they were, to be kept aside.
    let source = dir.join(".rebuilding-source");
    let _ = fs::remove_dir_all(&source);
    crate::platform::create_private_dir(&source).map_err(|e| step("making a work folder", e))?;
    let copy = source.join(DATABASE_FILE);
    copy_mended(&db, &copy, key.is_none()).map_err(|e| step("copying the damaged store", e))?;
    let (conversations, mut lost, groups) = read_what_can_be_read(&copy, key);
    let _ = fs::remove_dir_all(&source);
    {
        let mut fresh = Store::open_with(
            Some(&work),
            StoreOptions {
                durability,
                read_only: false,
                key,
                shared: false,
            },
        )?;
        fresh.set_owner(user_id)?;
        let tick = conversations
            .iter()
            .map(|c| c.order_key & u64::from(u32::MAX))
            .max()
            .unwrap_or(0);
        fresh.write(|w| {
            for (position, name) in groups.iter().enumerate() {
                w.put_group(name, position as i64)?;
            }
            for c in &conversations {
                w.put(c)?;
            }
            w.set_order_tick(tick)
        })?;
        // Closing checkpoints: the new database is one file.
    }
    let aside = swap_in(dir, &work.join(DATABASE_FILE), DAMAGED_SUFFIX)
        .map_err(|e| step("putting the new store in place", e))?;
    let _ = fs::remove_dir_all(&work);
    lost.sort();
    lost.dedup();
    crate::log::warn(format_args!(
        "the store {} was damaged and rebuilt: {} conversations salvaged, {} lost; the damaged \
         files are kept as {}",
        dir.display(),
        conversations.len(),
        lost.len(),
        aside.display()
    ));
    Ok(Rebuilt {
        salvaged: conversations.len(),
        lost,
        aside,
    })
}

/// Copies the database (and its WAL) to `to`, with the fields of its
/// header that every store of this library has the same restored (a
/// flipped bit in the page size or text encoding would make SQLite read
/// nothing), and the header's page count marked stale (SQLite then goes
/// by the file's size).
fn copy_mended(db: &Path, to: &Path, mend: bool) -> std::io::Result<()> {
    let mut bytes = fs::read(db)?;
    if mend && bytes.len() >= 100 {
        bytes[..16].copy_from_slice(b"SQLite format 3\0");
        bytes[16..18].copy_from_slice(&4096u16.to_be_bytes());
        bytes[18..24].copy_from_slice(&[2, 2, 0, 64, 32, 32]);
        bytes[44..48].copy_from_slice(&4u32.to_be_bytes());
        bytes[52..56].fill(0);
        bytes[56..60].copy_from_slice(&1u32.to_be_bytes());
        bytes[64..92].fill(0);
        // "Version valid for" unlike the change counter: the page count at
        // 28 is not trusted.
        let counter = u32::from_be_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
        bytes[92..96].copy_from_slice(&(counter ^ 1).to_be_bytes());
    }
    fs::write(to, &bytes)?;
    let wal = db.with_file_name(format!("{DATABASE_FILE}-wal"));
    if wal.exists() {
        fs::copy(&wal, to.with_file_name(format!("{DATABASE_FILE}-wal")))?;
    }
    Ok(())
}

/// The intact conversations, the IDs named but unreadable, and the group
/// names (in their recorded order, then any other the conversations name).
fn read_what_can_be_read(
    db: &Path,
    key: Option<&StoreKey>,
) -> (Vec<Conversation>, Vec<String>, Vec<String>) {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let Ok(conn) = Connection::open_with_flags(db, flags) else {
        return Default::default();
    };
    if key_connection(&conn, key).is_err() {
        return Default::default();
    }
    let mut found: BTreeMap<String, Conversation> = BTreeMap::new();
    let mut lost = Vec::new();
    let mut problems = Vec::new();
    walk_rows(&conn, &mut problems, |key, c| match c {
        Some(c) => {
            found.insert(c.id.as_str().to_string(), c);
        }
        None => lost.push(key),
    });
    // Rows the walk could not reach (past a broken page) may still be
    // found by their key, which the order index names.
    for id in index_ids(&conn).unwrap_or_default() {
        if found.contains_key(&id) {
            continue;
        }
        match load_with(&conn, &id) {
            Ok(Some(c)) => {
                found.insert(id, c);
            }
            _ => lost.push(id),
        }
    }
    // A key that read as an intact conversation's was not that one.
    lost.retain(|id| !found.contains_key(id));
    let named: HashSet<&str> = found
        .values()
        .flat_map(|c| c.conversation_group_list.iter().map(|g| g.as_str()))
        .collect();
    let mut groups: Vec<String> = super::query::groups_with(&conn)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| named.contains(name.as_str()))
        .collect();
    let mut rest: Vec<&str> = named
        .iter()
        .copied()
        .filter(|n| !groups.iter().any(|g| g == n))
        .collect();
    rest.sort();
    groups.extend(rest.into_iter().map(str::to_string));
    (found.into_values().collect(), lost, groups)
}
