//! The store's safety: `imconv_backup` (online backup) and
//! `imconv_verify_store` (a full check).

use std::ffi::{c_char, c_void};
use std::path::PathBuf;

use super::handle::lend_strings;
use super::import::imconv_done_callback;
use super::lookup::imconv_error_callback;
use super::manager::imconv_string_list_callback;
use super::sdk::imconv_sdk;
use super::{async_call, str_arg, write_call, CallKind};
use crate::write::Write;

/// Writes a consistent copy of the whole store to `path` while the
/// instance goes on working (an online backup). The backup takes its
/// place in the instance's one write order: it holds exactly the writes
/// accepted before this call (every write acknowledged before it among
/// them) and none accepted after, which wait for it. It is written under
/// a temporary name in the same folder (`.<name>.imconv-backup`), synced,
/// then renamed to `path` (replacing a file there) and the folder synced:
/// `path` is never a partial copy, also across a crash or power cut. The
/// copy is compacted (SQLite's `VACUUM INTO`), owner-only (0600), and is a
/// store on its own. Lookups from the cache go on during it; pages and
/// totals read from the store wait for it.
///
/// `path`: a file path (UTF-8), whose folder must exist; not the store's
/// own files.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a NULL or
/// empty path, or one that is not UTF-8; IMCONV_ERR_IO when its folder
/// does not exist, a folder is at `path`, or the copy cannot be written,
/// synced or renamed (the message names the path and the step);
/// IMCONV_ERR_DATABASE when SQLite cannot make the copy. Returns
/// IMCONV_ERR_READ_ONLY on an instance opened with `"read_only": true`.
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `path` is NULL
/// or a NUL-terminated string; the callbacks must not unwind (no C++
/// exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_backup(
    sdk: *mut imconv_sdk,
    path: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || Ok(Write::Backup(PathBuf::from(str_arg(path, &"path")?)));
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Checks the whole store in the background (after an upgrade, or when
/// the user asks): SQLite's integrity check of every page and index, and
/// every conversation's row verified and decoded. Answers
/// `on_success(conversation_ids, count, user_data)` with the IDs of the
/// damaged conversations (`count` 0 and `conversation_ids` NULL when none),
/// valid until the callback returns. Each is also told to listeners'
/// `on_store_error` (once), and so is damage that is no one
/// conversation's (a page, an index), which the list cannot name: a
/// sound store answers an empty list and tells nothing. Deleting,
/// importing or syncing a damaged conversation repairs it.
///
/// The check reads one snapshot beside the writer (writes go on; it does
/// not see those that commit meanwhile) and reads every page of the store
/// (its cost is measured in docs/store.md, "Damage").
///
/// Errors through `on_error`: IMCONV_ERR_DATABASE when the check cannot
/// run at all.
///
/// The calling contract of a read (return codes, the one callback, what the
/// callback may keep, threads) is in the header's preamble, "Reads".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; the callbacks
/// must not unwind (no C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_verify_store(
    sdk: *mut imconv_sdk,
    on_success: imconv_string_list_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires; the callbacks and user_data are kept for the call's one
    // callback.
    unsafe {
        async_call(
            CallKind::Read,
            sdk,
            on_success,
            on_error,
            user_data,
            || Ok(()),
            |engine, (), done| {
                engine.verify_store(done);
                Ok(())
            },
            |ids: Vec<String>, on_success, user_data| {
                // The host's callback, with the IDs lent for the call.
                lend_strings(ids.iter().map(String::as_str), |array, n| {
                    on_success(array, n, user_data)
                })
            },
        )
    }
}
