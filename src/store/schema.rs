//! The schema: forward migrations, the tables the current version needs,
//! and the checks a store opens with.

use rusqlite::OptionalExtension;

use super::Store;
use crate::error::{Error, ErrorCode, Result};

/// Forward migrations; `PRAGMA user_version` counts how many have run.
/// Append only: never edit a migration that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 8: forgotten messages. Bloom filters of the msgIDs bounded history
    // forgot, per conversation in chunks (see `forgotten`), so that a late
    // receipt naming one changes nothing instead of failing.
    "CREATE TABLE forgotten_message (
        conversation_id TEXT NOT NULL,
        chunk           INTEGER NOT NULL,
        n               INTEGER NOT NULL,
        bits            BLOB NOT NULL,
        PRIMARY KEY (conversation_id, chunk)
     ) WITHOUT ROWID;",
    // 9: checksums. Every conversation row carries the checksum of its
    // values (see `checksum`), verified whenever it is read; rows stored
    // before are summed as they are (`fill_checksums`, in Rust, right
    // after this migration), and their recent windows rewritten in the
    // format that carries one.
    "ALTER TABLE conversation ADD COLUMN checksum INTEGER;",
];

/// The migration after which [`fill_checksums`] runs.
const CHECKSUMS: usize = 9;

/// Sums every row a store made before checksums holds (migration 9).
fn fill_checksums(tx: &rusqlite::Transaction) -> Result<()> {
    let mut read = tx.prepare(concat!("SELECT ", columns!(), ", recent FROM conversation"))?;
    let mut write = tx
        .prepare("UPDATE conversation SET checksum = ?2, recent = ?3 WHERE conversation_id = ?1")?;
    let mut rows = read.query([])?;
    let mut blob = Vec::new();
    while let Some(row) = rows.next()? {
        let mut sum = super::checksum::Sum::new(super::checksum::ROW);
        for i in 0..super::ROW_COLUMNS {
            sum.value(row.get_ref(i)?);
        }
        let id: String = row.get(0)?;
        let recent = match row.get::<_, Option<Vec<u8>>>(super::ROW_COLUMNS)? {
            None => None,
            Some(bytes) => {
                let w = super::window::Window::decode(&bytes)
                    .map_err(|e| super::corrupt("recent", e))?;
                w.encode(&mut blob).then(|| blob.clone())
            }
        };
        write.execute(rusqlite::params![id, sum.finish() as i64, recent])?;
    }
    Ok(())
}

pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The tables of the current schema.
pub(super) const REQUIRED_TABLES: [&str; 5] = [
    "conversation",
    "applied_message",
    "conversation_group",
    "profile",
    "meta",
];

impl Store {
    /// Every table this version uses is there (a store whose version says
    /// one thing and whose tables say another is refused).
    pub(super) fn check_schema(&self) -> Result<()> {
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

    pub(super) fn migrate(&mut self) -> Result<()> {
        // The version is kept twice: in the file's header and in `meta`
        // (since 9). A header that disagrees with the record is damaged.
        let (version, recorded) = self.versions()?;
        if let Some(recorded) = recorded {
            if recorded != version {
                return Err(Error::new(
                    ErrorCode::StoreDamaged,
                    format!(
                        "the store is damaged: its header says schema version {version}, its \
                         record says {recorded}"
                    ),
                ));
            }
        }
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
            // Under the write lock, and only if no other process (shared
            // instances opening at once) ran it meanwhile.
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql)
                .map_err(|e| Error::from(e).context(format_args!("migration {}", i + 1)))?;
            if i + 1 == CHECKSUMS {
                fill_checksums(&tx)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            if i + 1 >= CHECKSUMS {
                tx.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                    [(i + 1) as i64],
                )?;
            }
            tx.commit()?;
        }
        Ok(())
    }

    /// The header's schema version and the one `meta` records, read in
    /// one snapshot: another process migrating the store at the same time
    /// (shared instances opening at once) commits both together, and two
    /// separate reads could see one before that commit and one after.
    fn versions(&self) -> Result<(i64, Option<i64>)> {
        let snapshot = self.conn.unchecked_transaction()?;
        let version: i64 = snapshot.pragma_query_value(None, "user_version", |r| r.get(0))?;
        #[cfg(test)]
        super::tests::between_version_reads();
        let recorded = self.recorded_version()?;
        drop(snapshot);
        Ok((version, recorded))
    }

    /// The schema version `meta` records (`None` before version 9, or in
    /// a new store).
    fn recorded_version(&self) -> Result<Option<i64>> {
        let has_meta: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta')",
            [],
            |r| r.get(0),
        )?;
        if !has_meta {
            return Ok(None);
        }
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}
