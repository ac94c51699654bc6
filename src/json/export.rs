//! The exported form of a conversation: one JSON object with V2 field names.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::model::{Conversation, Text};

/// The exported form: V2 field names, in the order Tencent documents them.
#[derive(Serialize)]
pub(super) struct ConversationOut<'a> {
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
pub(super) struct AtOut {
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
