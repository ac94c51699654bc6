//! Conversation IDs (`c2c_<userID>`, `group_<groupID>`): their kinds, parsing
//! and checks, ID lists, and the filter of lists and totals.

use std::fmt::{self, Debug};
use std::hash::Hash;

use super::{quote, Conversation, Text};
use crate::error::Error;

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
