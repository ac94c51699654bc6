//! Messages and profiles: the arrays `apply_messages` and `set_profiles`
//! take, a message's summary fields, and the checks on a message that enters
//! the store.

use super::{as_str, not_an_array, utf8, Fields, Raw};
use crate::error::{Error, Result};
use crate::model::{
    ms_of_seconds, ConversationId, ConversationType, LastMessage, Text, AT_ALL, AT_ALL_AND_ME,
    AT_ALL_USER_ID, AT_ME, MAX_FACE_URL_BYTES, MAX_MESSAGE_BYTES, MAX_MSG_ID_BYTES,
    MAX_SHOW_NAME_BYTES,
};

/// The checks on a message that enters the store: its msgID is 1 to 128
/// bytes, and the whole object at most 64 KiB.
pub(super) fn check_message(m: LastMessage) -> Result<LastMessage> {
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
pub(super) fn parse_array<T>(
    json: &[u8],
    what: &str,
    each: impl Fn(Raw) -> Result<T>,
) -> Result<Vec<T>> {
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
pub(super) fn parse_message(raw: Raw, json: Text) -> Result<LastMessage> {
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
