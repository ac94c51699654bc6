//! Conversation groups: create, rename, delete, add to and remove from.

use std::ffi::{c_char, c_void};

use crate::error::Result;
use crate::ffi::import::imconv_done_callback;
use crate::ffi::lookup::imconv_error_callback;
use crate::ffi::sdk::imconv_sdk;
use crate::ffi::{read_ids, read_text, write_call};
use crate::model::{IdList, Text};
use crate::write::Write;

/// Creates a conversation group (Tencent's createConversationGroup; a name of
/// 1 to 32 bytes without control characters, at most 20 groups) holding up to
/// 100 stored conversations (`count` may be 0). Groups list in creation
/// order.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a bad name, a
/// name that exists, a 21st group, more than 100 IDs, or a NULL, invalid or
/// not stored ID. IMCONV_ERR_DATABASE when the store cannot write;
/// IMCONV_ERR_INTERNAL for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_ids`
/// is NULL (only with `count` 0) or points to `count` pointers, each NULL or
/// a NUL-terminated string; `group_name` is NULL or a NUL-terminated string;
/// the callbacks must not unwind (no C++ exception, no longjmp) through the
/// library.
#[no_mangle]
pub unsafe extern "C" fn imconv_create_group(
    sdk: *mut imconv_sdk,
    group_name: *const c_char,
    conversation_ids: *const *const c_char,
    count: usize,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            group_write(group_name, conversation_ids, count, |name, ids| {
                Write::CreateGroup { name, ids }
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Renames a conversation group; it keeps its place, and its conversations'
/// conversation_group_list follows. Renaming to the same name changes
/// nothing.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a bad name,
/// an old name that does not exist, or a new name that does.
/// IMCONV_ERR_DATABASE when the store cannot write; IMCONV_ERR_INTERNAL for a
/// caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `old_name` and
/// `new_name` are NULL or NUL-terminated strings; the callbacks must not
/// unwind (no C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_rename_group(
    sdk: *mut imconv_sdk,
    old_name: *const c_char,
    new_name: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            Ok(Write::RenameGroup {
                from: read_text(old_name, "old_name", false)?,
                to: read_text(new_name, "new_name", false)?,
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Deletes a conversation group; its conversations stay and leave it.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a bad name or
/// one that does not exist. IMCONV_ERR_DATABASE when the store cannot write;
/// IMCONV_ERR_INTERNAL for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `group_name` is
/// NULL or a NUL-terminated string; the callbacks must not unwind (no C++
/// exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_delete_group(
    sdk: *mut imconv_sdk,
    group_name: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            Ok(Write::DeleteGroup {
                name: read_text(group_name, "group_name", false)?,
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Adds up to 100 stored conversations to an existing conversation group (one
/// already in it stays once).
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a bad or
/// unknown group name, more than 100 IDs, or a NULL, invalid or not stored
/// ID. IMCONV_ERR_DATABASE when the store cannot write; IMCONV_ERR_INTERNAL
/// for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_ids`
/// is NULL (only with `count` 0) or points to `count` pointers, each NULL or
/// a NUL-terminated string; `group_name` is NULL or a NUL-terminated string;
/// the callbacks must not unwind (no C++ exception, no longjmp) through the
/// library.
#[no_mangle]
pub unsafe extern "C" fn imconv_add_to_group(
    sdk: *mut imconv_sdk,
    group_name: *const c_char,
    conversation_ids: *const *const c_char,
    count: usize,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            group_write(group_name, conversation_ids, count, |name, ids| {
                Write::AddToGroup { name, ids }
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Removes up to 100 stored conversations from an existing conversation group
/// (one not in it is left as it is).
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a bad or
/// unknown group name, more than 100 IDs, or a NULL, invalid or not stored
/// ID. IMCONV_ERR_DATABASE when the store cannot write; IMCONV_ERR_INTERNAL
/// for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_ids`
/// is NULL (only with `count` 0) or points to `count` pointers, each NULL or
/// a NUL-terminated string; `group_name` is NULL or a NUL-terminated string;
/// the callbacks must not unwind (no C++ exception, no longjmp) through the
/// library.
#[no_mangle]
pub unsafe extern "C" fn imconv_remove_from_group(
    sdk: *mut imconv_sdk,
    group_name: *const c_char,
    conversation_ids: *const *const c_char,
    count: usize,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            group_write(group_name, conversation_ids, count, |name, ids| {
                Write::RemoveFromGroup { name, ids }
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// The write of a call that names a group and its members (create, add
/// to, remove from), from its arguments.
///
/// # Safety
/// `group_name` is NULL or a NUL-terminated string; `conversation_ids` is
/// NULL (only with `count` 0) or points to `count` pointers, each NULL or a
/// NUL-terminated string.
unsafe fn group_write(
    group_name: *const c_char,
    conversation_ids: *const *const c_char,
    count: usize,
    write: impl FnOnce(Text, IdList) -> Write,
) -> Result<Write> {
    // SAFETY: as this function's contract says.
    let name = unsafe { read_text(group_name, "group_name", false) }?;
    // SAFETY: as this function's contract says.
    let ids = unsafe { read_ids(conversation_ids, count) }?;
    Ok(write(name, ids))
}
