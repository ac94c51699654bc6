//! One instance's state: the store, the cache in front of it, the
//! listeners, the order tick, the unread total and the profiles; and the one
//! place that commits writes ([`State::transact`], in `txn`): it takes the store's
//! lock, runs each write in a unit of its own inside one transaction,
//! commits, refreshes the cache and builds each write's events.
//!
//! Reads (lookups that miss the cache, pages, totals, groups) take the
//! store's lock too; cached lookups never do. The cache is written only with
//! the lock held and only after a commit, so it never shows what is not
//! committed.
//!
//! The state runs on the thread that calls it: it starts no thread, holds
//! no runtime and posts nothing (that is the engine's). The one exception
//! is inside a write: a large import parses on a scoped helper thread
//! (`write::documents`), joined before the write returns.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::cache::{Cache, Probe};
use crate::config::{Config, OnDamage};
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Events, Listeners, StoreProblem};
use crate::key::StoreKey;
use crate::model::{
    quote, saturated, Conversation, ConversationId, IdList, ListFilter, Snapshot, Text,
};
use crate::store::checksum::{damaged_id, index_damage, is_index_damage};
use crate::store::{
    adopt_legacy_folder, rebuild_damaged, restore_from_backup, sort_order, Cursor, Reader, Store,
};
use crate::subscriptions::Subscriptions;

mod health;
mod opening;
mod publish;
mod shared;
mod store_calls;
#[cfg(test)]
mod tests;
mod txn;
mod upkeep;

pub use health::Health;
pub use opening::delete_user_store;
use opening::open_store;
pub use shared::suspended;
pub use txn::*;

/// Most conversations in one page.
pub const MAX_PAGE: usize = 1000;

/// A page's count: 1 to [`MAX_PAGE`], else refused (the one page-size
/// rule of every layer).
pub fn page_count(count: usize) -> Result<usize> {
    if (1..=MAX_PAGE).contains(&count) {
        Ok(count)
    } else {
        Err(Error::invalid_parameters(format!(
            "count must be 1 to {MAX_PAGE} conversations a page (got {count})"
        )))
    }
}

pub struct State<V: Snapshot> {
    /// Damage found and failed syncs: told once each; a failed sync
    /// refuses every later write.
    pub(crate) health: Arc<Health>,
    /// The order index was audited (see [`State::page`]).
    index_audited: std::sync::atomic::AtomicBool,
    /// Reads pages beside the writer (`None` in memory).
    reader: Mutex<Option<Reader>>,
    /// Pages the reader answered (the rest went to the writer's connection).
    pub(crate) pages_beside_writer: AtomicU64,
    /// This instance's user: group messages that @-mention them count.
    pub(crate) user_id: String,
    pub(crate) cache: Cache<V>,
    /// `None` once closed. The cache is only written with this held.
    store: Mutex<Option<Store>>,
    pub(crate) listeners: Listeners<V>,
    /// Unread counts by filter the host subscribed to.
    pub(crate) subscriptions: Subscriptions,
    /// The last order tick handed out (see `model::order_key`); persisted
    /// with every commit that hands out ticks.
    tick: Mutex<u64>,
    /// The unread total once known (computing it reads every row, so it is
    /// done only when someone listens or asks, then kept up to date by every
    /// write; an import with nobody listening forgets it). Exact, as a sum
    /// of u64 counts; callers see it saturated ([`saturated`]).
    total_unread: Mutex<Option<u128>>,
    /// Profiles (name, avatar) by conversation ID: temporary conversations
    /// are built from them on the callback thread.
    profiles: RwLock<HashMap<String, (Text, Text)>>,
    /// `"shared"`: how this instance follows the others (see `shared`).
    sharing: Option<shared::Sharing>,
    /// Suspended (`State::suspend`): the store is closed until resumed.
    suspended: std::sync::atomic::AtomicBool,
    /// What the store was opened with, to open it again on resume.
    config: Config,
}

/// A page of the ordered list.
pub struct Page<V> {
    pub conversations: Vec<Arc<V>>,
    /// Where the next page starts; pass it back to continue.
    pub next_cursor: String,
    pub finished: bool,
}

/// What one transaction of writes produced.
pub struct Committed<V> {
    /// Each write's outcome, in order.
    pub outcomes: Vec<Outcome<V>>,
    /// Rows the commit changed (0 when it failed): what the WAL grew by,
    /// for the engine's checkpoints and syncs.
    pub row_changes: u64,
    /// Shared: the events of other processes' writes, caught up before
    /// this transaction (delivered before its own).
    pub foreign: Option<Events<V>>,
}

/// What one write of a group produced.
pub struct Outcome<V> {
    /// The write's own result (a count of elements, where it has one).
    pub result: Result<usize>,
    /// Its events, when it changed something and someone listens.
    pub events: Option<Events<V>>,
}

impl<V: Snapshot> State<V> {
    /// Opens the store and reads what the state keeps in memory.
    pub fn open(config: &Config) -> Result<State<V>> {
        let dir = config.store_dir();
        if let (Some(dir), Some(legacy), false) =
            (&dir, config.legacy_store_dir(), config.read_only)
        {
            adopt_legacy_folder(&legacy, dir)?;
        }
        if let (Some(dir), Some(from)) = (&dir, &config.restore_from) {
            restore_from_backup(dir, from, &config.user_id, config.encryption_key.as_ref())?;
        }
        let health = Arc::new(Health::default());
        let (store, profiles) = match open_store(config, dir.as_deref()) {
            Err(e)
                if e.code() == ErrorCode::StoreDamaged
                    && config.on_damage == OnDamage::Rebuild
                    && !config.read_only =>
            {
                let Some(dir) = dir.as_deref() else {
                    return Err(e);
                };
                crate::log::warn(format_args!("{}: rebuilding it", e.message()));
                let rebuilt = rebuild_damaged(
                    dir,
                    &config.user_id,
                    config.durability,
                    config.encryption_key.as_ref(),
                )?;
                health.report(
                    "rebuilt",
                    StoreProblem {
                        code: ErrorCode::StoreDamaged,
                        message: format!(
                            "the store was damaged ({}) and rebuilt: {} conversations salvaged, \
                             {} lost (listed); the damaged files are kept as {}: sync with the \
                             server in full",
                            e.message(),
                            rebuilt.salvaged,
                            rebuilt.lost.len(),
                            rebuilt.aside.display()
                        ),
                        ids: rebuilt.lost,
                    },
                );
                open_store(config, Some(dir))?
            }
            opened => opened?,
        };
        let sharing = match (&dir, config.shared) {
            (Some(dir), true) => Some(shared::Sharing::open(dir, &store)?),
            _ => None,
        };
        // For speed only: without it pages are read on the writer's
        // connection.
        let reader = Mutex::new(optional("reader", store.reader()));
        Ok(State {
            health,
            index_audited: (config.on_damage == OnDamage::Rebuild && !config.read_only).into(),
            reader,
            pages_beside_writer: AtomicU64::new(0),
            user_id: config.user_id.clone(),
            cache: Cache::new(config.cache_capacity),
            tick: Mutex::new(store.order_tick()?),
            store: Mutex::new(Some(store)),
            listeners: Listeners::default(),
            subscriptions: Subscriptions::default(),
            total_unread: Mutex::new(None),
            profiles: RwLock::new(profiles),
            sharing,
            suspended: false.into(),
            config: config.clone(),
        })
    }

    /// A consistent copy of the whole store, as committed now, to `path`
    /// (see `Store::backup_to`). Store lock held: no write commits during
    /// it; reads from the cache go on.
    pub fn backup(&self, path: &Path) -> Result<()> {
        self.with_store(|store| store.backup_to(path))
    }

    /// Re-encrypts the store with `key` (`None`: plain; see
    /// `Store::rekey`), in the write order. The reader connection closes
    /// first and opens again after; the caller has closed the checkpoint
    /// connection (and opens a new one after, with [`State::checkpointer`]).
    /// Lookups from the cache go on meanwhile.
    pub fn rekey(&self, key: Option<StoreKey>) -> Result<()> {
        if self.sharing.is_some() {
            return Err(Error::invalid_parameters(
                "a \"shared\" store is not rekeyed: other processes have it open with its key; \
                 rekey it from an instance opened without \"shared\" while no other is open",
            ));
        }
        self.with_store(|store| {
            let mut reader = self.reader.lock();
            drop(reader.take());
            let result = store.rekey(key);
            *reader = optional("reader", store.reader());
            result
        })
    }

    /// Closes the store; later calls fail with `Shutdown`.
    pub fn close(&self) {
        drop(self.reader.lock().take());
        drop(self.store.lock().take());
    }

    /// Audits the order index once, before the first page (see
    /// `Store::audit_order_index`). Store lock held.
    fn audit_index(&self, store: &mut Store) -> Result<()> {
        if !self.index_audited.load(Ordering::Acquire) {
            store.audit_order_index()?;
            self.index_audited.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Runs `f` on the store (its lock held); damage it found is told.
    pub(crate) fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> Result<R>) -> Result<R> {
        let mut guard = self.store.lock();
        let store = guard.as_mut().ok_or_else(|| self.closed())?;
        let result = f(store);
        self.tell_damage(store, result.as_ref().err());
        result
    }

    /// Why the store is not there: suspended, or closed for good.
    pub(super) fn closed(&self) -> Error {
        if self.is_suspended() {
            shared::suspended()
        } else {
            Error::shutdown()
        }
    }

    /// Tells the damage the store passed over, and the damage `failed`
    /// names (once each).
    pub(super) fn tell_damage(&self, store: &Store, failed: Option<&Error>) {
        for id in store.take_repaired() {
            self.health.repaired(&id);
        }
        for e in store.take_damage() {
            self.health.damaged(damaged_id(&e), &e);
        }
        if let Some(e) = failed.filter(|e| e.code() == ErrorCode::StoreDamaged) {
            self.health.damaged(damaged_id(e), e);
        }
    }

    /// The conversation getConversation answers for an ID that is not
    /// stored: named after the profile when there is one.
    pub fn temporary(&self, id: ConversationId) -> Conversation {
        let mut c = Conversation::temporary(id);
        if let Some((name, face)) = self.profiles.read().get(c.id.as_str()) {
            apply_profile(&mut c, name, face);
        }
        c
    }

    /// A cache miss: reads the store and records what it found.
    pub fn load(&self, id: ConversationId) -> Result<Arc<V>> {
        crate::inject::point(crate::inject::Stage::Work);
        let found = self.with_store(|store| {
            // Another request may have filled it while this one waited.
            if let Probe::Stored(v) = self.cache.probe(id.as_str()) {
                return Ok(Some(v));
            }
            let found = store.load(id.as_str())?.map(|c| V::build(c, true));
            self.cache.put(id.text(), found.clone());
            Ok(found)
        })?;
        Ok(found.unwrap_or_else(|| V::build(self.temporary(id), false)))
    }

    /// Serves a whole batch from the cache and the store, in request order,
    /// each ID once.
    pub fn lookup_batch(&self, ids: &IdList) -> Result<Vec<Arc<V>>> {
        crate::inject::point(crate::inject::Stage::Work);
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        let unique: Vec<usize> = (0..ids.len())
            .filter(|&i| seen.insert(ids.get(i)))
            .collect();
        drop(seen);
        let mut found: Vec<Option<Arc<V>>> = Vec::with_capacity(unique.len());
        let mut unknown = Vec::new();
        self.cache
            .probe_each(unique.iter().map(|&i| ids.get(i)), |p| {
                match p {
                    Probe::Stored(v) => found.push(Some(v)),
                    Probe::NotStored => found.push(None),
                    Probe::Unknown => {
                        unknown.push(found.len());
                        found.push(None)
                    }
                };
            });
        if !unknown.is_empty() {
            self.with_store(|store| {
                for &slot in &unknown {
                    let id = ids.id(unique[slot]);
                    // A damaged one is left out of the list (and told).
                    let v = match store.load(id.as_str()) {
                        Err(e) if e.code() == ErrorCode::StoreDamaged => {
                            self.health.damaged(Some(id.as_str()), &e);
                            continue;
                        }
                        loaded => loaded?.map(|c| V::build(c, true)),
                    };
                    self.cache.put(id.text(), v.clone());
                    found[slot] = v;
                }
                Ok(())
            })?;
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// The unread total of the conversations that pass `filter`. The total
    /// of all is kept once read: writes keep it up to date.
    pub fn unread_total(&self, filter: &ListFilter) -> Result<u64> {
        if *filter == ListFilter::default() {
            if let Some(t) = *self.total_unread.lock() {
                return Ok(saturated(t));
            }
            return self.with_store(|store| {
                self.ensure_total(store)?;
                Ok(saturated(self.total_unread.lock().unwrap_or(0)))
            });
        }
        self.with_store(|store| store.unread_total(filter).map(saturated))
    }

    /// One page of the ordered (and filtered) list, read on the writer's
    /// connection (waiting for a write in progress); conversations not
    /// cached are loaded and cached. A damaged conversation is left out
    /// (and told); an order index that disagrees with the rows is rebuilt
    /// and the page read again.
    pub fn page(&self, filter: &ListFilter, cursor: &str, count: usize) -> Result<Page<V>> {
        crate::inject::point(crate::inject::Stage::Work);
        let count = page_count(count)?;
        let after = decode_cursor(cursor)?;
        self.with_store(|store| {
            self.audit_index(store)?;
            let mut rebuilt = false;
            loop {
                let listed = store.page(filter, after.as_ref(), count + 1);
                let page = listed.and_then(|rows| {
                    self.assemble_page(rows, count, cursor, |id| match store.load(id) {
                        Ok(Some(c)) => {
                            let v = V::build(c, true);
                            self.cache.put(v.conversation().id.text(), Some(v.clone()));
                            Ok(Listed::Found(v))
                        }
                        Ok(None) => Ok(Listed::Unlisted),
                        Err(e) if e.code() == ErrorCode::StoreDamaged => {
                            self.health.damaged(damaged_id(&e).or(Some(id)), &e);
                            Ok(Listed::Damaged)
                        }
                        Err(e) => Err(e),
                    })
                });
                match page {
                    Err(e)
                        if is_index_damage(&e)
                            && !rebuilt
                            && store.can_write()
                            && !self.health.has_failed() =>
                    {
                        self.health.damaged(None, &e);
                        store.rebuild_order_index()?;
                        rebuilt = true;
                    }
                    page => return page,
                }
            }
        })
    }

    /// The same page read on the reader connection, beside the writer and
    /// without its lock, and answered from the cache alone. `None` when that
    /// cannot answer it: a store in memory (no reader), a read that failed,
    /// or a listed conversation not cached (or not in step with the
    /// snapshot the reader read); [`State::page`] answers then.
    ///
    /// The rows come from the last committed state; their views from the
    /// cache, which the writer refreshes right after each commit, so a row
    /// committed a moment ago may show the content it had just before (its
    /// `on_changed` follows).
    pub fn page_beside_writer(
        &self,
        filter: &ListFilter,
        cursor: &str,
        count: usize,
    ) -> Option<Result<Page<V>>> {
        crate::inject::point(crate::inject::Stage::Work);
        let (count, after) = match page_count(count).and_then(|n| Ok((n, decode_cursor(cursor)?))) {
            Ok(read) => read,
            Err(e) => return Some(Err(e)),
        };
        // The first page audits the index first, on the writer's side.
        if !self.index_audited.load(Ordering::Acquire) {
            return None;
        }
        let rows = {
            let reader = self.reader.lock();
            let read = if crate::inject::fails(crate::inject::Fault::ReaderPage) {
                Err(Error::new(
                    ErrorCode::Database,
                    "database: an injected failure",
                ))
            } else {
                reader.as_ref()?.page(filter, after.as_ref(), count + 1)
            };
            match read {
                Ok(rows) => rows,
                Err(e) => {
                    // Not the caller's failure: the writer's connection
                    // reads the page instead. Said once, here.
                    crate::log::warn(format_args!(
                        "a page read on the reader connection failed ({}): read on the writer's",
                        e.message()
                    ));
                    return None;
                }
            }
        };
        // A view not cached, or not in step with the row the reader read:
        // the writer's connection answers.
        let page = self
            .assemble_page(rows, count, cursor, |id| {
                Err(Error::internal(format!("{id} is not cached")))
            })
            .ok()?;
        self.pages_beside_writer.fetch_add(1, Ordering::Relaxed);
        Some(Ok(page))
    }

    /// A page from the rows the store listed (one more than `count` tells
    /// whether more follow): views from the cache, probed together, and
    /// from `miss` for any it lacks; a damaged one is left out. Each view
    /// must be where the order index listed it: else the error says the
    /// index is damaged (see [`is_index_damage`]).
    fn assemble_page(
        &self,
        mut rows: Vec<Cursor>,
        count: usize,
        cursor: &str,
        mut miss: impl FnMut(&str) -> Result<Listed<V>>,
    ) -> Result<Page<V>> {
        let finished = rows.len() <= count;
        rows.truncate(count);
        let next_cursor = rows
            .last()
            .map(Cursor::encode)
            .unwrap_or_else(|| cursor.to_string());
        let mut conversations = Vec::with_capacity(rows.len());
        let mut missing = Vec::new();
        self.cache
            .probe_each(rows.iter().map(|r| r.id.as_str()), |p| match p {
                Probe::Stored(v) => conversations.push(Some(v)),
                _ => {
                    missing.push(conversations.len());
                    conversations.push(None);
                }
            });
        for i in missing {
            conversations[i] = match miss(&rows[i].id)? {
                Listed::Found(v) => Some(v),
                Listed::Damaged => None,
                Listed::Unlisted => return Err(index_damage(&rows[i].id)),
            };
        }
        for (row, v) in rows.iter().zip(&conversations) {
            if let Some(v) = v {
                let c = v.conversation();
                if c.is_pinned != row.pinned || sort_order(c.order_key) != row.sort_order {
                    return Err(index_damage(&row.id));
                }
            }
        }
        Ok(Page {
            conversations: conversations.into_iter().flatten().collect(),
            next_cursor,
            finished,
        })
    }
}

/// What a page's listed ID turned out to be.
enum Listed<V> {
    Found(Arc<V>),
    /// Damaged: left out (and told).
    Damaged,
    /// Not stored: the index listed what is not there.
    Unlisted,
}

/// A connection that is for speed only: its failure to open is logged, and
/// the instance works without it.
fn optional<T>(what: &str, made: Result<Option<T>>) -> Option<T> {
    made.unwrap_or_else(|e| {
        crate::log::warn(format_args!(
            "no {what} connection ({}): working without it",
            e.message()
        ));
        None
    })
}

/// The position a cursor names; "" is the top.
fn decode_cursor(cursor: &str) -> Result<Option<Cursor>> {
    if cursor.is_empty() {
        return Ok(None);
    }
    Cursor::decode(cursor)
        .map(Some)
        .ok_or_else(|| Error::invalid_parameters(format!("invalid cursor {}", quote(cursor))))
}

/// A conversation's part of the unread total: none when muted.
fn unread_part(c: Option<&Conversation>) -> u64 {
    c.map_or(0, |c| crate::model::unread_part(c.unread_count, c.recv_opt))
}

/// A profile's name (the user or group ID when empty) and avatar.
fn apply_profile(c: &mut Conversation, name: &Text, face: &Text) {
    c.show_name = if name.is_empty() {
        Text::new(c.id.body()).unwrap_or_default()
    } else {
        name.clone()
    };
    c.face_url = face.clone();
}
