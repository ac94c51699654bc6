//! Bulk intake: importing conversations (replace) and syncing them (merge).

use std::ffi::{c_char, c_void};

use super::json_write_call;
use super::lookup::imconv_error_callback;
use super::sdk::imconv_sdk;
use crate::write::Write;

/// Signals success with no value. Runs on the instance's callback thread.
pub type imconv_done_callback = Option<unsafe extern "C-unwind" fn(user_data: *mut c_void)>;

/// Imports conversations, replacing what is stored: `json_array` is a JSON
/// array of conversation objects with Tencent's V2 field names (see docs/syncing.md).
/// Each object replaces the stored conversation with its `conversationID`
/// whole (fields it does not name are reset), and what is remembered of the
/// replaced conversation's messages is forgotten; within one array a later
/// object with the same ID wins. Without an `orderKey` a conversation is
/// placed by its activity time (newest message or draft). Conversation groups
/// it names that do not exist yet are created. Use it for a first load or a
/// restore; use `imconv_sync_conversations` to merge server updates into what
/// is stored.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_JSON for malformed JSON or a
/// value of the wrong JSON type; IMCONV_ERR_INVALID_PARAMETERS for an invalid
/// or disagreeing ID, type, userID or groupID, a value out of range (a mark
/// 0), a string over its limit or holding U+0000, a bad group name, more than
/// 20 groups or 50 pinned conversations in all, or a document over 64 MiB
/// (the message names the element's 0-based index and the field). IMCONV_ERR_DATABASE when the store cannot write;
/// IMCONV_ERR_INTERNAL for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `json_array` is
/// NULL or a NUL-terminated UTF-8 string; the callbacks must not unwind (no
/// C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_import_conversations(
    sdk: *mut imconv_sdk,
    json_array: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        json_write_call(
            sdk,
            json_array,
            Write::Import,
            on_success,
            on_error,
            user_data,
        )
    }
}

/// Merges conversation updates from the server (a catch-up sync after a
/// reconnect, or a partial update): `json_array` is a JSON array of the same
/// objects as `imconv_import_conversations` takes, but each changes only the
/// fields it names, and creates its conversation (named after its profile)
/// when it is not stored. Local fields (draftText, customData, ...) stay
/// unless named.
///
/// `lastMessage` follows the newest-message rule: it replaces the last
/// message only when newer (by time in milliseconds, then seq), or updates
/// it in place when it has the same msgID; it is remembered, so the same
/// message applied later is not counted again. `unreadCount`, when named,
/// is authoritative: the count becomes it, and of the messages applied with
/// `imconv_apply_messages` only the newest that many stay unread, so
/// clearing by position stays exact. A read position (`c2cReadTimestamp`, a
/// whole second, or `readTimestampMs` for one-to-one conversations,
/// `groupReadSequence` for groups) that moves forward is a read on another
/// device: the remembered messages and @ mentions it covers stop counting,
/// as with `imconv_clean_unread`. `"readMsgID"` reads up to that message,
/// as `imconv_mark_read` does, after the element's read positions and
/// before its `unreadCount` (a server computes its count after the
/// receipts it has). A receipt arrives late all the time, so it never
/// fails the sync: one naming a message read and forgotten since changes
/// nothing, and one naming a message never applied to that conversation
/// is passed over (logged at INFO).
/// `orderKey`, when named, is taken; else the conversation moves when its
/// activity time (newest message or draft) changed. Conversation groups it
/// names that do not exist yet are created.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_JSON for
/// malformed JSON or a wrong JSON type; IMCONV_ERR_INVALID_PARAMETERS for an
/// invalid or disagreeing ID, a value out of range, a string over its limit,
/// a bad group name, more than 20 groups or 50 pinned conversations in all,
/// or a document over 64 MiB (the message names the element's index and the
/// field). IMCONV_ERR_DATABASE when the store cannot write;
/// IMCONV_ERR_INTERNAL for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `json_array` is
/// NULL or a NUL-terminated UTF-8 string; the callbacks must not unwind (no
/// C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_sync_conversations(
    sdk: *mut imconv_sdk,
    json_array: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        json_write_call(
            sdk,
            json_array,
            Write::Sync,
            on_success,
            on_error,
            user_data,
        )
    }
}

/// Syncs the server's **whole** conversation list (Tencent has no such
/// call; a Matrix /sync or a full list fetch gives one): `json_array` is
/// what `imconv_sync_conversations` takes, merged the same way, and every
/// stored conversation the array does not name is deleted, with what is
/// remembered of its messages (a conversation left or deleted on another
/// device). All in one write: all or nothing, and its listener events are
/// one batch (`on_new` / `on_changed` for the elements, one `on_deleted`
/// with every ID it removed, then the total). An empty array deletes every
/// conversation. It reads every stored ID once, so it costs about what the
/// list's size costs: for the server's full list, not for updates.
///
/// Errors through `on_error`, the return value, the ordering and
/// durability of the write, ownership and thread: as
/// `imconv_sync_conversations` (an element that fails fails the whole call,
/// and nothing is deleted).
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `json_array` is
/// NULL or a NUL-terminated UTF-8 string; the callbacks must not unwind (no
/// C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_sync_snapshot(
    sdk: *mut imconv_sdk,
    json_array: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        json_write_call(
            sdk,
            json_array,
            Write::SyncSnapshot,
            on_success,
            on_error,
            user_data,
        )
    }
}
