//! Fault injection: damaged, missing, misplaced or unwritable store files,
//! and a full disk. Each fault gives a clear code and a message naming the
//! problem (at open where it can be known there), never a crash, a hang or
//! a silently wrong answer; after a full disk the store works again once
//! space is back.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::error::{ErrorCode, Result};
use imconv::write::Write;

use common::*;

fn scratch(name: &str) -> Scratch {
    Scratch::create(&format!("faults-{name}"))
}

fn open(data_dir: &Path) -> Result<Engine<View>> {
    Engine::open(&Config {
        data_dir: Some(data_dir.to_path_buf()),
        ..Config::in_memory("me")
    })
}

/// A store with some conversations, closed; returns its database path.
fn made(data_dir: &Path) -> PathBuf {
    let e = open(data_dir).unwrap();
    let docs: Vec<String> = (0..300)
        .map(|i| {
            format!(
                r#"{{"conversationID":"c2c_u{i}","showName":"{}"}}"#,
                "n".repeat(200)
            )
        })
        .collect();
    import(&e, &format!("[{}]", docs.join(","))).unwrap();
    drop(e);
    data_dir.join("me").join("conversations.db")
}

/// Opening fails with `code` and a message holding each of `needles`.
fn refused(data_dir: &Path, code: ErrorCode, needles: &[&str]) {
    let err = open(data_dir).err().expect("the open should have failed");
    assert_eq!(err.code(), code, "{err}");
    for needle in needles {
        assert!(err.message().contains(needle), "{needle:?} not in: {err}");
    }
}

#[test]
fn a_database_replaced_by_garbage_is_refused_at_open() {
    let dir = scratch("garbage");
    let db = made(&dir);
    fs::remove_file(db.with_extension("db-wal")).ok();
    fs::write(&db, vec![0x5a; 64 * 1024]).unwrap();
    refused(
        &dir,
        ErrorCode::StoreDamaged,
        &["conversations.db", "not a database"],
    );
    // Another program's SQLite database is not a store either.
    fs::remove_file(&db).unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE other (x); PRAGMA user_version = 3;")
            .unwrap();
    }
    refused(&dir, ErrorCode::Database, &["inconsistent", "conversation"]);
}

#[test]
fn a_truncated_database_fails_with_a_clear_code_and_never_panics() {
    let dir = scratch("truncated");
    let db = made(&dir);
    let len = fs::metadata(&db).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_len(len / 3).unwrap();
    drop(f);
    match open(&dir) {
        // Found at open, or at the first read of a page that is gone.
        Err(e) => assert_eq!(e.code(), ErrorCode::StoreDamaged, "{e}"),
        Ok(e) => {
            let mut failures = 0;
            for i in (0..300).step_by(7) {
                let id = format!("c2c_u{i}");
                match call(&e, |d| {
                    e.get(imconv::model::ConversationId::parse(&id).unwrap(), d)
                }) {
                    Ok(v) => assert!(!v.1 || v.0.show_name.len() == 200, "wrong answer"),
                    Err(err) => {
                        assert_eq!(err.code(), ErrorCode::StoreDamaged, "{err}");
                        assert!(err.message().contains(&id), "{err}");
                        failures += 1;
                    }
                }
            }
            assert!(
                failures > 0,
                "a third of the file is gone, yet every read worked"
            );
        }
    }
}

#[test]
fn a_zero_length_database_opens_as_a_new_empty_store() {
    let dir = scratch("zero");
    let db = made(&dir);
    fs::remove_file(db.with_extension("db-wal")).ok();
    fs::remove_file(db.with_extension("db-shm")).ok();
    fs::write(&db, b"").unwrap();
    let e = open(&dir).unwrap();
    assert_eq!(e.stored_count().unwrap(), 0);
    import(&e, r#"[{"conversationID":"c2c_a"}]"#).unwrap();
    assert_eq!(e.stored_count().unwrap(), 1);
}

#[test]
fn a_directory_or_a_fifo_in_place_of_the_database_is_refused() {
    let dir = scratch("notfile");
    let db = made(&dir);
    for f in ["", "-wal", "-shm"] {
        fs::remove_file(format!("{}{f}", db.display())).ok();
    }
    fs::create_dir(&db).unwrap();
    refused(
        &dir,
        ErrorCode::Io,
        &["conversations.db", "not a regular file"],
    );
    fs::remove_dir(&db).unwrap();
    let c = std::ffi::CString::new(db.to_str().unwrap()).unwrap();
    // SAFETY: a valid path; makes a FIFO, which must not hang the open.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    refused(&dir, ErrorCode::Io, &["not a regular file"]);
}

#[test]
fn a_data_dir_that_is_a_file_is_refused_and_missing_parents_are_made() {
    let dir = scratch("datadir");
    let file = dir.join("a-file");
    fs::write(&file, b"x").unwrap();
    refused(&file, ErrorCode::Io, &["a-file"]);
    let deep = dir.join("x").join("y").join("z");
    let e = open(&deep).unwrap();
    import(&e, r#"[{"conversationID":"c2c_a"}]"#).unwrap();
    assert!(deep.join("me").join("conversations.db").is_file());
}

#[test]
fn a_data_dir_that_cannot_be_written_is_refused_with_its_path() {
    in_child("read_only_data_dir_child");
}

#[test]
fn read_only_data_dir_child() {
    if std::env::var_os("IMCONV_FAULTS_CHILD").is_none() {
        return; // run by the test above, in a process of its own
    }
    // SAFETY: plain libc calls on this (child) process.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root to become another user");
        return;
    }
    let dir = PathBuf::from(std::env::var_os("IMCONV_FAULTS_CHILD").unwrap()).join("rodir");
    fs::create_dir(&dir).unwrap();
    // A folder of root's that "nobody" may read but not write.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    // SAFETY: as above; this process only runs this test.
    unsafe {
        assert_eq!(libc::setgid(65534), 0);
        assert_eq!(libc::setuid(65534), 0);
    }
    refused(
        &dir,
        ErrorCode::Io,
        &["creating", "rodir", "ermission denied"],
    );
}

#[test]
fn a_newer_or_inconsistent_schema_is_refused() {
    let dir = scratch("schema");
    let db = made(&dir);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        conn.execute(
            "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    }
    refused(&dir, ErrorCode::Database, &["newer"]);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute("DELETE FROM meta WHERE key = 'schema_version'", [])
            .unwrap();
        conn.execute_batch("DROP TABLE applied_message").unwrap();
    }
    refused(
        &dir,
        ErrorCode::Database,
        &["inconsistent", "applied_message"],
    );
}

#[test]
fn a_corrupt_row_fails_its_reads_with_a_clear_code() {
    let dir = scratch("row");
    let db = made(&dir);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "UPDATE conversation SET mark_list = 'not json' WHERE conversation_id = 'c2c_u7'",
            [],
        )
        .unwrap();
    }
    let e = open(&dir).unwrap();
    let err = call(&e, |d| {
        e.get(imconv::model::ConversationId::parse("c2c_u7").unwrap(), d)
    })
    .unwrap_err();
    // Changed behind the library's back: the row fails its checksum.
    assert_eq!(err.code(), ErrorCode::StoreDamaged);
    assert!(err.message().contains("c2c_u7"), "{err}");
    // The rest of the store still answers.
    assert!(get(&e, "c2c_u8").1);
}

/// Runs `test` alone in a child process (it changes process-wide limits).
/// Runs one test in a process of its own. Its folder is made here, in the
/// parent, and removed here too: a child that became another user could not
/// remove a folder of root's.
fn in_child(test: &str) {
    let dir = Scratch::create(&format!("faults-child-{test}"));
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("IMCONV_FAULTS_CHILD", dir.as_os_str())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_full_disk_fails_writes_cleanly_and_the_store_works_again_after() {
    in_child("full_disk_child");
}

#[test]
fn full_disk_child() {
    if std::env::var_os("IMCONV_FAULTS_CHILD").is_none() {
        return; // run by the test above, in a process of its own
    }
    let dir = PathBuf::from(std::env::var_os("IMCONV_FAULTS_CHILD").unwrap()).join("full");
    made(&dir);
    let e = open(&dir).unwrap();
    let before = e.stored_count().unwrap();
    // A file size limit with SIGXFSZ ignored: writes past it fail with
    // EFBIG, as on a full disk.
    // SAFETY: plain libc calls on this (child) process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit {
            rlim_cur: 64 * 1024,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let big: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                r#"{{"conversationID":"c2c_big{i}","faceUrl":"{}"}}"#,
                "f".repeat(1000)
            )
        })
        .collect();
    let err = import(&e, &format!("[{}]", big.join(","))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Database, "{err}");
    assert!(
        err.message().contains("full")
            || err.message().contains("disk")
            || err.message().contains("I/O"),
        "{err}"
    );
    // Nothing of it is there, and what was is intact.
    assert_eq!(e.stored_count().unwrap(), before);
    assert!(get(&e, "c2c_u5").1);
    // Space again: the same import works.
    // SAFETY: as above.
    unsafe {
        let limit = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(import(&e, &format!("[{}]", big.join(","))).unwrap(), 2000);
    write(
        &e,
        Write::Pin {
            id: id("c2c_big7"),
            pinned: true,
        },
    )
    .unwrap();
    drop(e);
    let e = open(&dir).unwrap();
    assert_eq!(e.stored_count().unwrap(), before + 2000);
    assert!(get(&e, "c2c_big7").0.is_pinned);
}
