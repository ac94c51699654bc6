//! Writing conversations.

use std::ffi::{c_char, c_void};

use super::lookup::imconv_error_callback;
use super::sdk::imconv_sdk;
use super::{async_call, read_json};

/// Signals success with no value. Runs on the instance's callback thread.
pub type imconv_done_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Imports conversations: `json_array` is a JSON array of conversation
/// objects with Tencent's V2 field names (see README). Each object replaces
/// the stored conversation with its `conversationID`; within one array a
/// later object with the same ID wins.
///
/// All or nothing: when `on_success` runs, every element is committed and
/// survives a crash of the process (and power loss with `"durability":
/// "full"`); when `on_error` runs, nothing of this call was stored. Errors
/// name the element's 0-based index and the field: IMCONV_ERR_INVALID_JSON
/// for malformed JSON or a value of the wrong JSON type,
/// IMCONV_ERR_INVALID_PARAMETERS for an invalid or disagreeing ID, type,
/// userID or groupID, a value out of range or a string holding U+0000;
/// IMCONV_ERR_DATABASE when the store cannot write.
///
/// `json_array` is copied before the call returns. Return value, callbacks
/// and threads as for `imconv_get_conversation`.
///
/// # Safety
/// `sdk` is a live instance or NULL; `json_array` is NULL or a
/// NUL-terminated string; the callbacks must not unwind through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_import_conversations(
    sdk: *mut imconv_sdk,
    json_array: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    async_call(
        sdk,
        on_success,
        on_error,
        user_data,
        || read_json(json_array, "json_array"),
        |engine, document, done| engine.import(document, done),
        |_count: usize, on_success, user_data| unsafe { on_success(user_data) },
    )
}
