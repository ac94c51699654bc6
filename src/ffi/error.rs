//! Error codes and their texts.

use std::ffi::c_char;

use super::guard;
use crate::error::{ErrorCode, UNKNOWN_CODE_TEXT};

/// Success.
pub const IMCONV_OK: i32 = 0;
/// A parameter is invalid: a NULL pointer where one is required, a bad
/// conversation ID, a value out of range. The message names it.
pub const IMCONV_ERR_INVALID_PARAMETERS: i32 = 6017;
/// A database operation failed (the store is corrupt, the disk is full, ...).
pub const IMCONV_ERR_DATABASE: i32 = 6019;
/// A file system operation failed (creating the store folder, ...).
pub const IMCONV_ERR_IO: i32 = 6022;
/// The JSON is malformed or a value has the wrong JSON type.
pub const IMCONV_ERR_INVALID_JSON: i32 = 6027;
/// Out of memory.
pub const IMCONV_ERR_OUT_OF_MEMORY: i32 = 6028;
/// The instance is shutting down: the call was refused (return value) or
/// dropped unfinished (failure callback).
pub const IMCONV_ERR_SHUTDOWN: i32 = 6901;
/// The store is already open in another instance, in this or another process.
pub const IMCONV_ERR_STORE_LOCKED: i32 = 6902;
/// The instance was created in another process: it was called in a child
/// after fork(). Create a new instance in the child instead.
pub const IMCONV_ERR_WRONG_PROCESS: i32 = 6903;
/// The instance's write queue is full (10,000 writes, or 64 MiB of their
/// arguments, are waiting), or 65,536 of its reads wait for their callbacks:
/// the call was refused at once and makes no callback. Retry once earlier
/// calls have completed.
pub const IMCONV_ERR_QUEUE_FULL: i32 = 6904;
/// The call could not wait for what it promises without a deadlock: the
/// callback it would wait for is itself waiting, directly or through other
/// instances, for the calling thread. Returned by `imconv_remove_listener`
/// (the listener is removed, but its current call is still running).
pub const IMCONV_ERR_WOULD_DEADLOCK: i32 = 6905;
/// The store cannot be written (a read-only file, folder or file system):
/// `imconv_sdk_new` refuses it unless `"read_only": true` is asked for. An
/// instance opened read-only returns it for every write call (no callback).
pub const IMCONV_ERR_READ_ONLY: i32 = 6906;
/// `imconv_wait_freed` gave up: a freed instance's thread still runs.
pub const IMCONV_ERR_TIMEOUT: i32 = 6907;
/// The store is damaged (bits changed on the disk, a file cut short or
/// copied half-way): what it holds cannot be trusted, and nothing decoded
/// from damaged bytes is ever answered. The message names the conversation
/// where it is known. From `imconv_sdk_new` with `"on_damage": "fail"` (the
/// default); from a lookup of a damaged conversation; from
/// `imconv_verify_store`. Deleting, importing or syncing that conversation
/// repairs it; `"on_damage": "rebuild"` salvages the rest into a new store.
pub const IMCONV_ERR_STORE_DAMAGED: i32 = 6908;
/// A write failed to reach the disk (the sync of its commit, or
/// "normal" durability's periodic sync of the WAL, failed): the write may
/// or may not be stored, and the instance refuses every later write with
/// this code until it is freed and the store opened again (fail-stop).
/// Reads go on working. `on_store_error` says so too.
pub const IMCONV_ERR_STORE_FAILED: i32 = 6909;
/// The store cannot be opened with the `"encryption_key"` given: the key is
/// wrong, or missing for an encrypted store, or given for a plain one. The
/// files are left exactly as they were: never taken for damage, never
/// rebuilt. Open with the right key; or, if the key is lost, remove the
/// store with `imconv_delete_store` and sync it again from the server; or
/// open a plain store without a key and encrypt it with `imconv_rekey`.
pub const IMCONV_ERR_WRONG_KEY: i32 = 6910;
/// A `"shared"` store's write lock (or, rarely, its read snapshot) stayed
/// taken by another process for longer than the busy bound (5 s): a
/// process stopped (SIGSTOP, a debugger) or hung in the middle of a write.
/// Nothing of the call was done; retry later. Never returned for a store
/// that is not shared.
pub const IMCONV_ERR_STORE_BUSY: i32 = 6911;
/// The instance is suspended (`imconv_suspend`): it holds no lock and no
/// file of the store, and every call that needs the store is refused with
/// this code (a read accepted just before the suspension fails with it in
/// its `on_error`) until `imconv_resume`.
pub const IMCONV_ERR_SUSPENDED: i32 = 6912;
/// An internal error: a panic inside the library was caught. Please report it.
pub const IMCONV_ERR_INTERNAL: i32 = 6999;

/// Returns a static, NUL-terminated English description of an error code,
/// or "unknown error code" for a number that is not one of the codes.
///
/// The string is owned by the library and valid for the life of the process:
/// never free it. Callable from any thread, at any time (no instance needed).
#[no_mangle]
pub extern "C" fn imconv_error_str(code: i32) -> *const c_char {
    guard(UNKNOWN_CODE_TEXT.as_ptr(), || {
        ErrorCode::from_i32(code)
            .map_or(UNKNOWN_CODE_TEXT, ErrorCode::text)
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_core_codes() {
        let pairs = [
            (IMCONV_OK, ErrorCode::Ok),
            (IMCONV_ERR_INVALID_PARAMETERS, ErrorCode::InvalidParameters),
            (IMCONV_ERR_DATABASE, ErrorCode::Database),
            (IMCONV_ERR_IO, ErrorCode::Io),
            (IMCONV_ERR_INVALID_JSON, ErrorCode::InvalidJson),
            (IMCONV_ERR_OUT_OF_MEMORY, ErrorCode::OutOfMemory),
            (IMCONV_ERR_SHUTDOWN, ErrorCode::Shutdown),
            (IMCONV_ERR_STORE_LOCKED, ErrorCode::StoreLocked),
            (IMCONV_ERR_WRONG_PROCESS, ErrorCode::WrongProcess),
            (IMCONV_ERR_QUEUE_FULL, ErrorCode::QueueFull),
            (IMCONV_ERR_WOULD_DEADLOCK, ErrorCode::WouldDeadlock),
            (IMCONV_ERR_READ_ONLY, ErrorCode::ReadOnly),
            (IMCONV_ERR_TIMEOUT, ErrorCode::Timeout),
            (IMCONV_ERR_STORE_DAMAGED, ErrorCode::StoreDamaged),
            (IMCONV_ERR_STORE_FAILED, ErrorCode::StoreFailed),
            (IMCONV_ERR_WRONG_KEY, ErrorCode::WrongKey),
            (IMCONV_ERR_STORE_BUSY, ErrorCode::StoreBusy),
            (IMCONV_ERR_SUSPENDED, ErrorCode::Suspended),
            (IMCONV_ERR_INTERNAL, ErrorCode::Internal),
        ];
        assert_eq!(pairs.len(), ErrorCode::ALL.len());
        for (c, code) in pairs {
            assert_eq!(c, code.as_i32());
        }
    }
}
