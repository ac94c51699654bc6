//! Applying a message: de-duplication by msgID, what counts as unread, the
//! @ entry, retraction, and the last message.

use super::move_to_activity;
use crate::error::{Error, Result};
use crate::json::IncomingMessage;
use crate::model::{quote, ConversationId, GroupAtInfo, LastMessage, Snapshot, Text};
use crate::state::Txn;
use crate::store::{AppliedMessage, ReadUpTo};

/// Where a receipt's message is (see [`message_position`]).
pub(super) enum Position {
    /// A remembered message, or the conversation's last message.
    At(ReadUpTo),
    /// Applied once and forgotten since: it was read, at or before the
    /// read position, so a read up to it changes nothing.
    Forgotten,
    /// Never applied to this conversation (as far as the store can tell:
    /// see `store::forgotten`).
    Unknown,
}

impl Position {
    /// The error for a msgID that was never applied.
    pub(super) fn unknown(id: &ConversationId, msg_id: &Text) -> Error {
        Error::invalid_parameters(format!(
            "msgID {} was never applied to conversation {}",
            quote(msg_id.as_str()),
            quote(id.as_str())
        ))
    }
}

/// Where a message of a stored conversation is, as a read position: a
/// remembered one, or its last message; a forgotten one, or unknown.
pub(super) fn message_position<V: Snapshot>(
    txn: &mut Txn<'_, '_, V>,
    id: &ConversationId,
    msg_id: &Text,
) -> Result<Position> {
    if let Some(at) = txn.applied(id.as_str(), msg_id.as_str())? {
        return Ok(Position::At(ReadUpTo::Message {
            ms: at.time_ms,
            seq: at.seq,
        }));
    }
    if let Some(m) = &txn.stored(id)?.last_message {
        if m.msg_id == *msg_id {
            return Ok(Position::At(ReadUpTo::Message {
                ms: m.timestamp_ms,
                seq: m.seq,
            }));
        }
    }
    if txn.was_forgotten(id.as_str(), msg_id.as_str())? {
        return Ok(Position::Forgotten);
    }
    Ok(Position::Unknown)
}

/// Whether a message is newer than the last one: by time (milliseconds),
/// then sequence; in a tie the one there first stays.
pub(super) fn is_newer(m: &LastMessage, last: &LastMessage) -> bool {
    (m.timestamp_ms, m.seq) > (last.timestamp_ms, last.seq)
}

/// Applies one message. A msgID applied to the conversation before, or the
/// conversation's last message itself, updates in place: the last message
/// takes its new content when it is that message; unread count and order
/// stay. A new message is remembered, counts as unread when it is incoming,
/// not read and after the read position (and then adds its @ mention), and
/// becomes the last message and moves the conversation when it is the
/// newest (by timestamp, then seq).
pub(super) fn apply_message<V: Snapshot>(
    m: IncomingMessage,
    txn: &mut Txn<'_, '_, V>,
) -> Result<()> {
    let conv = &m.conversation_id;
    let msg_id = m.message.msg_id.as_str();
    let applied = txn.applied(conv.as_str(), msg_id)?;
    if txn.entry(conv)?.after.is_none() {
        let created = txn.new_conversation(conv);
        txn.entry(conv)?.after = Some(created);
    }
    let c = txn.stored(conv)?;
    let is_last = c
        .last_message
        .as_ref()
        .is_some_and(|last| last.msg_id == m.message.msg_id);
    let position = AppliedMessage {
        msg_id,
        conversation_id: conv.as_str(),
        time_ms: m.message.timestamp_ms,
        seq: m.message.seq,
        unread: false,
        at_type: 0,
    };
    let retracted = is_retracted(&m);
    // At or before the read position: read, whatever else it says.
    let read = c.has_read(&m.message);
    if applied.is_some() || is_last {
        if is_last && c.last_message.as_ref() != Some(&m.message) {
            c.last_message = Some(m.message.clone());
        }
        // Deleted, revoked, or the host's verdict changed: a message that
        // counts stops counting, and its @ entry goes. It never counts again.
        if retracted && applied.is_some_and(|a| a.unread) {
            c.unread_count = c.unread_count.saturating_sub(1);
            // Its own entry: the same sequence and @ type (entries of
            // seq-less messages differ only by type, and equal ones are
            // interchangeable).
            let seq = m.message.seq;
            let at_type = applied.map_or(0, |a| a.at_type);
            let entry = c
                .group_at_info_list
                .iter()
                .position(|a| a.seq == seq && a.at_type == at_type);
            if let (true, Some(i)) = (at_type != 0, entry) {
                c.group_at_info_list = c
                    .group_at_info_list
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, a)| *a)
                    .collect();
            }
            txn.forget_unread(conv.as_str(), msg_id)?;
        }
        match applied {
            Some(at) if (at.time_ms, at.seq) != (m.message.timestamp_ms, m.message.seq) => {
                txn.move_message(&position)?
            }
            Some(_) => {}
            // The last message came with an import or a sync: remember it,
            // unless it is read (see below).
            None if !read => txn.record_message(&position)?,
            None => {}
        }
        return Ok(());
    }
    // The host's verdict, when given, replaces the engine's own rule of
    // what counts; nothing at or before the read position counts.
    // A deleted or revoked message never counts, whatever the verdict.
    let counts = !is_withdrawn(&m)
        && m.counts_as_unread
            .unwrap_or(!m.message.is_self && !m.message.is_read && !retracted);
    let unread = counts && !read;
    let newer = c
        .last_message
        .as_ref()
        .is_none_or(|last| is_newer(&m.message, last));
    let at_type = if unread { m.mention.unwrap_or(0) } else { 0 };
    if unread {
        c.unread_count = c.unread_count.saturating_add(1);
        if let Some(at_type) = m.mention {
            c.group_at_info_list = c
                .group_at_info_list
                .iter()
                .copied()
                .chain([GroupAtInfo {
                    seq: m.message.seq,
                    at_type,
                }])
                .collect();
        }
    }
    if newer {
        c.last_message = Some(m.message.clone());
    }
    // A read message is not remembered (see `store::Writer::forget_read`):
    // coming again it is read all the same, and only the last message,
    // known by its msgID, could change.
    if !read {
        txn.record_message(&AppliedMessage {
            unread,
            at_type,
            ..position
        })?;
    }
    if newer {
        move_to_activity(txn, conv)?;
    }
    Ok(())
}

/// V2TIMMessageStatus: deleted, revoked (neither counts as unread).
pub(super) const STATUS_DELETED: i32 = 4;
pub(super) const STATUS_REVOKED: i32 = 6;

/// A message that must not count (any more): deleted or revoked, or the
/// host says so.
pub(super) fn is_retracted(m: &IncomingMessage) -> bool {
    is_withdrawn(m) || m.counts_as_unread == Some(false)
}

/// Deleted or revoked: it never counts, whatever the host's verdict.
fn is_withdrawn(m: &IncomingMessage) -> bool {
    matches!(m.message.status, STATUS_DELETED | STATUS_REVOKED)
}
