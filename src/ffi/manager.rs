//! The conversation manager's calls: writes (messages, read state, drafts,
//! pins, receive options, custom data, marks, deletes, profiles) here;
//! conversation groups in `groups`, the reads of the list (ordered pages,
//! filters, unread totals, group names) in `lists`, the limits in `limits`.
//!
//! Every call here is asynchronous like the lookups: it returns IMCONV_OK
//! when accepted, and then exactly one of its two callbacks runs, once, on
//! the instance's callback thread. Every write enters the instance's one
//! write queue, so writes commit, and call back, in the order they were
//! accepted.

use std::ffi::{c_char, c_void};

use super::import::imconv_done_callback;
use super::lookup::imconv_error_callback;
use super::sdk::imconv_sdk;
use super::{json_write_call, read_id, read_ids, read_text, str_arg, write_call};
use crate::error::{Error, Result};
use crate::model::ConversationId;
use crate::store::ReadUpTo;
use crate::write::{ReadScope, Write};

mod groups;
mod limits;
mod lists;
#[cfg(test)]
mod tests;

pub use groups::*;
pub use limits::*;
pub use lists::*;

/// Applies incoming and sent messages (Tencent's onRecvNewMessage and the
/// results of sendMessage). `json_array` is a JSON array of message objects:
/// `conversationID`, `msgID` (1 to 128 bytes) and `timestamp` (seconds) or
/// `timestampMs` (milliseconds; `timestamp` then defaults to it / 1,000 and,
/// when given too, must be its second) required; `seq`, `sender`, `isSelf`,
/// `isRead`, `status`, in groups `groupAtUserList`, and `countsAsUnread` and
/// `atType` read; any other fields kept: the whole object (at most 64 KiB)
/// becomes `lastMessage` when it is the newest.
///
/// A message for a conversation that is not stored creates it (named after
/// its profile). A new message is remembered; the newest (by time in
/// milliseconds, then seq; a message without `timestampMs` is at the start
/// of its second; in a tie the one there first stays) becomes the last
/// message and moves the conversation to its time (see order_key: two
/// conversations active in one second list by their milliseconds), so a
/// catch-up that delivers older messages last leaves their conversations
/// below; an older one never replaces a newer one. An incoming message that
/// is not read and lies after the read position (C2C: the time read up to,
/// see `imconv_mark_read`; group: group_read_sequence, or for a message
/// without a seq the time read up to) adds one to unread_count;
/// then, in a group, a `groupAtUserList` naming this instance's user_id adds
/// an @me entry, Tencent's `__kImSDK_MesssageAtALL__` an @all entry, both an
/// @all-and-@me entry. A message with status 4 (deleted) or 6 (revoked)
/// does not count.
///
/// The host's verdict, for a server that decides (Matrix push rules): an
/// optional `"countsAsUnread"` (bool) replaces that rule for the message
/// (but a message at or before the read position never counts), and an
/// optional `"atType"` (0 to 3, any conversation type) replaces what
/// `groupAtUserList` gives (0: no mention). Read messages at or before the
/// read position are not remembered beyond the conversation's last message
/// and 8 newest (see docs/store.md, "Retention"); coming again they
/// change nothing.
///
/// A msgID applied to the conversation before (in this call or an earlier
/// one), or the conversation's last message itself, updates in place: when it
/// is the last message and its content differs (status sending to sent, an
/// edit, a revoke), the last message takes the new content and one on_changed
/// follows; the order stays. A message counted as unread that comes again
/// with status 4 or 6, or `"countsAsUnread": false`, is retracted: it stops
/// counting (unread_count one less) and its @ entry goes; otherwise
/// unread_count stays (a message is never counted twice). An identical
/// redelivery changes nothing and raises no event.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_JSON for malformed JSON or a
/// value of the wrong JSON type; IMCONV_ERR_INVALID_PARAMETERS for a missing
/// or invalid field, a msgID of 0 or more than 128 bytes, a message over 64
/// KiB or a document over 64 MiB (the message names the element's index and
/// the field). IMCONV_ERR_DATABASE when the store cannot write;
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
pub unsafe extern "C" fn imconv_apply_messages(
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
            Write::Messages,
            on_success,
            on_error,
            user_data,
        )
    }
}

/// Clears unread counts (Tencent's cleanConversationUnreadMessageCount).
/// `conversation_id`: one stored conversation's ID, "c2c" for every
/// one-to-one conversation, "group" for every group, NULL or "" for all.
/// `clean_timestamp` (one-to-one conversations only) or `clean_sequence`
/// (groups only): clear up to and including that position; both 0 clears
/// everything (the only form allowed for all conversations).
///
/// The read position follows: c2c_read_timestamp or group_read_sequence
/// becomes the position (clearing everything: the last message's), never
/// lower than it was, and later messages at or before it do not count as
/// unread. A timestamp covers its whole second: read_timestamp_ms becomes
/// its last millisecond (`.999`), also from inside that second. A clear by
/// sequence reads seq-less messages too and leaves read_timestamp_ms;
/// clearing everything moves it to the last message's time, in one
/// conversation or a scope alike. @ mentions up to the position go (clearing everything: all of
/// them, also in conversations with no unread count). Messages applied with
/// `imconv_apply_messages` are counted exactly; an unread count that came
/// from an import or a sync with no messages behind it is cleared once the
/// position reaches the last message, else kept.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for an invalid or
/// not stored ID, both positions set, a timestamp for a group or for "group",
/// a sequence for a one-to-one conversation or for "c2c", a position for all
/// conversations, or clean_timestamp above 2^63 - 1. IMCONV_ERR_DATABASE when
/// the store cannot write; IMCONV_ERR_INTERNAL for a caught panic (please
/// report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_id`
/// is NULL or a NUL-terminated string; the callbacks must not unwind (no C++
/// exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_clean_unread(
    sdk: *mut imconv_sdk,
    conversation_id: *const c_char,
    clean_timestamp: u64,
    clean_sequence: u64,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || -> Result<Write> {
            let scope = if conversation_id.is_null() {
                ReadScope::All
            } else {
                match str_arg(conversation_id, &"conversation_id")? {
                    "" => ReadScope::All,
                    "c2c" => ReadScope::AllC2c,
                    "group" => ReadScope::AllGroups,
                    one => ReadScope::One(ConversationId::parse(one)?),
                }
            };
            let upto = match (clean_timestamp, clean_sequence) {
                (0, 0) => ReadUpTo::All,
                (t, 0) => ReadUpTo::Timestamp(i64::try_from(t).map_err(|_| {
                    Error::invalid_parameters(format!("clean_timestamp {t} is too large"))
                })?),
                (0, s) => ReadUpTo::Sequence(s),
                _ => {
                    return Err(Error::invalid_parameters(
                        "clean_timestamp and clean_sequence are both set: give one",
                    ))
                }
            };
            Ok(Write::MarkRead { scope, upto })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Sets a stored conversation's draft (at most 16 KiB; NULL or "" clears it)
/// and draft_timestamp (now, in seconds, but at most one day past the
/// newest activity the store has seen, so that a clock far ahead cannot
/// hold the conversation above newer messages; never 0, which means "no
/// draft", even with a clock before 1970; 0 when cleared). The conversation
/// moves to its activity time: the draft's time when later than its newest
/// message's, else the message's (so clearing a draft moves it back). Setting
/// the draft it already has changes nothing.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a NULL,
/// invalid or not stored ID, a draft over 16 KiB or one that is not valid
/// UTF-8. IMCONV_ERR_DATABASE when the store cannot write;
/// IMCONV_ERR_INTERNAL for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_id`
/// and `draft_text` are NULL or NUL-terminated strings; the callbacks must
/// not unwind (no C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_set_draft(
    sdk: *mut imconv_sdk,
    conversation_id: *const c_char,
    draft_text: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            Ok(Write::Draft {
                id: read_id(conversation_id, "conversation_id")?,
                text: read_text(draft_text, "draft_text", true)?,
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Pins or unpins a stored conversation. Pinned conversations list first; at
/// most 50 can be pinned.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a NULL,
/// invalid or not stored ID, or a 51st pin. IMCONV_ERR_DATABASE when the
/// store cannot write; IMCONV_ERR_INTERNAL for a caught panic (please report
/// it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_id`
/// is NULL or a NUL-terminated string; the callbacks must not unwind (no C++
/// exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_pin_conversation(
    sdk: *mut imconv_sdk,
    conversation_id: *const c_char,
    is_pinned: bool,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            Ok(Write::Pin {
                id: read_id(conversation_id, "conversation_id")?,
                pinned: is_pinned,
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Sets the receive option (IMCONV_RECV_OPT_*, 0 to 4) of up to 100 stored
/// conversations. Options 1, 2 and 3 leave a conversation out of the unread
/// total.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for an option out
/// of range, more than 100 IDs, or a NULL, invalid or not stored ID (named
/// with its index). IMCONV_ERR_DATABASE when the store cannot write;
/// IMCONV_ERR_INTERNAL for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_ids`
/// is NULL (only with `count` 0) or points to `count` pointers, each NULL or
/// a NUL-terminated string; the callbacks must not unwind (no C++ exception,
/// no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_set_recv_opt(
    sdk: *mut imconv_sdk,
    conversation_ids: *const *const c_char,
    count: usize,
    recv_opt: i32,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            Ok(Write::RecvOpt {
                ids: read_ids(conversation_ids, count)?,
                opt: recv_opt,
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Sets the custom data (at most 256 bytes; NULL or "" clears it) of up to
/// 100 stored conversations.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for data over 256
/// bytes, more than 100 IDs, or a NULL, invalid or not stored ID (named with
/// its index). IMCONV_ERR_DATABASE when the store cannot write;
/// IMCONV_ERR_INTERNAL for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_ids`
/// is NULL (only with `count` 0) or points to `count` pointers, each NULL or
/// a NUL-terminated string; `custom_data` is NULL or a NUL-terminated string;
/// the callbacks must not unwind (no C++ exception, no longjmp) through the
/// library.
#[no_mangle]
pub unsafe extern "C" fn imconv_set_custom_data(
    sdk: *mut imconv_sdk,
    conversation_ids: *const *const c_char,
    count: usize,
    custom_data: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            Ok(Write::CustomData {
                ids: read_ids(conversation_ids, count)?,
                data: read_text(custom_data, "custom_data", true)?,
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Sets (`enable` true) or clears a mark (IMCONV_MARK_*, or a custom one in
/// bits 32-63; not 0) on up to 100 stored conversations. A mark is one entry
/// of mark_list; setting one that is there, or clearing one that is not,
/// changes nothing.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for mark 0, more
/// than 100 IDs, or a NULL, invalid or not stored ID (named with its index).
/// IMCONV_ERR_DATABASE when the store cannot write; IMCONV_ERR_INTERNAL for a
/// caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_ids`
/// is NULL (only with `count` 0) or points to `count` pointers, each NULL or
/// a NUL-terminated string; the callbacks must not unwind (no C++ exception,
/// no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_mark_conversations(
    sdk: *mut imconv_sdk,
    conversation_ids: *const *const c_char,
    count: usize,
    mark: u64,
    enable: bool,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let op = || {
            Ok(Write::Mark {
                ids: read_ids(conversation_ids, count)?,
                mark,
                enable,
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Deletes up to 100 conversations (IDs that are not stored are ignored).
/// What is remembered of a deleted conversation's messages goes with it: a
/// later message creates it anew.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for more than 100
/// IDs, or a NULL or invalid ID (named with its index). IMCONV_ERR_DATABASE
/// when the store cannot write; IMCONV_ERR_INTERNAL for a caught panic
/// (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `conversation_ids`
/// is NULL (only with `count` 0) or points to `count` pointers, each NULL or
/// a NUL-terminated string; the callbacks must not unwind (no C++ exception,
/// no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_delete_conversations(
    sdk: *mut imconv_sdk,
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
            Ok(Write::Delete {
                ids: read_ids(conversation_ids, count)?,
            })
        };
        write_call(sdk, op, on_success, on_error, user_data)
    }
}

/// Records users' and groups' display names and avatars: `json_array` holds
/// objects `{"userID": ...}` or `{"groupID": ...}` (exactly one) with
/// `showName` (at most 1 KiB) and `faceUrl` (at most 2 KiB). The matching
/// stored conversation's show_name (the name, or the user or group ID when
/// the name is empty) and face_url follow, and so do temporary conversations
/// returned by `imconv_get_conversation` and conversations that messages or
/// syncs create later.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_JSON for malformed JSON or a
/// wrong JSON type; IMCONV_ERR_INVALID_PARAMETERS for a missing or doubled ID
/// field, an invalid ID, or a name or URL over its limit (the message names
/// the element's index and the field). IMCONV_ERR_DATABASE when the store
/// cannot write; IMCONV_ERR_INTERNAL for a caught panic (please report it).
///
/// The calling contract of a write (return codes, the one callback, order,
/// ownership, threads) is in the header's preamble, "Writes".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `json_array` is
/// NULL or a NUL-terminated UTF-8 string; the callbacks must not unwind (no
/// C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_update_profiles(
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
            Write::Profiles,
            on_success,
            on_error,
            user_data,
        )
    }
}
