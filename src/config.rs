//! Instance configuration, read from the JSON handed to `imconv_sdk_new`.

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::key::{wipe_string, StoreKey};
use crate::model::{quote, validate_id_body};

/// How hard a commit tries to reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: a committed write survives a crash of
    /// the process (kill -9); on power loss, what was committed in the last
    /// `sync_interval` may be lost (the WAL is synced that long after the
    /// first commit it does not cover), nothing older.
    Normal,
    /// WAL with `synchronous=FULL`: also survives power loss.
    Full,
}

pub(crate) const DEFAULT_CACHE_CAPACITY: usize = 200_000;
pub(crate) const MIN_CACHE_CAPACITY: usize = 16;
/// "normal" durability's power-loss window, by default.
pub(crate) const DEFAULT_SYNC_INTERVAL_MS: u64 = 1000;
pub(crate) const MAX_SYNC_INTERVAL_MS: u64 = 3_600_000;

/// What opening a damaged store does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDamage {
    /// Refuse it: `StoreDamaged`, naming the file; nothing is changed.
    Fail,
    /// Move the damaged files aside (one such copy kept), salvage every
    /// readable conversation into a new store, and open that (see
    /// `store::rebuild_damaged`).
    Rebuild,
}

/// Where callbacks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// On the instance's own callback thread.
    Thread,
    /// On the host's thread, when it calls `dispatch`.
    Host,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub user_id: String,
    /// `None`: an in-memory store that lives as long as the instance.
    pub data_dir: Option<PathBuf>,
    pub durability: Durability,
    /// With `Durability::Normal`: the longest a committed write waits for
    /// the WAL to be synced (what a power cut can lose).
    pub sync_interval: std::time::Duration,
    /// Most conversations (and known-missing IDs) kept in memory.
    pub cache_capacity: usize,
    /// Open an existing store to read it only: writes are refused.
    pub read_only: bool,
    /// Several instances, in this and other processes, open the store at
    /// once; each sees the others' writes (see `store::changes`).
    pub shared: bool,
    pub delivery: Delivery,
    /// A backup (`imconv_backup`) that replaces the store at open, after it
    /// was verified (see `store::restore_from_backup`).
    pub restore_from: Option<PathBuf>,
    pub on_damage: OnDamage,
    /// The key every file of the store is encrypted with (`None`: a plain
    /// store).
    pub encryption_key: Option<StoreKey>,
}

impl Config {
    /// A config for `user_id` with every option at its default (in-memory).
    pub fn in_memory(user_id: &str) -> Config {
        Config {
            user_id: user_id.to_string(),
            data_dir: None,
            durability: Durability::Normal,
            sync_interval: std::time::Duration::from_millis(DEFAULT_SYNC_INTERVAL_MS),
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            read_only: false,
            shared: false,
            delivery: Delivery::Thread,
            restore_from: None,
            on_damage: OnDamage::Fail,
            encryption_key: None,
        }
    }

    /// Where this user's store lives: `<data_dir>/<folder_name(user_id)>/`.
    pub fn store_dir(&self) -> Option<PathBuf> {
        self.data_dir
            .as_ref()
            .map(|d| d.join(folder_name(&self.user_id)))
    }

    /// Where 0.1.0 kept this user's store (`<data_dir>/<user_id>/`), when
    /// that differs from `store_dir` and can exist at all.
    pub fn legacy_store_dir(&self) -> Option<PathBuf> {
        let dir = self.data_dir.as_ref()?;
        (folder_name(&self.user_id) != self.user_id && self.user_id.len() <= 255)
            .then(|| dir.join(&self.user_id))
    }

    /// Parses the config JSON. Unknown keys are an error so typos surface.
    pub fn parse(json: &str) -> Result<Config> {
        let v: Value = serde_json::from_str(json)
            .map_err(|e| Error::invalid_json(format!("config: malformed JSON: {e}")))?;
        let Value::Object(mut map) = v else {
            return Err(Error::invalid_json("config: expected a JSON object"));
        };
        let mut config = Config::in_memory("");
        // The key's text is taken out first and wiped once read.
        match map.remove("encryption_key") {
            Some(Value::String(text)) => {
                let key = StoreKey::from_hex(&text, "config: 'encryption_key'");
                wipe_string(text);
                config.encryption_key = Some(key?);
            }
            Some(Value::Null) | None => {}
            Some(_) => {
                return Err(Error::invalid_json(
                    "config: 'encryption_key' must be a string of 64 hexadecimal digits, or null",
                ))
            }
        }
        let mut user_id = None;
        for (key, value) in &map {
            match key.as_str() {
                "user_id" => user_id = Some(string(key, value)?),
                "data_dir" => {
                    let dir = string(key, value)?;
                    if dir.is_empty() {
                        return Err(Error::invalid_parameters("config: 'data_dir' is empty"));
                    }
                    config.data_dir = Some(PathBuf::from(dir));
                }
                "delivery" => {
                    config.delivery = choice(
                        key,
                        value,
                        &[("thread", Delivery::Thread), ("host", Delivery::Host)],
                    )?
                }
                "read_only" => {
                    config.read_only = value.as_bool().ok_or_else(|| {
                        Error::invalid_json("config: 'read_only' must be true or false")
                    })?
                }
                "shared" => {
                    config.shared = value.as_bool().ok_or_else(|| {
                        Error::invalid_json("config: 'shared' must be true or false")
                    })?
                }
                "worker_threads" => {
                    return Err(Error::invalid_parameters(
                        "config: 'worker_threads' was removed in 0.2.0 (every write runs on one \
                         ordered writer, so it had no effect): remove the key",
                    ))
                }
                "cache_capacity" => {
                    config.cache_capacity =
                        integer(key, value, MIN_CACHE_CAPACITY as u64, u32::MAX as u64)? as usize
                }
                "sync_interval_ms" => {
                    config.sync_interval = std::time::Duration::from_millis(integer(
                        key,
                        value,
                        1,
                        MAX_SYNC_INTERVAL_MS,
                    )?)
                }
                "restore_from" => {
                    let from = string(key, value)?;
                    if from.is_empty() {
                        return Err(Error::invalid_parameters("config: 'restore_from' is empty"));
                    }
                    config.restore_from = Some(PathBuf::from(from));
                }
                "on_damage" => {
                    config.on_damage = choice(
                        key,
                        value,
                        &[("fail", OnDamage::Fail), ("rebuild", OnDamage::Rebuild)],
                    )?
                }
                "durability" => {
                    config.durability = choice(
                        key,
                        value,
                        &[("normal", Durability::Normal), ("full", Durability::Full)],
                    )?
                }
                other => {
                    return Err(Error::invalid_parameters(format!(
                    "config: unknown key {} (known: user_id, data_dir, durability, sync_interval_ms, cache_capacity, read_only, shared, delivery, restore_from, on_damage, encryption_key)",
                    quote(other)
                )))
                }
            }
        }
        if config.restore_from.is_some() && (config.data_dir.is_none() || config.read_only) {
            return Err(Error::invalid_parameters(
                "config: 'restore_from' replaces a store on disk: it needs 'data_dir', and not \
                 'read_only'",
            ));
        }
        if config.shared && (config.data_dir.is_none() || config.restore_from.is_some()) {
            return Err(Error::invalid_parameters(
                "config: 'shared' opens a store on disk beside other instances: it needs \
                 'data_dir', and not 'restore_from' (which replaces the store under them)",
            ));
        }
        if config.encryption_key.is_some() && config.data_dir.is_none() {
            return Err(Error::invalid_parameters(
                "config: 'encryption_key' encrypts a store on disk: it needs 'data_dir' (a store \
                 in memory has nothing at rest)",
            ));
        }
        let user_id =
            user_id.ok_or_else(|| Error::invalid_parameters("config: 'user_id' is required"))?;
        validate_user_id(user_id)?;
        config.user_id = user_id.to_string();
        Ok(config)
    }
}

/// The name of a user's store folder. It is the user ID itself when that is
/// short and made only of lowercase ASCII letters, digits, `_`, `-` and `.`
/// (not leading): then no file system, case-sensitive or not, can confuse
/// it with another. Any other ID (uppercase, other characters, long) gets
/// `u~<lowercased readable part>~<128-bit hash of the exact bytes>`, at most
/// 101 bytes; the store also records its user ID and refuses any other, so
/// even a hash collision could never share a store.
pub fn folder_name(user_id: &str) -> String {
    let plain = user_id.len() <= 128
        && !user_id.starts_with('.')
        && user_id
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.'));
    if plain {
        return user_id.to_string();
    }
    let readable: String = user_id
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(64)
        .collect();
    // FNV-1a, twice with different bases: stable across versions and
    // platforms (the folder must be found again), unlike std's hasher.
    let fnv = |basis: u64| {
        user_id.bytes().fold(basis, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "u~{readable}~{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

/// A user ID must be a valid ID body and also a single path component.
fn validate_user_id(user_id: &str) -> Result<()> {
    let bad = |why: String| {
        Err(Error::invalid_parameters(format!(
            "config: invalid 'user_id' {}: {why}",
            quote(user_id)
        )))
    };
    if let Err(why) = validate_id_body(user_id) {
        return bad(why);
    }
    if user_id.contains(['/', '\\']) {
        return bad("it must not hold '/' or '\\' (it names a folder)".into());
    }
    if user_id == "." || user_id == ".." {
        return bad("it must not be \".\" or \"..\" (it names a folder)".into());
    }
    Ok(())
}

fn string<'a>(key: &str, v: &'a Value) -> Result<&'a str> {
    v.as_str()
        .ok_or_else(|| Error::invalid_json(format!("config: '{key}' must be a string")))
}

/// A string option naming one of `choices`; the error names them all.
fn choice<T: Copy>(key: &str, v: &Value, choices: &[(&str, T)]) -> Result<T> {
    let given = string(key, v)?;
    if let Some(&(_, value)) = choices.iter().find(|(name, _)| *name == given) {
        return Ok(value);
    }
    let names: Vec<String> = choices
        .iter()
        .map(|(name, _)| format!("{name:?}"))
        .collect();
    Err(Error::invalid_parameters(format!(
        "config: '{key}' must be {} (got {})",
        names.join(" or "),
        quote(given)
    )))
}

fn integer(key: &str, v: &Value, min: u64, max: u64) -> Result<u64> {
    let n = v
        .as_u64()
        .ok_or_else(|| Error::invalid_json(format!("config: '{key}' must be a whole number")))?;
    if n < min || n > max {
        return Err(Error::invalid_parameters(format!(
            "config: '{key}' must be {min} to {max} (got {n})"
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn minimal_and_full() {
        let c = Config::parse(r#"{"user_id":"alice"}"#).unwrap();
        assert_eq!(c, Config::in_memory("alice"));
        let c = Config::parse(
            r#"{"user_id":"bob","data_dir":"/tmp/x","durability":"full","cache_capacity":1000}"#,
        )
        .unwrap();
        assert_eq!(c.store_dir().unwrap(), PathBuf::from("/tmp/x/bob"));
        assert_eq!(c.legacy_store_dir(), None);
        assert_eq!(c.durability, Durability::Full);
        assert_eq!(c.cache_capacity, 1000);
        assert_eq!(c.sync_interval, std::time::Duration::from_secs(1));
        let c = Config::parse(r#"{"user_id":"a","sync_interval_ms":250}"#).unwrap();
        assert_eq!(c.sync_interval, std::time::Duration::from_millis(250));
    }

    #[test]
    fn folder_names_are_distinct_without_case_short_and_stable() {
        assert_eq!(folder_name("alice"), "alice");
        assert_eq!(folder_name("user_1.x-y"), "user_1.x-y");
        let names: Vec<String> = ["Alice", "alice", "ALICE", "aLice", ".hidden", "\u{4e2d}"]
            .iter()
            .map(|u| folder_name(u))
            .collect();
        for (i, a) in names.iter().enumerate() {
            assert!(a.len() <= 101, "{a}");
            for b in &names[i + 1..] {
                assert_ne!(a.to_lowercase(), b.to_lowercase());
            }
        }
        // Stable (FNV-1a 64 of the bytes with two bases, checked by hand): a
        // store must be found again by the next version.
        assert_eq!(
            folder_name("Alice"),
            "u~alice~123909cb9f15d16725fb18b065e49152"
        );
        let longest = "U".repeat(256);
        assert!(folder_name(&longest).len() <= 101);
        let c = Config {
            data_dir: Some(PathBuf::from("/d")),
            ..Config::in_memory("Alice")
        };
        assert_eq!(c.legacy_store_dir(), Some(PathBuf::from("/d/Alice")));
    }

    #[test]
    fn errors_name_the_problem() {
        for (json, code, needle) in [
            ("", ErrorCode::InvalidJson, "malformed"),
            ("[]", ErrorCode::InvalidJson, "object"),
            ("{}", ErrorCode::InvalidParameters, "'user_id' is required"),
            (r#"{"user_id":""}"#, ErrorCode::InvalidParameters, "empty"),
            (r#"{"user_id":"a/b"}"#, ErrorCode::InvalidParameters, "'/'"),
            (r#"{"user_id":"a\\b"}"#, ErrorCode::InvalidParameters, "'/'"),
            (
                r#"{"user_id":".."}"#,
                ErrorCode::InvalidParameters,
                "\"..\"",
            ),
            (r#"{"user_id":"."}"#, ErrorCode::InvalidParameters, "\".\""),
            (
                r#"{"user_id":"a\u0001"}"#,
                ErrorCode::InvalidParameters,
                "control",
            ),
            (
                r#"{"user_id":5}"#,
                ErrorCode::InvalidJson,
                "'user_id' must be a string",
            ),
            (
                r#"{"user_id":"a","usr":"b"}"#,
                ErrorCode::InvalidParameters,
                "unknown key \"usr\"",
            ),
            (
                r#"{"user_id":"a","durability":"max"}"#,
                ErrorCode::InvalidParameters,
                "durability",
            ),
            (
                r#"{"user_id":"a","sync_interval_ms":0}"#,
                ErrorCode::InvalidParameters,
                "'sync_interval_ms' must be 1 to 3600000 (got 0)",
            ),
            (
                r#"{"user_id":"a","worker_threads":2}"#,
                ErrorCode::InvalidParameters,
                "'worker_threads' was removed",
            ),
            (
                r#"{"user_id":"a","data_dir":""}"#,
                ErrorCode::InvalidParameters,
                "data_dir",
            ),
        ] {
            let e = Config::parse(json).unwrap_err();
            assert_eq!(e.code(), code, "{json}: {e}");
            assert!(e.message().contains(needle), "{json}: {e}");
        }
    }
}
