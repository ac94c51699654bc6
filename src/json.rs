//! JSON in and out, with Tencent's V2 field names.
//!
//! Import is strict about what it reads (types, ranges, IDs that agree with
//! each other) and lenient about what it does not (unknown keys are ignored;
//! `null` stands for "absent" in every optional field). Every error names the
//! element's index and the field.
//!
//! Import reads the document in place: each element, and each field of it,
//! is a slice of the document ([`RawValue`]) until it is converted into its
//! final form, so a conversation costs few allocations besides its own text.
//!
//! Here: conversation documents (import, sync: each element a
//! [`ConversationPatch`]). The parts: `reader` (an object's members and the
//! checked reading of each field), `messages` (messages and profiles),
//! `export` (a conversation as one JSON object).

use std::fmt;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::model::{
    check_group_name, ms_covering_second, order_key, quote, Conversation, ConversationId,
    ConversationType, GroupAtInfo, LastMessage, Text, AT_TYPE_MAX, AT_TYPE_MIN,
    MAX_CUSTOM_DATA_BYTES, MAX_DRAFT_BYTES, MAX_FACE_URL_BYTES, MAX_GROUPS, MAX_GROUP_TYPE_BYTES,
    MAX_MSG_ID_BYTES, MAX_SHOW_NAME_BYTES, RECV_OPT_MAX,
};

/// A JSON value not read yet: a slice of the document.
type Raw<'a> = &'a RawValue;

mod export;
#[cfg(test)]
mod fast_path_tests;
mod messages;
mod reader;
#[cfg(test)]
mod tests;

pub use export::*;
pub use messages::*;
use reader::*;

/// Parses an import document: a JSON array of conversation objects. All or
/// nothing: the first bad element fails the whole document.
pub fn parse_conversations(json: &[u8]) -> Result<Vec<Conversation>> {
    let mut all = Vec::new();
    for_each_conversation(json, |c, _| {
        all.push(c);
        Ok(())
    })?;
    Ok(all)
}

/// Reads an import document in one pass, handing each conversation to `f`
/// in order as soon as it is parsed (so a consumer can work alongside).
/// Stops at the first error, from the document or from `f`; an error in an
/// element names its 0-based index and the field. `f` also learns whether
/// the element named its `orderKey` (else the writer places it by its
/// activity time and a tick). Returns the count.
pub fn for_each_conversation(
    json: &[u8],
    mut f: impl FnMut(Conversation, bool) -> Result<()>,
) -> Result<usize> {
    for_each_patch(json, |p| {
        let keyed = p.order_key.is_some();
        f(p.into_conversation(), keyed)
    })
}

/// Reads an import or sync document in one pass, handing each element to
/// `f` as the fields it names, in order, as soon as it is parsed. Errors as
/// for [`for_each_conversation`].
pub fn for_each_patch(
    json: &[u8],
    mut f: impl FnMut(ConversationPatch) -> Result<()>,
) -> Result<usize> {
    let text = utf8(json)?;
    let mut stopped = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let read = de
        .deserialize_seq(Elements {
            each: &mut f,
            stopped: &mut stopped,
        })
        .and_then(|n| de.end().map(|_| n));
    match (read, stopped) {
        (Ok(n), _) => Ok(n),
        (Err(_), Some(error)) => Err(error),
        (Err(e), None) => Err(not_an_array(text, &e, "conversation")),
    }
}

fn utf8(json: &[u8]) -> Result<&str> {
    std::str::from_utf8(json)
        .map_err(|e| Error::invalid_json(format!("malformed JSON: not valid UTF-8 ({e})")))
}

/// The error for a document that could not be read as an array.
fn not_an_array(text: &str, e: &serde_json::Error, what: &str) -> Error {
    let text = text.trim_start();
    if e.is_data() && !text.starts_with('[') {
        Error::invalid_json(format!(
            "expected a JSON array of {what} objects, got {}",
            type_name(text)
        ))
    } else {
        Error::invalid_json(format!("malformed JSON: {e}"))
    }
}

/// Visits the top-level array, parsing each element as it is reached.
struct Elements<'f, F> {
    each: &'f mut F,
    /// Why the visit stopped, when it was not the document's syntax.
    stopped: &'f mut Option<Error>,
}

impl<'de, F: FnMut(ConversationPatch) -> Result<()>> Visitor<'de> for Elements<'_, F> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of conversation objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<usize, A::Error> {
        let mut index = 0;
        while let Some(element) = seq.next_element::<Element<'de>>()? {
            let parsed = parse_patch(element)
                .map_err(|e| e.context(format_args!("element {index}")))
                .and_then(&mut *self.each);
            if let Err(error) = parsed {
                *self.stopped = Some(error);
                return Err(serde::de::Error::custom("stopped"));
            }
            index += 1;
        }
        Ok(index)
    }
}

/// One element of an import or sync document: the conversation's ID and
/// the fields it names (`None`: absent or `null`), each already checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationPatch {
    pub id: ConversationId,
    pub group_type: Option<Text>,
    pub show_name: Option<Text>,
    pub face_url: Option<Text>,
    pub unread_count: Option<u64>,
    pub recv_opt: Option<i32>,
    pub last_message: Option<LastMessage>,
    pub group_at_info_list: Option<Box<[GroupAtInfo]>>,
    pub draft_text: Option<Text>,
    pub draft_timestamp: Option<u64>,
    pub is_pinned: Option<bool>,
    pub order_key: Option<u64>,
    pub mark_list: Option<Box<[u64]>>,
    pub custom_data: Option<Text>,
    pub conversation_group_list: Option<Box<[Text]>>,
    pub c2c_read_timestamp: Option<u64>,
    pub group_read_sequence: Option<u64>,
    /// `readTimestampMs`: the read position in milliseconds.
    pub read_ms: Option<u64>,
    /// `readMsgID` (syncs): read up to this message.
    pub read_msg_id: Option<Text>,
}

impl ConversationPatch {
    /// Moves the named plain fields into `c`: every field but
    /// `lastMessage`, `unreadCount` and `orderKey`, whose rules (newest
    /// message, applied-message state, activity order) belong to the writer.
    pub fn apply_plain_fields(&mut self, c: &mut Conversation) {
        fn set<T>(field: &mut T, value: &mut Option<T>) {
            if let Some(v) = value.take() {
                *field = v;
            }
        }
        set(&mut c.group_type, &mut self.group_type);
        set(&mut c.show_name, &mut self.show_name);
        set(&mut c.face_url, &mut self.face_url);
        set(&mut c.recv_opt, &mut self.recv_opt);
        set(&mut c.group_at_info_list, &mut self.group_at_info_list);
        set(&mut c.draft_text, &mut self.draft_text);
        set(&mut c.draft_timestamp, &mut self.draft_timestamp);
        set(&mut c.is_pinned, &mut self.is_pinned);
        set(&mut c.mark_list, &mut self.mark_list);
        set(&mut c.custom_data, &mut self.custom_data);
        set(
            &mut c.conversation_group_list,
            &mut self.conversation_group_list,
        );
        set(&mut c.c2c_read_timestamp, &mut self.c2c_read_timestamp);
        set(&mut c.group_read_sequence, &mut self.group_read_sequence);
    }

    /// The conversation an import stores: the named fields over an empty
    /// conversation. Without an `orderKey` it is placed by its activity time
    /// (newest message or draft).
    pub fn into_conversation(mut self) -> Conversation {
        let mut c = Conversation::empty(self.id.clone());
        self.apply_plain_fields(&mut c);
        c.unread_count = self.unread_count.unwrap_or(0);
        c.last_message = self.last_message.take();
        // Without the exact position, a whole second is read.
        c.read_ms = match self.read_ms {
            Some(ms) => ms.min(i64::MAX as u64),
            None if c.id.kind() == ConversationType::C2c => {
                ms_covering_second(c.c2c_read_timestamp)
            }
            None => 0,
        };
        c.order_key = match self.order_key {
            Some(key) => key,
            None => order_key(c.activity_ms(), 0),
        };
        c
    }
}

/// Parses one conversation object into the fields it names.
fn parse_patch(element: Element) -> Result<ConversationPatch> {
    let obj = Fields::from_element(element, "")?;
    let id_text = obj
        .str("conversationID")?
        .ok_or_else(|| obj.param("conversationID", "is required"))?;
    let id = ConversationId::parse(&id_text).map_err(|e| e.context("field 'conversationID'"))?;

    if let Some(t) = obj.i64("type")? {
        if t != id.kind().as_i32() as i64 {
            return Err(obj.param(
                "type",
                format!(
                    "{t} disagrees with conversationID {} (type {})",
                    quote(id.as_str()),
                    id.kind().as_i32()
                ),
            ));
        }
    }
    for (field, expected) in [("userID", id.user_id()), ("groupID", id.group_id())] {
        if let Some(given) = obj.str(field)? {
            if given != expected {
                return Err(obj.param(
                    field,
                    format!(
                        "{} disagrees with conversationID {} (expected {})",
                        quote(&given),
                        quote(id.as_str()),
                        quote(expected)
                    ),
                ));
            }
        }
    }

    let recv_opt = match obj.i64("recvOpt")? {
        None => None,
        Some(v) if (0..=RECV_OPT_MAX as i64).contains(&v) => Some(v as i32),
        Some(v) => {
            return Err(obj.param("recvOpt", format!("must be 0 to {RECV_OPT_MAX} (got {v})")))
        }
    };

    let last_message = match obj.get("lastMessage") {
        None => None,
        Some(raw) => Some(
            parse_message(raw, Text::new(raw.get())?)
                .and_then(check_message)
                .map_err(|e| e.context("field 'lastMessage'"))?,
        ),
    };

    let group_at_info_list = obj
        .list("groupAtInfoList")?
        .map(|list| {
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    let path = format!("groupAtInfoList[{i}]");
                    let at = Fields::of(v, &path)?;
                    let seq = at.u64("seq")?.unwrap_or(0);
                    let at_type = at
                        .i64("atType")?
                        .ok_or_else(|| at.param("atType", "is required"))?;
                    if !(AT_TYPE_MIN as i64..=AT_TYPE_MAX as i64).contains(&at_type) {
                        return Err(at.param(
                            "atType",
                            format!("must be {AT_TYPE_MIN} to {AT_TYPE_MAX} (got {at_type})"),
                        ));
                    }
                    Ok(GroupAtInfo {
                        seq,
                        at_type: at_type as i32,
                    })
                })
                .collect::<Result<Box<[_]>>>()
        })
        .transpose()?;

    let mark_list = obj
        .list("markList")?
        .map(|list| {
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    let name = format!("markList[{i}]");
                    match as_u64(v, &name)? {
                        0 => Err(Error::invalid_parameters(format!(
                            "field '{name}' must not be 0"
                        ))),
                        m => Ok(m),
                    }
                })
                .collect::<Result<Vec<_>>>()
                .map(dedup)
        })
        .transpose()?;

    let conversation_group_list = obj
        .list("conversationGroupList")?
        .map(|list| {
            if list.len() > MAX_GROUPS {
                return Err(obj.param(
                    "conversationGroupList",
                    format!("names {} groups, more than {MAX_GROUPS}", list.len()),
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    let name = format!("conversationGroupList[{i}]");
                    let group = as_text(v, &name)?;
                    check_group_name(group.as_str())
                        .map_err(|e| e.context(format_args!("field '{name}'")))?;
                    Ok(group)
                })
                .collect::<Result<Vec<_>>>()
                .map(dedup)
        })
        .transpose()?;

    let order_key = obj.u64("orderKey")?;

    Ok(ConversationPatch {
        id,
        group_type: obj.limited_text("groupType", MAX_GROUP_TYPE_BYTES)?,
        show_name: obj.limited_text("showName", MAX_SHOW_NAME_BYTES)?,
        face_url: obj.limited_text("faceUrl", MAX_FACE_URL_BYTES)?,
        unread_count: obj.u64("unreadCount")?,
        recv_opt,
        last_message,
        group_at_info_list,
        draft_text: obj.limited_text("draftText", MAX_DRAFT_BYTES)?,
        draft_timestamp: obj.u64("draftTimestamp")?,
        is_pinned: obj.bool("isPinned")?,
        order_key,
        mark_list,
        custom_data: obj.limited_text("customData", MAX_CUSTOM_DATA_BYTES)?,
        conversation_group_list,
        c2c_read_timestamp: obj.u64("c2cReadTimestamp")?,
        group_read_sequence: obj.u64("groupReadSequence")?,
        read_ms: obj.u64("readTimestampMs")?,
        read_msg_id: obj.limited_text("readMsgID", MAX_MSG_ID_BYTES)?,
    })
}

/// Keeps the first of each value, in order (lists are short, and seldom
/// hold a repeat: then nothing is copied).
fn dedup<T: PartialEq>(mut items: Vec<T>) -> Box<[T]> {
    let mut i = 1;
    while i < items.len() {
        if items[..i].contains(&items[i]) {
            items.remove(i);
        } else {
            i += 1;
        }
    }
    items.into_boxed_slice()
}
