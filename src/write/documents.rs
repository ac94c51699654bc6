//! The document writes: import (parsed beside the writer when large), sync
//! of a page of the list, and sync of the whole list.

use std::collections::HashSet;

use super::{
    check_pinned, is_newer, message_position, move_to_activity, read_up_to, remove_mentions,
    Position, IMPORT_CHUNK, PIPELINE_BYTES,
};
use crate::error::{Error, Result};
use crate::json;
use crate::model::{
    ms_covering_second, order_key, Conversation, ConversationId, ConversationType, Snapshot,
};
use crate::state::Txn;
use crate::store::{AppliedMessage, ReadUpTo};

/// Replaces conversations whole. What is remembered of a replaced
/// conversation's messages is forgotten with it; conversation groups it
/// names are created when new. A large document is parsed on a second
/// thread while this one writes, chunk by chunk.
pub(super) fn import<V: Snapshot>(document: &[u8], txn: &mut Txn<'_, '_, V>) -> Result<usize> {
    let forget = txn.any_applied_message()?;
    // A large document into an empty store: the order index is built once,
    // after the rows.
    let fill = document.len() >= PIPELINE_BYTES && txn.no_conversations()?;
    if fill {
        txn.drop_order_index()?;
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
                txn.forget_messages(c.id.as_str())?;
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
        txn.create_order_index()?;
    }
    if pins {
        check_pinned(txn)?;
    }
    Ok(count)
}

/// Parses on a second thread, handing chunks to `each` here.
pub(super) fn pipelined(
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
pub(super) fn sync_snapshot<V: Snapshot>(
    document: &[u8],
    txn: &mut Txn<'_, '_, V>,
) -> Result<usize> {
    let mut named = HashSet::new();
    let count = sync(document, txn, Some(&mut named))?;
    txn.flush()?;
    for id in txn.conversation_ids()? {
        if !named.contains(&id) {
            txn.entry_replacing(&ConversationId::parse(&id)?)?.after = None;
        }
    }
    Ok(count)
}

/// `named`, when given, collects the ID of every element.
pub(super) fn sync<V: Snapshot>(
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
            // A damaged conversation is replaced by what the server says.
            txn.entry_replacing(&id)?;
            if let Some(groups) = &p.conversation_group_list {
                txn.ensure_groups(groups)?;
            }
            if let Some(m) = &p.last_message {
                txn.remember_message(&AppliedMessage {
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
                // A whole second covers all of it: it moves a position
                // inside that second to the second's end.
                ConversationType::C2c => by_time.or(read_ts
                    .filter(|&t| t > c.c2c_read_timestamp || ms_covering_second(t) > c.read_ms)
                    .map(|t| ReadUpTo::Timestamp(t.min(i64::MAX as u64) as i64))),
                ConversationType::Group => read_seq
                    .filter(|&s| s > c.group_read_sequence)
                    .map(ReadUpTo::Sequence),
            };
            // A group's time position (messages without a sequence) moves too.
            let group_time = by_time.filter(|_| id.kind() == ConversationType::Group);
            let activity = c.activity_ms();
            let names_at_list = p.group_at_info_list.is_some();
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
            // A receipt from another device arrives late all the time: one
            // naming a forgotten message changes nothing, and one naming a
            // message never applied here is passed over (logged), never
            // failing the sync.
            if let Some(msg_id) = p.read_msg_id.take() {
                match message_position(txn, &id, &msg_id)? {
                    Position::At(upto) => read_up_to(txn, &id, upto)?,
                    Position::Forgotten => {}
                    Position::Unknown => crate::log::info(format_args!(
                        "sync: {} (field 'readMsgID' of element {i}): passed over",
                        Position::unknown(&id, &msg_id).message()
                    )),
                }
            }
            // The positions are the server's (past 2^63 too, and the other
            // kind's as named), and never move back.
            let c = txn.stored(&id)?;
            c.c2c_read_timestamp = c.c2c_read_timestamp.max(read_ts.unwrap_or(0));
            c.group_read_sequence = c.group_read_sequence.max(read_seq.unwrap_or(0));
            if let Some(n) = p.unread_count {
                let stopped = txn.keep_newest_unread(id.as_str(), n)?;
                let c = txn.stored(&id)?;
                c.unread_count = n;
                // A message that stopped counting takes its @ entry with
                // it, unless the element names the list itself.
                if !names_at_list {
                    remove_mentions(c, &stopped);
                }
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
