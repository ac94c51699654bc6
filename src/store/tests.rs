use super::*;
use crate::error::ErrorCode;
use crate::json::parse_conversations;
use crate::model::{ConversationId, Text};

/// A test's folder, removed when dropped (also when the test fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("imconv-store-{name}-{}", std::process::id()));
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
            key: None,
            shared: false,
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
        // As a newer version would: its record says so too.
        s.conn
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                [SCHEMA_VERSION + 1],
            )
            .unwrap();
    }
    let e = Store::open(Some(&dir), Durability::Normal).err().unwrap();
    assert_eq!(e.code(), ErrorCode::Database);
    assert!(e.message().contains("newer"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

thread_local! {
    /// Runs between the two reads of the schema version (see `versions`).
    static BETWEEN_VERSION_READS: std::cell::RefCell<Option<Box<dyn FnMut()>>> =
        const { std::cell::RefCell::new(None) };
}

pub(super) fn between_version_reads() {
    BETWEEN_VERSION_READS.with(|f| {
        if let Some(f) = f.borrow_mut().as_mut() {
            f()
        }
    });
}

#[test]
fn a_migration_committed_by_another_process_while_opening_is_not_damage() {
    // Shared instances open at once: one process commits a migration (the
    // header's version and meta's record together) between this one's two
    // reads of them. Read apart, they disagreed and the open failed with
    // StoreDamaged (seen in tests/shared_processes.rs, about 1 run in 15).
    let scratch = Scratch::new("versions-race");
    let dir = scratch.0.clone();
    drop(Store::open(Some(&dir), Durability::Normal).unwrap());
    let file = dir.join("conversations.db");
    BETWEEN_VERSION_READS.with(|f| {
        *f.borrow_mut() = Some(Box::new(move || {
            let other = rusqlite::Connection::open(&file).unwrap();
            other
                .execute_batch(&format!(
                    "BEGIN IMMEDIATE; PRAGMA user_version = {next}; \
                     UPDATE meta SET value = {next} WHERE key = 'schema_version'; COMMIT;",
                    next = SCHEMA_VERSION + 1
                ))
                .unwrap();
        }))
    });
    let opened = Store::open(Some(&dir), Durability::Normal);
    BETWEEN_VERSION_READS.with(|f| *f.borrow_mut() = None);
    let s = opened.unwrap();
    assert_eq!(s.count().unwrap(), 0);
}
