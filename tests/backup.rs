//! Online backups (issue 26, item 5): `Write::Backup` takes its place in
//! the write order, so a backup holds exactly the writes accepted before
//! it; every copy passes SQLite's integrity check and opens as a store.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::error::{ErrorCode, Result};
use imconv::write::Write;

use common::*;

fn config(data_dir: &Path) -> Config {
    Config {
        data_dir: Some(data_dir.to_path_buf()),
        ..Config::in_memory("me")
    }
}

fn backup(e: &Engine<View>, path: &Path) -> Result<()> {
    write(e, Write::Backup(path.to_path_buf()))
}

/// The conversation IDs a backup file holds, after SQLite's integrity
/// check passed on it.
fn ids_in(file: &Path) -> BTreeSet<String> {
    let db =
        rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "{}", file.display());
    let mut stmt = db
        .prepare("SELECT conversation_id FROM conversation")
        .unwrap();
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    ids
}

fn one_message(conv: &str) -> Write {
    Write::Messages(format!("[{}]", msg(conv, "m", 1_700_000_000, 1, "")).into_bytes())
}

#[test]
fn backups_under_a_steady_write_load_hold_exactly_the_writes_before_them() {
    let data = Scratch::create("backup-load");
    let out = Scratch::create("backup-load-out");
    let e = Engine::<View>::open(&config(&data)).unwrap();
    let file = out.join("copy.db");
    let mut before: BTreeSet<String> = BTreeSet::new();
    for round in 0..100 {
        let (tx, rx) = mpsc::channel();
        let mut tag = 0;
        for k in 0..5 {
            let id = format!("c2c_r{round}_{k}");
            write_async(&e, one_message(&id), tag, &tx);
            before.insert(id);
            tag += 1;
        }
        write_async(&e, Write::Backup(file.clone()), tag, &tx);
        tag += 1;
        let mut after = BTreeSet::new();
        for k in 0..5 {
            let id = format!("c2c_a{round}_{k}");
            write_async(&e, one_message(&id), tag, &tx);
            after.insert(id);
            tag += 1;
        }
        for _ in 0..tag {
            let (t, r) = wait(&rx);
            assert!(r.is_ok(), "round {round}, call {t}: {r:?}");
        }
        let held = ids_in(&file);
        assert!(
            before.is_subset(&held),
            "round {round}: a write accepted before is missing"
        );
        assert!(
            held.is_disjoint(&after),
            "round {round}: a write accepted after is in it"
        );
        assert_eq!(held.len(), before.len(), "round {round}");
        before.extend(after);
    }
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // No temporary file is left beside it.
    let names: Vec<_> = fs::read_dir(&*out)
        .unwrap()
        .map(|d| d.unwrap().file_name())
        .collect();
    assert_eq!(names, ["copy.db"]);
}

#[test]
fn a_backup_opens_as_a_store_of_its_own() {
    let data = Scratch::create("backup-open");
    let out = Scratch::create("backup-open-out");
    let e = Engine::<View>::open(&config(&data)).unwrap();
    import(
        &e,
        r#"[{"conversationID":"c2c_alice","showName":"Alice","draftText":"hi","isPinned":true}]"#,
    )
    .unwrap();
    let file = out.join("alice.db");
    backup(&e, &file).unwrap();
    drop(e);
    // Put in a fresh data_dir's store folder, it is that user's store.
    let fresh = Scratch::create("backup-open-fresh");
    let dir: PathBuf = config(&fresh).store_dir().unwrap();
    fs::create_dir_all(&dir).unwrap();
    fs::copy(&file, dir.join("conversations.db")).unwrap();
    let e = Engine::<View>::open(&config(&fresh)).unwrap();
    let alice = get(&e, "c2c_alice");
    assert!(alice.1);
    assert_eq!(alice.0.show_name.as_str(), "Alice");
    assert_eq!(alice.0.draft_text.as_str(), "hi");
    assert!(alice.0.is_pinned);
}

#[test]
fn a_backup_that_cannot_be_written_names_the_path_and_changes_nothing() {
    let data = Scratch::create("backup-errors");
    let e = Engine::<View>::open(&config(&data)).unwrap();
    let missing = data.join("no-such-folder").join("copy.db");
    let err = backup(&e, &missing).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert!(err.message().contains("does not exist"), "{err}");
    let err = backup(&e, &data).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert!(err.message().contains("a folder is there"), "{err}");
    let err = backup(&e, Path::new("")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters, "{err}");
    // The instance goes on.
    import(&e, r#"[{"conversationID":"c2c_a"}]"#).unwrap();
    drop(e);
    // A read-only instance writes nothing, backups included.
    let ro = Engine::<View>::open(&Config {
        read_only: true,
        ..config(&data)
    })
    .unwrap();
    let (tx, _rx) = mpsc::channel::<Result<()>>();
    let refused = ro.write(
        Write::Backup(data.join("x.db")),
        ro.completer(move |r| {
            let _ = tx.send(r);
        }),
    );
    assert_eq!(refused.unwrap_err().code(), ErrorCode::ReadOnly);
}

fn restoring(data_dir: &Path, from: &Path) -> Config {
    Config {
        restore_from: Some(from.to_path_buf()),
        ..config(data_dir)
    }
}

/// A store with c2c_a, backed up to `file`; then c2c_later, after it.
fn backed_up_then_changed(data: &Path, file: &Path) {
    let e = Engine::<View>::open(&config(data)).unwrap();
    import(&e, r#"[{"conversationID":"c2c_a","showName":"A"}]"#).unwrap();
    backup(&e, file).unwrap();
    import(&e, r#"[{"conversationID":"c2c_later"}]"#).unwrap();
}

#[test]
fn restore_from_replaces_the_store_and_keeps_the_one_it_replaced_aside() {
    let data = Scratch::create("restore");
    let out = Scratch::create("restore-out");
    let file = out.join("copy.db");
    backed_up_then_changed(&data, &file);
    for round in 0..2 {
        let e = Engine::<View>::open(&restoring(&data, &file)).unwrap();
        assert!(get(&e, "c2c_a").1, "round {round}");
        assert!(!get(&e, "c2c_later").1, "round {round}: after the backup");
        import(&e, r#"[{"conversationID":"c2c_new"}]"#).unwrap();
    }
    // Opened again as usual: the restored store, with what came since.
    let e = Engine::<View>::open(&config(&data)).unwrap();
    assert!(get(&e, "c2c_a").1 && get(&e, "c2c_new").1);
    drop(e);
    // One replaced copy is kept, with its WAL beside it as a pair: the
    // second restore replaced the first restore's store (holding c2c_new).
    let dir = config(&data).store_dir().unwrap();
    let replaced = dir.join("conversations.db.replaced");
    let db = rusqlite::Connection::open(&replaced).unwrap();
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM conversation WHERE conversation_id = 'c2c_new'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_backup_that_is_not_a_whole_store_of_this_user_is_refused_and_changes_nothing() {
    let data = Scratch::create("restore-bad");
    let out = Scratch::create("restore-bad-out");
    let file = out.join("copy.db");
    backed_up_then_changed(&data, &file);
    let garbage = out.join("garbage.db");
    fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let truncated = out.join("truncated.db");
    let bytes = fs::read(&file).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let other = Scratch::create("restore-bad-other");
    let theirs = out.join("theirs.db");
    {
        let e = Engine::<View>::open(&Config {
            data_dir: Some(other.to_path_buf()),
            ..Config::in_memory("bob")
        })
        .unwrap();
        import(&e, r#"[{"conversationID":"c2c_x"}]"#).unwrap();
        backup(&e, &theirs).unwrap();
    }
    let dir = config(&data).store_dir().unwrap();
    let before = fs::read(dir.join("conversations.db")).unwrap();
    for (from, needle) in [
        (&garbage, "restore_from"),
        (&truncated, "restore_from"),
        (&theirs, "belongs to user_id \"bob\""),
        (&out.join("none.db"), "no such file"),
    ] {
        let err = Engine::<View>::open(&restoring(&data, from)).err().unwrap();
        assert!(err.message().contains(needle), "{}: {err}", from.display());
        assert!(
            matches!(err.code(), ErrorCode::Database | ErrorCode::Io),
            "{err}"
        );
        assert_eq!(fs::read(dir.join("conversations.db")).unwrap(), before);
        assert!(!dir.join("conversations.db.replaced").exists());
    }
    let e = Engine::<View>::open(&config(&data)).unwrap();
    assert!(get(&e, "c2c_later").1, "the store is as it was");
}

#[test]
fn a_restore_is_refused_while_the_store_is_open() {
    let data = Scratch::create("restore-locked");
    let out = Scratch::create("restore-locked-out");
    let file = out.join("copy.db");
    backed_up_then_changed(&data, &file);
    let open = Engine::<View>::open(&config(&data)).unwrap();
    let err = Engine::<View>::open(&restoring(&data, &file))
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::StoreLocked, "{err}");
    assert!(get(&open, "c2c_later").1);
    drop(open);
    let err = Config::parse(r#"{"user_id":"me","restore_from":"/x.db"}"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(err.message().contains("needs 'data_dir'"), "{err}");
}
