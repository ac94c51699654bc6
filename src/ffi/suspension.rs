//! Suspension: `imconv_suspend` and `imconv_resume`, for a process the
//! system suspends (an iOS app moving to the background) while other
//! processes use its store.

use std::ffi::c_char;

use super::error::IMCONV_OK;
use super::sdk::{imconv_sdk, instance};
use super::with_out_error;
use crate::error::{Error, ErrorCode};

/// Suspends an instance: it finishes the writes it accepted before (their
/// callbacks follow as usual), syncs its WAL, and closes every connection,
/// file descriptor and lock it holds on the store, so that a suspended
/// process never blocks another (on iOS, a suspended app that holds a lock
/// on a file in an App Group container is killed: exception 0xdead10cc).
/// Call it when the app is about to be suspended (iOS:
/// `applicationDidEnterBackground`, inside a background task), for a
/// `"shared"` store or not.
///
/// While suspended, every call that needs the store is refused at once
/// with IMCONV_ERR_SUSPENDED (its callbacks are not called); a read
/// accepted just before the suspension fails with it through `on_error`.
/// Listeners stay registered; nothing is delivered to them until
/// `imconv_resume`. Suspending a suspended instance does nothing.
///
/// Returns IMCONV_OK when every file is closed, IMCONV_ERR_SHUTDOWN once
/// the instance is being freed, IMCONV_ERR_INVALID_PARAMETERS for NULL.
/// On failure, when `out_error` is not NULL, `*out_error` receives a
/// message to free with `imconv_string_free` (NULL on success).
///
/// Blocking: it waits for the write being committed (bounded by the busy
/// bound, 5 s, when another process holds the write lock). Callable from
/// any thread, also from inside a callback.
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `out_error` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn imconv_suspend(sdk: *mut imconv_sdk, out_error: *mut *mut c_char) -> i32 {
    // SAFETY: `sdk` is NULL or a live instance and `out_error` NULL or
    // writable (this function's contract).
    unsafe {
        with_out_error("imconv_suspend failed", out_error, || {
            let sdk = instance(sdk).map_err(refused)?;
            sdk.engine.suspend().map(|()| IMCONV_OK)
        })
    }
}

/// Resumes a suspended instance: opens the store again (with the config it
/// was created with), catches up with what other instances wrote
/// meanwhile (a `"shared"` store: listeners receive those events, before
/// any later call's; a store that is not shared is read again whole, and
/// listeners hear only of totals that moved), and accepts calls again.
/// Resuming an instance that is not suspended does nothing.
///
/// Returns IMCONV_OK, or the code `imconv_sdk_new` would give: for
/// example IMCONV_ERR_STORE_LOCKED when an instance that is not shared
/// took the store meanwhile, IMCONV_ERR_WRONG_KEY after a rekey by
/// another instance. On failure the instance stays suspended (call again
/// later, or free it); when `out_error` is not NULL, `*out_error`
/// receives a message to free with `imconv_string_free`.
///
/// Blocking (it opens the store and reads what changed). Callable from
/// any thread, also from inside a callback.
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `out_error` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn imconv_resume(sdk: *mut imconv_sdk, out_error: *mut *mut c_char) -> i32 {
    // SAFETY: as for `imconv_suspend`.
    unsafe {
        with_out_error("imconv_resume failed", out_error, || {
            let sdk = instance(sdk).map_err(refused)?;
            sdk.engine.resume().map(|()| IMCONV_OK)
        })
    }
}

/// An instance argument `instance` refused (NULL, freed, another process).
fn refused(code: i32) -> Error {
    let code = ErrorCode::from_i32(code).unwrap_or(ErrorCode::InvalidParameters);
    Error::new(code, format!("sdk: {}", code.text().to_string_lossy()))
}
