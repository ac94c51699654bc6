//! What a host that follows a server reports beyond Tencent's calls:
//! reading up to one message (a read receipt names a message, not a time),
//! and the stages of its sync with the server.

use std::ffi::{c_char, c_void};

use super::import::imconv_done_callback;
use super::lookup::imconv_error_callback;
use super::sdk::imconv_sdk;
use super::{read_id, read_text, write_call};
use crate::error::Error;
use crate::events::SyncStage;
use crate::write::Write;

/// `imconv_report_sync`: a sync with the server started.
pub const IMCONV_SYNC_STARTED: i32 = 1;
/// ... finished.
pub const IMCONV_SYNC_FINISHED: i32 = 2;
/// ... failed.
pub const IMCONV_SYNC_FAILED: i32 = 3;

/// Marks a stored conversation read up to and including one of its
/// messages (a read receipt from this or another device), by the
/// conversation's own message order: one-to-one messages by time in
/// milliseconds (`timestampMs`, else the start of their `timestamp`
/// second); group messages by `seq`, and those without one by time.
/// Messages of the same millisecond as the named one are read with it.
/// `msg_id` names a message applied with `imconv_apply_messages` (or the
/// conversation's last message from an import or sync).
///
/// Remembered unread messages up to it stop counting and their @ entries
/// go; the read position moves to it and never back (naming an earlier
/// message changes nothing), so a message up to it that arrives later does
/// not count. c2c_read_timestamp becomes its second (the exact position is
/// exported as `readTimestampMs`); group_read_sequence its seq when it has
/// one. A sync element's `"readMsgID"` does the same.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a NULL,
/// invalid or not stored conversation ID, a NULL or empty msgID or one over
/// 128 bytes, or a msgID that was never applied to that conversation (the
/// message names it). A msgID read and forgotten since (bounded history)
/// is at or before the read position: the call succeeds and changes
/// nothing, as for any earlier message. IMCONV_ERR_DATABASE when the store cannot write;
/// IMCONV_ERR_INTERNAL for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_id`
/// and `msg_id` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn imconv_mark_read(
    sdk: *mut imconv_sdk,
    conversation_id: *const c_char,
    msg_id: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            Ok(Write::MarkMessageRead {
                id: read_id(conversation_id, "conversation_id")?,
                msg_id: read_text(msg_id, "msg_id", false)?,
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Reports a stage of the host's sync with its server, for the listeners'
/// `on_sync_server_start` (`stage` IMCONV_SYNC_STARTED),
/// `on_sync_server_finish` (IMCONV_SYNC_FINISHED) and
/// `on_sync_server_failed` (IMCONV_SYNC_FAILED): Tencent's sync events,
/// which its SDK raises itself. The report is a write that changes nothing:
/// it takes its place in the one write queue, so listeners receive the
/// stage in order with the writes around it (the events of the writes
/// accepted before it first, those accepted after it later), and then its
/// own `on_success` runs. A typical host: report STARTED, apply the server's
/// data (sync, messages, read receipts), report FINISHED, or FAILED when the
/// transport gave up.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a `stage`
/// other than 1, 2 or 3 (in order, like any failed write).
///
/// Returns IMCONV_OK when the call is accepted: then exactly one of
/// `on_success(user_data)` and `on_error(code, desc, user_data)` runs, once,
/// on the instance's callback thread, never inside this call, after the
/// callbacks of the writes accepted before it. Returns non-zero, and makes
/// no callback, when the call cannot be accepted:
/// IMCONV_ERR_INVALID_PARAMETERS (`sdk`, `on_success` or `on_error` NULL),
/// IMCONV_ERR_QUEUE_FULL (10,000 writes are waiting: retry later),
/// IMCONV_ERR_SHUTDOWN (the instance is being freed),
/// IMCONV_ERR_WRONG_PROCESS (called in a child after fork()).
///
/// Ownership: `desc` handed to `on_error` is valid until `on_error`
/// returns; `user_data` is passed back untouched. Thread: callable from any
/// thread, including from inside a callback; it never blocks.
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`.
#[no_mangle]
pub unsafe extern "C" fn imconv_report_sync(
    sdk: *mut imconv_sdk,
    stage: i32,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            let stage = match stage {
                IMCONV_SYNC_STARTED => SyncStage::Started,
                IMCONV_SYNC_FINISHED => SyncStage::Finished,
                IMCONV_SYNC_FAILED => SyncStage::Failed,
                other => {
                    return Err(Error::invalid_parameters(format!(
                "stage must be IMCONV_SYNC_STARTED (1), _FINISHED (2) or _FAILED (3) (got {other})"
            )))
                }
            };
            Ok(Write::ReportSync(stage))
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}
