//! getConversation and getConversationList.

use std::ffi::{c_char, c_void};

use super::conversation::imconv_conversation;
use super::handle::{lend, lend_all};
use super::sdk::imconv_sdk;
use super::{async_call, read_ids, str_arg, CallKind};
use crate::model::ConversationId;

/// Receives one conversation. The view, and everything it points to, is
/// valid until the callback returns (longer with
/// `imconv_conversation_retain`). Runs on the instance's callback thread.
pub type imconv_conversation_callback = Option<
    unsafe extern "C-unwind" fn(conversation: *const imconv_conversation, user_data: *mut c_void),
>;

/// Receives a list of conversations: `count` views (`conversations` may be
/// NULL when `count` is 0). The array is valid until the callback returns;
/// each view is valid until then too, longer with
/// `imconv_conversation_retain`. Runs on the instance's callback thread.
pub type imconv_conversation_list_callback = Option<
    unsafe extern "C-unwind" fn(
        conversations: *const *const imconv_conversation,
        count: usize,
        user_data: *mut c_void,
    ),
>;

/// Receives a failure: an IMCONV_ERR_* code and a message that names the
/// problem (NUL-terminated UTF-8, valid until the callback returns; copy it
/// to keep it). Runs on the instance's callback thread.
pub type imconv_error_callback =
    Option<unsafe extern "C-unwind" fn(code: i32, desc: *const c_char, user_data: *mut c_void)>;

/// Looks up one conversation (Tencent's getConversation).
///
/// A stored conversation arrives as stored (`is_stored` true). A valid ID
/// that is not stored arrives as a temporary conversation that is not saved:
/// its ID, type and user or group ID, `show_name` = that user or group ID,
/// everything else zero or empty, `is_stored` false. An invalid ID (or NULL)
/// fails with IMCONV_ERR_INVALID_PARAMETERS naming it.
///
/// `conversation_id` is copied before the call returns. Returns IMCONV_OK
/// when the call is accepted: then exactly one of `on_success` and
/// `on_error` runs, once, on the instance's callback thread, never inside
/// this call. Returns non-zero, and makes no callback, when the call cannot
/// be delivered: `sdk`, `on_success` or `on_error` NULL
/// (IMCONV_ERR_INVALID_PARAMETERS), the instance shutting down
/// (IMCONV_ERR_SHUTDOWN), `IMCONV_MAX_QUEUED_READS` reads of the instance
/// waiting for their callbacks (IMCONV_ERR_QUEUE_FULL), or called in a
/// child after fork()
/// (IMCONV_ERR_WRONG_PROCESS). Callable from any thread, including from
/// inside a callback. Never blocks on the store.
///
/// # Safety
/// `sdk` is a live instance or NULL; `conversation_id` is NULL or a
/// NUL-terminated string; the callbacks must not unwind (no C++ exception,
/// no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_conversation(
    sdk: *mut imconv_sdk,
    conversation_id: *const c_char,
    on_success: imconv_conversation_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        async_call(
            CallKind::Read,
            sdk,
            on_success,
            on_error,
            user_data,
            || {
                let id = str_arg(conversation_id, &"conversation_id")?;
                ConversationId::check(id)?;
                Ok(id)
            },
            |engine, id, done| {
                engine.get_checked(id, done);
                Ok(())
            },
            // The host's callback, with the view lent for the call.
            |view, on_success, user_data| lend(view, |raw| on_success(raw, user_data)),
        )
    }
}

/// Looks up several conversations (Tencent's getConversationList by IDs).
///
/// `on_success` receives the stored conversations among the IDs, in the
/// order of the request, each ID once (a repeated ID at its first place);
/// IDs that are not stored are left out. `conversation_ids` may be NULL when
/// `count` is 0 (success with count 0). If any ID is invalid or NULL, or the
/// array is NULL with `count` above 0, the whole call fails with
/// IMCONV_ERR_INVALID_PARAMETERS naming the first bad ID (index and value).
/// There is no upper limit on `count` beyond memory.
///
/// The IDs are copied before the call returns; the caller keeps its array.
/// The calling contract of a read (return codes, the one callback, what the
/// callback may keep, threads) is in the header's preamble, "Reads".
///
/// # Safety
/// `sdk` is a live instance or NULL; `conversation_ids` is NULL or points to
/// `count` pointers, each NULL or a NUL-terminated string; the callbacks
/// must not unwind through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_conversation_list(
    sdk: *mut imconv_sdk,
    conversation_ids: *const *const c_char,
    count: usize,
    on_success: imconv_conversation_list_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        async_call(
            CallKind::Read,
            sdk,
            on_success,
            on_error,
            user_data,
            || read_ids(conversation_ids, count),
            |engine, ids, done| {
                if ids.is_empty() {
                    done.complete(Ok(Vec::new()))
                } else {
                    engine.get_many(ids, done)
                }
                Ok(())
            },
            |views, on_success, user_data| {
                // The host's callback, with the views lent for the call.
                lend_all(views, |array, n| on_success(array, n, user_data))
            },
        )
    }
}
