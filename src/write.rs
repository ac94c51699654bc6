//! The write operations: what each one is ([`Write`]), the checks that need
//! no store ([`Write::validate`], the one place a write is validated), and
//! how each changes conversations inside a transaction ([`Write::apply`]).
//! Committing is [`crate::state::State::transact`]'s; publishing the events
//! is [`crate::state::State`]'s too.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::events::{GroupEvent, SyncStage};
use crate::json::{self, IncomingMessage};
use crate::model::{
    check_group_name, check_len, order_key, quote, Conversation, ConversationId, ConversationType,
    GroupAtInfo, IdList, LastMessage, Snapshot, Text, MAX_CUSTOM_DATA_BYTES, MAX_DOCUMENT_BYTES,
    MAX_DRAFT_BYTES, MAX_PINNED, RECV_OPT_MAX,
};
use crate::state::Txn;
use crate::store::{AppliedMessage, Marked, ReadUpTo};

/// Most IDs one batch write takes (Tencent's limit for the same calls).
pub const MAX_IDS_PER_CALL: usize = 100;

/// Documents from this size on are parsed on a second thread while the
/// store writes (below it, a thread costs more than it saves).
const PIPELINE_BYTES: usize = 32 * 1024;

/// Elements parsed per chunk of a pipelined import.
const IMPORT_CHUNK: usize = 128;

/// Up to this many unread messages left after a read, forgetting walks the
/// conversation's remembered messages (see `read_up_to`).
const BACKLOG_SCANNED: u64 = 64;

/// Which conversations a read-state call clears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadScope {
    One(ConversationId),
    AllC2c,
    AllGroups,
    All,
}

/// One write operation. Every write of an instance goes through one queue
/// and commits in the order it was accepted.
#[derive(Clone, Debug)]
pub enum Write {
    /// Conversations replaced whole (a JSON array of conversation objects).
    Import(Vec<u8>),
    /// Conversations merged field by field (the same objects).
    Sync(Vec<u8>),
    /// A sync of the server's whole list: every stored conversation it
    /// does not name is deleted.
    SyncSnapshot(Vec<u8>),
    Messages(Vec<u8>),
    MarkRead {
        scope: ReadScope,
        upto: ReadUpTo,
    },
    /// Read up to and including one message, by the conversation's own
    /// message order.
    MarkMessageRead {
        id: ConversationId,
        msg_id: Text,
    },
    Draft {
        id: ConversationId,
        text: Text,
    },
    Pin {
        id: ConversationId,
        pinned: bool,
    },
    RecvOpt {
        ids: IdList,
        opt: i32,
    },
    CustomData {
        ids: IdList,
        data: Text,
    },
    Mark {
        ids: IdList,
        mark: u64,
        enable: bool,
    },
    CreateGroup {
        name: Text,
        ids: IdList,
    },
    RenameGroup {
        from: Text,
        to: Text,
    },
    DeleteGroup {
        name: Text,
    },
    AddToGroup {
        name: Text,
        ids: IdList,
    },
    RemoveFromGroup {
        name: Text,
        ids: IdList,
    },
    Delete {
        ids: IdList,
    },
    Profiles(Vec<u8>),
    /// The host's sync with its server reached a stage: raised to the
    /// listeners in order with the writes around it.
    ReportSync(SyncStage),
}

impl Write {
    /// The checks that need no store: limits, ranges, sizes, and that a read
    /// position is of the kind its conversations use.
    pub fn validate(&self) -> Result<()> {
        let ids = match self {
            Write::Import(doc)
            | Write::Sync(doc)
            | Write::SyncSnapshot(doc)
            | Write::Messages(doc)
            | Write::Profiles(doc) => {
                if doc.len() > MAX_DOCUMENT_BYTES {
                    return Err(Error::invalid_parameters(format!(
                        "json_array is {} bytes, more than {MAX_DOCUMENT_BYTES}",
                        doc.len()
                    )));
                }
                None
            }
            Write::MarkRead { scope, upto } => {
                check_position(scope, upto)?;
                None
            }
            Write::MarkMessageRead { msg_id, .. } => {
                json::check_msg_id(msg_id.as_str())?;
                None
            }
            Write::Draft { text, .. } => {
                check_len("draft_text", text.as_str(), MAX_DRAFT_BYTES)?;
                None
            }
            Write::Pin { .. } => None,
            Write::RecvOpt { ids, opt } => {
                if !(0..=RECV_OPT_MAX).contains(opt) {
                    return Err(Error::invalid_parameters(format!(
                        "recv_opt must be 0 to {RECV_OPT_MAX} (got {opt})"
                    )));
                }
                Some(ids)
            }
            Write::CustomData { ids, data } => {
                check_len("custom data", data.as_str(), MAX_CUSTOM_DATA_BYTES)?;
                Some(ids)
            }
            Write::Mark { ids, mark, .. } => {
                if *mark == 0 {
                    return Err(Error::invalid_parameters("mark must not be 0"));
                }
                Some(ids)
            }
            Write::CreateGroup { name, ids } => {
                check_group_name(name.as_str())?;
                Some(ids)
            }
            Write::RenameGroup { from, to } => {
                check_group_name(from.as_str())?;
                check_group_name(to.as_str())?;
                None
            }
            Write::DeleteGroup { name } => {
                check_group_name(name.as_str())?;
                None
            }
            Write::AddToGroup { name, ids } | Write::RemoveFromGroup { name, ids } => {
                check_group_name(name.as_str())?;
                Some(ids)
            }
            Write::Delete { ids } => Some(ids),
            Write::ReportSync(_) => None,
        };
        match ids {
            Some(ids) if ids.len() > MAX_IDS_PER_CALL => Err(Error::invalid_parameters(format!(
                "{} conversation IDs in one call, more than {MAX_IDS_PER_CALL}",
                ids.len()
            ))),
            _ => Ok(()),
        }
    }

    /// About how much memory the write holds while it waits in the queue.
    pub fn queued_bytes(&self) -> usize {
        let size = match self {
            Write::Import(d)
            | Write::Sync(d)
            | Write::SyncSnapshot(d)
            | Write::Messages(d)
            | Write::Profiles(d) => d.len(),
            Write::Draft { text, .. } => text.len(),
            Write::MarkMessageRead { msg_id, .. } => msg_id.len(),
            Write::CustomData { ids, data } => ids.len() * 24 + data.len(),
            Write::RecvOpt { ids, .. }
            | Write::Mark { ids, .. }
            | Write::CreateGroup { ids, .. }
            | Write::AddToGroup { ids, .. }
            | Write::RemoveFromGroup { ids, .. }
            | Write::Delete { ids } => ids.len() * 24,
            _ => 0,
        };
        size + std::mem::size_of::<Write>()
    }

    /// Applies the write inside a transaction (it was validated): changes
    /// the conversations it touches through `txn`, which writes them when
    /// this returns Ok. Returns a count of elements (imports and syncs).
    pub fn apply<V: Snapshot>(&mut self, txn: &mut Txn<'_, '_, V>) -> Result<usize> {
        crate::inject::point(crate::inject::Stage::Work);
        match self {
            Write::Import(doc) => import(doc, txn),
            Write::Sync(doc) => sync(doc, txn, None),
            Write::SyncSnapshot(doc) => sync_snapshot(doc, txn),
            Write::Messages(doc) => {
                let messages = json::parse_messages(doc, txn.user_id())?;
                for m in messages {
                    apply_message(m, txn)?;
                }
                Ok(0)
            }
            Write::MarkRead { scope, upto } => mark_read(scope, *upto, txn),
            Write::MarkMessageRead { id, msg_id } => {
                txn.stored(id)?;
                let upto = message_position(txn, id, msg_id)?;
                read_up_to(txn, id, upto)?;
                Ok(0)
            }
            Write::Draft { id, text } => {
                let c = txn.stored(id)?;
                if c.draft_text == *text {
                    return Ok(0);
                }
                c.draft_text = text.clone();
                c.draft_timestamp = if text.is_empty() { 0 } else { now_seconds() };
                move_to_activity(txn, id)?;
                Ok(0)
            }
            Write::Pin { id, pinned } => {
                let was = txn.stored(id)?.is_pinned;
                if *pinned && !was && txn.w.pinned_count()? >= MAX_PINNED {
                    return Err(Error::invalid_parameters(format!(
                        "at most {MAX_PINNED} conversations can be pinned"
                    )));
                }
                txn.stored(id)?.is_pinned = *pinned;
                Ok(0)
            }
            Write::RecvOpt { ids, opt } => {
                for i in 0..ids.len() {
                    txn.stored(&ids.id(i))?.recv_opt = *opt;
                }
                Ok(0)
            }
            Write::CustomData { ids, data } => {
                for i in 0..ids.len() {
                    txn.stored(&ids.id(i))?.custom_data = data.clone();
                }
                Ok(0)
            }
            Write::Mark { ids, mark, enable } => {
                for i in 0..ids.len() {
                    let c = txn.stored(&ids.id(i))?;
                    let has = c.mark_list.contains(mark);
                    if *enable && !has {
                        c.mark_list = c.mark_list.iter().copied().chain([*mark]).collect();
                    } else if !*enable && has {
                        c.mark_list = c.mark_list.iter().copied().filter(|m| m != mark).collect();
                    }
                }
                Ok(0)
            }
            Write::CreateGroup { name, ids } => {
                txn.create_group(name.as_str())?;
                add_to_group(txn, name, ids)?;
                txn.raise_group(GroupEvent::Created {
                    name: name.clone(),
                    conversations: (0..ids.len()).map(|i| ids.id(i)).collect(),
                });
                Ok(0)
            }
            Write::RenameGroup { from, to } => {
                let Some(position) = group_position(txn, from)? else {
                    return Err(missing_group(from));
                };
                if from == to {
                    return Ok(0);
                }
                if group_position(txn, to)?.is_some() {
                    return Err(Error::invalid_parameters(format!(
                        "conversation group {} exists already",
                        quote(to.as_str())
                    )));
                }
                txn.w.delete_group(from.as_str())?;
                txn.w.put_group(to.as_str(), position)?;
                txn.forget_groups();
                for id in parse_ids(txn.w.group_members(from.as_str())?)? {
                    let c = txn.stored(&id)?;
                    c.conversation_group_list = c
                        .conversation_group_list
                        .iter()
                        .map(|g| if g == from { to.clone() } else { g.clone() })
                        .collect();
                }
                txn.raise_group(GroupEvent::Renamed {
                    from: from.clone(),
                    to: to.clone(),
                });
                Ok(0)
            }
            Write::DeleteGroup { name } => {
                if group_position(txn, name)?.is_none() {
                    return Err(missing_group(name));
                }
                txn.w.delete_group(name.as_str())?;
                txn.forget_groups();
                for id in parse_ids(txn.w.group_members(name.as_str())?)? {
                    remove_group(txn.stored(&id)?, name);
                }
                txn.raise_group(GroupEvent::Deleted { name: name.clone() });
                Ok(0)
            }
            Write::AddToGroup { name, ids } => {
                if group_position(txn, name)?.is_none() {
                    return Err(missing_group(name));
                }
                add_to_group(txn, name, ids)?;
                // Those already in it did not change, and are left out.
                txn.raise_group(GroupEvent::Added {
                    name: name.clone(),
                    conversations: (0..ids.len()).map(|i| ids.id(i)).collect(),
                });
                Ok(0)
            }
            Write::RemoveFromGroup { name, ids } => {
                if group_position(txn, name)?.is_none() {
                    return Err(missing_group(name));
                }
                for i in 0..ids.len() {
                    remove_group(txn.stored(&ids.id(i))?, name);
                }
                txn.raise_group(GroupEvent::Removed {
                    name: name.clone(),
                    conversations: (0..ids.len()).map(|i| ids.id(i)).collect(),
                });
                Ok(0)
            }
            Write::Delete { ids } => {
                for i in 0..ids.len() {
                    txn.entry(&ids.id(i))?.after = None;
                }
                Ok(0)
            }
            Write::Profiles(doc) => {
                for p in json::parse_profiles(doc)? {
                    txn.put_profile(p)?;
                }
                Ok(0)
            }
            Write::ReportSync(stage) => {
                txn.raise_sync(*stage);
                Ok(0)
            }
        }
    }
}

/// A read position must be of the kind its conversations use: a timestamp
/// for one-to-one conversations, a sequence for groups; clearing every
/// conversation takes no position.
fn check_position(scope: &ReadScope, upto: &ReadUpTo) -> Result<()> {
    let kind = match scope {
        ReadScope::One(id) => Some(id.kind()),
        ReadScope::AllC2c => Some(ConversationType::C2c),
        ReadScope::AllGroups => Some(ConversationType::Group),
        ReadScope::All => None,
    };
    let wrong = match (kind, upto) {
        (_, ReadUpTo::All) => None,
        (None, _) => Some("clearing every conversation takes no position (both 0)"),
        (Some(ConversationType::C2c), ReadUpTo::Sequence(_)) => {
            Some("one-to-one conversations are read up to a timestamp, not a sequence")
        }
        (Some(ConversationType::Group), ReadUpTo::Timestamp(_)) => {
            Some("group conversations are read up to a sequence, not a timestamp")
        }
        _ => None,
    };
    match wrong {
        Some(why) => Err(Error::invalid_parameters(why)),
        None => Ok(()),
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Gives a conversation the order key of its activity time now (its newest
/// message or draft changed): a new tick, so the latest action ranks first
/// among equal times.
fn move_to_activity<V: Snapshot>(txn: &mut Txn<'_, '_, V>, id: &ConversationId) -> Result<()> {
    let tick = txn.next_tick();
    let c = txn.stored(id)?;
    c.order_key = order_key(c.activity_ms(), tick);
    Ok(())
}

/// Where a message of a stored conversation is, as a read position: a
/// remembered one, or its last message; any other msgID is refused, named.
fn message_position<V: Snapshot>(
    txn: &mut Txn<'_, '_, V>,
    id: &ConversationId,
    msg_id: &Text,
) -> Result<ReadUpTo> {
    if let Some(at) = txn.w.applied(id.as_str(), msg_id.as_str())? {
        return Ok(ReadUpTo::Message {
            ms: at.time_ms,
            seq: at.seq,
        });
    }
    match &txn.stored(id)?.last_message {
        Some(m) if m.msg_id == *msg_id => Ok(ReadUpTo::Message {
            ms: m.timestamp_ms,
            seq: m.seq,
        }),
        _ => Err(Error::invalid_parameters(format!(
            "msgID {} is not a message of conversation {} (never applied, or read and \
             no longer remembered)",
            quote(msg_id.as_str()),
            quote(id.as_str())
        ))),
    }
}

/// Whether a message is newer than the last one: by time (milliseconds),
/// then sequence; in a tie the one there first stays.
fn is_newer(m: &LastMessage, last: &LastMessage) -> bool {
    (m.timestamp_ms, m.seq) > (last.timestamp_ms, last.seq)
}

/// Applies one message. A msgID applied to the conversation before, or the
/// conversation's last message itself, updates in place: the last message
/// takes its new content when it is that message; unread count and order
/// stay. A new message is remembered, counts as unread when it is incoming,
/// not read and after the read position (and then adds its @ mention), and
/// becomes the last message and moves the conversation when it is the
/// newest (by timestamp, then seq).
fn apply_message<V: Snapshot>(m: IncomingMessage, txn: &mut Txn<'_, '_, V>) -> Result<()> {
    let conv = &m.conversation_id;
    let msg_id = m.message.msg_id.as_str();
    let applied = txn.w.applied(conv.as_str(), msg_id)?;
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
            let seq = m.message.seq;
            let mentioned = applied.is_some_and(|a| a.at_type != 0);
            let entry = c.group_at_info_list.iter().position(|a| a.seq == seq);
            if let (true, Some(i)) = (mentioned, entry) {
                c.group_at_info_list = c
                    .group_at_info_list
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, a)| *a)
                    .collect();
            }
            txn.w.forget_unread(conv.as_str(), msg_id)?;
        }
        match applied {
            Some(at) if (at.time_ms, at.seq) != (m.message.timestamp_ms, m.message.seq) => {
                txn.w.move_message(&position)?
            }
            Some(_) => {}
            // The last message came with an import or a sync: remember it,
            // unless it is read (see below).
            None if !read => txn.w.record_message(&position)?,
            None => {}
        }
        return Ok(());
    }
    // The host's verdict, when given, replaces the engine's own rule of
    // what counts; nothing at or before the read position counts.
    let counts = m
        .counts_as_unread
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
        txn.w.record_message(&AppliedMessage {
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
const STATUS_DELETED: i32 = 4;
const STATUS_REVOKED: i32 = 6;

/// A message that must not count (any more): deleted or revoked, or the
/// host says so.
fn is_retracted(m: &IncomingMessage) -> bool {
    matches!(m.message.status, STATUS_DELETED | STATUS_REVOKED) || m.counts_as_unread == Some(false)
}

/// Marks the scope read up to a position: one conversation, or every
/// stored conversation of a type (or all) that it would change, idle ones
/// included (their read position moves too).
fn mark_read<V: Snapshot>(
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
    for id in parse_ids(txn.w.ids_to_mark_read(kind, upto)?)? {
        read_up_to(txn, &id, upto)?;
    }
    Ok(0)
}

/// Marks one stored conversation read up to a position (here or on another
/// device): remembered messages up to it stop counting, its read position
/// becomes it (never lower), and @ mentions up to it go. It costs what it
/// marks: only unread messages are walked.
fn read_up_to<V: Snapshot>(
    txn: &mut Txn<'_, '_, V>,
    id: &ConversationId,
    upto: ReadUpTo,
) -> Result<()> {
    // Remembered unread messages never outnumber the count.
    let tracked_before = if txn.stored(id)?.unread_count == 0 {
        0
    } else {
        txn.w.unread_messages(id.as_str())?
    };
    let marked = if tracked_before == 0 {
        Marked::default()
    } else {
        txn.w.mark_messages_read(id.as_str(), upto)?
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
    if !marked.mentions.is_empty() {
        let mut list = c.group_at_info_list.to_vec();
        for seq in &marked.mentions {
            if let Some(i) = list.iter().position(|a| a.seq == *seq) {
                list.remove(i);
            }
        }
        c.group_at_info_list = list.into();
    }
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
        txn.w.forget_read(id.as_str(), read_ms, read_seq, keep)?;
    } else {
        txn.w.forget_marked(id.as_str(), &marked.msg_ids, keep)?;
    }
    Ok(())
}

/// A group's sequence position moves forward to `s`; @ entries up to it go.
fn read_sequence(c: &mut Conversation, s: u64) {
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

fn group_position<V: Snapshot>(txn: &mut Txn<'_, '_, V>, name: &Text) -> Result<Option<i64>> {
    Ok(txn
        .groups()?
        .iter()
        .find(|(g, _)| g == name.as_str())
        .map(|&(_, p)| p))
}

fn add_to_group<V: Snapshot>(txn: &mut Txn<'_, '_, V>, name: &Text, ids: &IdList) -> Result<usize> {
    for i in 0..ids.len() {
        let c = txn.stored(&ids.id(i))?;
        if !c.conversation_group_list.contains(name) {
            c.conversation_group_list = c
                .conversation_group_list
                .iter()
                .cloned()
                .chain([name.clone()])
                .collect();
        }
    }
    Ok(0)
}

fn remove_group(c: &mut Conversation, name: &Text) {
    c.conversation_group_list = c
        .conversation_group_list
        .iter()
        .filter(|g| *g != name)
        .cloned()
        .collect();
}

fn missing_group(name: &Text) -> Error {
    Error::invalid_parameters(format!(
        "conversation group {} does not exist",
        quote(name.as_str())
    ))
}

fn parse_ids(ids: Vec<String>) -> Result<Vec<ConversationId>> {
    ids.iter().map(|s| ConversationId::parse(s)).collect()
}

/// After an import or sync that pinned conversations: at most 50 pinned.
fn check_pinned<V: Snapshot>(txn: &mut Txn<'_, '_, V>) -> Result<()> {
    txn.flush()?;
    let pinned = txn.w.pinned_count()?;
    if pinned > MAX_PINNED {
        return Err(Error::invalid_parameters(format!(
            "at most {MAX_PINNED} conversations can be pinned (this write would leave {pinned})"
        )));
    }
    Ok(())
}

/// Replaces conversations whole. What is remembered of a replaced
/// conversation's messages is forgotten with it; conversation groups it
/// names are created when new. A large document is parsed on a second
/// thread while this one writes, chunk by chunk.
fn import<V: Snapshot>(document: &[u8], txn: &mut Txn<'_, '_, V>) -> Result<usize> {
    let forget = txn.w.any_applied_message()?;
    // A large document into an empty store: the order index is built once,
    // after the rows.
    let fill = document.len() >= PIPELINE_BYTES && txn.w.no_conversations()?;
    if fill {
        txn.w.drop_order_index()?;
    }
    let mut pins = false;
    let mut index = 0usize;
    let mut each = |mut c: Conversation, keyed: bool| -> Result<()> {
        let i = index;
        index += 1;
        pins |= c.is_pinned;
        // Placed by its activity time and, among equal times, by document
        // order: later elements rank first, as later actions do.
        if !keyed {
            c.order_key = order_key(c.activity_ms(), txn.next_tick());
        }
        if c.show_name.is_empty() {
            c.show_name = txn.fallback_name(&c.id);
        }
        (|| {
            if !c.conversation_group_list.is_empty() {
                txn.ensure_groups(&c.conversation_group_list)?;
            }
            if forget {
                txn.w.forget_messages(c.id.as_str())?;
            }
            txn.replace(c, !keyed)
        })()
        .map_err(|e| e.context(format_args!("element {i}")))
    };
    let count = if document.len() < PIPELINE_BYTES {
        json::for_each_conversation(document, each)?
    } else {
        pipelined(document, &mut each)?
    };
    if fill {
        txn.w.create_order_index()?;
    }
    if pins {
        check_pinned(txn)?;
    }
    Ok(count)
}

/// Parses on a second thread, handing chunks to `each` here.
fn pipelined(
    document: &[u8],
    each: &mut impl FnMut(Conversation, bool) -> Result<()>,
) -> Result<usize> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<(Conversation, bool)>>>(8);
        std::thread::Builder::new()
            .name("imconv-import".into())
            .spawn_scoped(scope, move || {
                crate::log::library_thread();
                let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
                let read = json::for_each_conversation(document, |c, keyed| {
                    chunk.push((c, keyed));
                    if chunk.len() == IMPORT_CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(IMPORT_CHUNK));
                        // Fails once the writer gave up: stop parsing then.
                        tx.send(Ok(full)).map_err(|_| Error::shutdown())?;
                    }
                    Ok(())
                });
                let last = read.map(|_| chunk);
                let _ = tx.send(last);
                // Dropping `tx` tells the writer that nothing follows.
            })
            .map_err(|e| Error::from(e).context("starting the import parser"))?;
        let mut count = 0;
        loop {
            match rx.recv() {
                Ok(Ok(chunk)) => {
                    let last = chunk.len() < IMPORT_CHUNK;
                    count += chunk.len();
                    chunk
                        .into_iter()
                        .try_for_each(|(c, keyed)| each(c, keyed))?;
                    // A short chunk is the last one.
                    if last {
                        return Ok(count);
                    }
                }
                Ok(Err(e)) => return Err(e),
                // The parser died (a panic) before the end: roll back.
                Err(_) => return Err(Error::internal("the import parser stopped early")),
            }
        }
    })
}

/// Merges conversations: each element changes only the fields it names and
/// creates the conversation when missing. `lastMessage` follows the
/// newest-message rule (the same msgID updates it in place); `unreadCount`,
/// when named, is authoritative (the newest remembered unread messages stay
/// unread, older ones count as read); `orderKey`, when named, is taken,
/// else the conversation moves when its activity time changed.
/// A sync of the server's whole list: the sync, then every stored
/// conversation the list does not name is deleted (in the same write, so
/// all or nothing, with one `on_deleted`).
fn sync_snapshot<V: Snapshot>(document: &[u8], txn: &mut Txn<'_, '_, V>) -> Result<usize> {
    let mut named = HashSet::new();
    let count = sync(document, txn, Some(&mut named))?;
    txn.flush()?;
    for id in txn.w.conversation_ids()? {
        if !named.contains(&id) {
            txn.entry(&ConversationId::parse(&id)?)?.after = None;
        }
    }
    Ok(count)
}

/// `named`, when given, collects the ID of every element.
fn sync<V: Snapshot>(
    document: &[u8],
    txn: &mut Txn<'_, '_, V>,
    mut named: Option<&mut HashSet<String>>,
) -> Result<usize> {
    let mut pins = false;
    let mut index = 0usize;
    let count = json::for_each_patch(document, |mut p| {
        let i = index;
        index += 1;
        pins |= p.is_pinned == Some(true);
        if let Some(named) = named.as_deref_mut() {
            named.insert(p.id.as_str().to_string());
        }
        (|| {
            let id = p.id.clone();
            if let Some(groups) = &p.conversation_group_list {
                txn.ensure_groups(groups)?;
            }
            if let Some(m) = &p.last_message {
                txn.w.remember_message(&AppliedMessage {
                    msg_id: m.msg_id.as_str(),
                    conversation_id: id.as_str(),
                    time_ms: m.timestamp_ms,
                    seq: m.seq,
                    unread: false,
                    at_type: 0,
                })?;
            }
            let created = txn.entry(&id)?.after.is_none();
            if created {
                let c = txn.new_conversation(&id);
                txn.entry(&id)?.after = Some(c);
            }
            // A read position that moves forward is a read on another
            // device: it clears what it covers, as clean_unread does. One
            // that is behind is a stale snapshot and changes nothing.
            let (read_ts, read_seq) = (p.c2c_read_timestamp.take(), p.group_read_sequence.take());
            let read_ms = p.read_ms.take().map(|ms| ms.min(i64::MAX as u64));
            let c = txn.stored(&id)?;
            let by_time = read_ms
                .filter(|&ms| ms > c.read_ms)
                .map(|ms| ReadUpTo::Message {
                    ms: ms as i64,
                    seq: 0,
                });
            let read = match id.kind() {
                ConversationType::C2c => by_time.or(read_ts
                    .filter(|&t| t > c.c2c_read_timestamp)
                    .map(|t| ReadUpTo::Timestamp(t.min(i64::MAX as u64) as i64))),
                ConversationType::Group => read_seq
                    .filter(|&s| s > c.group_read_sequence)
                    .map(ReadUpTo::Sequence),
            };
            // A group's time position (messages without a sequence) moves too.
            let group_time = by_time.filter(|_| id.kind() == ConversationType::Group);
            let activity = c.activity_ms();
            p.apply_plain_fields(c);
            if c.show_name.is_empty() {
                let name = txn.fallback_name(&id);
                txn.stored(&id)?.show_name = name;
            }
            let c = txn.stored(&id)?;
            if let Some(m) = p.last_message.take() {
                match &c.last_message {
                    Some(last) if last.msg_id == m.msg_id => c.last_message = Some(m),
                    Some(last) if !is_newer(&m, last) => {}
                    _ => c.last_message = Some(m),
                }
            }
            // The position first, then the count: the count names what is
            // unread after the read, so later clears stay exact.
            for upto in [read, group_time].into_iter().flatten() {
                read_up_to(txn, &id, upto)?;
            }
            if let Some(msg_id) = p.read_msg_id.take() {
                let upto = message_position(txn, &id, &msg_id)
                    .map_err(|e| e.context("field 'readMsgID'"))?;
                read_up_to(txn, &id, upto)?;
            }
            // The positions are the server's (past 2^63 too, and the other
            // kind's as named), and never move back.
            let c = txn.stored(&id)?;
            c.c2c_read_timestamp = c.c2c_read_timestamp.max(read_ts.unwrap_or(0));
            c.group_read_sequence = c.group_read_sequence.max(read_seq.unwrap_or(0));
            if let Some(n) = p.unread_count {
                txn.w.keep_newest_unread(id.as_str(), n)?;
                txn.stored(&id)?.unread_count = n;
            }
            let c = txn.stored(&id)?;
            match p.order_key {
                Some(key) => c.order_key = key,
                None if created || c.activity_ms() != activity => move_to_activity(txn, &id)?,
                None => {}
            }
            Ok(())
        })()
        .map_err(|e: Error| e.context(format_args!("element {i}")))
    })?;
    if pins {
        check_pinned(txn)?;
    }
    Ok(count)
}
