//! Strings the library hands over to the caller.

use std::ffi::c_char;

use super::guard;
use super::handle::take_string;

/// Frees a string the library allocated for the caller (the result of
/// `imconv_conversation_to_json`, the `out_error` of `imconv_sdk_new`).
///
/// NULL is a no-op. Never pass a string the library only lent (texts in a
/// conversation view, `imconv_error_str`, callback descriptions). Callable
/// from any thread.
///
/// # Safety
/// `s` is NULL or a string returned by this library for the caller to free,
/// not yet freed.
#[no_mangle]
pub unsafe extern "C" fn imconv_string_free(s: *mut c_char) {
    guard((), || {
        if !s.is_null() {
            // SAFETY: a string the library gave out (`give_string`), freed
            // once (this function's contract).
            drop(unsafe { take_string(s) });
        }
    })
}
