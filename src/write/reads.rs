//! Reading up to a position: what is marked, the @ entries that go, the
//! read position, and what is forgotten after it.

use super::{parse_ids, ReadScope, BACKLOG_SCANNED};
use crate::error::Result;
use crate::model::{Conversation, ConversationId, ConversationType, Snapshot, Text};
use crate::state::Txn;
use crate::store::{Marked, ReadUpTo};

/// Marks the scope read up to a position: one conversation, or every
/// stored conversation of a type (or all) that it would change, idle ones
/// included (their read position moves too).
pub(super) fn mark_read<V: Snapshot>(
    scope: &ReadScope,
    upto: ReadUpTo,
    txn: &mut Txn<'_, '_, V>,
) -> Result<usize> {
    let kind = match scope {
        ReadScope::One(id) => return read_up_to(txn, id, upto).map(|_| 0),
        ReadScope::AllC2c => Some(ConversationType::C2c.as_i32()),
        ReadScope::AllGroups => Some(ConversationType::Group.as_i32()),
        ReadScope::All => None,
    };
    for id in parse_ids(txn.ids_to_mark_read(kind, upto)?)? {
        read_up_to(txn, &id, upto)?;
    }
    Ok(0)
}

/// Marks one stored conversation read up to a position (here or on another
/// device): remembered messages up to it stop counting, its read position
/// becomes it (never lower), and @ mentions up to it go. It costs what it
/// marks: only unread messages are walked.
pub(super) fn read_up_to<V: Snapshot>(
    txn: &mut Txn<'_, '_, V>,
    id: &ConversationId,
    upto: ReadUpTo,
) -> Result<()> {
    // Remembered unread messages never outnumber the count.
    let tracked_before = if txn.stored(id)?.unread_count == 0 {
        0
    } else {
        txn.unread_messages(id.as_str())?
    };
    let marked = if tracked_before == 0 {
        Marked::default()
    } else {
        txn.mark_messages_read(id.as_str(), upto)?
    };
    let c = txn.stored(id)?;
    // An imported or synced count with no messages behind it goes once
    // the position reaches the last message.
    let untracked = c.unread_count.saturating_sub(tracked_before);
    let covers_last = match (upto, &c.last_message) {
        (ReadUpTo::All, _) | (_, None) => true,
        (ReadUpTo::Timestamp(t), Some(m)) => m.timestamp <= t,
        (ReadUpTo::Sequence(s), Some(m)) => m.seq <= s,
        (ReadUpTo::Message { ms, seq }, Some(m)) => {
            if id.kind() == ConversationType::Group && seq > 0 && m.seq > 0 {
                m.seq <= seq
            } else {
                m.timestamp_ms <= ms
            }
        }
    };
    c.unread_count =
        tracked_before.saturating_sub(marked.count) + if covers_last { 0 } else { untracked };
    // Each marked message that had added an @ entry takes it with it.
    remove_mentions(c, &marked.mentions);
    let group = id.kind() == ConversationType::Group;
    match upto {
        ReadUpTo::All => {
            if let Some(m) = c.last_message.clone() {
                c.read_to_ms(m.timestamp_ms.max(0) as u64);
                if group {
                    c.group_read_sequence = c.group_read_sequence.max(m.seq);
                }
            }
            c.group_at_info_list = Box::default();
        }
        ReadUpTo::Timestamp(t) => c.read_to_second(t.max(0) as u64),
        ReadUpTo::Message { ms, seq } => {
            c.read_to_ms(ms.max(0) as u64);
            if group && seq > 0 {
                read_sequence(c, seq);
            }
        }
        ReadUpTo::Sequence(s) => read_sequence(c, s),
    }
    // What is now at or before the position is forgotten, but the last
    // message and the newest few: bounded history. While a large backlog
    // stays unread after the position, only what this read marked goes
    // (the rest waits for a read that leaves few unread), so that a read
    // costs what it marks, never the backlog.
    let (read_ms, read_seq) = (c.read_ms, c.group_read_sequence);
    let last = c.last_message.as_ref().map(|m| m.msg_id.clone());
    let keep = last.as_ref().map(Text::as_str);
    let still_unread = tracked_before.saturating_sub(marked.count);
    if still_unread <= BACKLOG_SCANNED {
        txn.forget_read(id.as_str(), read_ms, read_seq, keep)?;
    } else {
        txn.forget_marked(id.as_str(), &marked.msg_ids, keep)?;
    }
    Ok(())
}

/// A group's sequence position moves forward to `s`; @ entries up to it go.
pub(super) fn read_sequence(c: &mut Conversation, s: u64) {
    c.group_read_sequence = c.group_read_sequence.max(s);
    if c.group_at_info_list.iter().any(|a| a.seq <= s) {
        c.group_at_info_list = c
            .group_at_info_list
            .iter()
            .filter(|a| a.seq > s)
            .copied()
            .collect();
    }
}

/// Removes one @ entry per message that stopped counting: the entry of its
/// sequence and @ type (entries of seq-less messages differ only by type,
/// and equal ones are interchangeable).
pub(super) fn remove_mentions(c: &mut Conversation, mentions: &[(u64, i32)]) {
    if mentions.is_empty() {
        return;
    }
    let mut list = c.group_at_info_list.to_vec();
    for &(seq, at_type) in mentions {
        if let Some(i) = list
            .iter()
            .position(|a| a.seq == seq && a.at_type == at_type)
        {
            list.remove(i);
        }
    }
    c.group_at_info_list = list.into();
}
