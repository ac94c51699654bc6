//! The SQLite store: schema, migrations, and the queries behind lookups and
//! imports. Blocking; the engine calls it from blocking threads only.
//!
//! Here: [`Store`] (opening, configuring, reads, the write transaction) and
//! the SQL the parts share. The parts: `schema` (migrations, the checks a
//! store opens with), `lock` (the folder: lock, permissions, legacy move),
//! `codec` (a conversation to its row and back), `query` (one row, ordered
//! pages, the reader connection), `writer` (rows within a transaction),
//! `applied` and `window` (remembered messages), `checkpoint`,
//! `connection` (the writer's settings, the immutable fallback), `keying`,
//! `rekey` and `delete` (encryption at rest, a store's removal).
//!
//! Layout on disk: `<store folder>/conversations.db` (plus SQLite's `-wal`
//! and `-shm` files), owner-only, and locked for the life of the instance
//! (see [`StoreLock`]) so that no two instances, in this or another
//! process, ever cache one database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::config::Durability;
use crate::error::{Error, Result};
use crate::key::StoreKey;
use crate::model::{Conversation, ListFilter};
use crate::platform;

pub(crate) const DATABASE_FILE: &str = "conversations.db";

/// A remembered message's place in its conversation's read order: its
/// timestamp in a one-to-one conversation, its sequence in a group (as the
/// read positions `c2cReadTimestamp` and `groupReadSequence` count). The
/// unread index is on this expression, and a query reaches that index only
/// by naming the same expression.
macro_rules! read_position {
    () => {
        "CASE WHEN substr(conversation_id, 1, 4) = 'c2c_' THEN timestamp ELSE seq END"
    };
}

mod applied;
mod backup;
pub mod changes;
pub mod checksum;
mod delete;
mod forgotten;
mod rekey;
mod restore;
mod window;

pub use applied::{count_remembered, Applied, AppliedMessage, Marked};
pub use verify::Verified;
pub use window::RECENT_KEPT;

/// The columns, in the order `decode_row` reads them.
macro_rules! columns {
    () => {
        "conversation_id, conv_type, group_type, show_name, face_url, unread_count, \
         recv_opt, last_message, group_at_info, draft_text, draft_timestamp, is_pinned, \
         order_key, mark_list, custom_data, conversation_groups, c2c_read_timestamp, \
         group_read_sequence, sort_order, read_ms"
    };
}

/// The parameters of one conversation row, in `columns!()` order.
/// More (`$extra`) follow for a statement that takes more: `UPSERT`'s
/// recent window (?21: the window, ?22: whether to write it).
macro_rules! row_params {
    ($c:expr, $lists:expr $(, $extra:expr)*) => {
        params![
            $c.id.as_str(),
            $c.id.kind().as_i32(),
            $c.group_type.as_str(),
            $c.show_name.as_str(),
            $c.face_url.as_str(),
            $c.unread_count as i64,
            $c.recv_opt,
            $c.last_message.as_ref().map(|m| m.json.as_str()),
            $lists.at,
            $c.draft_text.as_str(),
            $c.draft_timestamp as i64,
            $c.is_pinned,
            $c.order_key as i64,
            $lists.marks,
            $c.custom_data.as_str(),
            $lists.groups,
            $c.c2c_read_timestamp as i64,
            $c.group_read_sequence as i64,
            sort_order($c.order_key),
            $c.read_ms.min(i64::MAX as u64) as i64,
            $($extra,)*
        ]
    };
}

/// What a filter keeps (parameters ?1 to ?5, see `filter_params`).
macro_rules! filter_sql {
    () => {
        "(?1 IS NULL OR conv_type = ?1) \
         AND (?2 IS NULL OR instr(',' || substr(mark_list, 2, length(mark_list) - 2) || ',', ',' || ?2 || ',') > 0) \
         AND (?3 IS NULL OR instr(',' || substr(conversation_groups, 2, length(conversation_groups) - 2) || ',', ',' || ?3 || ',') > 0) \
         AND (?4 = 0 OR unread_count <> 0) \
         AND (?5 = 0 OR group_at_info <> '[]')"
    };
}

// The store's parts (declared after the macros they use).
mod checkpoint;
mod codec;
mod connection;
mod integrity;
pub mod keying;
mod lock;
mod query;
mod salvage;
mod schema;
#[cfg(test)]
mod tests;
mod verify;
mod writer;

pub use checkpoint::*;
pub use codec::*;
use connection::{immutable_uri, immutable_uri_base, read_only_or_immutable};
pub use delete::{delete_store, remove_leftover};
pub use lock::*;
pub use query::*;
pub use restore::{restore_from_backup, REPLACED_SUFFIX};
pub use salvage::{rebuild_damaged, Rebuilt, DAMAGED_SUFFIX};
#[cfg(test)]
use schema::{MIGRATIONS, SCHEMA_VERSION};
pub use writer::*;

const PAGE_FIRST: &str = concat!(
    "SELECT conversation_id, is_pinned, sort_order FROM conversation WHERE ",
    filter_sql!(),
    " ORDER BY is_pinned DESC, sort_order DESC, conversation_id DESC LIMIT ?6"
);

const PAGE_AFTER: &str = concat!(
    "SELECT conversation_id, is_pinned, sort_order FROM conversation \
     WHERE (is_pinned, sort_order, conversation_id) < (?7, ?8, ?9) AND ",
    filter_sql!(),
    " ORDER BY is_pinned DESC, sort_order DESC, conversation_id DESC LIMIT ?6"
);

/// The page statements without a filter: a plain walk of the order index,
/// which holds every column they read (no row of the table is visited).
const PAGE_FIRST_ALL: &str = "SELECT conversation_id, is_pinned, sort_order FROM conversation \
     ORDER BY is_pinned DESC, sort_order DESC, conversation_id DESC LIMIT ?1";

const PAGE_AFTER_ALL: &str = "SELECT conversation_id, is_pinned, sort_order FROM conversation \
     WHERE (is_pinned, sort_order, conversation_id) < (?2, ?3, ?4) \
     ORDER BY is_pinned DESC, sort_order DESC, conversation_id DESC LIMIT ?1";

/// The counts a total adds up (summed here, not by SQLite's SUM(), which
/// fails past 2^63 and cannot add u64 counts).
/// Whole rows, so that each count is verified before it is added.
const UNREAD_COUNTS: &str = concat!(
    "SELECT ",
    columns!(),
    ", checksum FROM conversation WHERE unread_count <> 0 AND recv_opt NOT IN (1, 2, 3) AND ",
    filter_sql!()
);

/// The index ordered pages walk (migration 2 creates it).
const CREATE_ORDER_INDEX: &str =
    "CREATE INDEX conversation_order ON conversation (is_pinned, sort_order, conversation_id)";
/// One index seek per pin state: a plain MAX(sort_order) would read every
/// row (sort_order is the index's second column), and opening must not.
const MAX_ORDER: &str = "SELECT MAX(m) FROM ( \
    SELECT MAX(sort_order) AS m FROM conversation WHERE is_pinned = 0 \
    UNION ALL SELECT MAX(sort_order) FROM conversation WHERE is_pinned = 1)";

pub struct Store {
    conn: Connection,
    /// The key its connections are keyed with (`None`: a plain store).
    key: Option<StoreKey>,
    /// Held, never read: dropping it (after the connection) releases the
    /// store. Declared after `conn` so that it is dropped last.
    _lock: Option<StoreLock>,
    read_only: bool,
    durability: Durability,
    /// Opened as SQLite's `immutable` (a read-only instance where SQLite
    /// cannot make the WAL's side files: a read-only file system).
    immutable: bool,
    /// The store's folder (`None` in memory).
    dir: Option<PathBuf>,
    /// Damage that reads passed over (a damaged row left out of a total),
    /// for the state to tell (see [`Store::take_damage`]).
    damage: std::cell::RefCell<Vec<Error>>,
    /// Damaged conversations that committed writes replaced.
    repaired: std::cell::RefCell<Vec<String>>,
    /// The change log is known to exist (it is never dropped): a shared
    /// write's check for others' changes is then one query.
    change_log: std::cell::Cell<bool>,
}

/// How a store is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions<'k> {
    pub durability: Durability,
    /// Read what is there and write nothing; several read-only instances
    /// may share a store, never beside one that writes.
    pub read_only: bool,
    /// The key of an encrypted store (see `keying`).
    pub key: Option<&'k StoreKey>,
    /// Opened `"shared"`: beside other shared instances, in any process
    /// (see `lock::LockMode` and `changes`).
    pub shared: bool,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, or an in-memory store
    /// when `dir` is `None`.
    pub fn open(dir: Option<&Path>, durability: Durability) -> Result<Store> {
        Store::open_with(
            dir,
            StoreOptions {
                durability,
                read_only: false,
                key: None,
                shared: false,
            },
        )
    }

    /// Opens a store. On disk: the folder is created `0700` and the files
    /// are kept `0600` (tightened when found looser), the store is locked
    /// against every other instance (see [`StoreLock`]), and a store that
    /// cannot be written is refused unless `read_only` is asked for.
    pub fn open_with(dir: Option<&Path>, options: StoreOptions) -> Result<Store> {
        let (conn, lock) = match dir {
            None => (Connection::open_in_memory()?, None),
            Some(dir) => {
                let mode = match (options.shared, options.read_only) {
                    (true, _) => LockMode::Shared,
                    (false, true) => LockMode::ReadOnly,
                    (false, false) => LockMode::Exclusive,
                };
                let (path, lock) = prepare_files(dir, options.read_only, mode)?;
                if !options.read_only {
                    // What a rekey cut short left (the lock is held).
                    let _ = std::fs::remove_dir_all(dir.join(rekey::REKEY_DIR));
                }
                let kind = keying::file_kind(&path)?;
                keying::refuse_mismatch(kind, options.key, &path)?;
                // Never through a symbolic link (see `lock::prepare_files`).
                let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_NOFOLLOW
                    | if options.read_only {
                        OpenFlags::SQLITE_OPEN_READ_ONLY
                    } else {
                        OpenFlags::SQLITE_OPEN_READ_WRITE
                    };
                let conn = Connection::open_with_flags(&path, flags).map_err(|e| {
                    Error::from(e).context(format_args!("opening {}", path.display()))
                })?;
                // Before its first read: another process (a shared store)
                // may be creating or migrating it.
                conn.busy_timeout(crate::error::BUSY_TIMEOUT)?;
                keying::key_connection(&conn, options.key)?;
                if !options.read_only && conn.is_readonly(rusqlite::DatabaseName::Main)? {
                    return Err(cannot_be_written(&path, "SQLite opened it read-only"));
                }
                let (conn, immutable) = if options.read_only {
                    read_only_or_immutable(conn, dir, &path, options.key)?
                } else {
                    (conn, false)
                };
                keying::confirm_key(&conn, kind, options.key, dir, options.read_only)?;
                keying::size_cache(&conn, options.key)?;
                (conn, Some((lock, immutable)))
            }
        };
        let (lock, immutable) = match lock {
            Some((lock, immutable)) => (Some(lock), immutable),
            None => (None, false),
        };
        let path = dir.map(|d| d.join(DATABASE_FILE));
        let mut store = Store {
            conn,
            key: options.key.cloned(),
            _lock: lock,
            read_only: options.read_only,
            durability: options.durability,
            immutable,
            dir: dir.map(Path::to_path_buf),
            damage: Default::default(),
            repaired: Default::default(),
            change_log: Default::default(),
        };
        if let Some(p) = &path {
            crate::log::info(format_args!(
                "opening the store {}{}",
                p.display(),
                if options.read_only {
                    " (read-only)"
                } else {
                    ""
                }
            ));
        }
        // A file that is not a store (garbage, another program's database,
        // a broken schema) is refused here, naming the file, rather than
        // failing later on some write.
        store.configure().map_err(|e| match &path {
            Some(p) => e.context(p.display()),
            None => e,
        })?;
        if let (Some(_), false) = (dir, options.read_only) {
            if options.shared {
                store.ensure_change_log()?;
            } else {
                store.log_reset()?;
            }
        }
        // A read-only instance's side files: SQLite gave them the
        // database's mode as it opened them (see `lock::prepare_files`).
        if let (Some(dir), true) = (dir, options.read_only) {
            lock::tighten_side_files(dir);
        }
        // The database and its WAL exist now: their entries in the folder
        // are made durable before any write is acknowledged.
        if let (Some(dir), false) = (dir, options.read_only) {
            platform::sync_dir(dir)
                .map_err(|e| Error::from(e).context(format_args!("syncing {}", dir.display())))?;
        }
        Ok(store)
    }

    /// The WAL file of a store that writes to disk (`None` in memory or
    /// read-only): what "normal" durability syncs after its commits.
    pub fn wal_path(&self) -> Option<PathBuf> {
        match (&self.dir, self.read_only) {
            (Some(dir), false) => Some(dir.join(format!("{DATABASE_FILE}-wal"))),
            _ => None,
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The user the store belongs to, once recorded.
    pub fn owner(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'user_id'", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Records the user the store belongs to.
    pub fn set_owner(&mut self, user_id: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('user_id', ?1)",
            [user_id],
        )?;
        Ok(())
    }

    /// Loads one conversation, or `None` when it is not stored.
    pub fn load(&self, id: &str) -> Result<Option<Conversation>> {
        load_with(&self.conn, id)
    }

    /// One page of the ordered list: pinned first, then by order_key
    /// descending, then by ID descending; only rows that pass `filter`, and
    /// only those strictly after `after` (keyset paging: a row that moves
    /// while a caller pages can neither push another out nor repeat one).
    pub fn page(
        &self,
        filter: &ListFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Cursor>> {
        page_with(&self.conn, filter, after, limit)
    }

    /// The unread total of the conversations that pass `filter`, leaving
    /// out those whose receive option mutes them (1, 2, 3).
    /// The exact sum of the unread counts that pass `filter` (muted
    /// conversations left out); see
    /// [`crate::model::saturated`] for what a caller sees.
    pub fn unread_total(&self, filter: &ListFilter) -> Result<u128> {
        let (kind, mark, group, unread, at) = filter_params(filter)?;
        let mut stmt = self.conn.prepare_cached(UNREAD_COUNTS)?;
        let mut rows = stmt.query(params![kind, mark, group, unread, at])?;
        let mut total = 0u128;
        while let Some(row) = rows.next()? {
            // A damaged conversation is left out of totals, as of lists.
            match checksum::verify_row(row, ROW_COLUMNS) {
                Ok(()) => total += row.get::<_, i64>(5)? as u64 as u128,
                Err(e) => self.damage.borrow_mut().push(e),
            }
        }
        Ok(total)
    }

    /// The largest order_key stored (0 for an empty store).
    pub fn max_order_key(&self) -> Result<u64> {
        let max: Option<i64> = self.conn.query_row(MAX_ORDER, [], |r| r.get(0))?;
        Ok(max.map_or(0, order_key_of))
    }

    /// Every recorded profile: (conversation ID, name, avatar).
    pub fn profiles(&self) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT conversation_id, name, face_url FROM profile")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Conversation groups (name, position) in creation order.
    pub fn groups(&self) -> Result<Vec<(String, i64)>> {
        query::groups_with(&self.conn)
    }

    /// A user's or group's recorded display name and avatar.
    pub fn profile(&self, id: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT name, face_url FROM profile WHERE conversation_id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The last order tick handed out (see `model::order_key`).
    pub fn order_tick(&self) -> Result<u64> {
        let tick: Option<i64> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'order_tick'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(tick.unwrap_or(0) as u64)
    }

    /// Number of stored conversations.
    pub fn count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM conversation", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Writes every conversation (replacing stored ones of the same ID) in
    /// one transaction: all or nothing.
    pub fn upsert<'a, I>(&mut self, conversations: I) -> Result<()>
    where
        I: IntoIterator<Item = &'a Conversation>,
    {
        self.write(|w| conversations.into_iter().try_for_each(|c| w.put(c)))
    }

    /// A second connection to this store's file, for checkpoints off the
    /// writer's thread; `None` for a store in memory or read-only (nothing
    /// to checkpoint).
    pub fn checkpointer(&self) -> Result<Option<Checkpointer>> {
        if self.read_only {
            return Ok(None);
        }
        let Some(conn) = self.second_connection(OpenFlags::SQLITE_OPEN_READ_WRITE)? else {
            return Ok(None);
        };
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Some(Checkpointer { conn }))
    }

    /// A read-only connection to this store's file, for pages read beside
    /// the writer (WAL readers never wait for it); `None` for a store in
    /// memory.
    pub fn reader(&self) -> Result<Option<Reader>> {
        let conn = self.second_connection(OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        if let (Some(conn), Some(dir), true) = (&conn, &self.dir, self.read_only) {
            // A first read opens the WAL's side files now (SQLite gives an
            // empty one the database's mode as it opens it): then they are
            // made owner-only again.
            conn.query_row("PRAGMA schema_version", [], |_| Ok(()))?;
            lock::tighten_side_files(dir);
        }
        Ok(conn.map(|conn| Reader { conn }))
    }

    /// Another connection to the file (`None` in memory), used by one
    /// thread at a time.
    fn second_connection(&self, flags: OpenFlags) -> Result<Option<Connection>> {
        let Some(path) = self.conn.path().filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        if self.immutable {
            let Some(dir) = &self.dir else {
                return Ok(None);
            };
            let uri = immutable_uri(&dir.join(DATABASE_FILE));
            let conn = Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?;
            keying::key_connection(&conn, self.key.as_ref())?;
            keying::size_cache(&conn, self.key.as_ref())?;
            return Ok(Some(conn));
        }
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(crate::error::BUSY_TIMEOUT)?;
        keying::key_connection(&conn, self.key.as_ref())?;
        keying::size_cache(&conn, self.key.as_ref())?;
        Ok(Some(conn))
    }

    /// Row changes made through this connection since it opened: what a
    /// commit wrote, as the difference around it.
    pub fn total_changes(&self) -> u64 {
        self.conn.total_changes()
    }

    /// Runs `f` in one transaction, committed when it returns `Ok` and
    /// rolled back (nothing written) when it returns `Err`.
    /// The write lock is taken as the transaction begins (`IMMEDIATE`), or
    /// was by [`Store::begin_write`]: what it reads is what it writes over.
    pub fn write<R>(&mut self, f: impl FnOnce(&mut Writer) -> Result<R>) -> Result<R> {
        let mut repaired;
        if self.conn.is_autocommit() {
            self.begin_write()?;
        }
        // Rolled back unless it commits (a failure, or a panic that unwinds).
        let tx = OpenWrite { conn: &self.conn };
        let result = {
            let mut writer = Writer {
                conn: &self.conn,
                stmt: self.conn.prepare_cached(UPSERT)?,
                insert_new: None,
                buffer: String::new(),
                windows: HashMap::new(),
                blob: Vec::new(),
                forgotten: Vec::new(),
                forgotten_mark: 0,
                repaired: Vec::new(),
                found: Vec::new(),
            };
            let result = f(&mut writer)?;
            writer.flush_windows()?;
            writer.flush_forgotten()?;
            self.damage.borrow_mut().append(&mut writer.found);
            repaired = std::mem::take(&mut writer.repaired);
            result
        };
        tx.commit().map_err(integrity::commit_failed)?;
        self.repaired.borrow_mut().append(&mut repaired);
        Ok(result)
    }
}

/// An open write transaction: committed by `commit`, else rolled back.
struct OpenWrite<'c> {
    conn: &'c Connection,
}

impl OpenWrite<'_> {
    /// A failed COMMIT may leave the transaction open: `drop` rolls it back.
    fn commit(self) -> rusqlite::Result<()> {
        self.conn.execute_batch("COMMIT")
    }
}

impl Drop for OpenWrite<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
