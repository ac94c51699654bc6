//! The conversation model: text, conversation IDs and the conversation record.
//!
//! Field names follow Tencent Cloud IM's V2TIMConversation. Everything here is
//! plain immutable data; validation happens where data enters (`json`, `config`).

use crate::error::Error;

mod id;
#[cfg(test)]
mod tests;
mod text;

pub use id::*;
pub use text::*;

/// The immutable, shareable form in which a conversation is handed out. The
/// FFI layer's C view implements it, so the view is built once, when the
/// conversation is written or loaded, never per read.
pub trait Snapshot: Send + Sync + Sized + 'static {
    fn build(conversation: Conversation, stored: bool) -> std::sync::Arc<Self>;
    fn conversation(&self) -> &Conversation;
}

/// `atType` values: 1 @me, 2 @all, 3 @all and @me.
pub const AT_ME: i32 = 1;
pub const AT_ALL: i32 = 2;
pub const AT_ALL_AND_ME: i32 = 3;
pub(crate) const AT_TYPE_MIN: i32 = AT_ME;
pub(crate) const AT_TYPE_MAX: i32 = AT_ALL_AND_ME;
/// What a message's `groupAtUserList` holds for "@all" (Tencent's constant,
/// spelled as Tencent spells it).
pub const AT_ALL_USER_ID: &str = "__kImSDK_MesssageAtALL__";
/// Longest `customData`, in bytes (Tencent's limit).
pub const MAX_CUSTOM_DATA_BYTES: usize = 256;
/// A message's `msgID`: 1 to this many bytes.
pub const MAX_MSG_ID_BYTES: usize = 128;
/// Longest `showName`, in bytes.
pub const MAX_SHOW_NAME_BYTES: usize = 1024;
/// Longest `faceUrl`, in bytes.
pub const MAX_FACE_URL_BYTES: usize = 2048;
/// Longest `groupType`, in bytes.
pub const MAX_GROUP_TYPE_BYTES: usize = 64;
/// Longest draft, in bytes.
pub const MAX_DRAFT_BYTES: usize = 16 * 1024;
/// Longest message object (a `lastMessage`, or one applied message) as JSON
/// text, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest JSON document one call takes (import, sync, messages, profiles).
pub const MAX_DOCUMENT_BYTES: usize = 64 << 20;
/// Most conversation groups, and the longest group name in bytes (Tencent's).
pub const MAX_GROUPS: usize = 20;
pub const MAX_GROUP_NAME_BYTES: usize = 32;
/// Most pinned conversations (Tencent's limit).
pub const MAX_PINNED: u64 = 50;

/// The latest activity time the ordering rule expresses, in seconds (the
/// year 2106); later times count as this one. An order key is never derived
/// from another key, so no key, not even 2^64 - 1 (the latest time's last
/// tick), can make others tie or freeze the order.
pub const MAX_ACTIVITY_TIME: u64 = u32::MAX as u64;

/// Bits of an order key's low half that hold the action tick; the ten
/// above them hold the millisecond of the activity's second.
const TICK_BITS: u32 = 22;

/// The order key of an activity at `time_ms` (milliseconds): the second in
/// the high 32 bits, then the millisecond (0 to 999, 10 bits), then in the
/// low 22 bits a tick that grows with every action, so that of two
/// activities in the same second the later millisecond ranks first, and in
/// the same millisecond the later action (ticks wrap after 4,194,304
/// actions, which can swap two activities of one millisecond once).
pub fn order_key(time_ms: u64, tick: u32) -> u64 {
    let time_ms = time_ms.min(MAX_ACTIVITY_TIME * 1000 + 999);
    ((time_ms / 1000) << 32)
        | ((time_ms % 1000) << TICK_BITS)
        | (tick as u64 & ((1 << TICK_BITS) - 1))
}

/// The part of an order key that is the activity time (what an import
/// compares to keep a conversation's place).
pub fn order_time(order_key: u64) -> u64 {
    order_key >> TICK_BITS
}

/// A message time in milliseconds from one in seconds (saturating).
pub fn ms_of_seconds(timestamp: i64) -> i64 {
    timestamp.saturating_mul(1000)
}

/// The read position (milliseconds) that covers a whole second `t` (the
/// one-to-one position of Tencent's calls): every message of that second.
pub fn ms_covering_second(t: u64) -> u64 {
    if t == 0 {
        0
    } else {
        t.saturating_mul(1000)
            .saturating_add(999)
            .min(i64::MAX as u64)
    }
}

/// An unread total as callers see it: exact up to 2^64 - 1, which it
/// stays at beyond (counts are u64 each; their sum is kept exact in u128,
/// so it comes back down exactly when counts are cleared).
pub fn saturated(total: u128) -> u64 {
    total.min(u64::MAX as u128) as u64
}

/// What a conversation replaced whole (an import) keeps of the stored one:
/// a read position never moves back, and a conversation placed by its
/// activity time (not given an `orderKey`) keeps its place when that time
/// did not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kept {
    pub c2c_read_timestamp: u64,
    pub read_ms: u64,
    pub group_read_sequence: u64,
    pub order_key: u64,
    /// Not kept: the replaced conversation's part of the unread total
    /// (what a shared store's change log records of it).
    pub unread_part: u64,
}

impl Kept {
    pub fn of(c: &Conversation) -> Kept {
        Kept {
            c2c_read_timestamp: c.c2c_read_timestamp,
            read_ms: c.read_ms,
            group_read_sequence: c.group_read_sequence,
            order_key: c.order_key,
            unread_part: unread_part(c.unread_count, c.recv_opt),
        }
    }

    /// Applies the rule to `new`, which replaces the conversation this was
    /// read from; `placed`: its order key is its activity time and a fresh
    /// tick.
    pub fn keep_in(self, new: &mut Conversation, placed: bool) {
        new.c2c_read_timestamp = new.c2c_read_timestamp.max(self.c2c_read_timestamp);
        new.read_ms = new.read_ms.max(self.read_ms);
        new.group_read_sequence = new.group_read_sequence.max(self.group_read_sequence);
        if placed && order_time(new.order_key) == order_time(self.order_key) {
            new.order_key = self.order_key;
        }
    }
}

/// A conversation's part of the unread total: its unread count, unless
/// its receive option keeps it out of the total (1-3: not notified).
pub fn unread_part(unread_count: u64, recv_opt: i32) -> u64 {
    if matches!(recv_opt, 1..=3) {
        0
    } else {
        unread_count
    }
}

/// Checks a text field's length, naming the field.
pub fn check_len(field: &str, text: &str, max: usize) -> Result<(), Error> {
    if text.len() > max {
        return Err(Error::invalid_parameters(format!(
            "{field} is {} bytes, more than {max}",
            text.len()
        )));
    }
    Ok(())
}

/// Checks a JSON document's size (in bytes, without a NUL), naming it: at
/// most [`MAX_DOCUMENT_BYTES`]. The C ABI checks before it copies one,
/// the writes again for callers in Rust.
pub fn check_document_size(name: &str, len: usize) -> Result<(), Error> {
    if len > MAX_DOCUMENT_BYTES {
        return Err(Error::invalid_parameters(format!(
            "{name} is more than {MAX_DOCUMENT_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Checks a conversation group name: 1 to 32 bytes, no control characters.
pub fn check_group_name(name: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Err(Error::invalid_parameters(format!(
            "conversation group name {} {why}",
            quote(name)
        )))
    };
    if name.is_empty() || name.len() > MAX_GROUP_NAME_BYTES {
        return bad(&format!("must be 1 to {MAX_GROUP_NAME_BYTES} bytes"));
    }
    if name.chars().any(char::is_control) {
        return bad("holds a control character");
    }
    Ok(())
}

/// One @ mention in a group conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupAtInfo {
    pub seq: u64,
    pub at_type: i32,
}

/// The summary of a conversation's last message, plus the whole message as
/// imported (its JSON text, byte for byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastMessage {
    pub msg_id: Text,
    pub sender: Text,
    /// Seconds (`timestamp`).
    pub timestamp: i64,
    /// Milliseconds (`timestampMs`, else `timestamp` × 1,000): the
    /// message's place in its conversation, and its conversation's.
    pub timestamp_ms: i64,
    pub seq: u64,
    pub status: i32,
    pub is_self: bool,
    pub is_read: bool,
    pub json: Text,
}

/// One conversation as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub group_type: Text,
    pub show_name: Text,
    pub face_url: Text,
    pub unread_count: u64,
    pub recv_opt: i32,
    pub last_message: Option<LastMessage>,
    pub group_at_info_list: Box<[GroupAtInfo]>,
    pub draft_text: Text,
    pub draft_timestamp: u64,
    pub is_pinned: bool,
    pub order_key: u64,
    pub mark_list: Box<[u64]>,
    pub custom_data: Text,
    pub conversation_group_list: Box<[Text]>,
    pub c2c_read_timestamp: u64,
    pub group_read_sequence: u64,
    /// The read position in time (milliseconds; 0: none), imconv's own:
    /// a one-to-one conversation is read up to it (`c2c_read_timestamp` is
    /// its second), a group's messages without a sequence too.
    pub read_ms: u64,
}

impl Conversation {
    /// When this conversation was last active (milliseconds): its newest
    /// message's time, or its draft's when later. Its place in the list
    /// follows this time.
    pub fn activity_ms(&self) -> u64 {
        let message = self
            .last_message
            .as_ref()
            .map_or(0, |m| m.timestamp_ms.max(0) as u64);
        message.max(self.draft_timestamp.saturating_mul(1000))
    }

    /// Moves the time read position forward to `ms` (never back); a
    /// one-to-one conversation's `c2c_read_timestamp` follows as its second.
    pub fn read_to_ms(&mut self, ms: u64) {
        self.read_ms = self.read_ms.max(ms.min(i64::MAX as u64));
        if self.id.kind() == ConversationType::C2c {
            self.c2c_read_timestamp = self.c2c_read_timestamp.max(self.read_ms / 1000);
        }
    }

    /// Moves a one-to-one read position forward to the whole second `t`
    /// (Tencent's position), which covers every message of that second:
    /// the millisecond position becomes its last millisecond (`.999`)
    /// when behind it, also when it is inside that second already.
    pub fn read_to_second(&mut self, t: u64) {
        self.read_ms = self.read_ms.max(ms_covering_second(t));
        self.c2c_read_timestamp = self.c2c_read_timestamp.max(t);
    }

    /// Whether a message is at or before the read position (nothing read
    /// yet: not). One-to-one messages are placed by time; group messages
    /// by sequence, or by time when they have none.
    pub fn has_read(&self, m: &LastMessage) -> bool {
        if self.id.kind() == ConversationType::Group && m.seq > 0 {
            self.group_read_sequence > 0 && m.seq <= self.group_read_sequence
        } else {
            self.read_ms > 0 && m.timestamp_ms >= 0 && m.timestamp_ms as u64 <= self.read_ms
        }
    }

    /// An empty conversation for `id`: every field zero or empty.
    pub fn empty(id: ConversationId) -> Conversation {
        Conversation {
            id,
            group_type: Text::default(),
            show_name: Text::default(),
            face_url: Text::default(),
            unread_count: 0,
            recv_opt: 0,
            last_message: None,
            group_at_info_list: Box::default(),
            draft_text: Text::default(),
            draft_timestamp: 0,
            is_pinned: false,
            order_key: 0,
            mark_list: Box::default(),
            custom_data: Text::default(),
            conversation_group_list: Box::default(),
            c2c_read_timestamp: 0,
            group_read_sequence: 0,
            read_ms: 0,
        }
    }

    /// The conversation getConversation answers for an ID that is not stored
    /// (as Tencent's SDK does): its name is the user or group ID.
    pub fn temporary(id: ConversationId) -> Conversation {
        let show_name = Text::from_clean(id.body());
        Conversation {
            show_name,
            ..Conversation::empty(id)
        }
    }
}
