//! The log: what the library tells the host.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::error::{IMCONV_ERR_INTERNAL, IMCONV_ERR_INVALID_PARAMETERS, IMCONV_OK};
use super::{guard, message_cstring, UserData};
use crate::log::{set_sink, Level};

/// Log level: errors (a caught panic; a call that failed in the store, on
/// I/O or out of memory).
pub const IMCONV_LOG_ERROR: i32 = 1;
/// Log level: warnings (permissions tightened; a call refused for the
/// instance's state: a full queue, a locked store, a would-be deadlock).
pub const IMCONV_LOG_WARN: i32 = 2;
/// Log level: information (stores opened, migrated, moved; input refused,
/// with the message the caller receives).
pub const IMCONV_LOG_INFO: i32 = 3;
/// Log level: debugging (calls failed because the instance shut down).
pub const IMCONV_LOG_DEBUG: i32 = 4;

/// Receives one log message: its level (IMCONV_LOG_*) and its text
/// (NUL-terminated UTF-8, valid until the callback returns).
pub type imconv_log_callback =
    Option<unsafe extern "C" fn(level: i32, message: *const c_char, user_data: *mut c_void)>;

/// Sets where the library's log goes: `callback` receives every message of
/// `level` (IMCONV_LOG_*) and more severe ones; a NULL callback turns the
/// log off. The library never writes to stdout or stderr itself: without a
/// callback its messages are dropped, and a panic inside the library is
/// logged as an error instead of printed.
///
/// One log per process (every instance's messages). The callback runs on
/// whatever thread logs: a library thread or the thread of a call; several
/// may run at once, so it must be thread-safe. It may run while the
/// library holds internal locks: it must not call imconv functions (queue
/// the message and handle it elsewhere). `user_data` is passed back
/// untouched and must stay valid until the callback is replaced.
///
/// Returns IMCONV_OK, or IMCONV_ERR_INVALID_PARAMETERS for a level that is
/// not IMCONV_LOG_ERROR to IMCONV_LOG_DEBUG. Callable from any thread.
///
/// # Safety
/// `callback` must not unwind (no C++ exception, no longjmp) through the
/// library.
#[no_mangle]
pub unsafe extern "C" fn imconv_set_log_callback(
    level: i32,
    callback: imconv_log_callback,
    user_data: *mut c_void,
) -> i32 {
    guard(IMCONV_ERR_INTERNAL, || {
        let Some(level) = Level::from_i32(level) else {
            return IMCONV_ERR_INVALID_PARAMETERS;
        };
        let user_data = UserDataSync(UserData(user_data));
        let sink = callback.map(|cb| {
            Arc::new(move |l: Level, message: &str| {
                let text = message_cstring(message);
                let u = &user_data;
                // SAFETY: the host's function; text lives across the call.
                unsafe { cb(l as i32, text.as_ptr(), u.0.get()) }
            }) as Arc<crate::log::Sink>
        });
        set_sink(level, sink);
        IMCONV_OK
    })
}

/// The host's `user_data` for a log callback that any thread may call.
struct UserDataSync(UserData);

// SAFETY: never dereferenced by the library; the header documents that the
// callback may run on any thread.
unsafe impl Sync for UserDataSync {}

/// Runs when the library is unloaded (`dlclose`, or a program's exit):
/// the memory the library holds for the process's life is given back where
/// it can be (the panic hook). What cannot (parking_lot's table of parked
/// threads) is documented in docs/internals.md, "Known limits".
#[cfg(any(target_os = "linux", target_os = "android"))]
#[used]
#[link_section = ".fini_array"]
static AT_UNLOAD: extern "C" fn() = {
    extern "C" fn at_unload() {
        let _ = std::panic::catch_unwind(crate::log::uninstall_panic_hook);
    }
    at_unload
};
