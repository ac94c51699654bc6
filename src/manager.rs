//! The conversation manager: the write operations that keep conversations
//! current (messages, read state, drafts, pins, receive options, custom
//! data, marks, conversation groups, deletes, profiles), the events they
//! raise, and the ordered, paged and filtered lists.
//!
//! Every write is one transaction under the store's lock: it loads what it
//! touches, changes it in memory, writes only what really changed, refreshes
//! the cache and queues exactly one event batch on the callback thread, all
//! before the lock is released, so events arrive in commit order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::cache::Probe;
use crate::dispatch::Context;
use crate::engine::{state_of, Snapshot, State};
use crate::error::{Error, Result};
use crate::json::{self, IncomingMessage};
use crate::model::{
    quote, Conversation, ConversationId, ConversationType, IdList, ListFilter, Text,
    MAX_CUSTOM_DATA_BYTES, RECV_OPT_MAX,
};
use crate::store::{AppliedMessage, Cursor, ReadUpTo, Store, Writer};

/// Most IDs one batch write takes (Tencent's limit for the same calls).
pub(crate) const MAX_IDS_PER_CALL: usize = 100;
/// Most conversation groups, and the longest group name in bytes (Tencent's).
pub(crate) const MAX_GROUPS: usize = 20;
pub(crate) const MAX_GROUP_NAME_BYTES: usize = 32;
/// Most pinned conversations (Tencent's limit).
pub(crate) const MAX_PINNED: u64 = 50;
/// Most conversations in one page.
pub(crate) const MAX_PAGE: usize = 1000;

/// Receives the manager's events, on the callback thread.
pub trait Listener<V>: Send + Sync {
    fn on_new(&self, conversations: &[Arc<V>]);
    fn on_changed(&self, conversations: &[Arc<V>]);
    fn on_deleted(&self, ids: &[ConversationId]);
    fn on_total_unread_changed(&self, total: u64);
}

/// Which conversations a read-state call clears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadScope {
    One(ConversationId),
    AllC2c,
    AllGroups,
    All,
}

/// One write operation.
#[derive(Clone, Debug)]
pub enum Write {
    Messages(Vec<u8>),
    MarkRead {
        scope: ReadScope,
        upto: ReadUpTo,
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
}

impl Write {
    /// The checks that need no store: limits and ranges.
    pub fn validate(&self) -> Result<()> {
        let ids = match self {
            Write::RecvOpt { ids, opt } => {
                if !(0..=RECV_OPT_MAX).contains(opt) {
                    return Err(Error::invalid_parameters(format!(
                        "recv_opt must be 0 to {RECV_OPT_MAX} (got {opt})"
                    )));
                }
                Some(ids)
            }
            Write::CustomData { ids, data } => {
                if data.len() > MAX_CUSTOM_DATA_BYTES {
                    return Err(Error::invalid_parameters(format!(
                        "custom data is {} bytes, more than {MAX_CUSTOM_DATA_BYTES}",
                        data.len()
                    )));
                }
                Some(ids)
            }
            Write::Mark { ids, mark, .. } => {
                if *mark == 0 {
                    return Err(Error::invalid_parameters("mark must not be 0"));
                }
                Some(ids)
            }
            Write::CreateGroup { name, ids } => {
                check_group_name(name)?;
                Some(ids)
            }
            Write::RenameGroup { from, to } => {
                check_group_name(from)?;
                check_group_name(to)?;
                None
            }
            Write::DeleteGroup { name } => {
                check_group_name(name)?;
                None
            }
            Write::AddToGroup { name, ids } | Write::RemoveFromGroup { name, ids } => {
                check_group_name(name)?;
                Some(ids)
            }
            Write::Delete { ids } => Some(ids),
            _ => None,
        };
        match ids {
            Some(ids) if ids.len() > MAX_IDS_PER_CALL => Err(Error::invalid_parameters(format!(
                "{} conversation IDs in one call, more than {MAX_IDS_PER_CALL}",
                ids.len()
            ))),
            _ => Ok(()),
        }
    }
}

fn check_group_name(name: &Text) -> Result<()> {
    if name.is_empty() || name.len() > MAX_GROUP_NAME_BYTES {
        return Err(Error::invalid_parameters(format!(
            "conversation group name {} must be 1 to {MAX_GROUP_NAME_BYTES} bytes",
            quote(name.as_str())
        )));
    }
    Ok(())
}

/// A page of the ordered list.
pub struct Page<V> {
    pub conversations: Vec<Arc<V>>,
    /// Where the next page starts; pass it back to continue.
    pub next_cursor: String,
    pub finished: bool,
}

type ListenerList<V> = Vec<(u64, Arc<dyn Listener<V>>)>;

/// The manager's part of an instance's state.
pub struct ManagerState<V> {
    listeners: RwLock<ListenerList<V>>,
    next_listener: AtomicU64,
    /// The next order key to hand out; only used with the store's lock held.
    next_order: Mutex<u64>,
    /// The unread total once known (computing it reads every row, so it is
    /// done on the first write, then kept up to date).
    total_unread: Mutex<Option<u64>>,
    /// Profiles (name, avatar) by conversation ID: temporary conversations
    /// are built from them on the callback thread.
    profiles: RwLock<HashMap<String, (Text, Text)>>,
}

impl<V> ManagerState<V> {
    pub fn open(store: &Store) -> Result<ManagerState<V>> {
        let mut profiles = HashMap::new();
        for (id, name, face) in store.profiles()? {
            profiles.insert(id, (Text::new(&name)?, Text::new(&face)?));
        }
        Ok(ManagerState {
            listeners: RwLock::new(Vec::new()),
            next_listener: AtomicU64::new(1),
            next_order: Mutex::new(store.max_order_key()?.saturating_add(1)),
            total_unread: Mutex::new(None),
            profiles: RwLock::new(profiles),
        })
    }

    /// The conversation getConversation answers for an ID that is not
    /// stored: named after the profile when there is one.
    pub fn temporary(&self, id: ConversationId) -> Conversation {
        let mut c = Conversation::temporary(id);
        if let Some((name, face)) = self.profiles.read().get(c.id.as_str()) {
            if !name.is_empty() {
                c.show_name = name.clone();
            }
            c.face_url = face.clone();
        }
        c
    }

    /// Keeps the order counter above every key written (imports bring
    /// their own keys), so that a conversation that moves goes to the top.
    pub fn saw_order_key(&self, key: u64) {
        let mut next = self.next_order.lock();
        *next = (*next).max(key.saturating_add(1));
    }

    pub fn add_listener(&self, listener: Arc<dyn Listener<V>>) -> u64 {
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        self.listeners.write().push((id, listener));
        id
    }

    /// Whether a listener of that ID was registered.
    pub fn remove_listener(&self, id: u64) -> bool {
        let mut listeners = self.listeners.write();
        let before = listeners.len();
        listeners.retain(|(l, _)| *l != id);
        listeners.len() != before
    }
}

/// A conversation's part of the unread total: none when muted.
fn unread_part(c: Option<&Conversation>) -> u64 {
    match c {
        Some(c) if !matches!(c.recv_opt, 1..=3) => c.unread_count,
        _ => 0,
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One committed change: a conversation before, and its new view (`None`:
/// deleted).
pub(crate) struct Change<V> {
    pub(crate) id: ConversationId,
    pub(crate) before: Option<Conversation>,
    pub(crate) after: Option<Arc<V>>,
}

/// What one write touched: each conversation before and after.
struct Batch {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

struct Entry {
    id: ConversationId,
    before: Option<Conversation>,
    after: Option<Conversation>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The conversation as this write has it so far (loaded on first use).
    fn entry<V: Snapshot>(
        &mut self,
        state: &State<V>,
        w: &Writer,
        id: &ConversationId,
    ) -> Result<&mut Entry> {
        if let Some(&i) = self.index.get(id.as_str()) {
            return Ok(&mut self.entries[i]);
        }
        let current = state.current(w, id)?;
        self.index
            .insert(id.as_str().to_string(), self.entries.len());
        self.entries.push(Entry {
            id: id.clone(),
            before: current.clone(),
            after: current,
        });
        Ok(self.entries.last_mut().expect("just pushed"))
    }

    /// A stored conversation, or an error naming the ID.
    fn stored<V: Snapshot>(
        &mut self,
        state: &State<V>,
        w: &Writer,
        id: &ConversationId,
    ) -> Result<&mut Conversation> {
        self.entry(state, w, id)?.after.as_mut().ok_or_else(|| {
            Error::invalid_parameters(format!("conversation {} is not stored", quote(id.as_str())))
        })
    }
}

impl<V: Snapshot> State<V> {
    /// A conversation as it is now, inside a write (store lock held): from
    /// the cache when it knows, else from the store.
    pub(crate) fn current(&self, w: &Writer, id: &ConversationId) -> Result<Option<Conversation>> {
        match self.cache.probe(id.as_str()) {
            Probe::Stored(v) => Ok(Some(v.conversation().clone())),
            Probe::NotStored => Ok(None),
            Probe::Unknown => w.load(id.as_str()),
        }
    }

    fn bump_order(&self) -> u64 {
        let mut next = self.manager.next_order.lock();
        let key = *next;
        *next = next.saturating_add(1);
        key
    }

    /// Applies one write (already validated by `Engine::write`): all or
    /// nothing, durable when it returns Ok.
    pub(crate) fn apply(&self, op: Write) -> Result<()> {
        // Parse outside the lock.
        let messages = match &op {
            Write::Messages(doc) => json::parse_messages(doc)?,
            _ => Vec::new(),
        };
        let profiles = match &op {
            Write::Profiles(doc) => json::parse_profiles(doc)?,
            _ => Vec::new(),
        };
        self.with_store(|store| {
            self.ensure_total(store)?;
            let mut batch = Batch::new();
            let saved_order = *self.manager.next_order.lock();
            let written = store.write(|w| {
                self.change(w, &op, &messages, &profiles, &mut batch)?;
                for e in &batch.entries {
                    if e.before == e.after {
                        continue;
                    }
                    match &e.after {
                        Some(c) => w.put(c)?,
                        None => w.delete(e.id.as_str())?,
                    }
                }
                Ok(())
            });
            if let Err(e) = written {
                // Nothing was written: hand out the same order keys again.
                *self.manager.next_order.lock() = saved_order;
                return Err(e);
            }
            if let Write::Profiles(_) = op {
                let mut map = self.manager.profiles.write();
                for p in &profiles {
                    map.insert(
                        p.conversation_id.as_str().to_string(),
                        (p.show_name.clone(), p.face_url.clone()),
                    );
                }
            }
            self.publish_batch(batch);
            Ok(())
        })
    }

    /// Changes the batch's conversations in memory (and writes the side
    /// tables through `w`).
    fn change(
        &self,
        w: &mut Writer,
        op: &Write,
        messages: &[IncomingMessage],
        profiles: &[json::ProfileUpdate],
        batch: &mut Batch,
    ) -> Result<()> {
        match op {
            Write::Messages(_) => {
                let mut seen = std::collections::HashSet::new();
                for m in messages {
                    let msg_id = m.message.msg_id.as_str();
                    // The same message twice (a redelivery) changes nothing.
                    if !seen.insert((m.conversation_id.as_str(), msg_id))
                        || w.message_seen(m.conversation_id.as_str(), msg_id)?
                    {
                        continue;
                    }
                    let unread = !m.message.is_self && !m.message.is_read;
                    w.record_message(&AppliedMessage {
                        msg_id,
                        conversation_id: m.conversation_id.as_str(),
                        timestamp: m.message.timestamp,
                        seq: m.message.seq,
                        unread,
                    })?;
                    let entry = batch.entry(self, w, &m.conversation_id)?;
                    let c = entry
                        .after
                        .get_or_insert_with(|| self.manager.temporary(m.conversation_id.clone()));
                    let newer = c.last_message.as_ref().is_none_or(|last| {
                        (m.message.timestamp, m.message.seq) > (last.timestamp, last.seq)
                    });
                    if newer {
                        c.last_message = Some(m.message.clone());
                        c.order_key = self.bump_order();
                    }
                    if unread {
                        c.unread_count = c.unread_count.saturating_add(1);
                    }
                }
            }
            Write::MarkRead { scope, upto } => {
                let ids: Vec<ConversationId> = match scope {
                    ReadScope::One(id) => vec![id.clone()],
                    ReadScope::AllC2c => {
                        parse_ids(w.unread_ids(Some(ConversationType::C2c.as_i32()))?)?
                    }
                    ReadScope::AllGroups => {
                        parse_ids(w.unread_ids(Some(ConversationType::Group.as_i32()))?)?
                    }
                    ReadScope::All => parse_ids(w.unread_ids(None)?)?,
                };
                for id in &ids {
                    let tracked_before = w.unread_messages(id.as_str())?;
                    let left = w.mark_messages_read(id.as_str(), *upto)?;
                    let c = batch.stored(self, w, id)?;
                    let untracked = c.unread_count.saturating_sub(tracked_before);
                    let covers_last = match (upto, &c.last_message) {
                        (ReadUpTo::All, _) | (_, None) => true,
                        (ReadUpTo::Timestamp(t), Some(m)) => m.timestamp <= *t,
                        (ReadUpTo::Sequence(s), Some(m)) => m.seq <= *s,
                    };
                    c.unread_count = left + if covers_last { 0 } else { untracked };
                    match upto {
                        ReadUpTo::All => {
                            if let Some(m) = &c.last_message {
                                match id.kind() {
                                    ConversationType::C2c => {
                                        c.c2c_read_timestamp =
                                            c.c2c_read_timestamp.max(m.timestamp.max(0) as u64)
                                    }
                                    ConversationType::Group => {
                                        c.group_read_sequence = c.group_read_sequence.max(m.seq)
                                    }
                                }
                            }
                            c.group_at_info_list = Box::default();
                        }
                        ReadUpTo::Timestamp(t) => {
                            c.c2c_read_timestamp = c.c2c_read_timestamp.max((*t).max(0) as u64)
                        }
                        ReadUpTo::Sequence(s) => {
                            c.group_read_sequence = c.group_read_sequence.max(*s);
                            c.group_at_info_list = c
                                .group_at_info_list
                                .iter()
                                .filter(|a| a.seq > *s)
                                .copied()
                                .collect();
                        }
                    }
                }
            }
            Write::Draft { id, text } => {
                let order = self.bump_order();
                let c = batch.stored(self, w, id)?;
                if c.draft_text != *text {
                    c.draft_text = text.clone();
                    c.draft_timestamp = if text.is_empty() { 0 } else { now_seconds() };
                    c.order_key = order;
                }
            }
            Write::Pin { id, pinned } => {
                let was = batch.stored(self, w, id)?.is_pinned;
                if *pinned && !was && w.pinned_count()? >= MAX_PINNED {
                    return Err(Error::invalid_parameters(format!(
                        "at most {MAX_PINNED} conversations can be pinned"
                    )));
                }
                batch.stored(self, w, id)?.is_pinned = *pinned;
            }
            Write::RecvOpt { ids, opt } => {
                for i in 0..ids.len() {
                    batch.stored(self, w, &ids.id(i))?.recv_opt = *opt;
                }
            }
            Write::CustomData { ids, data } => {
                for i in 0..ids.len() {
                    batch.stored(self, w, &ids.id(i))?.custom_data = data.clone();
                }
            }
            Write::Mark { ids, mark, enable } => {
                for i in 0..ids.len() {
                    let c = batch.stored(self, w, &ids.id(i))?;
                    let has = c.mark_list.contains(mark);
                    if *enable && !has {
                        c.mark_list = c.mark_list.iter().copied().chain([*mark]).collect();
                    } else if !*enable && has {
                        c.mark_list = c.mark_list.iter().copied().filter(|m| m != mark).collect();
                    }
                }
            }
            Write::CreateGroup { name, ids } => {
                let groups = w.groups()?;
                if groups.iter().any(|(g, _)| g == name.as_str()) {
                    return Err(Error::invalid_parameters(format!(
                        "conversation group {} exists already",
                        quote(name.as_str())
                    )));
                }
                if groups.len() >= MAX_GROUPS {
                    return Err(Error::invalid_parameters(format!(
                        "at most {MAX_GROUPS} conversation groups"
                    )));
                }
                let position = groups.iter().map(|(_, p)| *p).max().unwrap_or(0) + 1;
                w.put_group(name.as_str(), position)?;
                self.add_to_group(w, batch, name, ids)?;
            }
            Write::RenameGroup { from, to } => {
                let groups = w.groups()?;
                let Some(&(_, position)) = groups.iter().find(|(g, _)| g == from.as_str()) else {
                    return Err(missing_group(from));
                };
                if from == to {
                    return Ok(());
                }
                if groups.iter().any(|(g, _)| g == to.as_str()) {
                    return Err(Error::invalid_parameters(format!(
                        "conversation group {} exists already",
                        quote(to.as_str())
                    )));
                }
                w.delete_group(from.as_str())?;
                w.put_group(to.as_str(), position)?;
                for id in parse_ids(w.group_members(from.as_str())?)? {
                    let c = batch.stored(self, w, &id)?;
                    c.conversation_group_list = c
                        .conversation_group_list
                        .iter()
                        .map(|g| if g == from { to.clone() } else { g.clone() })
                        .collect();
                }
            }
            Write::DeleteGroup { name } => {
                if !w.groups()?.iter().any(|(g, _)| g == name.as_str()) {
                    return Err(missing_group(name));
                }
                w.delete_group(name.as_str())?;
                for id in parse_ids(w.group_members(name.as_str())?)? {
                    let c = batch.stored(self, w, &id)?;
                    c.conversation_group_list = c
                        .conversation_group_list
                        .iter()
                        .filter(|g| *g != name)
                        .cloned()
                        .collect();
                }
            }
            Write::AddToGroup { name, ids } => {
                if !w.groups()?.iter().any(|(g, _)| g == name.as_str()) {
                    return Err(missing_group(name));
                }
                self.add_to_group(w, batch, name, ids)?;
            }
            Write::RemoveFromGroup { name, ids } => {
                if !w.groups()?.iter().any(|(g, _)| g == name.as_str()) {
                    return Err(missing_group(name));
                }
                for i in 0..ids.len() {
                    let c = batch.stored(self, w, &ids.id(i))?;
                    c.conversation_group_list = c
                        .conversation_group_list
                        .iter()
                        .filter(|g| *g != name)
                        .cloned()
                        .collect();
                }
            }
            Write::Delete { ids } => {
                for i in 0..ids.len() {
                    batch.entry(self, w, &ids.id(i))?.after = None;
                }
            }
            Write::Profiles(_) => {
                for p in profiles {
                    w.put_profile(
                        p.conversation_id.as_str(),
                        p.show_name.as_str(),
                        p.face_url.as_str(),
                    )?;
                    if let Some(c) = batch.entry(self, w, &p.conversation_id)?.after.as_mut() {
                        c.show_name = if p.show_name.is_empty() {
                            Text::new(p.conversation_id.body())?
                        } else {
                            p.show_name.clone()
                        };
                        c.face_url = p.face_url.clone();
                    }
                }
            }
        }
        Ok(())
    }

    fn add_to_group(&self, w: &Writer, batch: &mut Batch, name: &Text, ids: &IdList) -> Result<()> {
        for i in 0..ids.len() {
            let c = batch.stored(self, w, &ids.id(i))?;
            if !c.conversation_group_list.contains(name) {
                c.conversation_group_list = c
                    .conversation_group_list
                    .iter()
                    .cloned()
                    .chain([name.clone()])
                    .collect();
            }
        }
        Ok(())
    }

    /// After a commit (store lock held): refreshes the cache and queues the
    /// events, exactly one per changed conversation.
    fn publish_batch(&self, batch: Batch) {
        let changes = batch
            .entries
            .into_iter()
            .filter(|e| e.before != e.after)
            .map(|e| Change {
                after: e.after.map(|c| V::build(c, true)),
                id: e.id,
                before: e.before,
            })
            .collect();
        self.publish(changes);
    }

    /// Learns the unread total once (it reads every row), before a write
    /// that keeps it up to date. Store lock held.
    pub(crate) fn ensure_total(&self, store: &Store) -> Result<()> {
        let mut total = self.manager.total_unread.lock();
        if total.is_none() {
            *total = Some(store.unread_total(&ListFilter::default())?);
        }
        Ok(())
    }

    /// Whether writes must report what they change (someone listens).
    pub(crate) fn tracking(&self) -> bool {
        !self.manager.listeners.read().is_empty()
    }

    /// After an import that did not track its changes: the unread total is
    /// no longer known.
    pub(crate) fn forget_total(&self) {
        *self.manager.total_unread.lock() = None;
    }

    /// Refreshes the cache with committed changes and queues their events
    /// (store lock held, so events follow commit order).
    pub(crate) fn publish(&self, changes: Vec<Change<V>>) {
        let mut new = Vec::new();
        let mut changed = Vec::new();
        let mut deleted = Vec::new();
        let mut delta: i128 = 0;
        for c in changes {
            delta += unread_part(c.after.as_deref().map(|v| v.conversation())) as i128
                - unread_part(c.before.as_ref()) as i128;
            match c.after {
                Some(view) => {
                    self.cache.put(c.id.text(), Some(view.clone()));
                    if c.before.is_some() {
                        changed.push(view)
                    } else {
                        new.push(view)
                    }
                }
                None => {
                    self.cache.put(c.id.text(), None);
                    deleted.push(c.id);
                }
            }
        }
        let total = {
            let mut total = self.manager.total_unread.lock();
            match (*total, delta) {
                (Some(t), d) if d != 0 => {
                    let now = (t as i128 + d).max(0) as u64;
                    *total = Some(now);
                    Some(now)
                }
                _ => None,
            }
        };
        if new.is_empty() && changed.is_empty() && deleted.is_empty() && total.is_none() {
            return;
        }
        if self.manager.listeners.read().is_empty() {
            return;
        }
        let events = Events {
            new,
            changed,
            deleted,
            total,
        };
        if let Some(poster) = self.poster.get() {
            poster.execute(Box::new(move |context: &Context| events.deliver(context)));
        }
    }

    /// The unread total of the conversations that pass `filter`.
    pub(crate) fn unread_total(&self, filter: &ListFilter) -> Result<u64> {
        if *filter == ListFilter::default() {
            if let Some(t) = *self.manager.total_unread.lock() {
                return Ok(t);
            }
        }
        self.with_store(|store| store.unread_total(filter))
    }

    /// One page of the ordered (and filtered) list.
    pub(crate) fn page(&self, filter: &ListFilter, cursor: &str, count: usize) -> Result<Page<V>> {
        let after = if cursor.is_empty() {
            None
        } else {
            Some(Cursor::decode(cursor).ok_or_else(|| {
                Error::invalid_parameters(format!("invalid cursor {}", quote(cursor)))
            })?)
        };
        let count = count.clamp(1, MAX_PAGE);
        self.with_store(|store| {
            let mut rows = store.page(filter, after.as_ref(), count + 1)?;
            let finished = rows.len() <= count;
            rows.truncate(count);
            let next_cursor = rows
                .last()
                .map(Cursor::encode)
                .unwrap_or_else(|| cursor.to_string());
            let mut conversations = Vec::with_capacity(rows.len());
            for row in &rows {
                let view = match self.cache.probe(&row.id) {
                    Probe::Stored(v) => v,
                    _ => {
                        let c = store.load(&row.id)?.ok_or_else(|| {
                            Error::internal(format!("listed conversation {} vanished", row.id))
                        })?;
                        let v = V::build(c, true);
                        self.cache.put(v.conversation().id.text(), Some(v.clone()));
                        v
                    }
                };
                conversations.push(view);
            }
            Ok(Page {
                conversations,
                next_cursor,
                finished,
            })
        })
    }

    pub(crate) fn groups(&self) -> Result<Vec<String>> {
        self.with_store(|store| store.groups())
    }
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

/// One write's events, delivered on the callback thread.
struct Events<V> {
    new: Vec<Arc<V>>,
    changed: Vec<Arc<V>>,
    deleted: Vec<ConversationId>,
    total: Option<u64>,
}

impl<V: Snapshot> Events<V> {
    fn deliver(self, context: &Context) {
        let Some(state) = state_of::<V>(context) else {
            return;
        };
        // Listeners as they are now: one removed meanwhile gets nothing.
        let listeners: Vec<Arc<dyn Listener<V>>> = state
            .manager
            .listeners
            .read()
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for l in &listeners {
            if !self.new.is_empty() {
                l.on_new(&self.new);
            }
            if !self.changed.is_empty() {
                l.on_changed(&self.changed);
            }
            if !self.deleted.is_empty() {
                l.on_deleted(&self.deleted);
            }
            if let Some(total) = self.total {
                l.on_total_unread_changed(total);
            }
        }
    }
}
