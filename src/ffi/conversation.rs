//! The conversation view handed to callbacks, its JSON form and its lifetime.
//!
//! A view is built once, when a conversation is written or loaded from the
//! store, and shared read-only by every lookup that returns it: a cached
//! lookup builds nothing. Its pointers point into the view's own storage.

use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;

use super::guard;
use super::handle::{array_ptr, borrow, c_str_ptr, give_string, release, retain, text_ptr};
use crate::json::conversation_to_json;
use crate::model::{Conversation, ConversationType, Snapshot};

/// Conversation type: unknown (never returned by imconv).
pub const IMCONV_CONVERSATION_TYPE_UNKNOWN: i32 = 0;
/// Conversation type: one-to-one, ID `c2c_<userID>`.
pub const IMCONV_CONVERSATION_TYPE_C2C: i32 = 1;
/// Conversation type: group, ID `group_<groupID>`.
pub const IMCONV_CONVERSATION_TYPE_GROUP: i32 = 2;

/// recv_opt: receive messages and notify.
pub const IMCONV_RECV_OPT_RECEIVE: i32 = 0;
/// recv_opt: do not receive messages.
pub const IMCONV_RECV_OPT_NOT_RECEIVE: i32 = 1;
/// recv_opt: receive messages without notification.
pub const IMCONV_RECV_OPT_NOT_NOTIFY: i32 = 2;
/// recv_opt: no notification except when @ mentioned.
pub const IMCONV_RECV_OPT_NOT_NOTIFY_EXCEPT_AT: i32 = 3;
/// recv_opt: do not receive messages except when @ mentioned.
pub const IMCONV_RECV_OPT_NOT_RECEIVE_EXCEPT_AT: i32 = 4;

/// at_type: someone @ mentioned me.
pub const IMCONV_AT_ME: i32 = 1;
/// at_type: someone @ mentioned all members.
pub const IMCONV_AT_ALL: i32 = 2;
/// at_type: @ all and @ me.
pub const IMCONV_AT_ALL_AT_ME: i32 = 3;

/// mark_list bit: starred.
pub const IMCONV_MARK_STAR: u64 = 0x1;
/// mark_list bit: marked unread (does not change unread_count).
pub const IMCONV_MARK_UNREAD: u64 = 0x2;
/// mark_list bit: folded.
pub const IMCONV_MARK_FOLD: u64 = 0x4;
/// mark_list bit: hidden.
pub const IMCONV_MARK_HIDE: u64 = 0x8;

/// One @ mention in a group conversation.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct imconv_group_at_info {
    /// Sequence number of the message that mentioned.
    pub seq: u64,
    /// IMCONV_AT_ME, IMCONV_AT_ALL or IMCONV_AT_ALL_AT_ME.
    pub at_type: i32,
}

/// The last message of a conversation, as a summary view. Read-only, owned
/// by the library, valid as long as the conversation view that holds it.
#[repr(C)]
pub struct imconv_message {
    /// Message ID ("msgID"). Never NULL.
    pub msg_id: *const c_char,
    /// Sender's user ID ("sender"), "" when absent. Never NULL.
    pub sender: *const c_char,
    /// Server timestamp ("timestamp").
    pub timestamp: i64,
    /// Sequence number ("seq").
    pub seq: u64,
    /// V2TIMMessageStatus ("status"), 0 when absent.
    pub status: i32,
    /// Sent by the user of this instance ("isSelf").
    pub is_self: bool,
    /// Read ("isRead").
    pub is_read: bool,
    /// The whole message object, exactly as imported (JSON). Never NULL.
    pub json: *const c_char,
    /// Server time in milliseconds ("timestampMs"; without it, the start
    /// of `timestamp`'s second). Since 0.3.0.
    pub timestamp_ms: i64,
}

/// A conversation: a read-only snapshot owned by the library.
///
/// Valid until the callback that received it returns, or, after
/// `imconv_conversation_retain`, until the matching
/// `imconv_conversation_release`. It never changes: a later write makes a
/// new snapshot. Strings are NUL-terminated UTF-8 and never NULL (an absent
/// string is ""); a list with count 0 may have a NULL pointer.
#[repr(C)]
pub struct imconv_conversation {
    /// `c2c_<userID>` or `group_<groupID>`.
    pub conversation_id: *const c_char,
    /// IMCONV_CONVERSATION_TYPE_C2C or IMCONV_CONVERSATION_TYPE_GROUP.
    pub r#type: i32,
    /// The peer's user ID for C2C, "" for a group.
    pub user_id: *const c_char,
    /// The group ID for a group, "" for C2C.
    pub group_id: *const c_char,
    /// "Work", "Public", "Meeting", "AVChatRoom", "Community", or "".
    pub group_type: *const c_char,
    /// Display name.
    pub show_name: *const c_char,
    /// Avatar URL.
    pub face_url: *const c_char,
    /// Unread message count.
    pub unread_count: u64,
    /// Receive option, IMCONV_RECV_OPT_* (0 to 4).
    pub recv_opt: i32,
    /// The last message, NULL when the conversation has none.
    pub last_message: *const imconv_message,
    /// @ mentions not yet read.
    pub group_at_info_list: *const imconv_group_at_info,
    /// Entries in group_at_info_list.
    pub group_at_info_count: usize,
    /// Draft text, "" when none.
    pub draft_text: *const c_char,
    /// When the draft was set, 0 when none.
    pub draft_timestamp: u64,
    /// Pinned to the top.
    pub is_pinned: bool,
    /// Sort key, larger first (after pinned ones): the activity time (newest
    /// message or draft) as `min(second, 2^32 - 1) << 32 | millisecond <<
    /// 22 | (tick mod 2^22)`, the tick an action counter, so equal times
    /// list the latest action first; or the key an import or sync gave,
    /// until the conversation's next activity.
    pub order_key: u64,
    /// Marks (IMCONV_MARK_* bits, custom marks in bits 32-63).
    pub mark_list: *const u64,
    /// Entries in mark_list.
    pub mark_count: usize,
    /// Application data, at most 256 bytes, "" when none.
    pub custom_data: *const c_char,
    /// Names of the conversation groups that hold this conversation.
    pub conversation_group_list: *const *const c_char,
    /// Entries in conversation_group_list.
    pub conversation_group_count: usize,
    /// C2C: this user has read the conversation up to this time (seconds,
    /// inclusive): a message at or before it is not unread. 0: nothing read.
    pub c2c_read_timestamp: u64,
    /// Group: this user has read the conversation up to this sequence
    /// (inclusive): a message at or below it is not unread. 0: nothing read.
    pub group_read_sequence: u64,
    /// False for a temporary conversation: getConversation's answer for a
    /// valid ID that is not stored (it is not saved).
    pub is_stored: bool,
    /// The exact read position in milliseconds (exported as
    /// "readTimestampMs"): C2C, what `c2c_read_timestamp` is the second of;
    /// group, how far messages without a sequence are read. 0: nothing
    /// read. Since 0.3.0.
    pub read_timestamp_ms: u64,
}

/// The library's side of a view: the C struct first (so a pointer to the
/// view is a pointer to the struct) and everything its pointers point into.
#[repr(C)]
pub struct ConversationView {
    raw: imconv_conversation,
    message: Option<Box<imconv_message>>,
    at_info: Box<[imconv_group_at_info]>,
    groups: Box<[*const c_char]>,
    conversation: Conversation,
}

// SAFETY: a view is immutable after it is built, and its pointers only point
// into storage the view itself owns.
unsafe impl Send for ConversationView {}
// SAFETY: as for Send: nothing in a view changes after it is built.
unsafe impl Sync for ConversationView {}

const EMPTY: &[u8] = b"\0";

impl ConversationView {
    pub fn as_raw(&self) -> *const imconv_conversation {
        &self.raw
    }

    /// Points `raw` into the storage, which is in its final place (inside
    /// the Arc) so that no move follows.
    fn link(&mut self, stored: bool) {
        let c = &self.conversation;
        self.message = c.last_message.as_ref().map(|m| {
            Box::new(imconv_message {
                msg_id: text_ptr(&m.msg_id),
                sender: text_ptr(&m.sender),
                timestamp: m.timestamp,
                seq: m.seq,
                status: m.status,
                is_self: m.is_self,
                is_read: m.is_read,
                json: text_ptr(&m.json),
                timestamp_ms: m.timestamp_ms,
            })
        });
        self.at_info = c
            .group_at_info_list
            .iter()
            .map(|a| imconv_group_at_info {
                seq: a.seq,
                at_type: a.at_type,
            })
            .collect();
        self.groups = c.conversation_group_list.iter().map(text_ptr).collect();
        let body = c_str_ptr(c.id.body_bytes_with_nul());
        let (user_id, group_id) = match c.id.kind() {
            ConversationType::C2c => (body, c_str_ptr(EMPTY)),
            ConversationType::Group => (c_str_ptr(EMPTY), body),
        };
        self.raw = imconv_conversation {
            conversation_id: text_ptr(c.id.text()),
            r#type: c.id.kind().as_i32(),
            user_id,
            group_id,
            group_type: text_ptr(&c.group_type),
            show_name: text_ptr(&c.show_name),
            face_url: text_ptr(&c.face_url),
            unread_count: c.unread_count,
            recv_opt: c.recv_opt,
            last_message: self.message.as_deref().map_or(ptr::null(), ptr::from_ref),
            group_at_info_list: array_ptr(&self.at_info),
            group_at_info_count: self.at_info.len(),
            draft_text: text_ptr(&c.draft_text),
            draft_timestamp: c.draft_timestamp,
            is_pinned: c.is_pinned,
            order_key: c.order_key,
            mark_list: array_ptr(&c.mark_list),
            mark_count: c.mark_list.len(),
            custom_data: text_ptr(&c.custom_data),
            conversation_group_list: array_ptr(&self.groups),
            conversation_group_count: self.groups.len(),
            c2c_read_timestamp: c.c2c_read_timestamp,
            group_read_sequence: c.group_read_sequence,
            is_stored: stored,
            read_timestamp_ms: c.read_ms,
        };
    }
}

impl Snapshot for ConversationView {
    fn build(conversation: Conversation, stored: bool) -> Arc<ConversationView> {
        let null = ptr::null::<c_char>();
        let mut view = Arc::new(ConversationView {
            raw: imconv_conversation {
                conversation_id: null,
                r#type: 0,
                user_id: null,
                group_id: null,
                group_type: null,
                show_name: null,
                face_url: null,
                unread_count: 0,
                recv_opt: 0,
                last_message: ptr::null(),
                group_at_info_list: ptr::null(),
                group_at_info_count: 0,
                draft_text: null,
                draft_timestamp: 0,
                is_pinned: false,
                order_key: 0,
                mark_list: ptr::null(),
                mark_count: 0,
                custom_data: null,
                conversation_group_list: ptr::null(),
                conversation_group_count: 0,
                c2c_read_timestamp: 0,
                group_read_sequence: 0,
                is_stored: stored,
                read_timestamp_ms: 0,
            },
            message: None,
            at_info: Box::default(),
            groups: Box::default(),
            conversation,
        });
        match Arc::get_mut(&mut view) {
            Some(v) => v.link(stored),
            None => unreachable!("a new Arc is unique"),
        }
        view
    }

    fn conversation(&self) -> &Conversation {
        &self.conversation
    }
}

/// Keeps a conversation view valid (and unchanged) after the callback that
/// received it returns, until a matching `imconv_conversation_release`.
///
/// Cheap: it counts a reference, it copies nothing. Returns `conversation`
/// (NULL for NULL). Callable from any thread; retain and release may happen
/// on different threads.
///
/// # Safety
/// `conversation` is NULL or a view the library passed to a callback that
/// has not returned yet, or one already retained and not yet released.
#[no_mangle]
pub unsafe extern "C" fn imconv_conversation_retain(
    conversation: *const imconv_conversation,
) -> *const imconv_conversation {
    guard(ptr::null(), || {
        if !conversation.is_null() {
            // SAFETY: a view lent or retained, alive now (this function's
            // contract).
            unsafe { retain::<ConversationView>(conversation) };
        }
        conversation
    })
}

/// Releases a view kept with `imconv_conversation_retain`; once every retain
/// is released the view may be freed. NULL is a no-op. Callable from any
/// thread, also after the instance was freed.
///
/// # Safety
/// `conversation` is NULL or a retained view, released once per retain.
#[no_mangle]
pub unsafe extern "C" fn imconv_conversation_release(conversation: *const imconv_conversation) {
    guard((), || {
        if !conversation.is_null() {
            // SAFETY: a retained view, released once per retain (this
            // function's contract).
            unsafe { release::<ConversationView>(conversation) };
        }
    })
}

/// Returns the conversation as one JSON object with Tencent's V2 field
/// names (conversationID, type, userID, groupID, groupType, showName,
/// faceUrl, unreadCount, recvOpt, lastMessage, groupAtInfoList, draftText,
/// draftTimestamp, isPinned, orderKey, markList, customData,
/// conversationGroupList, c2cReadTimestamp, groupReadSequence);
/// `lastMessage` is null when there is none. `imconv_import_conversations`
/// reads it back to the same conversation.
///
/// The caller owns the result and frees it with `imconv_string_free`.
/// Returns NULL for NULL, and when the view cannot be written as JSON
/// (never seen; the reason goes to the log, see `imconv_set_log_callback`).
/// Callable from any thread.
///
/// # Safety
/// `conversation` is NULL or a valid view (see `imconv_conversation`).
#[no_mangle]
pub unsafe extern "C" fn imconv_conversation_to_json(
    conversation: *const imconv_conversation,
) -> *mut c_char {
    guard(ptr::null_mut(), || {
        if conversation.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: a valid view, alive across this call (this function's
        // contract).
        let view = unsafe { borrow::<ConversationView>(conversation) };
        match conversation_to_json(view.conversation()) {
            Ok(json) => give_string(json),
            Err(e) => {
                crate::log::failure("imconv_conversation_to_json failed", &e);
                ptr::null_mut()
            }
        }
    })
}
