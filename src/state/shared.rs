//! Several instances on one store (`"shared"`), and suspension.
//!
//! A shared instance's writes log what they changed (`store::changes`) in
//! their own transaction and, once committed and before their callbacks,
//! raise the change counter every process maps (`crate::shared_map`). An
//! instance whose copy of the counter differs from the mapped one catches
//! up before it answers: it reads the log past the last change it applied,
//! in one snapshot with the rows those changes name, refreshes its cache,
//! profiles, unread total and subscriptions, and builds the events its
//! listeners are owed. A write catches up under the write lock, before it
//! reads anything, so every rule of a single instance holds across
//! processes (read positions only move forward, a message counts once).
//!
//! Suspension closes every connection and lock; resuming opens them again
//! and catches up (a store that is not shared reloads whole: nothing logs
//! what another instance wrote meanwhile).

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use super::opening::open_store;
use super::txn::Change;
use super::{optional, unread_part, State};
use crate::cache::Probe;
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Events, GroupEvent};
use crate::json::ProfileUpdate;
use crate::model::{saturated, ConversationId, ListFilter, Snapshot, Text};
use crate::platform;
use crate::shared_map::{MapSlot, SharedMap};
use crate::store::changes::{ChangeKind, LoggedChange, Since, CHANGES_FILE};
use crate::store::{Store, Writer};

/// What a shared instance keeps to follow the others.
pub(crate) struct Sharing {
    map: MapSlot,
    /// The mapped counter's value this instance has caught up to: the hot
    /// path compares the two.
    known: AtomicU64,
    /// The last logged change applied (moved with the store's lock held).
    pos: AtomicU64,
}

impl Sharing {
    /// At open (store lock held, nothing cached yet): follows from the
    /// log's end.
    pub(super) fn open(dir: &Path, store: &Store) -> Result<Sharing> {
        let map = map_counter(dir)?;
        let pos = store.last_change()?;
        // A counter file made again (deleted by hand) starts at 0: raised
        // to the log's end, so that every instance's check stays cheap.
        if map.counter() < pos {
            map.publish(pos);
        }
        Ok(Sharing {
            known: AtomicU64::new(map.counter()),
            map: MapSlot::new(map),
            pos: AtomicU64::new(pos),
        })
    }

    /// The mapped counter, for the engine's idle watcher.
    pub(crate) fn map(&self) -> &SharedMap {
        self.map.get()
    }
}

fn map_counter(dir: &Path) -> Result<SharedMap> {
    let path = dir.join(CHANGES_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(platform::NO_FOLLOW)
        .open(&path)
        .map_err(|e| Error::from(e).context(format_args!("opening {}", path.display())))?;
    SharedMap::map(&file)
        .map_err(|e| Error::from(e).context(format_args!("mapping {}", path.display())))
}

impl<V: Snapshot> State<V> {
    /// Another process wrote since this instance last looked: one atomic
    /// load (false for an instance that is not shared).
    pub fn is_stale(&self) -> bool {
        self.sharing
            .as_ref()
            .is_some_and(|s| s.map.get().counter() != s.known.load(Ordering::Acquire))
    }

    /// The shared counter, for the engine's idle watcher (`None`: not
    /// shared).
    pub(crate) fn sharing(&self) -> Option<&Sharing> {
        self.sharing.as_ref()
    }

    pub fn is_suspended(&self) -> bool {
        self.suspended.load(Ordering::Acquire)
    }

    /// `Suspended` while the instance is suspended.
    pub fn refuse_if_suspended(&self) -> Result<()> {
        if self.is_suspended() {
            return Err(suspended());
        }
        Ok(())
    }

    /// Catches up with what other processes wrote (see the module): the
    /// events owed to listeners, if any.
    pub fn catch_up(&self) -> Result<Option<Events<V>>> {
        if self.sharing.is_none() {
            return Ok(None);
        }
        self.with_store(|store| store.read_snapshot(|store| self.catch_up_locked(store)))
            .map(|events| self.owed(events))
    }

    /// Events worth posting: some, and someone listens.
    pub(super) fn owed(&self, events: Events<V>) -> Option<Events<V>> {
        (!events.is_empty() && !self.listeners.is_empty()).then_some(events)
    }

    /// [`State::catch_up`] with the store's lock held, inside a snapshot
    /// (a read, or a write's transaction before it writes).
    pub(super) fn catch_up_locked(&self, store: &Store) -> Result<Events<V>> {
        let Some(sharing) = &self.sharing else {
            return Ok(Events::default());
        };
        // Read before the snapshot's first read: every change it counts
        // committed before, so the snapshot holds it.
        let counter = sharing.map.get().counter();
        let mut events = Events::default();
        match store.changes_since(sharing.pos.load(Ordering::Acquire))? {
            Since::Changes(list) => {
                if let Some(last) = list.last() {
                    let last = last.seq;
                    self.apply_logged(store, list, &mut events)?;
                    sharing.pos.store(last, Ordering::Release);
                }
            }
            Since::Reload(last) => {
                self.reload_whole(store, &mut events)?;
                sharing.pos.store(last, Ordering::Release);
            }
        }
        sharing.known.store(counter, Ordering::Release);
        Ok(events)
    }

    /// [`State::catch_up_locked`] for a write, under the write lock: the
    /// order tick is read again only when another process wrote (a lone
    /// write's check is then one query: the log's last seq).
    pub(super) fn catch_up_to_write(&self, store: &Store) -> Result<Events<V>> {
        let Some(sharing) = &self.sharing else {
            return Ok(Events::default());
        };
        let pos = sharing.pos.load(Ordering::Acquire);
        let events = self.catch_up_locked(store)?;
        if sharing.pos.load(Ordering::Acquire) != pos {
            *self.tick.lock() = store.order_tick()?;
        }
        Ok(events)
    }

    /// The logged changes into the cache, profiles, total and
    /// subscriptions, and their events.
    fn apply_logged(
        &self,
        store: &Store,
        list: Vec<LoggedChange>,
        events: &mut Events<V>,
    ) -> Result<()> {
        let listening = !self.listeners.is_empty();
        // Each conversation once, as it was before the first change and
        // as it is now.
        let mut order: Vec<(String, bool)> = Vec::new();
        let mut seen = HashMap::new();
        let mut delta: i128 = 0;
        let mut groups = Vec::new();
        for c in list {
            match c.kind {
                ChangeKind::Conversation => {
                    delta += c.unread_after as i128 - c.unread_before as i128;
                    if seen.insert(c.id.clone(), ()).is_none() {
                        order.push((c.id, c.existed));
                    }
                }
                ChangeKind::Profile => match store.profile(&c.id)? {
                    Some((name, face)) => {
                        self.profiles
                            .write()
                            .insert(c.id, (Text::new(&name)?, Text::new(&face)?));
                    }
                    None => {
                        self.profiles.write().remove(&c.id);
                    }
                },
                ChangeKind::Group => groups.extend(c.payload.as_deref().and_then(decode_group)),
                ChangeKind::Reset => {}
            }
        }
        let mut views: HashMap<String, Arc<V>> = HashMap::new();
        for (id, existed) in order {
            let cached = !matches!(self.cache.probe(&id), Probe::Unknown);
            if !listening && !cached {
                continue;
            }
            let cid = ConversationId::parse(&id)?;
            match store.load(&id) {
                Ok(Some(c)) => {
                    let v = V::build(c, true);
                    self.cache.put(cid.text(), Some(v.clone()));
                    if existed {
                        events.changed.push(v.clone());
                    } else {
                        events.new.push(v.clone());
                    }
                    views.insert(id, v);
                }
                Ok(None) => {
                    self.cache.put(cid.text(), None);
                    if existed {
                        events.deleted.push(cid);
                    }
                }
                Err(e) if e.code() == ErrorCode::StoreDamaged => {
                    // Its old view must not stay: the cache starts over.
                    self.health.damaged(Some(&id), &e);
                    self.cache.clear();
                }
                Err(e) => return Err(e),
            }
        }
        {
            let mut total = self.total_unread.lock();
            if let (Some(t), true) = (*total, delta != 0) {
                let now = (t as i128 + delta).max(0) as u128;
                *total = Some(now);
                if saturated(now) != saturated(t) {
                    events.total = Some(saturated(now));
                }
            }
        }
        events.groups = groups
            .into_iter()
            .map(|g| g.map(|id| views.get(id.as_str()).cloned()))
            .filter(|g| !g.is_empty())
            .collect();
        events.filtered = self.subscriptions.recount(|f| store.unread_total(f));
        Ok(())
    }

    /// Forgets what the instance keeps of the store and reads it again:
    /// the log cannot say what changed (see `store::changes`). Listeners
    /// hear of the unread total and subscriptions' counts that moved; no
    /// conversation event (the host reloads what it shows: documented).
    pub(super) fn reload_whole(&self, store: &Store, events: &mut Events<V>) -> Result<()> {
        crate::log::info(format_args!(
            "another instance rewrote the store, or this one fell behind its log: everything \
             is read again"
        ));
        self.cache.clear();
        let mut profiles = HashMap::new();
        for (id, name, face) in store.profiles()? {
            profiles.insert(id, (Text::new(&name)?, Text::new(&face)?));
        }
        *self.profiles.write() = profiles;
        {
            let mut total = self.total_unread.lock();
            if let Some(t) = *total {
                let now = store.unread_total(&ListFilter::default())?;
                *total = Some(now);
                if saturated(now) != saturated(t) {
                    events.total = Some(saturated(now));
                }
            }
        }
        events.filtered = self.subscriptions.recount(|f| store.unread_total(f));
        Ok(())
    }

    /// Inside a write's transaction, before it commits: logs what the
    /// group's committed writes changed; returns the last seq (`None`:
    /// nothing logged, or not shared).
    pub(super) fn log_writes<'a>(
        &self,
        w: &Writer,
        writes: impl Iterator<
            Item = (
                &'a [Change<V>],
                &'a [ProfileUpdate],
                &'a [GroupEvent<ConversationId>],
            ),
        >,
    ) -> Result<Option<u64>>
    where
        V: 'a,
    {
        if self.sharing.is_none() {
            return Ok(None);
        }
        let mut rows = Vec::new();
        for (changes, profiles, groups) in writes {
            for c in changes {
                let before = c.before.as_ref().and_then(Option::as_ref);
                let after = c.after.as_deref().map(V::conversation);
                rows.push(LoggedChange {
                    seq: 0,
                    kind: ChangeKind::Conversation,
                    id: c.id.as_str().to_string(),
                    existed: before.is_some() || c.replaced.is_some(),
                    unread_before: c.replaced.unwrap_or_else(|| unread_part(before)),
                    unread_after: unread_part(after),
                    payload: None,
                });
            }
            for p in profiles {
                rows.push(logged(
                    ChangeKind::Profile,
                    p.conversation_id.as_str(),
                    None,
                ));
            }
            for g in groups {
                rows.push(logged(ChangeKind::Group, "", Some(encode_group(g))));
            }
        }
        w.log_changes(&rows)
    }

    /// After a commit that logged up to `seq`: this instance has it (all
    /// before it was caught up inside the transaction), then every process
    /// may learn of it.
    pub(super) fn published(&self, seq: u64) {
        if let Some(s) = &self.sharing {
            s.pos.store(seq, Ordering::Release);
            s.known.store(seq, Ordering::Release);
            s.map.get().publish(seq);
        }
    }

    /// Closes every connection, file and lock of the store; the cache
    /// stays. Waits for the read or write holding the store.
    pub fn suspend(&self) {
        let mut guard = self.store.lock();
        self.suspended.store(true, Ordering::Release);
        drop(self.reader.lock().take());
        drop(guard.take());
    }

    /// Opens the store again after [`State::suspend`] and catches up: the
    /// events owed. A store that is not shared is read again whole.
    pub fn resume(&self) -> Result<Option<Events<V>>> {
        let mut guard = self.store.lock();
        if guard.is_some() {
            return Ok(None);
        }
        let dir = self.config.store_dir();
        let (store, _) = open_store(&self.config, dir.as_deref())?;
        if let (Some(s), Some(dir)) = (&self.sharing, &dir) {
            // The store deleted and made again meanwhile: a new counter.
            let moved = std::fs::metadata(dir.join(CHANGES_FILE))
                .map(|m| !s.map.get().maps(&m))
                .unwrap_or(true);
            if moved {
                s.map.replace(map_counter(dir)?);
            }
        }
        *self.tick.lock() = store.order_tick()?;
        let events = if self.sharing.is_some() {
            store.read_snapshot(|store| self.catch_up_locked(store))?
        } else {
            let mut events = Events::default();
            self.reload_whole(&store, &mut events)?;
            events
        };
        *self.reader.lock() = optional("reader", store.reader());
        *guard = Some(store);
        self.suspended.store(false, Ordering::Release);
        Ok(self.owed(events))
    }
}

/// The error of a call made while suspended.
pub fn suspended() -> Error {
    Error::new(
        ErrorCode::Suspended,
        "the instance is suspended (imconv_suspend): it holds no file of the store; call \
         imconv_resume first",
    )
}

fn logged(kind: ChangeKind, id: &str, payload: Option<String>) -> LoggedChange {
    LoggedChange {
        seq: 0,
        kind,
        id: id.to_string(),
        existed: false,
        unread_before: 0,
        unread_after: 0,
        payload,
    }
}

fn encode_group(g: &GroupEvent<ConversationId>) -> String {
    fn ids(list: &[ConversationId]) -> Vec<&str> {
        list.iter().map(ConversationId::as_str).collect()
    }
    match g {
        GroupEvent::Created {
            name,
            conversations,
        } => json!({"k": "created", "a": name.as_str(), "ids": ids(conversations)}),
        GroupEvent::Deleted { name } => json!({"k": "deleted", "a": name.as_str()}),
        GroupEvent::Renamed { from, to } => {
            json!({"k": "renamed", "a": from.as_str(), "b": to.as_str()})
        }
        GroupEvent::Added {
            name,
            conversations,
        } => json!({"k": "added", "a": name.as_str(), "ids": ids(conversations)}),
        GroupEvent::Removed {
            name,
            conversations,
        } => json!({"k": "removed", "a": name.as_str(), "ids": ids(conversations)}),
    }
    .to_string()
}

fn decode_group(payload: &str) -> Option<GroupEvent<ConversationId>> {
    let v: Value = serde_json::from_str(payload).ok()?;
    let text = |k: &str| Text::new(v.get(k)?.as_str()?).ok();
    let ids = || -> Option<Vec<ConversationId>> {
        v.get("ids")?
            .as_array()?
            .iter()
            .map(|i| ConversationId::parse(i.as_str()?).ok())
            .collect()
    };
    Some(match v.get("k")?.as_str()? {
        "created" => GroupEvent::Created {
            name: text("a")?,
            conversations: ids()?,
        },
        "deleted" => GroupEvent::Deleted { name: text("a")? },
        "renamed" => GroupEvent::Renamed {
            from: text("a")?,
            to: text("b")?,
        },
        "added" => GroupEvent::Added {
            name: text("a")?,
            conversations: ids()?,
        },
        "removed" => GroupEvent::Removed {
            name: text("a")?,
            conversations: ids()?,
        },
        _ => return None,
    })
}
