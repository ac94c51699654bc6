//! No symbolic link is followed in a store's folder or files (issue 26,
//! item 7): a link in their place is refused with a message naming it,
//! and nothing is created or chmodded through it. Files a read-only
//! instance creates are owner-only like the rest.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::error::{ErrorCode, Result};

use common::*;

fn open(data_dir: &Path, read_only: bool) -> Result<Engine<View>> {
    Engine::open(&Config {
        data_dir: Some(data_dir.to_path_buf()),
        read_only,
        ..Config::in_memory("me")
    })
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

/// The store's folder for user "me" under `data_dir`.
fn store_dir(data_dir: &Path) -> PathBuf {
    Config {
        data_dir: Some(data_dir.to_path_buf()),
        ..Config::in_memory("me")
    }
    .store_dir()
    .unwrap()
}

fn refused_as_link(data_dir: &Path, link: &Path) {
    let err = open(data_dir, false).err().expect("a link was followed");
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert!(err.message().contains("is a symbolic link"), "{err}");
    assert!(err.message().contains(&link.display().to_string()), "{err}");
}

#[test]
fn a_database_that_is_a_link_is_refused_and_its_target_left_alone() {
    let data = Scratch::create("links-db");
    let outside = Scratch::create("links-db-outside");
    let target = outside.join("precious.db");
    fs::write(&target, b"someone else's file").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    let dir = store_dir(&data);
    fs::create_dir_all(&dir).unwrap();
    let link = dir.join("conversations.db");
    symlink(&target, &link).unwrap();
    refused_as_link(&data, &link);
    // 0.3.0 left the target 0600.
    assert_eq!(mode(&target), 0o644);
    assert_eq!(fs::read(&target).unwrap(), b"someone else's file");
}

#[test]
fn a_store_folder_that_is_a_link_is_refused_and_nothing_is_made_in_its_target() {
    let data = Scratch::create("links-dir");
    let outside = Scratch::create("links-dir-outside");
    fs::set_permissions(&*outside, fs::Permissions::from_mode(0o755)).unwrap();
    let dir = store_dir(&data);
    symlink(&*outside, &dir).unwrap();
    refused_as_link(&data, &dir);
    // 0.3.0 chmodded the target 0700 and made a store in it.
    assert_eq!(mode(&outside), 0o755);
    assert_eq!(fs::read_dir(&*outside).unwrap().count(), 0);
}

#[test]
fn a_wal_or_shm_that_is_a_link_is_refused() {
    for side in ["conversations.db-wal", "conversations.db-shm"] {
        let data = Scratch::create("links-side");
        let outside = Scratch::create("links-side-outside");
        drop(open(&data, false).unwrap());
        let target = outside.join("target");
        fs::write(&target, b"").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
        let link = store_dir(&data).join(side);
        let _ = fs::remove_file(&link);
        symlink(&target, &link).unwrap();
        refused_as_link(&data, &link);
        assert_eq!(mode(&target), 0o644, "{side}");
        assert_eq!(fs::read(&target).unwrap(), b"", "{side}");
    }
}

#[test]
fn files_a_read_only_instance_creates_are_owner_only() {
    let data = Scratch::create("links-read-only");
    {
        let e = open(&data, false).unwrap();
        import(&e, r#"[{"conversationID":"c2c_a","showName":"A"}]"#).unwrap();
    }
    let dir = store_dir(&data);
    for side in ["conversations.db-wal", "conversations.db-shm"] {
        let _ = fs::remove_file(dir.join(side));
    }
    // A database made readable to others: SQLite would give its side
    // files the same 0644.
    fs::set_permissions(
        dir.join("conversations.db"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let e = open(&data, true).unwrap();
    assert_eq!(get(&e, "c2c_a").0.show_name.as_str(), "A");
    for side in ["conversations.db-wal", "conversations.db-shm"] {
        let path = dir.join(side);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{side}");
        }
    }
    drop(e);
}
