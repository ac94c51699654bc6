//! Encrypted stores (`"encryption_key"`): keying every connection, telling a
//! wrong key from damage, and the key check kept beside the database.
//!
//! The cipher is SQLite3 Multiple Ciphers' AEGIS-256 scheme, with a raw
//! key (no key derivation runs at open): every page of the database and of
//! its WAL is encrypted and authenticated (a 32-byte nonce and a 32-byte
//! tag in each page's reserved bytes), so a changed bit fails the page's
//! read instead of being decrypted into a wrong value. Bytes 16 to 23 of
//! the first page stay as SQLite wrote them (page size, formats, reserved
//! bytes), the first 16 are the cipher's salt; the rest is ciphertext.
//!
//! A wrong key and a damaged first page look the same to SQLite (the first
//! page does not authenticate). Which one it is, is told by the key check:
//! `conversations.keycheck`, the SHA3-256 of the key and a fixed text,
//! written once a key has opened the store. A first page that fails with a
//! key that the check confirms is damage; any other failure (no check, a
//! check of another key) is a wrong key, which never rebuilds anything: a
//! lost key must not cost a store that the right key still opens.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Once;

use rusqlite::Connection;

use super::DATABASE_FILE;
use crate::error::{Error, ErrorCode, Result};
use crate::key::{wipe, StoreKey};
use crate::platform;

/// The cipher scheme of SQLite3 Multiple Ciphers that encrypted stores use.
pub(crate) const CIPHER: &str = "aegis";
/// Reserved bytes per page of that scheme (byte 20 of the header).
const RESERVED_BYTES: u8 = 64;
/// SQLite's page cache of an encrypted store's connections, in KiB.
const ENCRYPTED_CACHE_KIB: u32 = 8192;
/// The key check, beside the database.
pub const KEY_CHECK_FILE: &str = "conversations.keycheck";
const KEY_CHECK_HEADER: &str = "imconv key check 1 sha3-256\n";
const KEY_CHECK_TEXT: &[u8] = b"imconv store key check";

/// What the database file is, read from its first bytes before SQLite
/// opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileKind {
    /// Missing or empty: a new store, made encrypted or plain as keyed.
    New,
    /// A plain SQLite database: its header starts with SQLite's magic text.
    Plain,
    /// An encrypted database: the magic text is not there, and the
    /// header's bytes that stay clear say "AEGIS's reserved bytes".
    Encrypted,
    /// Neither: a plain database whose header is damaged, or an encrypted
    /// one whose clear bytes are. Opened with a key, it is taken as
    /// encrypted (the key check tells damage from a wrong key); without,
    /// as plain, unless a key check says the store is encrypted.
    Unknown,
}

pub(super) fn file_kind(path: &Path) -> Result<FileKind> {
    let mut head = [0u8; 24];
    let read = match File::open(path) {
        Ok(mut file) => read_up_to(&mut file, &mut head),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileKind::New),
        Err(e) => Err(e),
    }
    .map_err(|e| Error::from(e).context(format_args!("reading {}", path.display())))?;
    Ok(match read {
        0 => FileKind::New,
        _ if head.starts_with(b"SQLite format 3\0") => FileKind::Plain,
        24 if head[20] == RESERVED_BYTES && head[21..24] == [64, 32, 32] => FileKind::Encrypted,
        _ => FileKind::Unknown,
    })
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Refuses a key that cannot fit the file, before SQLite opens it.
pub(super) fn refuse_mismatch(kind: FileKind, key: Option<&StoreKey>, path: &Path) -> Result<()> {
    let checked = path.with_file_name(KEY_CHECK_FILE).exists();
    let kind = match kind {
        FileKind::Unknown if key.is_none() && checked => FileKind::Encrypted,
        other => other,
    };
    match (kind, key) {
        (FileKind::Plain, Some(_)) => Err(Error::new(
            ErrorCode::WrongKey,
            format!(
                "the store {} is not encrypted, and an encryption_key was given: open it without \
                 the key, then encrypt it with imconv_rekey",
                path.display()
            ),
        )),
        (FileKind::Encrypted, None) => Err(Error::new(
            ErrorCode::WrongKey,
            format!(
                "the store {} is encrypted: give its encryption_key (if the key is lost, remove \
                 the store with imconv_delete_store and sync again from the server)",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Keys a new connection (nothing without a key): the cipher scheme, then
/// the raw key, through statements whose text is wiped afterwards. Once
/// per process, SQLite's allocator is told to wipe every allocation it
/// frees (what the key passed through inside SQLite).
pub(super) fn key_connection(conn: &Connection, key: Option<&StoreKey>) -> Result<()> {
    let Some(key) = key else {
        return Ok(());
    };
    static WIPE_FREED: Once = Once::new();
    WIPE_FREED.call_once(|| {
        if let Err(e) = conn.execute_batch("PRAGMA memory_security = fill") {
            crate::log::warn(format_args!("SQLite's freed memory will not be wiped: {e}"));
        }
    });
    conn.execute_batch(&format!("PRAGMA cipher = '{CIPHER}'"))?;
    let raw = key.raw_text();
    let mut statement = String::with_capacity(raw.as_str().len() + 20);
    statement.push_str("PRAGMA key = '");
    statement.push_str(raw.as_str());
    statement.push('\'');
    let keyed = conn.execute_batch(&statement);
    let mut bytes = statement.into_bytes();
    wipe(&mut bytes);
    keyed.map_err(|e| Error::from(e).context("keying the store's connection"))
}

/// A connection of an encrypted store, once its key is known to open it:
/// a page read from the file is decrypted and authenticated each time
/// SQLite's cache lacks it, so a larger cache (8 MiB instead of 2) keeps
/// more of them decrypted (measured in `make bench-encryption`). Not
/// before the key is confirmed: this pragma reads the schema.
pub(super) fn size_cache(conn: &Connection, key: Option<&StoreKey>) -> Result<()> {
    if key.is_none() {
        return Ok(());
    }
    conn.execute_batch(&format!("PRAGMA cache_size = -{ENCRYPTED_CACHE_KIB}"))
        .map_err(|e| Error::from(e).context("sizing the store's page cache"))
}

/// After the connection is keyed: the first read tells whether the key
/// opens the store. A first page that does not authenticate is a wrong key
/// unless the key check confirms this key (then it is damage). A store the
/// key opens gets its key check written when it lacks one (or has another
/// key's, left by a rekey cut short).
pub(super) fn confirm_key(
    conn: &Connection,
    kind: FileKind,
    key: Option<&StoreKey>,
    dir: &Path,
    read_only: bool,
) -> Result<()> {
    let Some(key) = key else {
        return Ok(());
    };
    let probe = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    });
    let path = dir.join(DATABASE_FILE);
    match probe {
        Ok(_) => {
            if !read_only {
                let check = check_of(conn, key)?;
                if read_key_check(dir).as_deref() != Some(check.as_str()) {
                    write_key_check(dir, &check)?;
                }
            }
            Ok(())
        }
        Err(e)
            if matches!(kind, FileKind::Encrypted | FileKind::Unknown)
                && e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) =>
        {
            // The store's connection cannot run a statement now (its first
            // page does not decrypt): the check is computed in memory.
            let memory = Connection::open_in_memory()?;
            if read_key_check(dir).as_deref() == Some(check_of(&memory, key)?.as_str()) {
                Err(Error::new(
                    ErrorCode::StoreDamaged,
                    format!(
                        "{}: its first page does not authenticate with the key that opened it \
                         before (the key check confirms the key): the file is damaged",
                        path.display()
                    ),
                ))
            } else {
                Err(wrong_key(&path))
            }
        }
        Err(e) => Err(Error::from(e)),
    }
}

pub(super) fn wrong_key(path: &Path) -> Error {
    Error::new(
        ErrorCode::WrongKey,
        format!(
            "the store {} does not open with this encryption_key (a wrong key: the files were \
             left as they were; if the key is lost, remove the store with imconv_delete_store \
             and sync again from the server)",
            path.display()
        ),
    )
}

/// The key check of `key`: SHA3-256 of the key and a fixed text, in hex
/// (computed by SQLite's `sha3()` on `conn`, which reads nothing).
fn check_of(conn: &Connection, key: &StoreKey) -> Result<String> {
    let mut input = Vec::with_capacity(key.bytes().len() + KEY_CHECK_TEXT.len());
    input.extend_from_slice(key.bytes());
    input.extend_from_slice(KEY_CHECK_TEXT);
    let digest = conn.query_row("SELECT lower(hex(sha3(?1, 256)))", [&input], |r| {
        r.get::<_, String>(0)
    });
    wipe(&mut input);
    Ok(format!("{KEY_CHECK_HEADER}{}\n", digest?))
}

fn read_key_check(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(KEY_CHECK_FILE)).ok()
}

/// Writes the key check `text` whole (a new file renamed over the old,
/// synced), owner-only.
fn write_key_check(dir: &Path, text: &str) -> Result<()> {
    let path = dir.join(KEY_CHECK_FILE);
    let fresh = dir.join(format!("{KEY_CHECK_FILE}.new"));
    let written = (|| -> io::Result<()> {
        let _ = std::fs::remove_file(&fresh);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(platform::NO_FOLLOW)
            .open(&fresh)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&fresh, &path)?;
        platform::sync_dir(dir)
    })();
    written.map_err(|e| Error::from(e).context(format_args!("writing {}", path.display())))
}

/// Removes the key check (synced): before a rekey swaps the database, so
/// that no moment leaves a check of one key beside a database of another.
pub(super) fn remove_key_check(dir: &Path) -> io::Result<()> {
    match std::fs::remove_file(dir.join(KEY_CHECK_FILE)) {
        Ok(()) => platform::sync_dir(dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
