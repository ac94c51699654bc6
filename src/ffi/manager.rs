//! The conversation manager's calls: writes (messages, read state, drafts,
//! pins, receive options, custom data, marks, conversation groups, deletes,
//! profiles) and reads (ordered pages, filters, unread totals, groups).
//!
//! Every call here is asynchronous like the lookups: it returns IMCONV_OK
//! when accepted, and then exactly one of its two callbacks runs, once, on
//! the instance's callback thread. Every write enters the instance's one
//! write queue, so writes commit, and call back, in the order they were
//! accepted.

use std::ffi::{c_char, c_void, CString};
use std::ptr;

use super::conversation::{imconv_conversation, lend_all};
use super::import::imconv_done_callback;
use super::lookup::imconv_error_callback;
use super::sdk::imconv_sdk;
use super::{
    async_call, json_write_call, read_id, read_ids, read_text, str_arg, write_call, CallKind,
};
use crate::error::{Error, Result};
use crate::model::{ConversationId, ConversationType, ListFilter};
use crate::store::ReadUpTo;
use crate::write::{ReadScope, Write};

/// Most conversation IDs one batch write takes (mark, receive option,
/// custom data, group membership, delete); more fail the call.
pub const IMCONV_MAX_IDS_PER_CALL: usize = 100;
/// Most conversation groups.
pub const IMCONV_MAX_GROUPS: usize = 20;
/// Longest conversation group name, in bytes (no control characters).
pub const IMCONV_MAX_GROUP_NAME_BYTES: usize = 32;
/// Most pinned conversations.
pub const IMCONV_MAX_PINNED: u64 = 50;
/// Most conversations in one page.
pub const IMCONV_MAX_PAGE: usize = 1000;
/// A message's msgID: 1 to this many bytes.
pub const IMCONV_MAX_MSG_ID_BYTES: usize = 128;
/// Longest showName, in bytes.
pub const IMCONV_MAX_SHOW_NAME_BYTES: usize = 1024;
/// Longest faceUrl, in bytes.
pub const IMCONV_MAX_FACE_URL_BYTES: usize = 2048;
/// Longest groupType, in bytes.
pub const IMCONV_MAX_GROUP_TYPE_BYTES: usize = 64;
/// Longest draft, in bytes.
pub const IMCONV_MAX_DRAFT_BYTES: usize = 16384;
/// Longest customData, in bytes.
pub const IMCONV_MAX_CUSTOM_DATA_BYTES: usize = 256;
/// Longest message object (a lastMessage, or one applied message) as JSON
/// text, in bytes.
pub const IMCONV_MAX_MESSAGE_BYTES: usize = 65536;
/// Largest JSON document one call takes (import, sync, messages, profiles),
/// in bytes.
pub const IMCONV_MAX_DOCUMENT_BYTES: usize = 67108864;
/// Most writes waiting in one instance's queue; a write call beyond it
/// returns IMCONV_ERR_QUEUE_FULL.
pub const IMCONV_MAX_QUEUED_WRITES: usize = 10000;
/// Most reads (lookups, lists, pages, totals, group lists) of one instance
/// accepted and not yet called back: a read call past it returns
/// IMCONV_ERR_QUEUE_FULL at once and makes no callback.
pub const IMCONV_MAX_QUEUED_READS: usize = 65536;
/// Most bytes of arguments waiting in one instance's write queue; a write
/// call beyond it returns IMCONV_ERR_QUEUE_FULL (a write into an empty queue
/// is always taken).
pub const IMCONV_MAX_QUEUED_BYTES: usize = 67108864;

/// Receives a list of strings (valid until the callback returns).
pub type imconv_string_list_callback = Option<
    unsafe extern "C-unwind" fn(
        strings: *const *const c_char,
        count: usize,
        user_data: *mut c_void,
    ),
>;

/// Receives a number.
pub type imconv_count_callback =
    Option<unsafe extern "C-unwind" fn(value: u64, user_data: *mut c_void)>;

/// Receives one page of the ordered list: `count` conversations, the cursor
/// to pass for the next page, and whether the list is finished. All valid
/// until the callback returns (copy the cursor to keep it).
pub type imconv_page_callback = Option<
    unsafe extern "C-unwind" fn(
        conversations: *const *const imconv_conversation,
        count: usize,
        next_cursor: *const c_char,
        is_finished: bool,
        user_data: *mut c_void,
    ),
>;

/// Which conversations a page or an unread total covers
/// (V2TIMConversationListFilter). A NULL filter covers all. The struct can
/// grow in later versions: set it up with `imconv_list_filter_init` (which
/// sets `struct_size` and clears every member: covers all), then set the
/// members you use by name.
#[repr(C)]
pub struct imconv_list_filter {
    /// `sizeof(imconv_list_filter)` as the caller was compiled: members
    /// past it are read as absent. Set by `imconv_list_filter_init`.
    pub struct_size: usize,
    /// 0 for any, else IMCONV_CONVERSATION_TYPE_C2C or _GROUP.
    pub r#type: i32,
    /// 0 for any, else only conversations whose mark_list holds this value.
    pub mark: u64,
    /// NULL for any, else only conversations in this conversation group.
    pub group: *const c_char,
    /// Only conversations with unread messages.
    pub has_unread: bool,
    /// Only conversations with an unread @ mention.
    pub has_at: bool,
}

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
/// and 8 newest (see the README's retention rule); coming again they
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
/// unread. @ mentions up to the position go (clearing everything: all of
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
/// and draft_timestamp (now, in seconds; 0 when cleared). The conversation
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
            Ok(Write::CreateGroup {
                name: read_text(group_name, "group_name", false)?,
                ids: read_ids(conversation_ids, count)?,
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
            Ok(Write::AddToGroup {
                name: read_text(group_name, "group_name", false)?,
                ids: read_ids(conversation_ids, count)?,
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
            Ok(Write::RemoveFromGroup {
                name: read_text(group_name, "group_name", false)?,
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

/// Sets up a filter for this version of the library: `struct_size` set,
/// every member cleared (covers all). NULL is a no-op.
///
/// # Safety
/// `filter` is NULL or points to writable memory of
/// `sizeof(imconv_list_filter)` bytes.
#[no_mangle]
pub unsafe extern "C" fn imconv_list_filter_init(filter: *mut imconv_list_filter) {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        super::guard((), || {
            if let Some(f) = filter.as_mut() {
                *f = imconv_list_filter {
                    struct_size: std::mem::size_of::<imconv_list_filter>(),
                    r#type: 0,
                    mark: 0,
                    group: ptr::null(),
                    has_unread: false,
                    has_at: false,
                };
            }
        })
    }
}

// SAFETY: repr(C), struct_size first; all-zero is the filter that covers
// all.
unsafe impl super::Growable for imconv_list_filter {
    /// 0.2.0's layout is this version's; see imconv_listener's.
    const FIRST_SIZE: usize = std::mem::size_of::<imconv_list_filter>();
}

/// Reads a filter argument (NULL covers all; members past the caller's
/// `struct_size` read as absent).
///
/// # Safety
/// `filter` is NULL or points to a filter set up with
/// imconv_list_filter_init, whose `group` is NULL or a C string.
pub(crate) unsafe fn read_filter(filter: *const imconv_list_filter) -> Result<ListFilter> {
    if filter.is_null() {
        return Ok(ListFilter::default());
    }
    // SAFETY: `filter` is a filter the caller set up (this function's
    // contract).
    let f = unsafe { super::read_growable(filter) }.map_err(|size| {
        Error::invalid_parameters(format!(
            "filter->struct_size is {size}, less than any version's ({}): set the filter up with imconv_list_filter_init",
            <imconv_list_filter as super::Growable>::FIRST_SIZE
        ))
    })?;
    let kind = match f.r#type {
        0 => None,
        1 => Some(ConversationType::C2c),
        2 => Some(ConversationType::Group),
        other => {
            return Err(Error::invalid_parameters(format!(
                "filter type must be 0, 1 or 2 (got {other})"
            )))
        }
    };
    let group = if f.group.is_null() {
        None
    } else {
        // SAFETY: a set-up filter's `group` is NULL or a C string.
        Some(unsafe { str_arg(f.group, &"filter group") }?.to_string())
    };
    Ok(ListFilter {
        kind,
        mark: (f.mark != 0).then_some(f.mark),
        group,
        has_unread: f.has_unread,
        has_at: f.has_at,
    })
}

/// Gets one page of the conversation list (Tencent's getConversationList
/// with nextSeq and count): pinned conversations first, then by order_key
/// descending (the newest activity first), ties by conversation ID
/// descending; only those that pass `filter` (NULL: all).
///
/// `cursor`: NULL or "" for the first page, else the `next_cursor` a
/// previous page returned (opaque text). `count`: 1 to 1000 (0 reads as 1,
/// more as 1000). Paging is stable: a conversation that moves or is deleted
/// while you page never makes another one be skipped or returned twice (one
/// that moves up past the cursor is simply not returned again).
/// `on_success(conversations, count, next_cursor, is_finished, user_data)`.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a filter
/// type other than 0, 1, 2, a cursor that is not one this call returned, or
/// a string that is not valid UTF-8; IMCONV_ERR_DATABASE when the store
/// cannot be read.
///
/// The calling contract of a read (return codes, the one callback, what the
/// callback may keep, threads) is in the header's preamble, "Reads".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `filter` is NULL
/// or valid for the call (its `group` NULL or a NUL-terminated string);
/// `cursor` is NULL or a NUL-terminated string; the callbacks must not
/// unwind (no C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_conversation_page(
    sdk: *mut imconv_sdk,
    filter: *const imconv_list_filter,
    cursor: *const c_char,
    count: usize,
    on_success: imconv_page_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let args = || -> Result<(ListFilter, String)> {
            let cursor = if cursor.is_null() {
                String::new()
            } else {
                str_arg(cursor, &"cursor")?.to_string()
            };
            Ok((read_filter(filter)?, cursor))
        };
        async_call(
            CallKind::Read,
            sdk,
            on_success,
            on_error,
            user_data,
            args,
            |engine, (filter, cursor), done| {
                engine.page(filter, cursor, count, done);
                Ok(())
            },
            |page: crate::state::Page<_>, on_success, user_data| {
                let next = super::message_cstring(&page.next_cursor);
                // The host's callback, with the page lent for the call.
                lend_all(page.conversations, |array, n| {
                    on_success(array, n, next.as_ptr(), page.finished, user_data)
                })
            },
        )
    }
}

/// Gets the total unread count of the conversations that pass `filter`
/// (NULL: all), leaving out those whose receive option mutes them (1, 2, 3):
/// `on_success(total, user_data)`.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a filter
/// type other than 0, 1, 2 or a group name that is not valid UTF-8;
/// IMCONV_ERR_DATABASE when the store cannot be read.
///
/// The calling contract of a read (return codes, the one callback, what the
/// callback may keep, threads) is in the header's preamble, "Reads".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `filter` is NULL
/// or valid for the call (its `group` NULL or a NUL-terminated string); the
/// callbacks must not unwind (no C++ exception, no longjmp) through the
/// library.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_total_unread(
    sdk: *mut imconv_sdk,
    filter: *const imconv_list_filter,
    on_success: imconv_count_callback,
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
            || read_filter(filter),
            |engine, filter, done| {
                engine.unread_total(filter, done);
                Ok(())
            },
            // The host's callback.
            |total: u64, on_success, user_data| on_success(total, user_data),
        )
    }
}

/// Gets the names of the conversation groups, in creation order:
/// `on_success(names, count, user_data)` (`names` NULL when `count` is 0).
///
/// Errors through `on_error`: IMCONV_ERR_DATABASE when the store cannot be
/// read.
///
/// The calling contract of a read (return codes, the one callback, what the
/// callback may keep, threads) is in the header's preamble, "Reads".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; the callbacks
/// must not unwind (no C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_groups(
    sdk: *mut imconv_sdk,
    on_success: imconv_string_list_callback,
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
            || Ok(()),
            |engine, (), done| {
                engine.groups(done);
                Ok(())
            },
            |names: Vec<String>, on_success, user_data| {
                let owned: Vec<CString> = names.iter().map(|n| super::message_cstring(n)).collect();
                let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
                let array = if ptrs.is_empty() {
                    ptr::null()
                } else {
                    ptrs.as_ptr()
                };
                // The host's callback, with the names lent for the call.
                on_success(array, ptrs.len(), user_data)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{engine, model, state, write};

    #[test]
    fn limits_match_the_core() {
        assert_eq!(IMCONV_MAX_IDS_PER_CALL, write::MAX_IDS_PER_CALL);
        assert_eq!(IMCONV_MAX_GROUPS, model::MAX_GROUPS);
        assert_eq!(IMCONV_MAX_GROUP_NAME_BYTES, model::MAX_GROUP_NAME_BYTES);
        assert_eq!(IMCONV_MAX_PINNED, model::MAX_PINNED);
        assert_eq!(IMCONV_MAX_PAGE, state::MAX_PAGE);
        assert_eq!(IMCONV_MAX_MSG_ID_BYTES, model::MAX_MSG_ID_BYTES);
        assert_eq!(IMCONV_MAX_SHOW_NAME_BYTES, model::MAX_SHOW_NAME_BYTES);
        assert_eq!(IMCONV_MAX_FACE_URL_BYTES, model::MAX_FACE_URL_BYTES);
        assert_eq!(IMCONV_MAX_GROUP_TYPE_BYTES, model::MAX_GROUP_TYPE_BYTES);
        assert_eq!(IMCONV_MAX_DRAFT_BYTES, model::MAX_DRAFT_BYTES);
        assert_eq!(IMCONV_MAX_CUSTOM_DATA_BYTES, model::MAX_CUSTOM_DATA_BYTES);
        assert_eq!(IMCONV_MAX_MESSAGE_BYTES, model::MAX_MESSAGE_BYTES);
        assert_eq!(IMCONV_MAX_DOCUMENT_BYTES, model::MAX_DOCUMENT_BYTES);
        assert_eq!(IMCONV_MAX_QUEUED_WRITES, engine::MAX_QUEUED_WRITES);
        assert_eq!(IMCONV_MAX_QUEUED_READS, engine::MAX_QUEUED_READS);
        assert_eq!(IMCONV_MAX_QUEUED_BYTES, engine::MAX_QUEUED_BYTES);
    }
}
