//! A write's transaction: `State::transact`, the one place writes commit,
//! refresh the cache and raise their events; and `Txn`, what a write sees
//! and changes inside it.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::{apply_profile, Committed, Outcome, State};
use crate::cache::Probe;
use crate::error::{Error, ErrorCode, Result};
use crate::events::{GroupEvent, SyncStage};
use crate::json::ProfileUpdate;
use crate::model::{quote, Conversation, ConversationId, Kept, Snapshot, Text, MAX_GROUPS};
use crate::store::Writer;

impl<V: Snapshot> State<V> {
    /// Runs writes in order, each all or nothing, in one transaction: each
    /// in a unit of its own (a failed one is undone alone), then one commit.
    /// After the commit, the cache is refreshed and each write's events are
    /// built, in order. If the commit itself fails, every write fails.
    pub fn transact<T>(
        &self,
        writes: &mut [T],
        mut apply: impl FnMut(&mut T, &mut Txn<'_, '_, V>) -> Result<usize>,
    ) -> Committed<V> {
        let n = writes.len();
        let fail_all = |e: Error| Committed {
            outcomes: (0..n)
                .map(|_| Outcome {
                    result: Err(e.clone()),
                    events: None,
                })
                .collect(),
            row_changes: 0,
            foreign: None,
        };
        // Fail-stop: after a write whose outcome is unknown, nothing is
        // acknowledged that could build on it.
        if let Err(e) = self.health.check_writable() {
            return fail_all(e);
        }
        let mut guard = self.store.lock();
        let Some(store) = guard.as_mut() else {
            return fail_all(self.closed());
        };
        // Shared: under the write lock, before anything is read, what the
        // other processes committed (its events go first).
        let shared = self.sharing.is_some();
        let mut foreign = None;
        if shared {
            let caught = store
                .begin_write()
                .and_then(|()| self.catch_up_to_write(store));
            match caught {
                Ok(events) => foreign = self.owed(events),
                Err(e) => {
                    store.abandon_write();
                    return fail_all(e);
                }
            }
        }
        // Someone listens: the total must be known to report its changes.
        if !self.listeners.is_empty() {
            if let Err(e) = self.ensure_total(store) {
                store.abandon_write();
                return Committed {
                    foreign,
                    ..fail_all(e)
                };
            }
        }
        // Subscriptions' counts are read before anything is written, so
        // that each write's changes move them from the state it started in.
        let mut filtered = self.subscriptions.begin(|f| store.unread_total(f));
        // Someone listens or counts: every write reads what it replaces
        // (shared or not: an untracked import still logs what it replaced
        // counted, from the row it read on conflict).
        let tracking = !self.listeners.is_empty() || filtered.is_some();
        // A write alone needs no unit: the transaction is its unit.
        let units = writes.len() > 1;
        let first_tick = *self.tick.lock();
        let mut tick = first_tick;
        let mut pending = Pending::default();
        let mut done: Vec<std::result::Result<Done<V>, Error>> = Vec::with_capacity(writes.len());
        let changes_before = store.total_changes();
        let mut logged = None;
        let committed = store.write(|w| {
            for write in writes.iter_mut() {
                if units {
                    w.begin_unit()?;
                }
                let tick_before = tick;
                let mut txn = Txn {
                    state: self,
                    w,
                    pending: &pending,
                    entries: Vec::new(),
                    index: HashMap::new(),
                    tick: &mut tick,
                    profiles: Vec::new(),
                    groups: None,
                    tracking,
                    raised: Raised::default(),
                };
                // The views are built here too, so that a failure (a panic)
                // undoes the write instead of leaving the cache behind.
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let count = apply(write, &mut txn)?;
                    txn.flush()?;
                    Ok((count, txn.changes()))
                }))
                .unwrap_or_else(|_| {
                    Err(Error::internal(
                        "internal error: a panic was caught while applying the write",
                    ))
                });
                let profiles = txn.profiles;
                let raised = txn.raised;
                match result {
                    Ok((count, changes)) => {
                        if units {
                            w.release_unit()?;
                            pending.absorb(&changes, &profiles);
                        }
                        done.push(Ok(Done {
                            count,
                            changes,
                            profiles,
                            raised,
                        }));
                    }
                    // Alone, it rolls the whole transaction back.
                    Err(e) if !units => return Err(e),
                    Err(e) => {
                        w.rollback_unit()?;
                        tick = tick_before;
                        done.push(Err(e));
                    }
                }
            }
            if tick != first_tick {
                w.set_order_tick(tick)?;
            }
            logged = self.log_writes(
                w,
                done.iter().flatten().map(|d| {
                    (
                        d.changes.as_slice(),
                        d.profiles.as_slice(),
                        d.raised.groups.as_slice(),
                    )
                }),
            )?;
            Ok(())
        });
        self.tell_damage(store, committed.as_ref().err());
        for e in done.iter().filter_map(|d| d.as_ref().err()) {
            self.tell_damage(store, Some(e));
        }
        if let Err(e) = committed {
            // The commit's sync failed: its frames may be in the WAL.
            let e = if e.code() == ErrorCode::StoreFailed {
                self.health.fail(&e)
            } else {
                e
            };
            return Committed {
                foreign,
                ..fail_all(e)
            };
        }
        if let Some(seq) = logged {
            self.published(seq);
        }
        let row_changes = store.total_changes() - changes_before;
        *self.tick.lock() = tick;
        let outcomes = done
            .into_iter()
            .map(|d| match d {
                Ok(d) => {
                    if !d.profiles.is_empty() {
                        let mut map = self.profiles.write();
                        for p in &d.profiles {
                            map.insert(
                                p.conversation_id.as_str().to_string(),
                                (p.show_name.clone(), p.face_url.clone()),
                            );
                        }
                    }
                    Outcome {
                        result: Ok(d.count),
                        events: self.publish(d.changes, d.raised, filtered.as_mut()),
                    }
                }
                Err(e) => Outcome {
                    result: Err(e),
                    events: None,
                },
            })
            .collect();
        Committed {
            outcomes,
            row_changes,
            foreign,
        }
    }
}

/// What a committed write leaves for publishing.
pub(super) struct Done<V> {
    count: usize,
    changes: Vec<Change<V>>,
    profiles: Vec<ProfileUpdate>,
    raised: Raised,
}

/// Events a write raises itself, beside the changes of its conversations.
#[derive(Default)]
pub(super) struct Raised {
    pub(super) groups: Vec<GroupEvent<ConversationId>>,
    pub(super) sync: Option<SyncStage>,
}

/// A conversation a write changed: as it was (outer `None`: not read) and
/// its new view (`None`: deleted).
pub(super) struct Change<V> {
    pub(super) id: ConversationId,
    pub(super) before: Option<Option<Conversation>>,
    pub(super) after: Option<Arc<V>>,
    /// See [`Entry::replaced`].
    pub(super) replaced: Option<u64>,
}

/// The changes of the earlier writes of a group, committed with it but not
/// in the cache yet: later writes of the group read through them.
pub(super) struct Pending<V> {
    conversations: HashMap<String, Option<Arc<V>>>,
    profiles: HashMap<String, (Text, Text)>,
}

impl<V> Default for Pending<V> {
    fn default() -> Self {
        Pending {
            conversations: HashMap::new(),
            profiles: HashMap::new(),
        }
    }
}

impl<V> Pending<V> {
    fn absorb(&mut self, changes: &[Change<V>], profiles: &[ProfileUpdate]) {
        for c in changes {
            self.conversations
                .insert(c.id.as_str().to_string(), c.after.clone());
        }
        for p in profiles {
            self.profiles.insert(
                p.conversation_id.as_str().to_string(),
                (p.show_name.clone(), p.face_url.clone()),
            );
        }
    }
}

/// One conversation a write touches: as it was before the write (`None`
/// inside: not stored; outer `None`: not read, see [`Txn::replace`]) and as
/// the write leaves it (`None`: deleted or never stored).
pub struct Entry {
    pub id: ConversationId,
    pub before: Option<Option<Conversation>>,
    pub after: Option<Conversation>,
    /// Replaced without being read ([`Txn::replace`] untracked): the
    /// stored conversation it replaced counted this much in the unread
    /// total (`None`: there was none, or `before` says).
    pub replaced: Option<u64>,
    /// Written to the store as it is now.
    written: bool,
}

/// One write inside [`State::transact`]: reads conversations as this write
/// has them so far, and collects what it changes. The store is written
/// through `w`; conversations are written when the write succeeds.
pub struct Txn<'g, 'w, V: Snapshot> {
    state: &'g State<V>,
    pub(super) w: &'g mut Writer<'w>,
    pending: &'g Pending<V>,
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    tick: &'g mut u64,
    profiles: Vec<ProfileUpdate>,
    /// The conversation groups (name, position), once read.
    groups: Option<Vec<(String, i64)>>,
    tracking: bool,
    raised: Raised,
}

impl<V: Snapshot> Txn<'_, '_, V> {
    /// This instance's user ID.
    pub fn user_id(&self) -> &str {
        &self.state.user_id
    }

    /// A conversation as it is now: as earlier writes of the group left it,
    /// else from the cache when it knows, else from the store.
    fn current(&self, id: &ConversationId) -> Result<Option<Conversation>> {
        if let Some(c) = self.pending.conversations.get(id.as_str()) {
            return Ok(c.as_deref().map(|v| v.conversation().clone()));
        }
        match self.state.cache.probe(id.as_str()) {
            Probe::Stored(v) => Ok(Some(v.conversation().clone())),
            Probe::NotStored => Ok(None),
            Probe::Unknown => self.w.load(id.as_str()),
        }
    }

    /// The conversation as this write has it so far (read on first use).
    pub fn entry(&mut self, id: &ConversationId) -> Result<&mut Entry> {
        if let Some(&i) = self.index.get(id.as_str()) {
            return Ok(&mut self.entries[i]);
        }
        let current = self.current(id)?;
        Ok(self.push(id, Some(current.clone()), current))
    }

    fn push(
        &mut self,
        id: &ConversationId,
        before: Option<Option<Conversation>>,
        after: Option<Conversation>,
    ) -> &mut Entry {
        self.index
            .insert(id.as_str().to_string(), self.entries.len());
        self.entries.push(Entry {
            id: id.clone(),
            before,
            after,
            replaced: None,
            written: false,
        });
        self.entries.last_mut().expect("just pushed")
    }

    /// The conversation for a write that replaces it whole (an import, a
    /// sync's element, a delete): a damaged one counts as not stored, and
    /// its row goes now, so that the write repairs it.
    pub fn entry_replacing(&mut self, id: &ConversationId) -> Result<&mut Entry> {
        if let Some(&i) = self.index.get(id.as_str()) {
            return Ok(&mut self.entries[i]);
        }
        let current = match self.current(id) {
            Err(e) if e.code() == ErrorCode::StoreDamaged => {
                crate::log::warn(format_args!("{}: replaced whole", e.message()));
                self.w.delete(id.as_str())?;
                self.w.repaired.push(id.as_str().to_string());
                None
            }
            current => current?,
        };
        Ok(self.push(id, Some(current.clone()), current))
    }

    /// A stored conversation, or an error naming the ID.
    pub fn stored(&mut self, id: &ConversationId) -> Result<&mut Conversation> {
        self.entry(id)?.after.as_mut().ok_or_else(|| {
            Error::invalid_parameters(format!("conversation {} is not stored", quote(id.as_str())))
        })
    }

    /// Replaces a conversation whole and writes it at once (an import, so
    /// that the store writes while the next elements are parsed). With
    /// nobody listening, what it replaces is not read: nothing needs it.
    /// What it replaces keeps what [`Kept`] says (`placed`: its order key
    /// is its activity time and a fresh tick).
    pub fn replace(&mut self, c: Conversation, placed: bool) -> Result<()> {
        let mut c = c;
        if !self.tracking {
            let mut replaced = None;
            if let Some(kept) = self.w.insert_or_read(&c)? {
                replaced = Some(kept.unread_part);
                kept.keep_in(&mut c, placed);
                self.w.put_replacing(&c)?;
            }
            // Not indexed either: a repeated ID is simply written again,
            // and the later entry wins in the cache as in the store.
            self.entries.push(Entry {
                id: c.id.clone(),
                before: None,
                after: Some(c),
                replaced,
                written: true,
            });
            return Ok(());
        }
        // What it replaces is read first, then it is written.
        let i = match self.index.get(c.id.as_str()) {
            Some(&i) => i,
            None => {
                self.entry_replacing(&c.id.clone())?;
                self.entries.len() - 1
            }
        };
        if let Some(Some(before)) = &self.entries[i].before {
            Kept::of(before).keep_in(&mut c, placed);
        }
        self.w.put_replacing(&c)?;
        let entry = &mut self.entries[i];
        entry.after = Some(c);
        entry.written = true;
        Ok(())
    }

    /// Writes (or deletes) every conversation whose state differs from
    /// before and is not written yet. Runs when the write succeeds, and
    /// before a check that reads the store (the pinned count).
    pub fn flush(&mut self) -> Result<()> {
        for e in &mut self.entries {
            if e.written || e.before.as_ref() == Some(&e.after) {
                continue;
            }
            match &e.after {
                Some(c) => self.w.put(c)?,
                None => self.w.delete(e.id.as_str())?,
            }
            e.written = true;
        }
        Ok(())
    }

    /// What this write changed, with the new views built.
    fn changes(&mut self) -> Vec<Change<V>> {
        std::mem::take(&mut self.entries)
            .into_iter()
            .filter(|e| e.before.as_ref() != Some(&e.after))
            .map(|e| Change {
                id: e.id,
                before: e.before,
                after: e.after.map(|c| V::build(c, true)),
                replaced: e.replaced,
            })
            .collect()
    }

    /// The next order tick (see `model::order_key`).
    pub fn next_tick(&mut self) -> u32 {
        *self.tick += 1;
        *self.tick as u32
    }

    /// A new conversation for `id` (a message or a sync creates it): named
    /// after its profile, the user or group ID without one.
    pub fn new_conversation(&self, id: &ConversationId) -> Conversation {
        let mut c = Conversation::temporary(id.clone());
        if let Some((name, face)) = self.profile(id) {
            apply_profile(&mut c, &name, &face);
        }
        c
    }

    /// The name a conversation shows when it has none of its own: its
    /// profile's, else the user or group ID (never empty).
    pub fn fallback_name(&self, id: &ConversationId) -> Text {
        match self.profile(id) {
            Some((name, _)) if !name.is_empty() => name,
            _ => Text::new(id.body()).unwrap_or_default(),
        }
    }

    /// The newest profile of a user or group (name, avatar): this write's,
    /// else its group's, else the committed one.
    fn profile(&self, id: &ConversationId) -> Option<(Text, Text)> {
        self.profiles
            .iter()
            .rev()
            .find(|p| p.conversation_id == *id)
            .map(|p| (p.show_name.clone(), p.face_url.clone()))
            .or_else(|| self.pending.profiles.get(id.as_str()).cloned())
            .or_else(|| self.state.profiles.read().get(id.as_str()).cloned())
    }

    /// Records a profile, and applies it to its conversation when stored.
    pub fn put_profile(&mut self, p: ProfileUpdate) -> Result<()> {
        self.w.put_profile(
            p.conversation_id.as_str(),
            p.show_name.as_str(),
            p.face_url.as_str(),
        )?;
        if let Some(c) = self.entry(&p.conversation_id)?.after.as_mut() {
            apply_profile(c, &p.show_name, &p.face_url);
        }
        self.profiles.push(p);
        Ok(())
    }

    /// The conversation groups (name, position) in creation order.
    pub fn groups(&mut self) -> Result<&mut Vec<(String, i64)>> {
        if self.groups.is_none() {
            self.groups = Some(self.w.groups()?);
        }
        Ok(self.groups.as_mut().expect("just read"))
    }

    /// Creates a conversation group at the end; fails if it exists or there
    /// are already 20.
    pub fn create_group(&mut self, name: &str) -> Result<()> {
        let groups = self.groups()?;
        if groups.iter().any(|(g, _)| g == name) {
            return Err(Error::invalid_parameters(format!(
                "conversation group {} exists already",
                quote(name)
            )));
        }
        if groups.len() >= MAX_GROUPS {
            return Err(Error::invalid_parameters(format!(
                "at most {MAX_GROUPS} conversation groups (creating {})",
                quote(name)
            )));
        }
        let position = groups.iter().map(|(_, p)| *p).max().unwrap_or(0) + 1;
        groups.push((name.to_string(), position));
        self.w.put_group(name, position)
    }

    /// Creates those of `names` that are not conversation groups yet.
    pub fn ensure_groups(&mut self, names: &[Text]) -> Result<()> {
        for name in names {
            if !self.groups()?.iter().any(|(g, _)| g == name.as_str()) {
                self.create_group(name.as_str())?;
            }
        }
        Ok(())
    }

    /// Renames or deletes a group in the list this write keeps.
    pub fn forget_groups(&mut self) {
        self.groups = None;
    }

    /// Raises a conversation group event when the write commits (naming
    /// the conversations it changed among `conversations`).
    pub fn raise_group(&mut self, event: GroupEvent<ConversationId>) {
        self.raised.groups.push(event);
    }

    /// Raises a sync stage when the write commits.
    pub fn raise_sync(&mut self, stage: SyncStage) {
        self.raised.sync = Some(stage);
    }
}
