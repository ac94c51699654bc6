//! The conversation manager's calls: writes (messages, read state, drafts,
//! pins, receive options, custom data, marks, conversation groups, deletes,
//! profiles) and reads (ordered pages, filters, unread totals, groups).
//!
//! Every call here is asynchronous like the lookups: it returns IMCONV_OK
//! when accepted, and then exactly one of its two callbacks runs, once, on
//! the instance's callback thread. A write is all or nothing; when its
//! `on_success` runs it is committed (and durable as the instance's
//! durability says), and its events were queued before that callback.

use std::ffi::{c_char, c_void, CString};
use std::ptr;

use super::conversation::{imconv_conversation, lend_all};
use super::import::imconv_done_callback;
use super::lookup::imconv_error_callback;
use super::sdk::imconv_sdk;
use super::{async_call, read_id, read_ids, read_json, read_text, str_arg};
use crate::error::{Error, Result};
use crate::manager::{ReadScope, Write};
use crate::model::{ConversationType, ListFilter};
use crate::store::ReadUpTo;

/// Most conversation IDs one batch write takes (mark, receive option,
/// custom data, group membership, delete); more fail the call.
pub const IMCONV_MAX_IDS_PER_CALL: usize = 100;
/// Most conversation groups.
pub const IMCONV_MAX_GROUPS: usize = 20;
/// Longest conversation group name, in bytes.
pub const IMCONV_MAX_GROUP_NAME_BYTES: usize = 32;
/// Most pinned conversations.
pub const IMCONV_MAX_PINNED: u64 = 50;
/// Most conversations in one page.
pub const IMCONV_MAX_PAGE: usize = 1000;

/// Receives a list of strings (valid until the callback returns).
pub type imconv_string_list_callback = Option<
    unsafe extern "C" fn(strings: *const *const c_char, count: usize, user_data: *mut c_void),
>;

/// Receives a number.
pub type imconv_count_callback = Option<unsafe extern "C" fn(value: u64, user_data: *mut c_void)>;

/// Receives one page of the ordered list: `count` conversations, the cursor
/// to pass for the next page, and whether the list is finished. All valid
/// until the callback returns (copy the cursor to keep it).
pub type imconv_page_callback = Option<
    unsafe extern "C" fn(
        conversations: *const *const imconv_conversation,
        count: usize,
        next_cursor: *const c_char,
        is_finished: bool,
        user_data: *mut c_void,
    ),
>;

/// Which conversations a page or an unread total covers
/// (V2TIMConversationListFilter). All zero (or a NULL filter) covers all.
#[repr(C)]
pub struct imconv_list_filter {
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

/// Runs a write: the shared body of every write export.
unsafe fn write_call(
    sdk: *mut imconv_sdk,
    op: impl FnOnce() -> Result<Write>,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    async_call(
        sdk,
        on_success,
        on_error,
        user_data,
        op,
        |engine, op, done| engine.write(op, done),
        |(), on_success, user_data| unsafe { on_success(user_data) },
    )
}

/// Applies incoming and sent messages: `json_array` is a JSON array of
/// message objects with `conversationID`, `msgID` and `timestamp` (required),
/// `seq`, `sender`, `isSelf`, `isRead`, `status`, and any other fields (the
/// whole object becomes `lastMessage` when it is the newest).
///
/// A message for a conversation that is not stored creates it. The newest
/// message (by timestamp, then seq) becomes the last message, and the
/// conversation moves up (its order_key grows); an older one never replaces
/// a newer one. An incoming message that is not read adds one to
/// unread_count; one sent by this user does not. A msgID applied to the same
/// conversation before (in this call or any earlier one) changes nothing.
///
/// # Safety
/// `sdk` is a live instance or NULL; `json_array` is NULL or a
/// NUL-terminated string; the callbacks must not unwind through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_apply_messages(
    sdk: *mut imconv_sdk,
    json_array: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    write_call(
        sdk,
        || Ok(Write::Messages(read_json(json_array, "json_array")?)),
        on_success,
        on_error,
        user_data,
    )
}

/// Clears unread counts (Tencent's cleanConversationUnreadMessageCount).
///
/// `conversation_id`: one conversation's ID (it must be stored), "c2c" for
/// every one-to-one conversation, "group" for every group, NULL or "" for
/// all. `clean_timestamp` (one-to-one) or `clean_sequence` (groups): clear
/// only what is up to that position (at most one of them non-zero); both 0
/// clears everything. c2c_read_timestamp / group_read_sequence follow; @
/// mentions up to the position are cleared.
///
/// Messages applied with `imconv_apply_messages` are counted exactly; an
/// unread count that came from an import (with no messages behind it) is
/// cleared when the position reaches the last message, else left as it is.
///
/// # Safety
/// As for `imconv_apply_messages`.
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
    let op = || -> Result<Write> {
        let scope = if conversation_id.is_null() {
            ReadScope::All
        } else {
            match str_arg(conversation_id, &"conversation_id")? {
                "" => ReadScope::All,
                "c2c" => ReadScope::AllC2c,
                "group" => ReadScope::AllGroups,
                one => ReadScope::One(crate::model::ConversationId::parse(one)?),
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

/// Sets a conversation's draft (NULL or "" clears it). Sets draft_timestamp
/// (now, in seconds; 0 when cleared) and moves the conversation up. The
/// conversation must be stored.
///
/// # Safety
/// As for `imconv_apply_messages`; `conversation_id` and `draft_text` are
/// NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn imconv_set_draft(
    sdk: *mut imconv_sdk,
    conversation_id: *const c_char,
    draft_text: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    let op = || {
        Ok(Write::Draft {
            id: read_id(conversation_id, "conversation_id")?,
            text: read_text(draft_text, "draft_text", true)?,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Pins or unpins a conversation (at most 50 pinned). It must be stored.
///
/// # Safety
/// As for `imconv_set_draft`.
#[no_mangle]
pub unsafe extern "C" fn imconv_pin_conversation(
    sdk: *mut imconv_sdk,
    conversation_id: *const c_char,
    is_pinned: bool,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    let op = || {
        Ok(Write::Pin {
            id: read_id(conversation_id, "conversation_id")?,
            pinned: is_pinned,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Sets the receive option (IMCONV_RECV_OPT_*, 0 to 4) of up to 100 stored
/// conversations. Options 1, 2 and 3 leave a conversation out of the unread
/// total.
///
/// # Safety
/// As for `imconv_apply_messages`; `conversation_ids` is NULL or points to
/// `count` pointers, each NULL or a NUL-terminated string.
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
    let op = || {
        Ok(Write::RecvOpt {
            ids: read_ids(conversation_ids, count)?,
            opt: recv_opt,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Sets the custom data (at most 256 bytes; NULL or "" clears it) of up to
/// 100 stored conversations.
///
/// # Safety
/// As for `imconv_set_recv_opt`; `custom_data` is NULL or a NUL-terminated
/// string.
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
    let op = || {
        Ok(Write::CustomData {
            ids: read_ids(conversation_ids, count)?,
            data: read_text(custom_data, "custom_data", true)?,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Sets (`enable` true) or clears a mark (IMCONV_MARK_*, or a custom one in
/// bits 32-63; not 0) on up to 100 stored conversations. A mark is one
/// entry of mark_list.
///
/// # Safety
/// As for `imconv_set_recv_opt`.
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
    let op = || {
        Ok(Write::Mark {
            ids: read_ids(conversation_ids, count)?,
            mark,
            enable,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Deletes up to 100 conversations (IDs that are not stored are ignored).
/// A deleted conversation's applied messages are forgotten: a later message
/// creates it anew.
///
/// # Safety
/// As for `imconv_set_recv_opt`.
#[no_mangle]
pub unsafe extern "C" fn imconv_delete_conversations(
    sdk: *mut imconv_sdk,
    conversation_ids: *const *const c_char,
    count: usize,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    let op = || {
        Ok(Write::Delete {
            ids: read_ids(conversation_ids, count)?,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Creates a conversation group (name 1 to 32 bytes, at most 20 groups)
/// holding up to 100 stored conversations (`count` may be 0).
///
/// # Safety
/// As for `imconv_set_recv_opt`; `group_name` is NULL or a NUL-terminated
/// string.
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
    let op = || {
        Ok(Write::CreateGroup {
            name: read_text(group_name, "group_name", false)?,
            ids: read_ids(conversation_ids, count)?,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Renames a conversation group; its conversations follow.
///
/// # Safety
/// As for `imconv_apply_messages`; the names are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn imconv_rename_group(
    sdk: *mut imconv_sdk,
    old_name: *const c_char,
    new_name: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    let op = || {
        Ok(Write::RenameGroup {
            from: read_text(old_name, "old_name", false)?,
            to: read_text(new_name, "new_name", false)?,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Deletes a conversation group (its conversations stay).
///
/// # Safety
/// As for `imconv_rename_group`.
#[no_mangle]
pub unsafe extern "C" fn imconv_delete_group(
    sdk: *mut imconv_sdk,
    group_name: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    let op = || {
        Ok(Write::DeleteGroup {
            name: read_text(group_name, "group_name", false)?,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Adds up to 100 stored conversations to an existing conversation group.
///
/// # Safety
/// As for `imconv_create_group`.
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
    let op = || {
        Ok(Write::AddToGroup {
            name: read_text(group_name, "group_name", false)?,
            ids: read_ids(conversation_ids, count)?,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Removes up to 100 stored conversations from a conversation group.
///
/// # Safety
/// As for `imconv_create_group`.
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
    let op = || {
        Ok(Write::RemoveFromGroup {
            name: read_text(group_name, "group_name", false)?,
            ids: read_ids(conversation_ids, count)?,
        })
    };
    write_call(sdk, op, on_success, on_error, user_data)
}

/// Records users' and groups' display names and avatars: `json_array` holds
/// objects `{"userID": ...}` or `{"groupID": ...}` with `showName` and
/// `faceUrl`. The matching conversation's show_name (the name, or the ID
/// when the name is empty) and face_url follow, and so do temporary
/// conversations returned by `imconv_get_conversation` and conversations
/// that messages create later.
///
/// # Safety
/// As for `imconv_apply_messages`.
#[no_mangle]
pub unsafe extern "C" fn imconv_update_profiles(
    sdk: *mut imconv_sdk,
    json_array: *const c_char,
    on_success: imconv_done_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    write_call(
        sdk,
        || Ok(Write::Profiles(read_json(json_array, "json_array")?)),
        on_success,
        on_error,
        user_data,
    )
}

/// Reads a filter argument (NULL covers all).
unsafe fn read_filter(filter: *const imconv_list_filter) -> Result<ListFilter> {
    let Some(f) = filter.as_ref() else {
        return Ok(ListFilter::default());
    };
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
        Some(str_arg(f.group, &"filter group")?.to_string())
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
/// descending, ties by conversation ID descending; only those that pass
/// `filter` (NULL: all).
///
/// `cursor`: NULL or "" for the first page, else the `next_cursor` a
/// previous page returned (opaque text). `count`: 1 to 1000 (0 reads as 1,
/// more as 1000). Paging is stable: a conversation that moves or is deleted
/// while you page never makes another one be skipped or returned twice (one
/// that moves up past the cursor is simply not returned again).
///
/// # Safety
/// As for `imconv_apply_messages`; `filter` is NULL or valid for the call;
/// `cursor` is NULL or a NUL-terminated string.
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
    let args = || -> Result<(ListFilter, String)> {
        let cursor = if cursor.is_null() {
            String::new()
        } else {
            str_arg(cursor, &"cursor")?.to_string()
        };
        Ok((read_filter(filter)?, cursor))
    };
    async_call(
        sdk,
        on_success,
        on_error,
        user_data,
        args,
        |engine, (filter, cursor), done| engine.page(filter, cursor, count, done),
        |page: crate::manager::Page<_>, on_success, user_data| {
            let next = super::message_cstring(&page.next_cursor);
            lend_all(page.conversations, |array, n| unsafe {
                on_success(array, n, next.as_ptr(), page.finished, user_data)
            })
        },
    )
}

/// Gets the total unread count of the conversations that pass `filter`
/// (NULL: all), leaving out those whose receive option mutes them (1, 2, 3).
///
/// # Safety
/// As for `imconv_get_conversation_page`.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_total_unread(
    sdk: *mut imconv_sdk,
    filter: *const imconv_list_filter,
    on_success: imconv_count_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    async_call(
        sdk,
        on_success,
        on_error,
        user_data,
        || read_filter(filter),
        |engine, filter, done| engine.unread_total(filter, done),
        |total: u64, on_success, user_data| unsafe { on_success(total, user_data) },
    )
}

/// Gets the names of the conversation groups, in creation order.
///
/// # Safety
/// As for `imconv_apply_messages`.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_groups(
    sdk: *mut imconv_sdk,
    on_success: imconv_string_list_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    async_call(
        sdk,
        on_success,
        on_error,
        user_data,
        || Ok(()),
        |engine, (), done| engine.groups(done),
        |names: Vec<String>, on_success, user_data| {
            let owned: Vec<CString> = names.iter().map(|n| super::message_cstring(n)).collect();
            let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
            let array = if ptrs.is_empty() {
                ptr::null()
            } else {
                ptrs.as_ptr()
            };
            unsafe { on_success(array, ptrs.len(), user_data) }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manager;

    #[test]
    fn limits_match_the_core() {
        assert_eq!(IMCONV_MAX_IDS_PER_CALL, manager::MAX_IDS_PER_CALL);
        assert_eq!(IMCONV_MAX_GROUPS, manager::MAX_GROUPS);
        assert_eq!(IMCONV_MAX_GROUP_NAME_BYTES, manager::MAX_GROUP_NAME_BYTES);
        assert_eq!(IMCONV_MAX_PINNED, manager::MAX_PINNED);
        assert_eq!(IMCONV_MAX_PAGE, manager::MAX_PAGE);
    }
}
