//! The SQLite store: schema, migrations, and the queries behind lookups and
//! imports. Blocking; the engine calls it from blocking threads only.
//!
//! Layout on disk: `<store folder>/conversations.db` (plus SQLite's `-wal`
//! and `-shm` files), owner-only, and locked for the life of the instance
//! (see [`StoreLock`]) so that no two instances, in this or another
//! process, ever cache one database.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use crate::config::Durability;
use crate::error::{Error, ErrorCode, Result};
use crate::json::parse_stored_message;
use crate::model::{Conversation, ConversationId, GroupAtInfo, Kept, ListFilter, Text};
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

/// Forward migrations; `PRAGMA user_version` counts how many have run.
/// Append only: never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the conversation table. u64 values are stored bit-cast to INTEGER.
    "CREATE TABLE conversation (
        conversation_id     TEXT PRIMARY KEY NOT NULL,
        conv_type           INTEGER NOT NULL,
        group_type          TEXT NOT NULL,
        show_name           TEXT NOT NULL,
        face_url            TEXT NOT NULL,
        unread_count        INTEGER NOT NULL,
        recv_opt            INTEGER NOT NULL,
        last_message        TEXT,
        group_at_info       TEXT NOT NULL,
        draft_text          TEXT NOT NULL,
        draft_timestamp     INTEGER NOT NULL,
        is_pinned           INTEGER NOT NULL,
        order_key           INTEGER NOT NULL,
        mark_list           TEXT NOT NULL,
        custom_data         TEXT NOT NULL,
        conversation_groups TEXT NOT NULL,
        c2c_read_timestamp  INTEGER NOT NULL,
        group_read_sequence INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 2: the conversation manager. `sort_order` is order_key with its top
    // bit flipped, so that it sorts as the u64 does; `applied_message`
    // remembers applied messages (de-duplication, and which are unread),
    // clustered by conversation: one B-tree, one page written per message;
    // conversation groups and profiles get tables of their own.
    "ALTER TABLE conversation ADD COLUMN sort_order INTEGER NOT NULL DEFAULT 0;
     UPDATE conversation SET sort_order = (order_key | -9223372036854775808) - (order_key & -9223372036854775808);
     CREATE INDEX conversation_order ON conversation (is_pinned, sort_order, conversation_id);
     CREATE TABLE applied_message (
        conversation_id TEXT NOT NULL,
        msg_id          TEXT NOT NULL,
        timestamp       INTEGER NOT NULL,
        seq             INTEGER NOT NULL,
        unread          INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, msg_id)
     ) WITHOUT ROWID;
     CREATE TABLE conversation_group (
        name     TEXT PRIMARY KEY NOT NULL,
        position INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE profile (
        conversation_id TEXT PRIMARY KEY NOT NULL,
        name            TEXT NOT NULL,
        face_url        TEXT NOT NULL
     ) WITHOUT ROWID;",
    // 3: order by activity time. An order key is the activity time (newest
    // message or draft, seconds) in its high 32 bits and an action tick in
    // its low 32 bits; the tick lives in `meta`. Keys of the old counter
    // (below 2^32) become their conversation's activity time with the old
    // counter as the tick; larger keys (imported) stay as they are.
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value NOT NULL
     ) WITHOUT ROWID;
     INSERT INTO meta (key, value)
        SELECT 'order_tick', COALESCE(MAX(order_key), 0) FROM conversation
        WHERE order_key >= 0 AND order_key < 4294967296;
     UPDATE conversation SET order_key = (MAX(
            MIN(MAX(COALESCE(json_extract(last_message, '$.timestamp'), 0), 0), 4294967295),
            CASE WHEN draft_timestamp < 0 THEN 4294967295 ELSE MIN(draft_timestamp, 4294967295) END
        ) << 32) | order_key
        WHERE order_key >= 0 AND order_key < 4294967296;
     UPDATE conversation SET sort_order = (order_key | -9223372036854775808) - (order_key & -9223372036854775808);",
    // 4: unread messages apart. Clearing up to a position (and counting
    // what is left) walks only a conversation's unread messages in the
    // order of its read position, never its whole history: one entry per
    // unread message (one index, not one per kind of position).
    concat!(
        "CREATE INDEX applied_unread ON applied_message (conversation_id, ",
        read_position!(),
        ") WHERE unread = 1;"
    ),
    // 5: reading up to a message. Message times are kept in milliseconds
    // (a one-to-one conversation's read position is exact, not a whole
    // second); `read_ms` is that position (an old one covers its whole
    // second); `at_type` remembers an unread message's @ entry, so that it
    // goes when the message is read by time.
    "ALTER TABLE conversation ADD COLUMN read_ms INTEGER NOT NULL DEFAULT 0;
     UPDATE conversation SET read_ms = MIN(c2c_read_timestamp, 9223372036854774) * 1000 + 999
        WHERE conv_type = 1 AND c2c_read_timestamp > 0;
     UPDATE conversation SET read_ms = 9223372036854775807
        WHERE conv_type = 1 AND c2c_read_timestamp < 0;
     ALTER TABLE applied_message ADD COLUMN at_type INTEGER NOT NULL DEFAULT 0;
     UPDATE applied_message SET at_type = COALESCE((
        SELECT json_extract(j.value, '$[1]') FROM conversation c, json_each(c.group_at_info) j
        WHERE c.conversation_id = applied_message.conversation_id
          AND json_extract(j.value, '$[0]') = applied_message.seq LIMIT 1), 0)
        WHERE unread = 1 AND seq > 0 AND substr(conversation_id, 1, 6) = 'group_';
     UPDATE applied_message SET timestamp = CASE
        WHEN timestamp > 9223372036854775 THEN 9223372036854775807
        WHEN timestamp < -9223372036854775 THEN -9223372036854775808
        ELSE timestamp * 1000 END;",
    // 6: bounded history. A remembered message at or before its
    // conversation's read position, and not its last message, is
    // forgotten (see `Writer::forget_read`); later ones go as reads move.
    // (Existing stores keep no recent window of read messages.)
    "DELETE FROM applied_message WHERE unread = 0 AND EXISTS (
        SELECT 1 FROM conversation c WHERE c.conversation_id = applied_message.conversation_id
          AND json_extract(c.last_message, '$.msgID') IS NOT applied_message.msg_id
          AND CASE WHEN c.conv_type = 1 OR applied_message.seq = 0
              THEN c.read_ms > 0 AND applied_message.timestamp BETWEEN 0 AND c.read_ms
              ELSE applied_message.seq BETWEEN 1 AND c.group_read_sequence END);",
    // 7: the recent window. A conversation's newest remembered messages
    // live in its own row (see `window`), which a message writes anyway;
    // `applied_message` keeps what falls out of it. Existing records stay
    // where they are: both places are one set.
    // The flag says where to look: an empty window with the flag set
    // (x'0101') for a conversation with records in the table.
    "ALTER TABLE conversation ADD COLUMN recent BLOB;
     UPDATE conversation SET recent = x'0101'
        WHERE conversation_id IN (SELECT conversation_id FROM applied_message);",
];

mod applied;
mod window;

pub use applied::{count_remembered, Applied, AppliedMessage, Marked};
pub use window::RECENT_KEPT;

pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The tables of the current schema.
const REQUIRED_TABLES: [&str; 5] = [
    "conversation",
    "applied_message",
    "conversation_group",
    "profile",
    "meta",
];

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

const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM conversation WHERE conversation_id = ?1"
);

/// An upsert that updates a stored row in place (a REPLACE would delete and
/// re-insert it, touching the order index even when the order is the same).
const UPSERT: &str = concat!(
    "INSERT INTO conversation (",
    columns!(),
    ", recent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21) \
     ON CONFLICT (conversation_id) DO UPDATE SET conv_type = excluded.conv_type, \
     group_type = excluded.group_type, show_name = excluded.show_name, face_url = excluded.face_url, \
     unread_count = excluded.unread_count, recv_opt = excluded.recv_opt, \
     last_message = excluded.last_message, group_at_info = excluded.group_at_info, \
     draft_text = excluded.draft_text, draft_timestamp = excluded.draft_timestamp, \
     is_pinned = excluded.is_pinned, order_key = excluded.order_key, mark_list = excluded.mark_list, \
     custom_data = excluded.custom_data, conversation_groups = excluded.conversation_groups, \
     c2c_read_timestamp = excluded.c2c_read_timestamp, \
     group_read_sequence = excluded.group_read_sequence, sort_order = excluded.sort_order, \
     read_ms = excluded.read_ms, \
     recent = CASE WHEN ?22 THEN excluded.recent ELSE conversation.recent END"
);

/// An insert that leaves a stored row alone: its change count tells an
/// import whether the conversation was new (see [`Writer::insert_or_read`]).
const INSERT_NEW: &str = concat!(
    "INSERT INTO conversation (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) \
     ON CONFLICT (conversation_id) DO NOTHING"
);

/// What a replaced row keeps (see [`Kept`]).
const READ_KEPT: &str = "SELECT c2c_read_timestamp, group_read_sequence, order_key, read_ms \
     FROM conversation WHERE conversation_id = ?1";

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
const UNREAD_COUNTS: &str = concat!(
    "SELECT unread_count FROM conversation WHERE unread_count <> 0 AND recv_opt NOT IN (1, 2, 3) AND ",
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
    /// Held, never read: dropping it (after the connection) releases the
    /// store. Declared after `conn` so that it is dropped last.
    _lock: Option<StoreLock>,
    read_only: bool,
    /// The store's folder (`None` in memory).
    dir: Option<PathBuf>,
}

/// How a store is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    pub durability: Durability,
    /// Read what is there and write nothing; several read-only instances
    /// may share a store, never beside one that writes.
    pub read_only: bool,
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
                let (path, lock) = prepare_files(dir, options.read_only)?;
                let flags = if options.read_only {
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
                } else {
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
                };
                let conn = Connection::open_with_flags(&path, flags).map_err(|e| {
                    Error::from(e).context(format_args!("opening {}", path.display()))
                })?;
                if !options.read_only && conn.is_readonly(rusqlite::DatabaseName::Main)? {
                    return Err(cannot_be_written(&path, "SQLite opened it read-only"));
                }
                (conn, Some(lock))
            }
        };
        let path = dir.map(|d| d.join(DATABASE_FILE));
        let mut store = Store {
            conn,
            _lock: lock,
            read_only: options.read_only,
            dir: dir.map(Path::to_path_buf),
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
        store
            .configure(dir.is_some(), options)
            .map_err(|e| match &path {
                Some(p) => e.context(p.display()),
                None => e,
            })?;
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

    fn configure(&mut self, on_disk: bool, options: StoreOptions) -> Result<()> {
        let conn = &self.conn;
        if on_disk && !options.read_only {
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::new(
                    ErrorCode::Database,
                    format!("database: could not switch to WAL mode (got {mode})"),
                ));
            }
        }
        let sync = match options.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        // Writes queued together share a transaction with one savepoint
        // each; a savepoint's journal stays in memory instead of spilling
        // to a temporary file.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        if on_disk && !options.read_only {
            // Checkpoints run on a connection of their own, off the writer
            // (see [`Checkpointer`]); the writer checkpoints by itself only
            // as a backstop, should the WAL grow this far regardless.
            conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)?;
            // A WAL that grew (a burst) is cut back when it starts over.
            conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        self.migrate()?;
        self.check_schema()
    }

    /// Every table this version uses is there (a store whose version says
    /// one thing and whose tables say another is refused).
    fn check_schema(&self) -> Result<()> {
        let version = self.schema_version()?;
        for table in REQUIRED_TABLES {
            let found: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
                [table],
                |r| r.get(0),
            )?;
            if !found {
                return Err(Error::new(
                    ErrorCode::Database,
                    format!(
                        "database: the schema is inconsistent: version {version} but no table '{table}'"
                    ),
                ));
            }
        }
        Ok(())
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

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::new(
                ErrorCode::Database,
                format!(
                    "database: the store has schema version {version}, newer than this library's {SCHEMA_VERSION}"
                ),
            ));
        }
        if self.read_only && version < SCHEMA_VERSION {
            return Err(Error::new(
                ErrorCode::ReadOnly,
                format!(
                    "database: the store has schema version {version} and needs an upgrade to \
                     {SCHEMA_VERSION}, which a read-only instance cannot write: open it read-write once"
                ),
            ));
        }
        // Every table the schema needs exists from version 3 on: a store
        // that says so but lacks one is refused before a migration trips
        // over it.
        if version >= 3 {
            self.check_schema()?;
        }
        if version < SCHEMA_VERSION && version > 0 {
            crate::log::info(format_args!(
                "upgrading the store's schema from version {version} to {SCHEMA_VERSION}"
            ));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)
                .map_err(|e| Error::from(e).context(format_args!("migration {}", i + 1)))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
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
            total += row.get::<_, i64>(0)? as u64 as u128;
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

    /// Conversation groups in creation order.
    pub fn groups(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM conversation_group ORDER BY position")?;
        let names = stmt.query_map([], |r| r.get(0))?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
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
        Ok(conn.map(|conn| Reader { conn }))
    }

    /// Another connection to the file (`None` in memory), used by one
    /// thread at a time.
    fn second_connection(&self, flags: OpenFlags) -> Result<Option<Connection>> {
        let Some(path) = self.conn.path().filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        Ok(Some(Connection::open_with_flags(
            path,
            flags | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?))
    }

    /// Row changes made through this connection since it opened: what a
    /// commit wrote, as the difference around it.
    pub fn total_changes(&self) -> u64 {
        self.conn.total_changes()
    }

    /// Runs `f` in one transaction, committed when it returns `Ok` and
    /// rolled back (nothing written) when it returns `Err`.
    pub fn write<R>(&mut self, f: impl FnOnce(&mut Writer) -> Result<R>) -> Result<R> {
        let tx = self.conn.transaction()?;
        let result = {
            let mut writer = Writer {
                conn: &tx,
                stmt: tx.prepare_cached(UPSERT)?,
                buffer: String::new(),
                windows: HashMap::new(),
                blob: Vec::new(),
            };
            let result = f(&mut writer)?;
            writer.flush_windows()?;
            result
        };
        tx.commit()?;
        Ok(result)
    }
}

/// A read-only connection beside the writer: each query reads the last
/// committed state, and never waits for the writer (nor the writer for it).
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// As [`Store::page`].
    pub fn page(
        &self,
        filter: &ListFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Cursor>> {
        page_with(&self.conn, filter, after, limit)
    }
}

/// Pages in the WAL past which the writer checkpoints by itself. Normally
/// the [`Checkpointer`] keeps the WAL far below this.
const BACKSTOP_CHECKPOINT_PAGES: i64 = 8_000;

/// Copies committed pages from the WAL into the database file, on a
/// connection of its own, so that the writer never stops for it.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its
/// threshold (1,000 pages by default), on the writer's thread: measured,
/// that was a third of the writer's time under a stream of messages, and
/// each checkpoint copied again the pages every commit rewrites (the top of
/// the order index, the rows of busy conversations). Checkpointing less
/// often and elsewhere copies each page once per round and lets the writer
/// go on meanwhile (a PASSIVE checkpoint runs beside readers and the one
/// writer, never waiting for either).
pub struct Checkpointer {
    conn: Connection,
}

/// Bytes a WAL file keeps when it starts over.
const WAL_SIZE_LIMIT: i64 = 16 << 20;

impl Checkpointer {
    /// Copies what the WAL holds into the database without waiting for
    /// anyone (PASSIVE). Returns the WAL's pages and how many of them are
    /// copied now.
    ///
    /// The WAL starts over only once a checkpoint has copied all of it; a
    /// writer that never pauses keeps this one from ever quite catching up,
    /// and then the writer's own backstop checkpoint finishes the few pages
    /// left (cheap, as this one copied the rest) and the WAL starts over.
    pub fn run(&self) -> Result<(i64, i64)> {
        Ok(self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?)
    }
}

/// Writes conversations inside one transaction (see [`Store::write`]).
pub struct Writer<'t> {
    conn: &'t Connection,
    stmt: rusqlite::CachedStatement<'t>,
    /// Reused for the list columns, which are stored as JSON text.
    buffer: String,
    /// The recent windows read in this unit of work (see `applied`).
    windows: HashMap<String, window::Window>,
    /// Reused for an encoded window.
    blob: Vec<u8>,
}

impl<'t> Writer<'t> {
    /// Writes one conversation, replacing a stored one of the same ID.
    /// Its recent window, when read and changed, is written with it.
    pub fn put(&mut self, c: &Conversation) -> Result<()> {
        let window = self.window_for_row(c)?;
        let lists = encode_lists(&mut self.buffer, c);
        let bytes = (window == Some(true)).then_some(self.blob.as_slice());
        self.stmt
            .execute(row_params!(c, lists, bytes, window.is_some()))?;
        Ok(())
    }

    /// Writes a conversation that replaces whatever was stored under its ID
    /// (an import): its recent window starts empty.
    pub fn put_replacing(&mut self, c: &Conversation) -> Result<()> {
        if !self.windows.is_empty() {
            self.windows.remove(c.id.as_str());
        }
        let lists = encode_lists(&mut self.buffer, c);
        let none: Option<&[u8]> = None;
        self.stmt.execute(row_params!(c, lists, none, true))?;
        Ok(())
    }

    /// Writes a conversation that is not stored (Ok(None)); a stored one is
    /// left as it is and what it keeps when replaced is returned instead
    /// (Ok(Some)): an import that did not read what it replaces learns it
    /// here, at the cost of a second statement only for conversations that
    /// existed (a first restore pays nothing).
    pub fn insert_or_read(&mut self, c: &Conversation) -> Result<Option<Kept>> {
        let lists = encode_lists(&mut self.buffer, c);
        let inserted = self
            .conn
            .prepare_cached(INSERT_NEW)?
            .execute(row_params!(c, lists))?;
        if inserted == 1 {
            return Ok(None);
        }
        Ok(Some(self.conn.prepare_cached(READ_KEPT)?.query_row(
            [c.id.as_str()],
            |r| {
                Ok(Kept {
                    c2c_read_timestamp: r.get::<_, i64>(0)? as u64,
                    group_read_sequence: r.get::<_, i64>(1)? as u64,
                    order_key: r.get::<_, i64>(2)? as u64,
                    read_ms: r.get::<_, i64>(3)? as u64,
                })
            },
        )?))
    }

    /// Starts a nested unit inside the transaction: undone alone by
    /// `rollback_unit`, kept by `release_unit`. Writes queued together share
    /// one transaction, each in a unit of its own, so that each stays all or
    /// nothing.
    pub fn begin_unit(&mut self) -> Result<()> {
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
        Ok(())
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
                 AND (unread_count <> 0 OR group_at_info <> '[]' OR (last_message IS NOT NULL AND CASE \
                   WHEN conv_type = 1 OR COALESCE(json_extract(last_message, '$.seq'), 0) = 0 \
                   THEN read_ms < COALESCE(json_extract(last_message, '$.timestampMs'), \
                                           json_extract(last_message, '$.timestamp') * 1000) \
                   ELSE group_read_sequence < 0 OR group_read_sequence < json_extract(last_message, '$.seq') END))",
                None,
            ),
            ReadUpTo::Timestamp(t) => (
                "SELECT conversation_id FROM conversation WHERE (?1 IS NULL OR conv_type = ?1) \
                 AND (unread_count <> 0 OR group_at_info <> '[]' \
                   OR (c2c_read_timestamp >= 0 AND c2c_read_timestamp < ?2))",
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
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, position FROM conversation_group ORDER BY position")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn pinned_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM conversation WHERE is_pinned = 1")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }
}

/// The list columns of `c`, as JSON text in the reused buffer: the
/// group @ entries, the marks and the conversation groups, in the
/// returned ranges of it.
fn encode_lists<'b>(text: &'b mut String, c: &Conversation) -> Lists<'b> {
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
struct Lists<'a> {
    at: &'a str,
    marks: &'a str,
    groups: &'a str,
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
fn encode_list<T>(
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

/// [`Store::page`] on any connection to the store.
fn page_with(
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
                .collect::<rusqlite::Result<Vec<_>>>()?,
            Some(c) => conn
                .prepare_cached(PAGE_AFTER_ALL)?
                .query_map(
                    params![limit as i64, c.pinned, c.sort_order, c.id.as_str()],
                    read,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        return Ok(rows);
    }
    let (kind, mark, group, unread, at) = filter_params(filter)?;
    let rows = match after {
        None => {
            let mut stmt = conn.prepare_cached(PAGE_FIRST)?;
            let rows =
                stmt.query_map(params![kind, mark, group, unread, at, limit as i64], read)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
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
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        }
    };
    Ok(rows)
}

fn load_with(conn: &Connection, id: &str) -> Result<Option<Conversation>> {
    let mut stmt = conn.prepare_cached(SELECT_ONE)?;
    let row = stmt.query_row([id], read_row).optional()?;
    row.transpose()
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

type FilterParams = (Option<i32>, Option<String>, Option<String>, bool, bool);

fn filter_params(f: &ListFilter) -> Result<FilterParams> {
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

/// Moves a store from the folder 0.1.0 named after the user ID to the
/// folder this version uses, once: when the new one does not exist and a
/// folder of exactly that name (byte for byte: on a case-insensitive file
/// system "alice" must not adopt "Alice") holds a database.
pub fn adopt_legacy_folder(legacy: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let (Some(parent), Some(name)) = (legacy.parent(), legacy.file_name()) else {
        return Ok(());
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(());
    };
    let exact = entries
        .flatten()
        .any(|e| e.file_name().as_encoded_bytes() == name.as_encoded_bytes());
    if exact && legacy.join(DATABASE_FILE).is_file() {
        crate::log::info(format_args!(
            "moving the store {} to {}",
            legacy.display(),
            dir.display()
        ));
        std::fs::rename(legacy, dir).map_err(|e| {
            Error::from(e).context(format_args!(
                "moving the store {} to {}",
                legacy.display(),
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// The store's lock: `flock` on the database file itself, exclusive for an
/// instance that writes, shared for read-only ones.
///
/// On the database, so deleting a file cannot defeat it (0.1.0 locked a
/// separate LOCK file). `flock`, not POSIX record locks: SQLite's own
/// record locks are per process and it unlocks the whole file at times,
/// which would drop a record lock of ours; `flock` locks are independent
/// of those. An `flock` belongs to the open file, so a child forked without
/// exec would share it and keep the store locked while it lives: the
/// descriptor is listed in [`LOCK_FDS`], and the library's fork handler
/// closes the child's copies (`close_lock_fds_in_child`).
pub struct StoreLock {
    _file: File,
    slot: Option<usize>,
}

/// Descriptors of the store locks held in this process (-1: free slot),
/// readable without a lock or an allocation, as a fork handler must.
static LOCK_FDS: [AtomicI32; LOCK_SLOTS] = [const { AtomicI32::new(-1) }; LOCK_SLOTS];
/// More stores than this open at once still lock, but a forked child then
/// keeps the extra ones locked while it lives.
const LOCK_SLOTS: usize = 256;

/// In a child just forked: hands each inherited lock descriptor to `close`
/// and forgets it, so that the child does not hold its parent's stores.
pub fn close_lock_fds_in_child(mut close: impl FnMut(i32)) {
    for slot in &LOCK_FDS {
        let fd = slot.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            close(fd);
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            LOCK_FDS[slot].store(-1, Ordering::Release);
        }
    }
}

fn locked_elsewhere(dir: &Path) -> Error {
    Error::new(
        ErrorCode::StoreLocked,
        format!(
            "the store {} is already open in another instance (in this or another process)",
            dir.display()
        ),
    )
}

fn cannot_be_written(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::ReadOnly,
        format!(
            "the store {} cannot be written ({why}); give the instance write access, or open it \
             with \"read_only\": true to read it",
            path.display()
        ),
    )
}

/// Loosens nothing: removes the group and other bits of `path` when set.
fn tighten(path: &Path, mode: u32) {
    let Some(found) = platform::mode(path) else {
        return;
    };
    if found & 0o077 != 0 {
        // Not ours to change (another owner): left as it is.
        match platform::set_mode(path, mode) {
            Ok(()) => crate::log::warn(format_args!(
                "{} was open to other users ({found:o}): now {mode:o}",
                path.display()
            )),
            Err(e) => crate::log::warn(format_args!(
                "{} is open to other users ({found:o}) and could not be changed: {e}",
                path.display()
            )),
        }
    }
}

/// Creates the folder and the database file with owner-only permissions
/// (tightening existing ones), takes the lock, and returns the database's
/// path.
fn prepare_files(dir: &Path, read_only: bool) -> Result<(PathBuf, StoreLock)> {
    let path = dir.join(DATABASE_FILE);
    if read_only {
        if !path.is_file() {
            return Err(Error::new(
                ErrorCode::Io,
                format!("{}: no store to open read-only", path.display()),
            ));
        }
    } else {
        platform::create_private_dir(dir)
            .map_err(|e| Error::from(e).context(format_args!("creating {}", dir.display())))?;
        tighten(dir, 0o700);
        if !path.exists() {
            // SQLite gives its -wal and -shm files the database's mode.
            platform::create_private_file(&path)
                .map_err(|e| Error::from(e).context(format_args!("creating {}", path.display())))?;
        }
        for suffix in ["", "-wal", "-shm"] {
            tighten(&dir.join(format!("{DATABASE_FILE}{suffix}")), 0o600);
        }
    }
    let meta = std::fs::metadata(&path)
        .map_err(|e| Error::from(e).context(format_args!("reading {}", path.display())))?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorCode::Io,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(!read_only)
        .open(&path)
        .map_err(|e| {
            if platform::is_permission_error(&e) {
                cannot_be_written(&path, e)
            } else {
                Error::from(e).context(format_args!("opening {}", path.display()))
            }
        })?;
    let locked = if read_only {
        file.try_lock_shared()
    } else {
        file.try_lock()
    };
    match locked {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(locked_elsewhere(dir)),
        Err(TryLockError::Error(e)) => {
            return Err(Error::from(e).context(format_args!("locking {}", path.display())))
        }
    }
    let fd = platform::raw_fd(&file);
    let slot = LOCK_FDS.iter().position(|s| {
        s.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    });
    Ok((path, StoreLock { _file: file, slot }))
}

fn corrupt(column: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Database,
        format!("database: stored column '{column}' is corrupt: {why}"),
    )
}

fn column_json<T: serde::de::DeserializeOwned>(row: &Row, idx: usize, name: &str) -> Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| corrupt(name, e))
}

fn column_text(row: &Row, idx: usize, name: &str) -> Result<Text> {
    let s: String = row.get(idx)?;
    Text::new(&s).map_err(|e| corrupt(name, e.message()))
}

/// Reads one row. The outer result is SQLite's; the inner one is ours (a row
/// that does not decode is reported as a database error, never a panic).
fn read_row(row: &Row) -> rusqlite::Result<Result<Conversation>> {
    Ok(decode_row(row))
}

fn decode_row(row: &Row) -> Result<Conversation> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_conversations;

    /// A test's folder, removed when dropped (also when the test fails).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("imconv-store-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sample() -> Vec<Conversation> {
        parse_conversations(
            br#"[{"conversationID":"c2c_a","showName":"A","unreadCount":18446744073709551615,
                  "orderKey":9223372036854775808,"markList":[1,18446744073709551615],
                  "lastMessage":{"msgID":"m","timestamp":-5,"seq":7,"x":[1,2]},
                  "groupAtInfoList":[{"seq":3,"atType":2}],"conversationGroupList":["g"]},
                 {"conversationID":"group_b","groupType":"Work"}]"#,
        )
        .unwrap()
    }

    #[test]
    fn round_trips_every_field_including_u64_extremes() {
        let mut s = Store::open(None, Durability::Normal).unwrap();
        let convs = sample();
        s.upsert(&convs).unwrap();
        assert_eq!(s.count().unwrap(), 2);
        for c in &convs {
            assert_eq!(s.load(c.id.as_str()).unwrap().as_ref(), Some(c));
        }
        assert_eq!(s.load("c2c_nobody").unwrap(), None);
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn upsert_replaces() {
        let mut s = Store::open(None, Durability::Normal).unwrap();
        s.upsert(&sample()).unwrap();
        let mut c = sample().remove(1);
        c.show_name = Text::new("renamed").unwrap();
        s.upsert(std::slice::from_ref(&c)).unwrap();
        assert_eq!(s.count().unwrap(), 2);
        assert_eq!(
            s.load("group_b").unwrap().unwrap().show_name.as_str(),
            "renamed"
        );
    }

    #[test]
    fn persists_and_locks() {
        let scratch = Scratch::new("test");
        let dir = scratch.0.clone();
        {
            let mut s = Store::open(Some(&dir), Durability::Full).unwrap();
            s.upsert(&sample()).unwrap();
            let e = Store::open(Some(&dir), Durability::Normal).err().unwrap();
            assert_eq!(e.code(), ErrorCode::StoreLocked, "{e}");
        }
        let s = Store::open(Some(&dir), Durability::Normal).unwrap();
        assert_eq!(s.count().unwrap(), 2);
        assert_eq!(s.load("c2c_a").unwrap().unwrap(), sample()[0]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checkpoints_run_beside_the_writer_and_the_wal_starts_over() {
        let scratch = Scratch::new("ckpt");
        let dir = scratch.0.clone();
        let mut s = Store::open(Some(&dir), Durability::Normal).unwrap();
        let checkpointer = s.checkpointer().unwrap().expect("a store on disk has one");
        let many = |from: usize| -> Vec<Conversation> {
            (from..from + 500)
                .map(|i| {
                    let mut c = sample().remove(1);
                    c.id = ConversationId::parse(&format!("group_g{i}")).unwrap();
                    c.show_name = Text::new(&"x".repeat(300)).unwrap();
                    c
                })
                .collect()
        };
        for round in 0..4 {
            s.upsert(&many(round * 500)).unwrap();
        }
        // Everything committed is copied, by the second connection.
        let (pages, copied) = checkpointer.run().unwrap();
        assert!(pages > 50, "{pages} pages in the WAL");
        assert_eq!(copied, pages);
        // The writer's next transaction starts the WAL over: it then holds
        // only what that one wrote.
        s.upsert(&many(5000)[..1]).unwrap();
        let (pages_after, _) = checkpointer.run().unwrap();
        assert!(
            pages_after < 10,
            "{pages_after} pages: the WAL did not start over"
        );
        assert_eq!(s.count().unwrap(), 2001);
        // The writer's backstop and the size the WAL is cut back to.
        let backstop: i64 = s
            .conn
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
            .unwrap();
        assert_eq!(backstop, BACKSTOP_CHECKPOINT_PAGES);
        // In memory or read-only: nothing to checkpoint.
        drop((s, checkpointer));
        let ro = Store::open_with(
            Some(&dir),
            StoreOptions {
                durability: Durability::Normal,
                read_only: true,
            },
        )
        .unwrap();
        assert!(ro.checkpointer().unwrap().is_none());
        assert_eq!(ro.count().unwrap(), 2001);
        drop(ro);
        let mem = Store::open(None, Durability::Normal).unwrap();
        assert!(mem.checkpointer().unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn durability_sets_wal_and_synchronous() {
        let scratch = Scratch::new("sync");
        let dir = scratch.0.clone();
        for (durability, expected) in [(Durability::Normal, 1), (Durability::Full, 2)] {
            let s = Store::open(Some(&dir), durability).unwrap();
            let sync: i64 = s
                .conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap();
            assert_eq!(sync, expected, "{durability:?}");
            let mode: String = s
                .conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn migrates_a_version_1_store() {
        let scratch = Scratch::new("v1");
        let dir = scratch.0.clone();
        std::fs::create_dir_all(&dir).unwrap();
        {
            let conn = Connection::open(dir.join(DATABASE_FILE)).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            // Old counter keys (small) with and without a message or a
            // draft, imported large keys (the largest there is).
            for (id, key, message, draft) in [
                ("c2c_small", 5i64, None, 0i64),
                ("c2c_huge", -1i64, None, 0),
                ("c2c_mid", 1i64 << 62, None, 0),
                (
                    "c2c_talked",
                    3,
                    Some(r#"{"msgID":"m","timestamp":1700}"#),
                    0,
                ),
                (
                    "c2c_drafted",
                    4,
                    Some(r#"{"msgID":"m","timestamp":1700}"#),
                    1800,
                ),
            ] {
                conn.execute(
                    "INSERT INTO conversation VALUES (?1, 1, '', '', '', 0, 0, ?3, '[]', '', ?4, 0, ?2, '[]', '', '[]', 0, 0)",
                    params![id, key, message, draft],
                )
                .unwrap();
            }
        }
        let s = Store::open(Some(&dir), Durability::Normal).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let key = |id: &str| s.load(id).unwrap().unwrap().order_key;
        assert_eq!(key("c2c_huge"), u64::MAX);
        assert_eq!(key("c2c_small"), 5);
        assert_eq!(key("c2c_talked"), (1700 << 32) | 3);
        assert_eq!(key("c2c_drafted"), (1800 << 32) | 4);
        let order: Vec<String> = s
            .page(&ListFilter::default(), None, 10)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(
            order,
            [
                "c2c_huge",
                "c2c_mid",
                "c2c_drafted",
                "c2c_talked",
                "c2c_small"
            ]
        );
        assert_eq!(s.max_order_key().unwrap(), u64::MAX);
        // The tick goes on from the largest one handed out.
        assert_eq!(s.order_tick().unwrap(), 5);
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn migrates_a_version_4_store_to_millisecond_positions() {
        let scratch = Scratch::new("v4");
        let dir = scratch.0.clone();
        std::fs::create_dir_all(&dir).unwrap();
        {
            let conn = Connection::open(dir.join(DATABASE_FILE)).unwrap();
            for m in &MIGRATIONS[..4] {
                conn.execute_batch(m).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            for (id, kind, read) in [("c2c_a", 1, 1700i64), ("c2c_b", 1, 0), ("group_g", 2, 0)] {
                conn.execute(
                    "INSERT INTO conversation VALUES (?1, ?2, '', '', '', 1, 0, NULL, '[]', '', 0, 0, 0, '[]', '', '[]', ?3, 0, 0)",
                    params![id, kind, read],
                )
                .unwrap();
            }
            // Unread after the position (kept); read before it (forgotten by
            // migration 6), and the last message, read, which is kept.
            conn.execute_batch(
                "INSERT INTO applied_message VALUES ('c2c_a', 'm', 1701, 0, 1);
                 INSERT INTO applied_message VALUES ('c2c_a', 'old', 1699, 0, 0);
                 INSERT INTO applied_message VALUES ('c2c_a', 'last', 1600, 0, 0);
                 UPDATE conversation SET last_message = '{\"msgID\":\"last\",\"timestamp\":1600}'
                   WHERE conversation_id = 'c2c_a';",
            )
            .unwrap();
            // An unread mention of before: its @ entry is found for it.
            conn.execute_batch(
                "UPDATE conversation SET group_at_info = '[[7,1]]' WHERE conversation_id = 'group_g';
                 INSERT INTO applied_message VALUES ('group_g', 'x', 5, 7, 1);
                 INSERT INTO applied_message VALUES ('group_g', 'y', 5, 8, 1);",
            )
            .unwrap();
        }
        let mut s = Store::open(Some(&dir), Durability::Normal).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        // An old position covers its whole second; nothing read stays 0.
        let read = |s: &Store, id: &str| s.load(id).unwrap().unwrap().read_ms;
        assert_eq!(read(&s, "c2c_a"), 1_700_999);
        assert_eq!((read(&s, "c2c_b"), read(&s, "group_g")), (0, 0));
        // Remembered message times are milliseconds now: reading second
        // 1700 leaves the message of 1701 unread, reading 1701 marks it.
        let counts = s
            .write(|w| {
                Ok([1700, 1701].map(|t| {
                    w.mark_messages_read("c2c_a", ReadUpTo::Timestamp(t))
                        .unwrap()
                        .count
                }))
            })
            .unwrap();
        assert_eq!(counts, [0, 1]);
        let at = s
            .write(|w| {
                let mut at = |id| w.applied("group_g", id).map(|a| a.unwrap().at_type);
                Ok((at("x")?, at("y")?))
            })
            .unwrap();
        assert_eq!(at, (1, 0));
        let kept = s
            .write(|w| {
                let mut known = |id| w.applied("c2c_a", id).map(|a| a.is_some());
                Ok((known("m")?, known("old")?, known("last")?))
            })
            .unwrap();
        assert_eq!(kept, (true, false, true));
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The plan SQLite picks for `sql`, as text.
    fn plan(s: &Store, sql: &str) -> String {
        let mut stmt = s
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        // Parameters stay unbound (NULL): only the plan is read.
        let mut rows = stmt.raw_query();
        let mut steps = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            steps.push(row.get::<_, String>(3).unwrap());
        }
        steps.join("; ")
    }

    #[test]
    fn marking_read_walks_only_unread_messages() {
        use super::applied::{COUNT_UNREAD, MARK_READ_ALL, MARK_READ_RANGE, MARK_READ_UNPLACED};
        let s = Store::open(None, Durability::Normal).unwrap();
        for (sql, index) in [
            (MARK_READ_ALL, "applied_unread"),
            (
                MARK_READ_RANGE,
                "applied_unread (conversation_id=? AND <expr>>? AND <expr><?)",
            ),
            (COUNT_UNREAD, "applied_unread"),
            (
                MARK_READ_UNPLACED,
                "applied_unread (conversation_id=? AND <expr>=?)",
            ),
        ] {
            let p = plan(&s, sql);
            assert!(p.contains(index) && !p.contains("SCAN"), "{sql}: {p}");
        }
    }

    #[test]
    fn opening_and_paging_use_the_order_index() {
        let s = Store::open(None, Durability::Normal).unwrap();
        let max = plan(&s, MAX_ORDER);
        assert!(!max.contains("SCAN conversation"), "{max}");
        let after = plan(&s, PAGE_AFTER);
        assert!(
            after.contains("SEARCH conversation USING") && after.contains("conversation_order"),
            "{after}"
        );
        assert!(!after.contains("TEMP B-TREE"), "no sort: {after}");
        let first = plan(&s, PAGE_FIRST);
        assert!(
            first.contains("conversation_order") && !first.contains("TEMP B-TREE"),
            "{first}"
        );
        // Unfiltered pages read the index alone.
        for sql in [PAGE_FIRST_ALL, PAGE_AFTER_ALL] {
            let p = plan(&s, sql);
            assert!(
                p.contains("COVERING INDEX conversation_order") && !p.contains("TEMP B-TREE"),
                "{p}"
            );
        }
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            id: "group_a:b".into(),
            pinned: true,
            sort_order: -5,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("2:1:x"), None);
        assert_eq!(Cursor::decode("1:x:y"), None);
        assert_eq!(Cursor::decode("1"), None);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let scratch = Scratch::new("newer");
        let dir = scratch.0.clone();
        {
            let s = Store::open(Some(&dir), Durability::Normal).unwrap();
            s.conn
                .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let e = Store::open(Some(&dir), Durability::Normal).err().unwrap();
        assert_eq!(e.code(), ErrorCode::Database);
        assert!(e.message().contains("newer"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
