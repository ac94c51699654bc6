//! `"read_only": true` on a read-only file system (issue 26, item 6): a
//! tmpfs with a store on it, remounted read-only, as a failing flash
//! device becomes. Needs mount(2) (root); says so and skips without it.

mod common;

use std::path::Path;
use std::process::Command;

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::error::ErrorCode;
use imconv::model::ListFilter;

use common::*;

/// A tmpfs mounted on a scratch folder, unmounted when dropped.
struct Mounted(Scratch);

impl Mounted {
    fn new(name: &str) -> Option<Mounted> {
        let dir = Scratch::create(name);
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "imconv-test"])
            .arg(&*dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Mounted(dir))
    }

    fn remount_read_only(&self) -> bool {
        Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&*self.0)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&*self.0).status();
    }
}

fn config(data_dir: &Path, read_only: bool) -> Config {
    Config {
        data_dir: Some(data_dir.to_path_buf()),
        read_only,
        ..Config::in_memory("me")
    }
}

#[test]
fn read_only_works_on_a_read_only_file_system() {
    let Some(mnt) = Mounted::new("read-only-fs") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (mount(2) needs root)");
        return;
    };
    let data = mnt.0.join("data");
    {
        let e = Engine::<View>::open(&config(&data, false)).unwrap();
        let docs: Vec<String> = (0..50)
            .map(|i| format!(r#"{{"conversationID":"c2c_u{i}","unreadCount":{}}}"#, i % 3))
            .collect();
        import(&e, &format!("[{}]", docs.join(","))).unwrap();
    }
    assert!(mnt.remount_read_only(), "remount read-only");
    // 0.3.0: 6019 "unable to open database file".
    let e = Engine::<View>::open(&config(&data, true)).unwrap();
    assert!(get(&e, "c2c_u7").1);
    assert_eq!(
        page(&e, &ListFilter::default(), "", 10).conversations.len(),
        10
    );
    assert_eq!(all_ids(&e, &ListFilter::default()).len(), 50);
    assert_eq!(
        total(&e, ListFilter::default()),
        (0..50).map(|i| i % 3).sum::<u64>()
    );
    drop(e);
    // The normal open is refused, and says that read_only will work.
    let err = Engine::<View>::open(&config(&data, false)).err().unwrap();
    assert_eq!(err.code(), ErrorCode::ReadOnly, "{err}");
    assert!(err.message().contains("\"read_only\": true"), "{err}");
}
