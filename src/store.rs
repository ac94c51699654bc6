//! The SQLite store: schema, migrations, and the queries behind lookups and
//! imports. Blocking; the engine calls it from blocking threads only.
//!
//! Layout on disk: `<data_dir>/<user_id>/conversations.db` (plus SQLite's
//! `-wal` and `-shm` files) and `<data_dir>/<user_id>/LOCK`, an advisory lock
//! (flock) held for the life of the instance so that no two instances, in
//! this or another process, ever cache one database.

use std::fmt::{self, Write as _};
use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::config::Durability;
use crate::error::{Error, ErrorCode, Result};
use crate::json::parse_stored_message;
use crate::model::{Conversation, ConversationId, GroupAtInfo, Text};

pub(crate) const DATABASE_FILE: &str = "conversations.db";
pub(crate) const LOCK_FILE: &str = "LOCK";

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
];

pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The columns, in the order `decode_row` reads them.
macro_rules! columns {
    () => {
        "conversation_id, conv_type, group_type, show_name, face_url, unread_count, \
         recv_opt, last_message, group_at_info, draft_text, draft_timestamp, is_pinned, \
         order_key, mark_list, custom_data, conversation_groups, c2c_read_timestamp, \
         group_read_sequence"
    };
}

const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM conversation WHERE conversation_id = ?1"
);

const UPSERT: &str = concat!(
    "INSERT OR REPLACE INTO conversation (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
);

pub struct Store {
    conn: Connection,
    /// Held, never read: dropping it releases the flock.
    _lock: Option<File>,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, or an in-memory store
    /// when `dir` is `None`.
    pub fn open(dir: Option<&Path>, durability: Durability) -> Result<Store> {
        let (conn, lock) = match dir {
            None => (Connection::open_in_memory()?, None),
            Some(dir) => {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| {
                        Error::from(e).context(format_args!("creating {}", dir.display()))
                    })?;
                let lock = lock_dir(dir)?;
                (Connection::open(dir.join(DATABASE_FILE))?, Some(lock))
            }
        };
        if dir.is_some() {
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::new(
                    ErrorCode::Database,
                    format!("database: could not switch to WAL mode (got {mode})"),
                ));
            }
        }
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store { conn, _lock: lock };
        store.migrate()?;
        Ok(store)
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
        let mut stmt = self.conn.prepare_cached(SELECT_ONE)?;
        let row = stmt.query_row([id], read_row).optional()?;
        row.transpose()
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

    /// Runs `f` in one transaction, committed when it returns `Ok` and
    /// rolled back (nothing written) when it returns `Err`.
    pub fn write<R>(&mut self, f: impl FnOnce(&mut Writer) -> Result<R>) -> Result<R> {
        let tx = self.conn.transaction()?;
        let result = {
            let mut writer = Writer {
                stmt: tx.prepare_cached(UPSERT)?,
                buffer: String::new(),
            };
            f(&mut writer)?
        };
        tx.commit()?;
        Ok(result)
    }
}

/// Writes conversations inside one transaction (see [`Store::write`]).
pub struct Writer<'t> {
    stmt: rusqlite::CachedStatement<'t>,
    /// Reused for the list columns, which are stored as JSON text.
    buffer: String,
}

impl Writer<'_> {
    /// Writes one conversation, replacing a stored one of the same ID.
    pub fn put(&mut self, c: &Conversation) -> Result<()> {
        let lists = &mut self.buffer;
        lists.clear();
        let at_end = encode_list(lists, c.group_at_info_list.iter(), |out, a| {
            write!(out, "[{},{}]", a.seq, a.at_type)
        });
        let marks_end = encode_list(lists, c.mark_list.iter(), |out, m| write!(out, "{m}"));
        let groups_end = encode_list(lists, c.conversation_group_list.iter(), |out, g| {
            out.push_str(&serde_json::to_string(g.as_str()).map_err(|_| fmt::Error)?);
            Ok(())
        });
        self.stmt.execute(params![
            c.id.as_str(),
            c.id.kind().as_i32(),
            c.group_type.as_str(),
            c.show_name.as_str(),
            c.face_url.as_str(),
            c.unread_count as i64,
            c.recv_opt,
            c.last_message.as_ref().map(|m| m.json.as_str()),
            &lists[..at_end],
            c.draft_text.as_str(),
            c.draft_timestamp as i64,
            c.is_pinned,
            c.order_key as i64,
            &lists[at_end..marks_end],
            c.custom_data.as_str(),
            &lists[marks_end..groups_end],
            c.c2c_read_timestamp as i64,
            c.group_read_sequence as i64,
        ])?;
        Ok(())
    }
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

/// Takes the store's advisory lock, or fails with `StoreLocked`.
fn lock_dir(dir: &Path) -> Result<File> {
    let path: PathBuf = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::from(e).context(format_args!("opening {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::new(
            ErrorCode::StoreLocked,
            format!(
                "the store {} is already open in another instance (in this or another process)",
                dir.display()
            ),
        )),
        Err(TryLockError::Error(e)) => {
            Err(Error::from(e).context(format_args!("locking {}", path.display())))
        }
    }
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_conversations;

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
        let dir = std::env::temp_dir().join(format!("imconv-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
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
    fn durability_sets_wal_and_synchronous() {
        let dir = std::env::temp_dir().join(format!("imconv-store-sync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
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
    fn refuses_a_newer_schema() {
        let dir = std::env::temp_dir().join(format!("imconv-store-newer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
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
