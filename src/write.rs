//! The write operations: what each one is ([`Write`]), the checks that need
//! no store ([`Write::validate`], the one place a write is validated), and
//! how each changes conversations inside a transaction ([`Write::apply`]).
//! Committing is [`crate::state::State::transact`]'s; publishing the events
//! is [`crate::state::State`]'s too.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::events::{GroupEvent, SyncStage};
use crate::json::{self};
use crate::model::{
    check_document_size, check_group_name, check_len, order_key, quote, Conversation,
    ConversationId, ConversationType, IdList, Snapshot, Text, MAX_CUSTOM_DATA_BYTES,
    MAX_DRAFT_BYTES, MAX_PINNED, RECV_OPT_MAX,
};
use crate::state::Txn;
use crate::store::ReadUpTo;

mod documents;
mod messages;
mod reads;
#[cfg(test)]
mod tests;

use documents::*;
use messages::*;
use reads::*;

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
    /// A consistent copy of the whole store at this point of the write
    /// order, to a file (see `Store::backup_to`). It runs alone, between
    /// transactions ([`Write::runs_alone`]), never inside one.
    Backup(std::path::PathBuf),
    /// The store re-encrypted with this key (`None`: plain; see
    /// `Store::rekey`), at this point of the write order. It runs alone,
    /// like a backup. `Option` so that the writer can take the key out.
    Rekey(Option<crate::key::StoreKey>),
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
                check_document_size("json_array", doc.len())?;
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
            Write::Rekey(_) => None,
            Write::Backup(path) => {
                if path.as_os_str().is_empty() {
                    return Err(Error::invalid_parameters("the backup's path is empty"));
                }
                None
            }
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
    /// Whether it runs alone, outside any transaction (a backup copies
    /// what the writes before it committed, and nothing of those after).
    pub fn runs_alone(&self) -> bool {
        matches!(self, Write::Backup(_) | Write::Rekey(_))
    }

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
            // The writer runs a backup alone (see `runs_alone`).
            Write::Backup(_) | Write::Rekey(_) => Err(Error::internal(
                "internal error: a backup or rekey was given to a transaction",
            )),
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
                match message_position(txn, id, msg_id)? {
                    Position::At(upto) => read_up_to(txn, id, upto)?,
                    // Read and at or before the position already.
                    Position::Forgotten => {}
                    Position::Unknown => return Err(Position::unknown(id, msg_id)),
                }
                Ok(0)
            }
            Write::Draft { id, text } => {
                if txn.stored(id)?.draft_text == *text {
                    return Ok(0);
                }
                let time = if text.is_empty() {
                    0
                } else {
                    draft_time(now_seconds(), txn.newest_activity()?)
                };
                let c = txn.stored(id)?;
                c.draft_text = text.clone();
                c.draft_timestamp = time;
                move_to_activity(txn, id)?;
                Ok(0)
            }
            Write::Pin { id, pinned } => {
                let was = txn.stored(id)?.is_pinned;
                if *pinned && !was && txn.pinned_count()? >= MAX_PINNED {
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
                txn.delete_group(from.as_str())?;
                txn.put_group(to.as_str(), position)?;
                txn.forget_groups();
                for id in parse_ids(txn.group_members(from.as_str())?)? {
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
                txn.delete_group(name.as_str())?;
                txn.forget_groups();
                for id in parse_ids(txn.group_members(name.as_str())?)? {
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
                    txn.entry_replacing(&ids.id(i))?.after = None;
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

/// How far past the newest activity the store has seen a draft's time may
/// be (see [`draft_time`]).
pub const DRAFT_CLOCK_MARGIN_SECONDS: u64 = 24 * 60 * 60;

/// A draft's time: the clock's (`now`), but at most a day past the newest
/// activity the store has seen, so that a clock far ahead cannot keep a
/// conversation above newer messages; never 0 (which means "no draft"),
/// even with a clock before 1970.
pub fn draft_time(now: u64, newest_activity: u64) -> u64 {
    let bound = if newest_activity == 0 {
        u64::MAX
    } else {
        newest_activity.saturating_add(DRAFT_CLOCK_MARGIN_SECONDS)
    };
    now.min(bound).max(1)
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
    let pinned = txn.pinned_count()?;
    if pinned > MAX_PINNED {
        return Err(Error::invalid_parameters(format!(
            "at most {MAX_PINNED} conversations can be pinned (this write would leave {pinned})"
        )));
    }
    Ok(())
}
