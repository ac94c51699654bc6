//! One store, several processes (issue 28): two and three processes open
//! one `"shared"` store and write and read the same conversations at
//! random, each step checked against one model of the whole store; a
//! suspended process holds no lock and no file (read from /proc); a
//! process stopped while it holds the write lock blocks the others for at
//! most the busy bound, then they fail with STORE_BUSY, never hang.
//!
//! The processes are this test binary run again as a child (the
//! environment names what it is): it serves commands read from stdin, one
//! per line, and answers each with one line holding [`MARK`].

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use imconv::config::Config;
use imconv::engine::Engine;
use imconv::error::{ErrorCode, Result};
use imconv::model::ListFilter;
use imconv::write::Write;

use common::*;

const CHILD: &str = "IMCONV_SHARED_CHILD";
/// What starts an answer on the child's output.
const MARK: &str = "<<answer>> ";

fn config(data: &Path) -> Config {
    Config {
        data_dir: Some(data.to_path_buf()),
        shared: true,
        ..Config::in_memory("me")
    }
}

/// The child's side: serves commands on stdin until it closes.
fn serve(data: &Path) {
    let mut e = Some(Engine::<View>::open(&config(data)).unwrap());
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split(' ').collect();
        let answer = match (e.as_ref(), words.as_slice()) {
            (Some(e), ["msg", conv, msg, ts]) => {
                let ts: u64 = ts.parse().unwrap();
                let doc = one(conv, msg, ts as i64, ts).into_bytes();
                status(try_write(e, Write::Messages(doc)))
            }
            (Some(e), ["read", conv, msg]) => status(try_write(
                e,
                Write::MarkMessageRead {
                    id: id(conv),
                    msg_id: text(msg),
                },
            )),
            (Some(e), ["pin", conv, on]) => status(try_write(
                e,
                Write::Pin {
                    id: id(conv),
                    pinned: *on == "1",
                },
            )),
            // A snapshot of one conversation from the server: replaces it
            // whole (no listener here: written without reading it first,
            // what it replaced logged from the row read on conflict).
            (Some(e), ["import", conv, unread, pinned]) => status(try_write(
                e,
                Write::Import(
                    format!(
                        r#"[{{"conversationID":"{conv}","unreadCount":{unread},"isPinned":{}}}]"#,
                        *pinned == "1"
                    )
                    .into_bytes(),
                ),
            )),
            // A server sync naming only the unread count.
            (Some(e), ["sync", conv, unread]) => status(try_write(
                e,
                Write::Sync(
                    format!(r#"[{{"conversationID":"{conv}","unreadCount":{unread}}}]"#)
                        .into_bytes(),
                ),
            )),
            (Some(e), ["delete", conv]) => {
                status(try_write(e, Write::Delete { ids: ids(&[conv]) }))
            }
            (Some(e), ["get", conv]) => {
                let v = get(e, conv);
                format!(
                    "{} {} {}",
                    u8::from(v.1),
                    v.0.unread_count,
                    u8::from(v.0.is_pinned)
                )
            }
            (Some(e), ["total"]) => total(e, ListFilter::default()).to_string(),
            (Some(e), ["list"]) => all_ids(e, &ListFilter::default()).join(","),
            (Some(e), ["suspend"]) => status(e.suspend()),
            (Some(e), ["resume"]) => status(e.resume()),
            (Some(_), ["free"]) => {
                e = None;
                "ok".to_string()
            }
            (None, ["open"]) => {
                e = Some(Engine::open(&config(data)).unwrap());
                "ok".to_string()
            }
            (_, ["hold"]) => {
                // The write lock taken straight through SQLite, and kept.
                let db = data.join("me").join("conversations.db");
                let conn = rusqlite::Connection::open(db).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                std::mem::forget(conn);
                "ok".to_string()
            }
            _ => format!("unknown command {line}"),
        };
        writeln!(out, "{MARK}{answer}").unwrap();
        out.flush().unwrap();
    }
}

/// A write whose refusal (a suspended instance) is an answer too.
fn try_write(e: &Engine<View>, op: Write) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    e.write(
        op,
        e.completer(move |r| {
            let _ = tx.send(r);
        }),
    )?;
    wait(&rx)
}

fn status(r: Result<()>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("err {}", e.code().as_i32()),
    }
}

#[test]
fn child_process() {
    if let Some(data) = std::env::var_os(CHILD) {
        serve(Path::new(&data));
    }
}

/// A child process with one shared instance of the store in `data`.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Proc {
    fn start(data: &Path) -> Proc {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Proc {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the child ended while asked {command:?}"
            );
            // The harness may have begun the line ("test child_process ... ").
            if let Some((_, answer)) = line.split_once(MARK) {
                return answer.trim_end().to_string();
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The whole store as every instance must see it.
#[derive(Default, Clone)]
struct Conv {
    /// The messages since it was (re)created, in time order.
    messages: Vec<String>,
    /// How many of them are read.
    read: usize,
    pinned: bool,
    /// The unread count a snapshot or sync set (conversations only those
    /// write: `messages` stays empty).
    counted: usize,
}

struct Model {
    convs: BTreeMap<String, Conv>,
    next_ts: u64,
}

impl Model {
    fn unread(c: &Conv) -> usize {
        c.counted + c.messages.len() - c.read
    }
}

/// A small deterministic generator (the seed is printed on failure).
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn model_checked_run(processes: usize, steps: usize, seed: u64) {
    let data = Scratch::create(&format!("shared-model-{processes}-{seed}"));
    let mut procs: Vec<Proc> = (0..processes).map(|_| Proc::start(&data)).collect();
    // Messages and reads go to the first four, snapshots and syncs to the
    // last two; pins and deletes to any.
    let convs = [
        "c2c_a",
        "c2c_b",
        "group_g",
        "c2c_c",
        "c2c_snap",
        "group_snap",
    ];
    let (by_message, by_server) = convs.split_at(4);
    let mut m = Model {
        convs: BTreeMap::new(),
        next_ts: 1000,
    };
    let mut rng = Rng(seed);
    for step in 0..steps {
        let p = rng.next(processes);
        let conv = convs[rng.next(convs.len())].to_string();
        let ctx = format!("seed {seed}, step {step}, process {p}");
        let op = rng.next(12);
        let conv = match op {
            0..=5 => by_message[rng.next(by_message.len())].to_string(),
            10 | 11 => by_server[rng.next(by_server.len())].to_string(),
            _ => conv,
        };
        match op {
            0..=3 => {
                m.next_ts += 1;
                let msg = format!("m{}", m.next_ts);
                let answer = procs[p].ask(&format!("msg {conv} {msg} {}", m.next_ts));
                assert_eq!(answer, "ok", "{ctx}");
                m.convs
                    .entry(conv.clone())
                    .or_default()
                    .messages
                    .push(msg.clone());
                // The same message from another process: counted once.
                if rng.next(3) == 0 {
                    let q = (p + 1) % processes;
                    let answer = procs[q].ask(&format!("msg {conv} {msg} {}", m.next_ts));
                    assert_eq!(answer, "ok", "{ctx} (again)");
                }
            }
            4 | 5 => {
                let Some(c) = m.convs.get_mut(&conv) else {
                    continue;
                };
                let upto = rng.next(c.messages.len());
                let answer = procs[p].ask(&format!("read {conv} {}", c.messages[upto]));
                assert_eq!(answer, "ok", "{ctx}");
                // Read positions only move forward.
                c.read = c.read.max(upto + 1);
            }
            6 | 7 => {
                let Some(c) = m.convs.get_mut(&conv) else {
                    continue;
                };
                let on = !c.pinned;
                let answer = procs[p].ask(&format!("pin {conv} {}", u8::from(on)));
                assert_eq!(answer, "ok", "{ctx}");
                c.pinned = on;
            }
            8 => {
                let answer = procs[p].ask(&format!("delete {conv}"));
                assert_eq!(answer, "ok", "{ctx}");
                m.convs.remove(&conv);
            }
            10 => {
                let (unread, pinned) = (rng.next(5), rng.next(2) == 1);
                let answer = procs[p].ask(&format!("import {conv} {unread} {}", u8::from(pinned)));
                assert_eq!(answer, "ok", "{ctx}");
                m.convs.insert(
                    conv.clone(),
                    Conv {
                        counted: unread,
                        pinned,
                        ..Conv::default()
                    },
                );
            }
            11 => {
                let unread = rng.next(5);
                let answer = procs[p].ask(&format!("sync {conv} {unread}"));
                assert_eq!(answer, "ok", "{ctx}");
                m.convs.entry(conv.clone()).or_default().counted = unread;
            }
            _ => {
                // A process frees its instance and opens a new one.
                assert_eq!(procs[p].ask("free"), "ok");
                assert_eq!(procs[p].ask("open"), "ok");
            }
        }
        // Every process, after every step: what the model says.
        for (q, proc_) in procs.iter_mut().enumerate() {
            let ctx = format!("{ctx}, checked in process {q}");
            for name in convs {
                let want = match m.convs.get(name) {
                    Some(c) => format!("1 {} {}", Model::unread(c), u8::from(c.pinned)),
                    None => "0 0 0".to_string(),
                };
                assert_eq!(proc_.ask(&format!("get {name}")), want, "{ctx}: {name}");
            }
            let want: usize = m.convs.values().map(Model::unread).sum();
            assert_eq!(proc_.ask("total"), want.to_string(), "{ctx}: total");
            let list = proc_.ask("list");
            let mut listed: Vec<&str> = list.split(',').filter(|s| !s.is_empty()).collect();
            // Pinned ones first.
            let pinned_first = listed
                .iter()
                .map(|id| m.convs.get(*id).is_some_and(|c| c.pinned))
                .collect::<Vec<_>>();
            assert!(
                pinned_first.windows(2).all(|w| w[0] >= w[1]),
                "{ctx}: {list}"
            );
            listed.sort();
            let stored: Vec<&str> = m.convs.keys().map(String::as_str).collect();
            assert_eq!(listed, stored, "{ctx}: list");
        }
    }
}

#[test]
fn two_processes_agree_with_one_model_after_every_step() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    for seed in [1, 2] {
        model_checked_run(2, 150, seed);
    }
}

#[test]
fn three_processes_agree_with_one_model_after_every_step() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    model_checked_run(3, 150, 3);
}

/// Files under `dir` the process `pid` has open, and its locks (by
/// device:inode) on files there.
fn held(pid: u32, dir: &Path) -> (Vec<PathBuf>, Vec<String>) {
    use std::os::unix::fs::MetadataExt;
    let dir = dir.canonicalize().unwrap();
    let mut files = Vec::new();
    let mut inodes = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        if let Ok(target) = std::fs::read_link(entry.path()) {
            if target.starts_with(&dir) {
                files.push(target);
            }
        }
    }
    for entry in walk(&dir) {
        if let Ok(meta) = std::fs::metadata(&entry) {
            inodes.push(meta.ino());
        }
    }
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    let mine = locks
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a "->"
            // line, a waiter, has one more field first).
            let f = if f.get(1) == Some(&"->") {
                &f[1..]
            } else {
                &f[..]
            };
            f.get(4) == Some(&pid.to_string().as_str())
                && f.get(5)
                    .and_then(|d| d.rsplit(':').next())
                    .and_then(|i| i.parse::<u64>().ok())
                    .is_some_and(|i| inodes.contains(&i))
        })
        .map(str::to_string)
        .collect();
    (files, mine)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_suspended_process_holds_no_lock_and_no_file() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let data = Scratch::create("shared-suspended");
    let mut app = Proc::start(&data);
    assert_eq!(app.ask("msg c2c_a m1 100"), "ok");
    assert_eq!(app.ask("get c2c_a"), "1 1 0");
    let store = data.join("me");
    let (files, locks) = held(app.pid(), &store);
    assert!(
        !files.is_empty() && !locks.is_empty(),
        "open: {files:?} {locks:?}"
    );
    assert_eq!(app.ask("suspend"), "ok");
    let (files, locks) = held(app.pid(), &store);
    assert!(files.is_empty(), "suspended, still open: {files:?}");
    assert!(locks.is_empty(), "suspended, still locked: {locks:?}");
    // Calls are refused meanwhile; another process writes, unblocked.
    assert_eq!(
        app.ask("pin c2c_a 1"),
        format!("err {}", ErrorCode::Suspended.as_i32())
    );
    {
        let other = Engine::<View>::open(&config(&data)).unwrap();
        messages(&other, &one("c2c_a", "m2", 200, 0)).unwrap();
        messages(&other, &one("c2c_b", "b1", 300, 0)).unwrap();
    }
    assert_eq!(app.ask("resume"), "ok");
    assert_eq!(app.ask("get c2c_a"), "1 2 0");
    assert_eq!(app.ask("total"), "3");
}

#[test]
fn a_stopped_writer_blocks_the_others_for_the_busy_bound_only() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let data = Scratch::create("shared-stopped");
    let e = Engine::<View>::open(&config(&data)).unwrap();
    messages(&e, &one("c2c_a", "m1", 100, 0)).unwrap();
    let mut holder = Proc::start(&data);
    assert_eq!(holder.ask("hold"), "ok");
    // Stopped while it holds the write lock.
    let pid = holder.pid() as i32;
    assert_eq!(signal(pid, libc::SIGSTOP), 0);
    let r = messages(&e, &one("c2c_a", "m2", 200, 0));
    assert_eq!(r.map_err(|e| e.code()), Err(ErrorCode::StoreBusy));
    // Reads go on meanwhile (WAL readers never wait for the writer).
    assert_eq!(get(&e, "c2c_a").0.unread_count, 1);
    // Killed: its lock goes with it, the next write goes through.
    assert_eq!(signal(pid, libc::SIGKILL), 0);
    let _ = holder.child.wait();
    messages(&e, &one("c2c_a", "m2", 200, 0)).unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 2);
}

/// Sends `signal` to `pid` (through kill(1): `std` sends only SIGKILL).
fn signal(pid: i32, signal: i32) -> i32 {
    Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .map(|s| if s.success() { 0 } else { -1 })
        .unwrap_or(-1)
}

#[test]
fn a_resumed_instance_hears_what_another_process_wrote_meanwhile() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let data = Scratch::create("shared-resume-events");
    let app = Engine::<View>::open(&config(&data)).unwrap();
    let rec = std::sync::Arc::new(Recorder::default());
    app.add_listener(rec.clone());
    assert_eq!(total(&app, ListFilter::default()), 0);
    app.suspend().unwrap();
    let mut extension = Proc::start(&data);
    assert_eq!(extension.ask("msg c2c_a m1 100"), "ok");
    assert_eq!(extension.ask("total"), "1");
    assert_eq!(extension.ask("free"), "ok");
    app.resume().unwrap();
    let start = std::time::Instant::now();
    while rec.log.lock().len() < 2 {
        assert!(start.elapsed().as_secs() < 60, "{:?}", rec.log.lock());
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(*rec.log.lock(), ["new c2c_a", "total 1"]);
    // Not suspended, idle: the watcher delivers.
    assert_eq!(extension.ask("open"), "ok");
    assert_eq!(extension.ask("msg c2c_a m2 200"), "ok");
    let start = std::time::Instant::now();
    while rec.log.lock().len() < 4 {
        assert!(start.elapsed().as_secs() < 60, "{:?}", rec.log.lock());
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(rec.log.lock()[2..], ["changed c2c_a", "total 2"]);
}
