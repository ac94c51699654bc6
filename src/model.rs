//! The conversation model: text, conversation IDs and the conversation record.
//!
//! Field names follow Tencent Cloud IM's V2TIMConversation. Everything here is
//! plain immutable data; validation happens where data enters (`json`, `config`).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::Error;

/// Immutable UTF-8 text that never holds U+0000.
///
/// It is stored with a trailing NUL so that the FFI layer can lend it to C as
/// a string without copying; an empty text allocates nothing.
#[derive(Clone, Default)]
pub struct Text(Box<str>);

/// What an empty text lends: a lone NUL.
const EMPTY_WITH_NUL: &str = "\0";

impl Text {
    /// Copies `s`. Fails when it holds U+0000, which no C string can carry.
    pub fn new(s: &str) -> Result<Text, Error> {
        if s.as_bytes().contains(&0) {
            return Err(Error::invalid_parameters(format!(
                "{} holds U+0000",
                quote(s)
            )));
        }
        Ok(Text::from_clean(s))
    }

    /// `s` must hold no U+0000 (checked by the callers).
    fn from_clean(s: &str) -> Text {
        if s.is_empty() {
            return Text(Box::default());
        }
        let mut owned = String::with_capacity(s.len() + 1);
        owned.push_str(s);
        owned.push('\0');
        Text(owned.into_boxed_str())
    }

    pub fn as_str(&self) -> &str {
        match self.0.len() {
            0 => "",
            n => &self.0[..n - 1],
        }
    }

    /// The text followed by one NUL byte.
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        if self.0.is_empty() {
            EMPTY_WITH_NUL.as_bytes()
        } else {
            self.0.as_bytes()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.as_str().len()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Text {}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash like `str` so that maps keyed by Text can be probed with &str.
        self.as_str().hash(state)
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quotes a value for an error message: escaped, and cut short when long, so
/// a message stays readable whatever the caller passed.
pub fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 80;
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}... ({} bytes)", s.len())
    } else {
        format!("{head:?}")
    }
}

/// The immutable, shareable form in which a conversation is handed out. The
/// FFI layer's C view implements it, so the view is built once, when the
/// conversation is written or loaded, never per read.
pub trait Snapshot: Send + Sync + Sized + 'static {
    fn build(conversation: Conversation, stored: bool) -> std::sync::Arc<Self>;
    fn conversation(&self) -> &Conversation;
}

/// The kind of a conversation; the numbers are V2TIMConversationType's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ConversationType {
    C2c = 1,
    Group = 2,
}

impl ConversationType {
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    pub fn prefix(self) -> &'static str {
        match self {
            ConversationType::C2c => C2C_PREFIX,
            ConversationType::Group => GROUP_PREFIX,
        }
    }
}

pub(crate) const C2C_PREFIX: &str = "c2c_";
pub(crate) const GROUP_PREFIX: &str = "group_";
/// Longest user or group ID, in bytes, after the prefix.
pub(crate) const MAX_ID_BODY_BYTES: usize = 256;

/// A validated conversation ID: `c2c_<userID>` or `group_<groupID>`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ConversationId {
    text: Text,
    kind: ConversationType,
}

impl ConversationId {
    /// Parses and validates an ID. The error names the ID and what is wrong.
    pub fn parse(s: &str) -> Result<ConversationId, Error> {
        let kind = ConversationId::check(s)?;
        Ok(ConversationId {
            text: Text::from_clean(s),
            kind,
        })
    }

    /// Validates an ID without copying it; returns its kind.
    pub fn check(s: &str) -> Result<ConversationType, Error> {
        let (kind, body) = if let Some(body) = s.strip_prefix(C2C_PREFIX) {
            (ConversationType::C2c, body)
        } else if let Some(body) = s.strip_prefix(GROUP_PREFIX) {
            (ConversationType::Group, body)
        } else {
            return Err(Error::invalid_parameters(format!(
                "invalid conversation id {}: must start with \"c2c_\" or \"group_\"",
                quote(s)
            )));
        };
        validate_id_body(body).map_err(|why| {
            Error::invalid_parameters(format!("invalid conversation id {}: {why}", quote(s)))
        })?;
        Ok(kind)
    }

    /// Builds the ID of a user's or group's conversation.
    pub fn new(kind: ConversationType, body: &str) -> Result<ConversationId, Error> {
        ConversationId::parse(&format!("{}{body}", kind.prefix()))
    }

    pub fn kind(&self) -> ConversationType {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    pub fn text(&self) -> &Text {
        &self.text
    }

    /// The user ID (C2C) or group ID (group).
    pub fn body(&self) -> &str {
        &self.as_str()[self.kind.prefix().len()..]
    }

    /// The body followed by NUL: a suffix of the ID's own storage, so the
    /// user or group ID costs no extra allocation.
    pub fn body_bytes_with_nul(&self) -> &[u8] {
        &self.text.as_bytes_with_nul()[self.kind.prefix().len()..]
    }

    pub fn user_id(&self) -> &str {
        match self.kind {
            ConversationType::C2c => self.body(),
            ConversationType::Group => "",
        }
    }

    pub fn group_id(&self) -> &str {
        match self.kind {
            ConversationType::Group => self.body(),
            ConversationType::C2c => "",
        }
    }
}

impl fmt::Debug for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Which conversations a list or an unread total covers
/// (V2TIMConversationListFilter). The default covers all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub kind: Option<ConversationType>,
    /// Conversations whose markList holds this value.
    pub mark: Option<u64>,
    /// Conversations in this conversation group.
    pub group: Option<String>,
    pub has_unread: bool,
    /// Conversations with an unread @ mention.
    pub has_at: bool,
}

impl ListFilter {
    /// Whether a conversation passes (what the store's filter keeps).
    pub fn passes(&self, c: &Conversation) -> bool {
        self.kind.is_none_or(|k| c.id.kind() == k)
            && self.mark.is_none_or(|m| c.mark_list.contains(&m))
            && self
                .group
                .as_ref()
                .is_none_or(|g| c.conversation_group_list.iter().any(|x| x.as_str() == g))
            && (!self.has_unread || c.unread_count != 0)
            && (!self.has_at || !c.group_at_info_list.is_empty())
    }

    /// Whether it lets every conversation through.
    pub fn is_empty(&self) -> bool {
        self.kind.is_none()
            && self.mark.is_none()
            && self.group.is_none()
            && !self.has_unread
            && !self.has_at
    }
}

/// Validated conversation IDs kept in one buffer, so that a batch request
/// costs two allocations instead of one per ID.
#[derive(Clone, Debug, Default)]
pub struct IdList {
    text: String,
    ends: Vec<usize>,
}

impl IdList {
    pub fn with_capacity(ids: usize) -> IdList {
        IdList {
            text: String::with_capacity(ids * 24),
            ends: Vec::with_capacity(ids),
        }
    }

    /// Validates and appends one ID.
    pub fn push(&mut self, id: &str) -> Result<(), Error> {
        ConversationId::check(id)?;
        self.push_checked(id);
        Ok(())
    }

    /// Appends an ID the caller has validated ([`ConversationId::check`]).
    pub fn push_checked(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    /// Empties the list, keeping its buffers for reuse.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The owned ID at `i` (valid: it was checked on the way in).
    pub fn id(&self, i: usize) -> ConversationId {
        let s = self.get(i);
        let kind = if s.starts_with(C2C_PREFIX) {
            ConversationType::C2c
        } else {
            ConversationType::Group
        };
        ConversationId {
            text: Text::from_clean(s),
            kind,
        }
    }
}

/// Checks a user or group ID (the part after the prefix): 1 to 256 bytes of
/// UTF-8 with no control characters. Returns why it is not valid.
pub fn validate_id_body(body: &str) -> Result<(), String> {
    if body.is_empty() {
        return Err("the ID after the prefix is empty".into());
    }
    if body.len() > MAX_ID_BODY_BYTES {
        return Err(format!(
            "the ID after the prefix is {} bytes, more than {MAX_ID_BODY_BYTES}",
            body.len()
        ));
    }
    if let Some(c) = body.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the ID holds the control character U+{:04X}",
            c as u32
        ));
    }
    Ok(())
}

/// `recvOpt` values (V2TIMReceiveMessageOpt): 0 receive, 1 do not receive,
/// 2 receive without notification, 3 no notification except @, 4 do not
/// receive except @.
pub(crate) const RECV_OPT_MAX: i32 = 4;
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
}

impl Kept {
    pub fn of(c: &Conversation) -> Kept {
        Kept {
            c2c_read_timestamp: c.c2c_read_timestamp,
            read_ms: c.read_ms,
            group_read_sequence: c.group_read_sequence,
            order_key: c.order_key,
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
    /// (Tencent's position): only a later second moves it, so a position
    /// inside that second set by a message stays exact.
    pub fn read_to_second(&mut self, t: u64) {
        if t > self.c2c_read_timestamp {
            self.read_ms = self.read_ms.max(ms_covering_second(t));
            self.c2c_read_timestamp = t;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds() {
        let c = ConversationId::parse("c2c_alice").unwrap();
        assert_eq!(c.kind(), ConversationType::C2c);
        assert_eq!(c.body(), "alice");
        assert_eq!(c.user_id(), "alice");
        assert_eq!(c.group_id(), "");
        assert_eq!(c.body_bytes_with_nul(), b"alice\0");
        let g = ConversationId::parse("group_@TGS#_abc").unwrap();
        assert_eq!(g.kind(), ConversationType::Group);
        assert_eq!(g.group_id(), "@TGS#_abc");
        assert_eq!(g.user_id(), "");
    }

    #[test]
    fn rejects_bad_ids_with_a_reason() {
        for (bad, why) in [
            ("", "must start with"),
            ("alice", "must start with"),
            ("C2C_alice", "must start with"),
            ("c2c_", "empty"),
            ("group_", "empty"),
            ("c2c_a\u{1}b", "U+0001"),
            ("c2c_a\u{7f}", "U+007F"),
            ("group_x\u{85}", "U+0085"),
            ("c2c_a\nb", "U+000A"),
        ] {
            let e = ConversationId::parse(bad).unwrap_err();
            assert_eq!(e.code(), crate::error::ErrorCode::InvalidParameters);
            assert!(e.message().contains(why), "{bad:?}: {}", e.message());
            assert!(e.message().contains(&quote(bad)), "{}", e.message());
        }
    }

    #[test]
    fn body_length_limit_is_in_bytes() {
        let ok = format!("c2c_{}", "a".repeat(256));
        assert!(ConversationId::parse(&ok).is_ok());
        let long = format!("c2c_{}", "a".repeat(257));
        assert!(ConversationId::parse(&long)
            .unwrap_err()
            .message()
            .contains("257 bytes"));
        // 86 three-byte characters = 258 bytes.
        let multibyte = format!("group_{}", "\u{4e2d}".repeat(86));
        assert!(ConversationId::parse(&multibyte).is_err());
        let fits = format!("group_{}", "\u{4e2d}".repeat(85));
        assert!(ConversationId::parse(&fits).is_ok());
    }

    #[test]
    fn text_lends_a_nul_terminated_copy() {
        let t = Text::new("héllo").unwrap();
        assert_eq!(t.as_str(), "héllo");
        assert_eq!(t.as_bytes_with_nul(), "héllo\0".as_bytes());
        let e = Text::default();
        assert_eq!(e.as_str(), "");
        assert_eq!(e.as_bytes_with_nul(), b"\0");
        assert!(Text::new("a\0b").is_err());
    }

    #[test]
    fn id_list_keeps_order_and_rejects_bad_ids() {
        let mut l = IdList::with_capacity(2);
        l.push("c2c_a").unwrap();
        l.push("group_bc").unwrap();
        l.push("c2c_a").unwrap();
        assert!(l.push("bad").is_err());
        assert_eq!(l.iter().collect::<Vec<_>>(), ["c2c_a", "group_bc", "c2c_a"]);
        assert_eq!(l.id(1), ConversationId::parse("group_bc").unwrap());
        assert_eq!(l.id(0).kind(), ConversationType::C2c);
    }

    #[test]
    fn quote_cuts_long_values() {
        let q = quote(&"x".repeat(1000));
        assert!(q.len() < 120, "{q}");
        assert!(q.contains("1000 bytes"));
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn temporary_conversation_is_named_after_its_id() {
        let t = Conversation::temporary(ConversationId::parse("group_g1").unwrap());
        assert_eq!(t.show_name.as_str(), "g1");
        assert_eq!(t.unread_count, 0);
        assert!(t.last_message.is_none());
    }
}
