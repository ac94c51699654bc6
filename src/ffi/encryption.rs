//! Encryption at rest: `imconv_rekey` (encrypt, change the key, decrypt)
//! and `imconv_delete_store` (remove a store whose key is lost, or a user
//! who asks to be forgotten).

use std::ffi::{c_char, c_void};

use super::error::IMCONV_OK;
use super::import::imconv_done_callback;
use super::lookup::imconv_error_callback;
use super::sdk::imconv_sdk;
use super::{str_arg, with_out_error, write_call};
use crate::config::Config;
use crate::key::StoreKey;
use crate::state::delete_user_store;
use crate::write::Write;

/// Re-encrypts the instance's store: encrypts a plain store (migration),
/// changes the key of an encrypted one, or (with `new_key_hex` NULL)
/// decrypts it. The instance stays usable: the rekey takes its place in
/// the instance's one write order (writes accepted before it are in the
/// re-encrypted store, those accepted after wait for it and go there);
/// lookups from the cache go on during it; pages and totals read from the
/// store wait for it.
///
/// It writes a whole new database beside the old one (SQLite's `VACUUM
/// INTO`, keyed with the new key), syncs it, and renames it over the
/// database: a crash or power cut at any moment leaves a store that opens
/// with exactly one of the two keys (the old one until the rename, the new
/// one after) and holds every acknowledged write. Until the callback
/// reports success, keep both keys; after it, open with the new key only
/// (keep the new key in the platform's keystore before calling). It
/// needs free disk space for a second copy of the store, and takes about
/// as long as a backup (`imconv_backup`).
///
/// `new_key_hex`: 64 hexadecimal digits (a raw 256-bit key, as
/// `"encryption_key"` in the config), or NULL for a plain store. Read
/// during the call; the library keeps its own copy, wiped when the
/// instance is freed: wipe your buffer when the call returns. Rekeying a
/// plain store with NULL succeeds and changes nothing.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a key
/// that is not 64 hexadecimal digits (the message never holds the key) or
/// an instance with an in-memory store; IMCONV_ERR_IO when the new copy
/// cannot be written, synced or renamed (the store is left as it was, with
/// its old key); IMCONV_ERR_DATABASE when SQLite cannot make the copy.
/// Returns IMCONV_ERR_READ_ONLY on an instance opened with
/// `"read_only": true`.
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `new_key_hex` is
/// NULL or a NUL-terminated string; the callbacks must not unwind (no C++
/// exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_rekey(
    sdk: *mut imconv_sdk,
    new_key_hex: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read during the call; the
    // callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            if new_key_hex.is_null() {
                return Ok(Write::Rekey(None));
            }
            let text = str_arg(new_key_hex, &"new_key_hex")?;
            Ok(Write::Rekey(Some(StoreKey::from_hex(text, "new_key_hex")?)))
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Removes one user's store whole: the store named by `config_json` (the
/// same JSON as `imconv_sdk_new`'s; `"user_id"` and `"data_dir"` are what
/// count, and no key is needed) is deleted with every file of it (the
/// database, its WAL, its key check, copies kept aside by a rebuild or a
/// restore), and so is a store 0.1.0 kept for the user. For an app whose
/// encryption key is lost (`IMCONV_ERR_WRONG_KEY` at open), or a user who
/// logs out and asks to be forgotten: the next `imconv_sdk_new` starts an
/// empty store, to be filled again from the server. Backups made with
/// `imconv_backup` are the host's files and are not touched.
///
/// The store's folder is first renamed away in one synced step, so a
/// crash or power cut never brings back part of it; what a delete cut
/// short leaves is removed by the next delete or open.
///
/// Returns IMCONV_OK (also when there was no store), or:
/// IMCONV_ERR_STORE_LOCKED while any instance, in this or another process,
/// has the store open (nothing is deleted); IMCONV_ERR_INVALID_JSON or
/// IMCONV_ERR_INVALID_PARAMETERS for a config that `imconv_sdk_new` would
/// refuse, or one without `"data_dir"`; IMCONV_ERR_IO when a file cannot
/// be removed. On failure, when `out_error` is not NULL, `*out_error`
/// receives a message to free with `imconv_string_free` (NULL on
/// success).
///
/// Blocking (it removes files and syncs). Callable from any thread,
/// including from inside a callback.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out_error` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn imconv_delete_store(
    config_json: *const c_char,
    out_error: *mut *mut c_char,
) -> i32 {
    // SAFETY: `out_error` is NULL or writable and `config_json` NULL or a
    // C string (this function's contract).
    unsafe {
        with_out_error("imconv_delete_store failed", out_error, || {
            let config = Config::parse(str_arg(config_json, &"config_json")?)?;
            delete_user_store(&config).map(|_| IMCONV_OK)
        })
    }
}
