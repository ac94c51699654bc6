//! Encryption at rest (issue 27): a keyed store opens only with its key,
//! a wrong or missing key changes nothing and is never taken for damage,
//! a damaged first page is told from a wrong key, and nothing written is
//! readable in any file of the store.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use imconv::config::{Config, OnDamage};
use imconv::engine::Engine;
use imconv::error::{ErrorCode, Result};
use imconv::key::StoreKey;
use imconv::state::delete_user_store;
use imconv::write::Write;

use common::*;

const KEY_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_B: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn config(data_dir: &Path, key: Option<&str>) -> Config {
    Config {
        data_dir: Some(data_dir.to_path_buf()),
        encryption_key: key.map(|k| StoreKey::from_hex(k, "key").unwrap()),
        ..Config::in_memory("me")
    }
}

fn open(data_dir: &Path, key: Option<&str>) -> Result<Engine<View>> {
    Engine::open(&config(data_dir, key))
}

fn store_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("me")
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn fill(e: &Engine<View>) {
    import_ok(
        e,
        r#"[{"conversationID":"c2c_alice","showName":"Alice Secretname","draftText":"draft-secret"},
            {"conversationID":"group_club","showName":"Club Secretname"}]"#,
    );
}

#[test]
fn a_keyed_store_opens_only_with_its_key_and_a_wrong_one_changes_nothing() {
    let data = Scratch::new("enc-keys");
    {
        let e = open(&data, Some(KEY_A)).unwrap();
        fill(&e);
    }
    let before = files(&store_dir(&data));
    assert!(before.keys().any(|p| p.ends_with("conversations.keycheck")));
    for (path, bytes) in &before {
        assert!(
            !contains(bytes, b"Secretname"),
            "{} holds plain text",
            path.display()
        );
    }
    for (key, says) in [
        (None, "is encrypted"),
        (Some(KEY_B), "does not open with this encryption_key"),
    ] {
        for on_damage in [OnDamage::Fail, OnDamage::Rebuild] {
            let e = Engine::<View>::open(&Config {
                on_damage,
                ..config(&data, key)
            })
            .err()
            .expect("opened with a wrong key");
            assert_eq!(e.code(), ErrorCode::WrongKey, "{}", e.message());
            assert!(e.message().contains(says), "{}", e.message());
            assert!(!e.message().contains(&KEY_A[8..40]) && !e.message().contains(&KEY_B[8..40]));
            assert_eq!(
                files(&store_dir(&data)),
                before,
                "a wrong key changed the files"
            );
        }
    }
    let e = open(&data, Some(KEY_A)).unwrap();
    assert_eq!(
        get(&e, "c2c_alice").0.show_name.as_str(),
        "Alice Secretname"
    );
    assert_eq!(get(&e, "c2c_alice").0.draft_text.as_str(), "draft-secret");
}

#[test]
fn a_key_for_a_plain_store_is_refused_and_a_plain_store_stays_plain() {
    let data = Scratch::new("enc-plain");
    {
        let e = open(&data, None).unwrap();
        fill(&e);
    }
    let before = files(&store_dir(&data));
    let e = open(&data, Some(KEY_A))
        .err()
        .expect("a key opened a plain store");
    assert_eq!(e.code(), ErrorCode::WrongKey);
    assert!(e.message().contains("is not encrypted") && e.message().contains("imconv_rekey"));
    assert_eq!(files(&store_dir(&data)), before);
    assert!(
        before.values().any(|b| contains(b, b"Secretname")),
        "the plain store is not plain"
    );
    let e = open(&data, None).unwrap();
    assert_eq!(
        get(&e, "group_club").0.show_name.as_str(),
        "Club Secretname"
    );
}

#[test]
fn a_damaged_first_page_is_damage_when_the_key_check_confirms_the_key() {
    let data = Scratch::new("enc-page1");
    {
        let e = open(&data, Some(KEY_A)).unwrap();
        fill(&e);
    }
    let db = store_dir(&data).join("conversations.db");
    let mut bytes = fs::read(&db).unwrap();
    bytes[200] ^= 0x01;
    fs::write(&db, &bytes).unwrap();
    let e = open(&data, Some(KEY_A))
        .err()
        .expect("a damaged page 1 opened");
    assert_eq!(e.code(), ErrorCode::StoreDamaged, "{}", e.message());
    // Another key is still a wrong key, damaged or not.
    let e = open(&data, Some(KEY_B)).err().unwrap();
    assert_eq!(e.code(), ErrorCode::WrongKey, "{}", e.message());
    // Without the key check, nothing confirms the key: a wrong key, never
    // rebuilt.
    let check = store_dir(&data).join("conversations.keycheck");
    let saved = fs::read(&check).unwrap();
    fs::remove_file(&check).unwrap();
    let e = Engine::<View>::open(&Config {
        on_damage: OnDamage::Rebuild,
        ..config(&data, Some(KEY_A))
    })
    .err()
    .unwrap();
    assert_eq!(e.code(), ErrorCode::WrongKey, "{}", e.message());
    assert!(!store_dir(&data).join("conversations.db.damaged").exists());
    // With it, "rebuild" rebuilds: a new encrypted store in its place.
    fs::write(&check, saved).unwrap();
    let e = Engine::<View>::open(&Config {
        on_damage: OnDamage::Rebuild,
        ..config(&data, Some(KEY_A))
    })
    .unwrap();
    drop(e);
    assert!(store_dir(&data).join("conversations.db.damaged").exists());
    assert_eq!(open(&data, None).err().unwrap().code(), ErrorCode::WrongKey);
    open(&data, Some(KEY_A)).unwrap();
}

fn rekey(e: &Engine<View>, key: Option<&str>) -> Result<()> {
    write(
        e,
        Write::Rekey(key.map(|k| StoreKey::from_hex(k, "key").unwrap())),
    )
}

#[test]
fn rekey_encrypts_changes_the_key_and_decrypts_with_the_instance_in_use() {
    let data = Scratch::new("enc-rekey");
    let e = open(&data, None).unwrap();
    fill(&e);
    rekey(&e, Some(KEY_A)).unwrap();
    // The instance goes on: reads from the store and writes after it.
    import_ok(
        &e,
        r#"[{"conversationID":"c2c_bob","showName":"Bob Secretname"}]"#,
    );
    assert_eq!(all_ids(&e, &Default::default()).len(), 3);
    drop(e);
    for (path, bytes) in files(&store_dir(&data)) {
        assert!(
            !contains(&bytes, b"Secretname"),
            "{} holds plain text",
            path.display()
        );
    }
    assert_eq!(open(&data, None).err().unwrap().code(), ErrorCode::WrongKey);
    for (path, _) in files(&store_dir(&data)) {
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
    }
    let e = open(&data, Some(KEY_A)).unwrap();
    assert_eq!(get(&e, "c2c_bob").0.show_name.as_str(), "Bob Secretname");
    rekey(&e, Some(KEY_B)).unwrap();
    import_ok(&e, r#"[{"conversationID":"c2c_carol","showName":"Carol"}]"#);
    drop(e);
    assert_eq!(
        open(&data, Some(KEY_A)).err().unwrap().code(),
        ErrorCode::WrongKey
    );
    let e = open(&data, Some(KEY_B)).unwrap();
    assert_eq!(all_ids(&e, &Default::default()).len(), 4);
    rekey(&e, None).unwrap();
    drop(e);
    assert!(!store_dir(&data).join("conversations.keycheck").exists());
    let e = open(&data, None).unwrap();
    assert_eq!(get(&e, "c2c_alice").0.draft_text.as_str(), "draft-secret");
    assert_eq!(all_ids(&e, &Default::default()).len(), 4);
}

#[test]
fn a_bad_new_key_is_refused_naming_it_without_echoing_it() {
    let err = StoreKey::from_hex(&KEY_A[..10], "new_key_hex").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(
        err.message().starts_with("new_key_hex must be 64"),
        "{}",
        err.message()
    );
    let memory = memory();
    let err = rekey(&memory, Some(KEY_A)).unwrap_err();
    assert_eq!(
        err.code(),
        ErrorCode::InvalidParameters,
        "{}",
        err.message()
    );
}

#[test]
fn delete_store_is_refused_while_open_and_removes_the_store_whole() {
    let data = Scratch::new("enc-delete");
    let config = config(&data, Some(KEY_A));
    let e = Engine::<View>::open(&config).unwrap();
    fill(&e);
    let err = delete_user_store(&config).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreLocked, "{}", err.message());
    assert!(store_dir(&data).join("conversations.db").exists());
    drop(e);
    // The key is lost: another key is refused, and the host deletes.
    let lost = Config {
        encryption_key: Some(StoreKey::from_hex(KEY_B, "key").unwrap()),
        ..config.clone()
    };
    assert_eq!(
        Engine::<View>::open(&lost).err().unwrap().code(),
        ErrorCode::WrongKey
    );
    assert!(delete_user_store(&lost).unwrap());
    assert!(!store_dir(&data).exists());
    assert_eq!(
        fs::read_dir(&*data).unwrap().count(),
        0,
        "something of the store was left"
    );
    assert!(!delete_user_store(&lost).unwrap());
    // A new store, with the new key.
    let e = Engine::<View>::open(&lost).unwrap();
    assert!(all_ids(&e, &Default::default()).is_empty());
}

/// Each text in UTF-8, UTF-16LE and UTF-16BE.
fn encodings(text: &str) -> Vec<Vec<u8>> {
    let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    vec![text.as_bytes().to_vec(), le, be]
}

/// Every file under `dir` holds none of `texts` in any encoding; returns
/// how many files were searched.
fn assert_unreadable(dir: &Path, texts: &[&str]) -> usize {
    let all = files(dir);
    for (path, bytes) in &all {
        for text in texts {
            for needle in encodings(text) {
                assert!(
                    !contains(bytes, &needle),
                    "{} holds {text:?}",
                    path.display()
                );
            }
        }
    }
    all.len()
}

/// Item 7: known texts written through every write call, the store's files
/// as a crash leaves them (copied while the instance runs, its WAL full),
/// that copy recovered and written again, a backup, and a rebuild's files
/// moved aside: no file under `data_dir` holds any of them.
#[test]
fn nothing_written_is_readable_in_any_file_of_an_encrypted_store() {
    const TEXTS: &[&str] = &[
        "c2c_secretuser",
        "group_secretclub",
        "Secret Showname",
        "secret-face.png",
        "secret message text",
        "secret-msg-id",
        "secret draft text",
        "secret custom data",
        "Secret Group Name",
        "Renamed Secret Group",
        "Secret Profile Name",
    ];
    let data = Scratch::new("enc-unreadable");
    let live = data.join("live");
    let e = open(&live, Some(KEY_A)).unwrap();
    import_ok(
        &e,
        r#"[{"conversationID":"c2c_secretuser","showName":"Secret Showname","faceUrl":"secret-face.png"},
            {"conversationID":"group_secretclub","showName":"Secret Showname"}]"#,
    );
    messages(
        &e,
        &format!(
            "[{}]",
            msg(
                "c2c_secretuser",
                "secret-msg-id",
                10,
                0,
                r#","text":"secret message text""#
            )
        ),
    )
    .unwrap();
    sync(
        &e,
        r#"[{"conversationID":"group_secretclub","showName":"Secret Showname","unreadCount":2}]"#,
    )
    .unwrap();
    for op in [
        Write::Draft {
            id: id("c2c_secretuser"),
            text: text("secret draft text"),
        },
        Write::Pin {
            id: id("c2c_secretuser"),
            pinned: true,
        },
        Write::CustomData {
            ids: ids(&["c2c_secretuser"]),
            data: text("secret custom data"),
        },
        Write::Mark {
            ids: ids(&["group_secretclub"]),
            mark: 1,
            enable: true,
        },
        Write::CreateGroup {
            name: text("Secret Group Name"),
            ids: ids(&["c2c_secretuser"]),
        },
        Write::CreateGroup {
            name: text("Other Group"),
            ids: ids(&["group_secretclub"]),
        },
        Write::RenameGroup {
            from: text("Other Group"),
            to: text("Renamed Secret Group"),
        },
        Write::MarkMessageRead {
            id: id("c2c_secretuser"),
            msg_id: text("secret-msg-id"),
        },
        Write::Profiles(br#"[{"userID":"secretuser","showName":"Secret Profile Name"}]"#.to_vec()),
    ] {
        write(&e, op).unwrap();
    }
    // A crash now: the files as they are (WAL and shared memory included).
    let crashed = data.join("crashed");
    copy_dir(&store_dir(&live), &store_dir(&crashed));
    assert!(store_dir(&crashed).join("conversations.db-wal").exists());
    let searched = assert_unreadable(&crashed, TEXTS);
    assert!(searched >= 3, "{searched} files");
    write(&e, Write::Backup(data.join("live").join("backup.db"))).unwrap();
    drop(e);
    // The crashed copy recovers with its key, has everything, takes more.
    let e = open(&crashed, Some(KEY_A)).unwrap();
    let c = get(&e, "c2c_secretuser").0.clone();
    assert_eq!(c.draft_text.as_str(), "secret draft text");
    assert_eq!(c.custom_data.as_str(), "secret custom data");
    write(
        &e,
        Write::Delete {
            ids: ids(&["group_secretclub"]),
        },
    )
    .unwrap();
    drop(e);
    // A rebuild moves the damaged files aside (the first page damaged).
    let db = store_dir(&crashed).join("conversations.db");
    let mut bytes = fs::read(&db).unwrap();
    bytes[300] ^= 0x40;
    fs::write(&db, &bytes).unwrap();
    drop(
        Engine::<View>::open(&Config {
            on_damage: OnDamage::Rebuild,
            ..config(&crashed, Some(KEY_A))
        })
        .unwrap(),
    );
    assert!(store_dir(&crashed)
        .join("conversations.db.damaged")
        .exists());
    assert!(data.join("live").join("backup.db").exists());
    let searched = assert_unreadable(&data, TEXTS);
    assert!(searched >= 6, "{searched} files");
    // The same texts are there in a plain store (the search can find them).
    let plain = data.join("plain");
    let e = open(&plain, None).unwrap();
    import_ok(
        &e,
        r#"[{"conversationID":"c2c_secretuser","showName":"Secret Showname"}]"#,
    );
    drop(e);
    let found = files(&plain)
        .values()
        .any(|b| contains(b, b"Secret Showname"));
    assert!(found, "the search does not find a plain store's text");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}
