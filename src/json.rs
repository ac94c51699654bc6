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

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Number;

use crate::error::{Error, ErrorCode, Result};
use crate::model::{
    check_group_name, ms_covering_second, ms_of_seconds, order_key, quote, Conversation,
    ConversationId, ConversationType, GroupAtInfo, LastMessage, Text, AT_ALL, AT_ALL_AND_ME,
    AT_ALL_USER_ID, AT_ME, AT_TYPE_MAX, AT_TYPE_MIN, MAX_CUSTOM_DATA_BYTES, MAX_DRAFT_BYTES,
    MAX_FACE_URL_BYTES, MAX_GROUPS, MAX_GROUP_TYPE_BYTES, MAX_MESSAGE_BYTES, MAX_MSG_ID_BYTES,
    MAX_SHOW_NAME_BYTES, RECV_OPT_MAX,
};

/// A JSON value not read yet: a slice of the document.
type Raw<'a> = &'a RawValue;

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

/// An element of the top-level array, read in the same pass as the array:
/// an object's members (values still unread), or the type of a non-object.
enum Element<'a> {
    Object(Vec<(Cow<'a, str>, Raw<'a>)>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Element<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Element<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a conversation object")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                map: M,
            ) -> std::result::Result<Element<'de>, M::Error> {
                Ok(Element::Object(read_members(map)?))
            }
            fn visit_seq<S: SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> std::result::Result<Element<'de>, S::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Element::Other("an array"))
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a string"))
            }
            fn visit_unit<E>(self) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("null"))
            }
        }
        d.deserialize_any(V)
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
    let obj = match element {
        Element::Object(members) => Fields { members, path: "" },
        Element::Other(got) => {
            return Err(Error::invalid_json(format!(
                "expected an object, got {got}"
            )))
        }
    };
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

/// The checks on a message that enters the store: its msgID is 1 to 128
/// bytes, and the whole object at most 64 KiB.
fn check_message(m: LastMessage) -> Result<LastMessage> {
    check_msg_id(m.msg_id.as_str())?;
    if m.json.len() > MAX_MESSAGE_BYTES {
        return Err(Error::invalid_parameters(format!(
            "the message is {} bytes of JSON, more than {MAX_MESSAGE_BYTES}",
            m.json.len()
        )));
    }
    Ok(m)
}

/// A msgID is 1 to 128 bytes.
pub fn check_msg_id(msg_id: &str) -> Result<()> {
    if msg_id.is_empty() || msg_id.len() > MAX_MSG_ID_BYTES {
        return Err(Error::invalid_parameters(format!(
            "field 'msgID' must be 1 to {MAX_MSG_ID_BYTES} bytes (got {})",
            msg_id.len()
        )));
    }
    Ok(())
}

/// A message applied to a conversation (the manager's write path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingMessage {
    pub conversation_id: ConversationId,
    pub message: LastMessage,
    /// For a message that @-mentions this instance's user, everyone, or
    /// both: the atType (`AT_ME`, `AT_ALL`, `AT_ALL_AND_ME`), from the host's
    /// `atType` when given (any conversation type; 0: none), else from a
    /// group message's `groupAtUserList`.
    pub mention: Option<i32>,
    /// The host's verdict (`countsAsUnread`): whether the message counts as
    /// unread, in place of the engine's own rule.
    pub counts_as_unread: Option<bool>,
}

/// Parses a JSON array of message objects: `conversationID`, `msgID` (1 to
/// 128 bytes) and `timestamp` required; `seq`, `sender`, `isSelf`,
/// `isRead`, `status`, for groups `groupAtUserList` (user IDs, or
/// Tencent's @all constant), and the host's verdicts `countsAsUnread` and
/// `atType` (0 to 3) read; the whole object kept as the
/// conversation's `lastMessage`. `user_id` is this instance's user, whose
/// mentions count.
pub fn parse_messages(json: &[u8], user_id: &str) -> Result<Vec<IncomingMessage>> {
    parse_array(json, "message", |raw| {
        let obj = Fields::of(raw, "")?;
        let id = obj
            .str("conversationID")?
            .ok_or_else(|| obj.param("conversationID", "is required"))?;
        let conversation_id =
            ConversationId::parse(&id).map_err(|e| e.context("field 'conversationID'"))?;
        let message = check_message(parse_message(raw, Text::new(raw.get())?)?)?;
        let mut mention = None;
        if conversation_id.kind() == ConversationType::Group {
            let (mut me, mut all) = (false, false);
            if let Some(list) = obj.list("groupAtUserList")? {
                for (i, v) in list.iter().enumerate() {
                    let user = as_str(v, &format!("groupAtUserList[{i}]"))?;
                    all |= user == AT_ALL_USER_ID;
                    me |= user == user_id;
                }
            }
            mention = match (me, all) {
                (true, true) => Some(AT_ALL_AND_ME),
                (true, false) => Some(AT_ME),
                (false, true) => Some(AT_ALL),
                (false, false) => None,
            };
        }
        if let Some(at_type) = obj.i64("atType")? {
            if !(0..=AT_ALL_AND_ME as i64).contains(&at_type) {
                return Err(obj.param(
                    "atType",
                    format!("must be 0 to {AT_ALL_AND_ME} (got {at_type})"),
                ));
            }
            mention = (at_type != 0).then_some(at_type as i32);
        }
        Ok(IncomingMessage {
            conversation_id,
            message,
            mention,
            counts_as_unread: obj.bool("countsAsUnread")?,
        })
    })
}

/// A user's or group's display name and avatar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// The conversation the profile belongs to (`c2c_<userID>` or
    /// `group_<groupID>`).
    pub conversation_id: ConversationId,
    pub show_name: Text,
    pub face_url: Text,
}

/// Parses a JSON array of profiles: each `{"userID": ...}` or
/// `{"groupID": ...}` (exactly one), with `showName` and `faceUrl`.
pub fn parse_profiles(json: &[u8]) -> Result<Vec<ProfileUpdate>> {
    parse_array(json, "profile", |raw| {
        let obj = Fields::of(raw, "")?;
        let conversation_id = match (obj.str("userID")?, obj.str("groupID")?) {
            (Some(u), None) => ConversationId::new(ConversationType::C2c, &u)
                .map_err(|e| e.context("field 'userID'"))?,
            (None, Some(g)) => ConversationId::new(ConversationType::Group, &g)
                .map_err(|e| e.context("field 'groupID'"))?,
            _ => return Err(obj.param("userID", "or 'groupID' is required (exactly one)")),
        };
        Ok(ProfileUpdate {
            conversation_id,
            show_name: obj
                .limited_text("showName", MAX_SHOW_NAME_BYTES)?
                .unwrap_or_default(),
            face_url: obj
                .limited_text("faceUrl", MAX_FACE_URL_BYTES)?
                .unwrap_or_default(),
        })
    })
}

/// Parses a JSON array element by element; errors name the element.
fn parse_array<T>(json: &[u8], what: &str, each: impl Fn(Raw) -> Result<T>) -> Result<Vec<T>> {
    let text = utf8(json)?;
    let items: Vec<Raw> = serde_json::from_str(text).map_err(|e| not_an_array(text, &e, what))?;
    items
        .iter()
        .enumerate()
        .map(|(i, raw)| each(raw).map_err(|e| e.context(format_args!("element {i}"))))
        .collect()
}

/// Reads a stored message: its text is kept as it is.
pub fn parse_stored_message(json: &str) -> Result<LastMessage> {
    let raw: Raw = serde_json::from_str(json)
        .map_err(|e| Error::invalid_json(format!("malformed JSON: {e}")))?;
    parse_message(raw, Text::new(json)?)
}

/// Reads a message object's summary fields; `json` is the whole object, kept
/// exactly as imported (so export followed by import reproduces it).
fn parse_message(raw: Raw, json: Text) -> Result<LastMessage> {
    let m = Fields::of(raw, "")?;
    let msg_id = m.text("msgID")?;
    if m.get("msgID").is_none() {
        return Err(m.param("msgID", "is required"));
    }
    let (timestamp, timestamp_ms) = match (m.i64("timestamp")?, m.i64("timestampMs")?) {
        (None, None) => return Err(m.param("timestamp", "(or 'timestampMs') is required")),
        (Some(t), None) => (t, ms_of_seconds(t)),
        (None, Some(ms)) => (ms.div_euclid(1000), ms),
        (Some(t), Some(ms)) if t == ms.div_euclid(1000) => (t, ms),
        (Some(t), Some(ms)) => {
            return Err(m.param(
                "timestampMs",
                format!("{ms} is not in second {t} ('timestamp'); give one or agreeing values"),
            ))
        }
    };
    let status = m.i64("status")?.unwrap_or(0);
    let status = i32::try_from(status)
        .map_err(|_| m.param("status", format!("must fit in 32 bits (got {status})")))?;
    Ok(LastMessage {
        msg_id,
        sender: m.text("sender")?,
        timestamp,
        timestamp_ms,
        seq: m.u64("seq")?.unwrap_or(0),
        status,
        is_self: m.bool("isSelf")?.unwrap_or(false),
        is_read: m.bool("isRead")?.unwrap_or(false),
        json,
    })
}

/// The exported form: V2 field names, in the order Tencent documents them.
#[derive(Serialize)]
struct ConversationOut<'a> {
    #[serde(rename = "conversationID")]
    conversation_id: &'a str,
    #[serde(rename = "type")]
    kind: i32,
    #[serde(rename = "userID")]
    user_id: &'a str,
    #[serde(rename = "groupID")]
    group_id: &'a str,
    #[serde(rename = "groupType")]
    group_type: &'a str,
    #[serde(rename = "showName")]
    show_name: &'a str,
    #[serde(rename = "faceUrl")]
    face_url: &'a str,
    #[serde(rename = "unreadCount")]
    unread_count: u64,
    #[serde(rename = "recvOpt")]
    recv_opt: i32,
    #[serde(rename = "lastMessage")]
    last_message: Option<&'a RawValue>,
    #[serde(rename = "groupAtInfoList")]
    group_at_info_list: Vec<AtOut>,
    #[serde(rename = "draftText")]
    draft_text: &'a str,
    #[serde(rename = "draftTimestamp")]
    draft_timestamp: u64,
    #[serde(rename = "isPinned")]
    is_pinned: bool,
    #[serde(rename = "orderKey")]
    order_key: u64,
    #[serde(rename = "markList")]
    mark_list: &'a [u64],
    #[serde(rename = "customData")]
    custom_data: &'a str,
    #[serde(rename = "conversationGroupList")]
    conversation_group_list: Vec<&'a str>,
    #[serde(rename = "c2cReadTimestamp")]
    c2c_read_timestamp: u64,
    #[serde(rename = "groupReadSequence")]
    group_read_sequence: u64,
    /// imconv's own: the exact read position (see `Conversation::read_ms`).
    #[serde(rename = "readTimestampMs")]
    read_ms: u64,
}

#[derive(Serialize)]
struct AtOut {
    seq: u64,
    #[serde(rename = "atType")]
    at_type: i32,
}

/// Exports one conversation as a JSON object with V2 field names.
pub fn conversation_to_json(c: &Conversation) -> Result<String> {
    let last_message = match &c.last_message {
        // Stored JSON was produced by serde_json, so this only re-checks it.
        Some(m) => Some(
            serde_json::from_str::<&RawValue>(m.json.as_str())
                .map_err(|e| Error::internal(format!("stored lastMessage: {e}")))?,
        ),
        None => None,
    };
    let out = ConversationOut {
        conversation_id: c.id.as_str(),
        kind: c.id.kind().as_i32(),
        user_id: c.id.user_id(),
        group_id: c.id.group_id(),
        group_type: c.group_type.as_str(),
        show_name: c.show_name.as_str(),
        face_url: c.face_url.as_str(),
        unread_count: c.unread_count,
        recv_opt: c.recv_opt,
        last_message,
        group_at_info_list: c
            .group_at_info_list
            .iter()
            .map(|a| AtOut {
                seq: a.seq,
                at_type: a.at_type,
            })
            .collect(),
        draft_text: c.draft_text.as_str(),
        draft_timestamp: c.draft_timestamp,
        is_pinned: c.is_pinned,
        order_key: c.order_key,
        mark_list: &c.mark_list,
        custom_data: c.custom_data.as_str(),
        conversation_group_list: c.conversation_group_list.iter().map(Text::as_str).collect(),
        c2c_read_timestamp: c.c2c_read_timestamp,
        group_read_sequence: c.group_read_sequence,
        read_ms: c.read_ms,
    };
    serde_json::to_string(&out).map_err(|e| Error::internal(format!("export: {e}")))
}

/// A string from the document: borrowed unless it holds escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// An object's members, in document order, their values unread.
struct Members<'a>(MemberList<'a>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                map: M,
            ) -> std::result::Result<Members<'de>, M::Error> {
                Ok(Members(read_members(map)?))
            }
        }
        d.deserialize_map(V)
    }
}

type MemberList<'a> = Vec<(Cow<'a, str>, Raw<'a>)>;

fn read_members<'de, M: MapAccess<'de>>(
    mut map: M,
) -> std::result::Result<MemberList<'de>, M::Error> {
    let mut members = Vec::with_capacity(map.size_hint().unwrap_or(20));
    while let Some((Str(key), value)) = map.next_entry::<Str<'de>, Raw<'de>>()? {
        members.push((key, value));
    }
    Ok(members)
}

/// Reads the fields of one JSON object, naming `path.field` in errors.
struct Fields<'a, 'p> {
    members: MemberList<'a>,
    path: &'p str,
}

impl<'a, 'p> Fields<'a, 'p> {
    fn of(raw: Raw<'a>, path: &'p str) -> Result<Fields<'a, 'p>> {
        if !raw.get().starts_with('{') {
            let got = type_name(raw.get());
            return Err(Error::invalid_json(if path.is_empty() {
                format!("expected an object, got {got}")
            } else {
                format!("field '{path}': expected an object, got {got}")
            }));
        }
        let Members(members) = serde_json::from_str(raw.get())
            .map_err(|e| Error::invalid_json(format!("malformed JSON: {e}")))?;
        Ok(Fields { members, path })
    }

    /// The field's full name for messages (no allocation at the top level).
    fn name<'f>(&self, field: &'f str) -> Cow<'f, str> {
        if self.path.is_empty() {
            Cow::Borrowed(field)
        } else {
            Cow::Owned(format!("{}.{field}", self.path))
        }
    }

    fn param(&self, field: &str, what: impl std::fmt::Display) -> Error {
        Error::invalid_parameters(format!("field '{}' {what}", self.name(field)))
    }

    /// The value of `field` (the last one, if repeated), with `null` read
    /// as absent.
    fn get(&self, field: &str) -> Option<Raw<'a>> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == field)
            .map(|(_, v)| *v)
            .filter(|v| v.get() != "null")
    }

    fn str(&self, field: &str) -> Result<Option<Cow<'a, str>>> {
        self.get(field)
            .map(|v| as_str(v, &self.name(field)))
            .transpose()
    }

    fn text(&self, field: &str) -> Result<Text> {
        match self.get(field) {
            None => Ok(Text::default()),
            Some(v) => as_text(v, &self.name(field)),
        }
    }

    fn u64(&self, field: &str) -> Result<Option<u64>> {
        self.get(field)
            .map(|v| as_u64(v, &self.name(field)))
            .transpose()
    }

    fn i64(&self, field: &str) -> Result<Option<i64>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => {
                if let Ok(n) = v.get().parse::<i64>() {
                    return Ok(Some(n));
                }
                let n = as_number(v, &self.name(field), "an integer")?;
                n.as_i64().map(Some).ok_or_else(|| {
                    Error::invalid_parameters(format!(
                        "field '{}' must be an integer that fits in 64 bits (got {n})",
                        self.name(field)
                    ))
                })
            }
        }
    }

    fn bool(&self, field: &str) -> Result<Option<bool>> {
        match self.get(field).map(RawValue::get) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(wrong_type(&self.name(field), "true or false", other)),
        }
    }

    /// A text field with a length limit; `None` when absent.
    fn limited_text(&self, field: &str, max: usize) -> Result<Option<Text>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => {
                let name = self.name(field);
                let text = as_text(v, &name)?;
                if text.len() > max {
                    return Err(
                        self.param(field, format!("is {} bytes, more than {max}", text.len()))
                    );
                }
                Ok(Some(text))
            }
        }
    }

    /// An array field; `None` when absent.
    fn list(&self, field: &str) -> Result<Option<Vec<Raw<'a>>>> {
        match self.get(field) {
            None => Ok(None),
            Some(_) => self.array(field).map(Some),
        }
    }

    fn array(&self, field: &str) -> Result<Vec<Raw<'a>>> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(v) if v.get().starts_with('[') => serde_json::from_str(v.get())
                .map_err(|e| Error::invalid_json(format!("malformed JSON: {e}"))),
            Some(v) => Err(wrong_type(&self.name(field), "an array", v.get())),
        }
    }
}

fn as_number(v: Raw, name: &str, expected: &str) -> Result<Number> {
    let text = v.get();
    if !matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9')) {
        return Err(wrong_type(name, expected, text));
    }
    serde_json::from_str(text).map_err(|e| Error::invalid_json(format!("field '{name}': {e}")))
}

fn as_u64(v: Raw, name: &str) -> Result<u64> {
    // Fast path: plain digits (the common case) need no JSON parser.
    if let Ok(n) = v.get().parse::<u64>() {
        return Ok(n);
    }
    let n = as_number(v, name, "an integer")?;
    n.as_u64().ok_or_else(|| {
        Error::invalid_parameters(format!(
            "field '{name}' must be an integer from 0 to {} (got {n})",
            u64::MAX
        ))
    })
}

fn as_str<'a>(v: Raw<'a>, name: &str) -> Result<Cow<'a, str>> {
    let text = v.get();
    if !text.starts_with('"') {
        return Err(wrong_type(name, "a string", text));
    }
    // The document's syntax was checked when it was split, so a string
    // without escapes is exactly the text between its quotes.
    if !text.contains('\\') {
        return Ok(Cow::Borrowed(&text[1..text.len() - 1]));
    }
    let Str(s) = serde_json::from_str(text)
        .map_err(|e| Error::invalid_json(format!("field '{name}': {e}")))?;
    Ok(s)
}

fn as_text(v: Raw, name: &str) -> Result<Text> {
    let s = as_str(v, name)?;
    Text::new(&s).map_err(|_| Error::invalid_parameters(format!("field '{name}' holds U+0000")))
}

fn wrong_type(name: &str, expected: &str, got: &str) -> Error {
    Error::new(
        ErrorCode::InvalidJson,
        format!("field '{name}' must be {expected}, got {}", type_name(got)),
    )
}

/// The JSON type of a value's text, for messages.
fn type_name(json: &str) -> &'static str {
    match json.as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        Some(b'-' | b'0'..=b'9') => "a number",
        _ => "nothing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(json: &str) -> Result<Conversation> {
        parse_conversations(format!("[{json}]").as_bytes()).map(|mut v| v.remove(0))
    }

    fn err(json: &str) -> Error {
        parse_conversations(json.as_bytes()).unwrap_err()
    }

    const FULL: &str = r#"{
        "conversationID": "group_g1", "type": 2, "userID": "", "groupID": "g1",
        "groupType": "Work", "showName": "Team", "faceUrl": "https://x/y.png",
        "unreadCount": 5, "recvOpt": 2,
        "lastMessage": {"msgID": "m1", "timestamp": 1700000000, "sender": "bob",
                        "seq": 42, "status": 2, "isSelf": false, "isRead": true,
                        "elemList": [{"text": "hi \u0000 there"}]},
        "groupAtInfoList": [{"seq": 40, "atType": 1}, {"seq": 41, "atType": 3}],
        "draftText": "draft", "draftTimestamp": 1700000001, "isPinned": true,
        "orderKey": 4611686018427387904, "markList": [1, 4294967296],
        "customData": "cd", "conversationGroupList": ["work", "fav"],
        "c2cReadTimestamp": 0, "groupReadSequence": 39, "someFutureKey": {"x": 1}
    }"#;

    #[test]
    fn parses_every_field() {
        let c = one(FULL).unwrap();
        assert_eq!(c.id.as_str(), "group_g1");
        assert_eq!(c.group_type.as_str(), "Work");
        assert_eq!(c.show_name.as_str(), "Team");
        assert_eq!(c.unread_count, 5);
        assert_eq!(c.recv_opt, 2);
        let m = c.last_message.as_ref().unwrap();
        assert_eq!(m.msg_id.as_str(), "m1");
        assert_eq!(m.sender.as_str(), "bob");
        assert_eq!(
            (m.timestamp, m.seq, m.status, m.is_self, m.is_read),
            (1700000000, 42, 2, false, true)
        );
        assert!(m.json.as_str().contains("elemList"));
        assert!(m.json.as_str().contains("\\u0000"));
        assert_eq!(
            &*c.group_at_info_list,
            &[
                GroupAtInfo {
                    seq: 40,
                    at_type: 1
                },
                GroupAtInfo {
                    seq: 41,
                    at_type: 3
                }
            ]
        );
        assert!(c.is_pinned);
        assert_eq!(c.order_key, 1 << 62);
        assert_eq!(&*c.mark_list, &[1, 1 << 32]);
        assert_eq!(c.conversation_group_list.len(), 2);
        assert_eq!(c.group_read_sequence, 39);
    }

    #[test]
    fn round_trip_is_exact() {
        let c = one(FULL).unwrap();
        let out = conversation_to_json(&c).unwrap();
        let again = one(&out).unwrap();
        assert_eq!(again, c);
        assert_eq!(conversation_to_json(&again).unwrap(), out);
        let bare = one(r#"{"conversationID":"c2c_u"}"#).unwrap();
        let out = conversation_to_json(&bare).unwrap();
        assert!(out.contains(r#""lastMessage":null"#), "{out}");
        assert!(out.contains(r#""userID":"u","groupID":"""#), "{out}");
        assert_eq!(one(&out).unwrap(), bare);
    }

    #[test]
    fn defaults_and_nulls() {
        let c = one(r#"{"conversationID":"c2c_u","lastMessage":null,"showName":null}"#).unwrap();
        assert_eq!(
            c,
            Conversation::empty(ConversationId::parse("c2c_u").unwrap())
        );
    }

    #[test]
    fn malformed_and_wrong_types_are_invalid_json() {
        for (doc, needle) in [
            ("[", "malformed"),
            ("{}", "expected a JSON array"),
            ("[1]", "element 0: expected an object"),
            (r#"[{"conversationID": 5}]"#, "conversationID"),
            (
                r#"[{"conversationID":"c2c_a","unreadCount":"5"}]"#,
                "unreadCount",
            ),
            (r#"[{"conversationID":"c2c_a","isPinned":1}]"#, "isPinned"),
            (r#"[{"conversationID":"c2c_a","markList":{}}]"#, "markList"),
            (
                r#"[{"conversationID":"c2c_a","markList":["1"]}]"#,
                "markList[0]",
            ),
            (
                r#"[{"conversationID":"c2c_a","lastMessage":[]}]"#,
                "lastMessage",
            ),
            (
                r#"[{"conversationID":"c2c_a","groupAtInfoList":[1]}]"#,
                "groupAtInfoList[0]",
            ),
        ] {
            let e = err(doc);
            assert_eq!(e.code(), ErrorCode::InvalidJson, "{doc}: {e}");
            assert!(e.message().contains(needle), "{doc}: {e}");
        }
    }

    #[test]
    fn bad_values_are_invalid_parameters_naming_index_and_field() {
        let ok = r#"{"conversationID":"c2c_ok"}"#;
        for (elem, needle) in [
            (r#"{"showName":"x"}"#, "'conversationID' is required"),
            (r#"{"conversationID":"x_1"}"#, "must start with"),
            (r#"{"conversationID":"c2c_"}"#, "empty"),
            (r#"{"conversationID":"c2c_a","type":2}"#, "'type'"),
            (r#"{"conversationID":"c2c_a","userID":"b"}"#, "'userID'"),
            (r#"{"conversationID":"c2c_a","groupID":"a"}"#, "'groupID'"),
            (r#"{"conversationID":"group_a","userID":"a"}"#, "'userID'"),
            (
                r#"{"conversationID":"c2c_a","recvOpt":5}"#,
                "'recvOpt' must be 0 to 4",
            ),
            (r#"{"conversationID":"c2c_a","recvOpt":-1}"#, "'recvOpt'"),
            (
                r#"{"conversationID":"c2c_a","unreadCount":-1}"#,
                "'unreadCount'",
            ),
            (
                r#"{"conversationID":"c2c_a","unreadCount":1.5}"#,
                "'unreadCount'",
            ),
            (
                r#"{"conversationID":"c2c_a","groupAtInfoList":[{"seq":1,"atType":4}]}"#,
                "'groupAtInfoList[0].atType'",
            ),
            (
                r#"{"conversationID":"c2c_a","groupAtInfoList":[{"seq":1}]}"#,
                "atType' is required",
            ),
            (
                r#"{"conversationID":"c2c_a","showName":"a\u0000b"}"#,
                "'showName' holds U+0000",
            ),
            (
                r#"{"conversationID":"c2c_a","conversationGroupList":["\u0000"]}"#,
                "conversationGroupList[0]",
            ),
            (
                r#"{"conversationID":"c2c_a","lastMessage":{"timestamp":1}}"#,
                "'lastMessage': field 'msgID' is required",
            ),
            (
                r#"{"conversationID":"c2c_a","lastMessage":{"msgID":"m"}}"#,
                "timestamp",
            ),
            (
                r#"{"conversationID":"c2c_a","lastMessage":{"msgID":"m\u0000","timestamp":1}}"#,
                "msgID",
            ),
        ] {
            let doc = format!("[{ok},{elem}]");
            let e = err(&doc);
            assert_eq!(e.code(), ErrorCode::InvalidParameters, "{elem}: {e}");
            assert!(e.message().starts_with("element 1: "), "{elem}: {e}");
            assert!(e.message().contains(needle), "{elem}: {e}");
        }
    }

    #[test]
    fn custom_data_limit() {
        let ok = format!(
            r#"{{"conversationID":"c2c_a","customData":"{}"}}"#,
            "x".repeat(256)
        );
        assert!(one(&ok).is_ok());
        let long = format!(
            r#"{{"conversationID":"c2c_a","customData":"{}"}}"#,
            "x".repeat(257)
        );
        let e = one(&long).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidParameters);
        assert!(e.message().contains("257 bytes"), "{e}");
    }

    #[test]
    fn empty_array_is_fine() {
        assert!(parse_conversations(b"[]").unwrap().is_empty());
        assert!(parse_conversations(b"  [ ]  ").unwrap().is_empty());
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    fn one(json: &str) -> Result<Conversation> {
        parse_conversations(format!("[{json}]").as_bytes()).map(|mut v| v.remove(0))
    }

    #[test]
    fn strings_with_and_without_escapes() {
        let c = one(r#"{"conversationID":"c2c_\u00e9t\u00e9","showName":"caf\u00e9 \ud83d\ude00 \"q\" \\ /","faceUrl":"plain é 😀"}"#).unwrap();
        assert_eq!(c.id.as_str(), "c2c_été");
        assert_eq!(c.show_name.as_str(), "café 😀 \"q\" \\ /");
        assert_eq!(c.face_url.as_str(), "plain é 😀");
    }

    #[test]
    fn raw_control_characters_in_strings_are_malformed() {
        for bad in ["a\tb", "a\nb", "a\u{1}b"] {
            let doc = format!(r#"[{{"conversationID":"c2c_a","showName":"{bad}"}}]"#);
            let e = parse_conversations(doc.as_bytes()).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidJson, "{bad:?}: {e}");
        }
        let e =
            parse_conversations(br#"[{"conversationID":"c2c_a","showName":"\q"}]"#).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidJson, "{e}");
    }

    #[test]
    fn numbers_that_are_not_plain_integers() {
        for (value, code) in [
            ("1e3", ErrorCode::InvalidParameters),
            ("1.0", ErrorCode::InvalidParameters),
            ("-1", ErrorCode::InvalidParameters),
            ("18446744073709551616", ErrorCode::InvalidParameters),
            ("\"7\"", ErrorCode::InvalidJson),
            ("true", ErrorCode::InvalidJson),
        ] {
            let e = one(&format!(
                r#"{{"conversationID":"c2c_a","unreadCount":{value}}}"#
            ))
            .unwrap_err();
            assert_eq!(e.code(), code, "{value}: {e}");
            assert!(e.message().contains("unreadCount"), "{value}: {e}");
        }
        assert_eq!(
            one(r#"{"conversationID":"c2c_a","unreadCount":0}"#)
                .unwrap()
                .unread_count,
            0
        );
        assert_eq!(
            one(r#"{"conversationID":"c2c_a","draftTimestamp":18446744073709551615}"#)
                .unwrap()
                .draft_timestamp,
            u64::MAX
        );
        let m = one(r#"{"conversationID":"c2c_a","lastMessage":{"msgID":"m","timestamp":-0}}"#)
            .unwrap();
        assert_eq!(m.last_message.unwrap().timestamp, 0);
        let e = one(r#"{"conversationID":"c2c_a","type":1.5}"#).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidParameters, "{e}");
    }

    #[test]
    fn repeated_keys_take_the_last_and_whitespace_is_fine() {
        let c = one(
            "{ \"conversationID\" : \"c2c_a\" , \"showName\" : \"x\" ,\n \"showName\" : \"y\" }",
        )
        .unwrap();
        assert_eq!(c.show_name.as_str(), "y");
        let with_ws = "{\"conversationID\":\"c2c_a\",\"lastMessage\": { \"msgID\" : \"m\" , \"timestamp\" : 5 } }";
        let c = one(with_ws).unwrap();
        let out = conversation_to_json(&c).unwrap();
        assert_eq!(
            parse_conversations(format!("[{out}]").as_bytes()).unwrap()[0],
            c
        );
    }

    #[test]
    fn trailing_garbage_and_bad_utf8_are_malformed() {
        assert_eq!(
            parse_conversations(b"[] x").unwrap_err().code(),
            ErrorCode::InvalidJson
        );
        assert_eq!(
            parse_conversations(b"[\"\xff\"]").unwrap_err().code(),
            ErrorCode::InvalidJson
        );
        assert!(parse_conversations(b"")
            .unwrap_err()
            .message()
            .contains("malformed"));
        let e = parse_conversations(b"\"x\"").unwrap_err();
        assert!(e.message().contains("expected a JSON array"), "{e}");
    }
}
