//! The engine: answers requests from the cache and the store on the
//! instance's own tokio runtime, and owns the runtime, the store and the
//! callback dispatcher (the one place each of them lives).
//!
//! Threads: `imconv-rt` (tokio workers; cache probes, request logic),
//! tokio's blocking pool, also named `imconv-rt` (SQLite and JSON work,
//! which must not stall the workers), and `imconv-callback` (every callback).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};

use crate::cache::{Cache, Probe};
use crate::config::Config;
use crate::dispatch::{Completer, Dispatcher};
use crate::error::{Error, Result};
use crate::json;
use crate::model::{Conversation, ConversationId};
use crate::store::Store;

/// The immutable, shareable form in which a conversation is handed out. The
/// FFI layer's C view implements it, so the view is built once, when the
/// conversation is written or loaded, never per read.
pub trait Snapshot: Send + Sync + Sized + 'static {
    fn build(conversation: Conversation, stored: bool) -> Arc<Self>;
    fn conversation(&self) -> &Conversation;
}

/// Batches of more IDs than this are served entirely on the blocking pool,
/// so one huge request cannot hold a runtime worker.
const LARGE_BATCH: usize = 1024;

struct State<V> {
    cache: Cache<V>,
    /// `None` once shut down. The cache is only written with this held.
    store: Mutex<Option<Store>>,
}

impl<V: Snapshot> State<V> {
    fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> Result<R>) -> Result<R> {
        let mut guard = self.store.lock();
        let store = guard.as_mut().ok_or_else(Error::shutdown)?;
        f(store)
    }

    /// A cache miss: reads the store and records what it found.
    fn load(&self, id: ConversationId) -> Result<Arc<V>> {
        let found = self.with_store(|store| {
            // Another request may have filled it while this one waited.
            if let Probe::Stored(v) = self.cache.probe(id.as_str()) {
                return Ok(Some(v));
            }
            let found = store.load(id.as_str())?.map(|c| V::build(c, true));
            self.cache.put(id.text(), found.clone());
            Ok(found)
        })?;
        Ok(found.unwrap_or_else(|| V::build(Conversation::temporary(id), false)))
    }

    /// Serves a whole batch: IDs already de-duplicated, in request order.
    fn lookup_batch(&self, ids: &[ConversationId]) -> Result<Vec<Arc<V>>> {
        let mut found: Vec<Option<Arc<V>>> = Vec::with_capacity(ids.len());
        let mut unknown = Vec::new();
        self.cache
            .probe_each(ids.iter().map(ConversationId::as_str), |p| {
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
                for &i in &unknown {
                    let v = store.load(ids[i].as_str())?.map(|c| V::build(c, true));
                    self.cache.put(ids[i].text(), v.clone());
                    found[i] = v;
                }
                Ok(())
            })?;
        }
        Ok(found.into_iter().flatten().collect())
    }

    fn import(&self, document: &[u8]) -> Result<usize> {
        let conversations = json::parse_conversations(document)?;
        let count = conversations.len();
        // Build the views before taking the lock: readers wait less.
        let views: Vec<Arc<V>> = conversations
            .into_iter()
            .map(|c| V::build(c, true))
            .collect();
        self.with_store(|store| {
            // Later elements with the same ID win, in the store as in memory.
            store.upsert(views.iter().map(|v| v.conversation()))?;
            self.cache.refresh(
                views
                    .iter()
                    .map(|v| (v.conversation().id.text(), v.clone())),
            );
            Ok(())
        })?;
        Ok(count)
    }
}

pub struct Engine<V: Snapshot> {
    accepting: AtomicBool,
    handle: Handle,
    runtime: Arc<Mutex<Option<Runtime>>>,
    state: Arc<State<V>>,
    dispatcher: Dispatcher,
}

impl<V: Snapshot> Engine<V> {
    /// Opens the store and starts the runtime and the callback thread.
    pub fn open(config: &Config) -> Result<Engine<V>> {
        let dir = config.store_dir();
        let store = Store::open(dir.as_deref(), config.durability)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads)
            .max_blocking_threads(4)
            .thread_name("imconv-rt")
            .build()
            .map_err(|e| Error::from(e).context("starting the runtime"))?;
        let dispatcher = Dispatcher::start("imconv-callback")
            .map_err(|e| Error::from(e).context("starting the callback thread"))?;
        Ok(Engine {
            accepting: AtomicBool::new(true),
            handle: runtime.handle().clone(),
            runtime: Arc::new(Mutex::new(Some(runtime))),
            state: Arc::new(State {
                cache: Cache::new(config.cache_capacity),
                store: Mutex::new(Some(store)),
            }),
            dispatcher,
        })
    }

    /// False once shutdown has begun: calls must then be refused up front.
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Acquire)
    }

    pub fn is_callback_thread(&self) -> bool {
        self.dispatcher.is_callback_thread()
    }

    /// The promise for one accepted call.
    pub fn completer<T, F>(&self, deliver: F) -> Completer<T>
    where
        T: Send + 'static,
        F: FnOnce(Result<T>) + Send + 'static,
    {
        self.dispatcher.completer(deliver)
    }

    /// getConversation: the stored conversation, or a temporary one.
    pub fn get(&self, id: ConversationId, done: Completer<Arc<V>>) {
        let state = self.state.clone();
        self.handle.spawn(async move {
            match state.cache.probe(id.as_str()) {
                Probe::Stored(v) => done.complete(Ok(v)),
                Probe::NotStored => done.complete(Ok(V::build(Conversation::temporary(id), false))),
                Probe::Unknown => {
                    tokio::task::spawn_blocking(move || done.complete(state.load(id)));
                }
            }
        });
    }

    /// getConversationList: the stored conversations among `ids`, in request
    /// order, each once.
    pub fn get_many(&self, ids: Vec<ConversationId>, done: Completer<Vec<Arc<V>>>) {
        let state = self.state.clone();
        if ids.len() > LARGE_BATCH {
            self.handle.spawn_blocking(move || {
                let ids = dedup(ids);
                done.complete(state.lookup_batch(&ids))
            });
            return;
        }
        self.handle.spawn(async move {
            let ids = dedup(ids);
            let mut all_known = true;
            let mut found = Vec::with_capacity(ids.len());
            state
                .cache
                .probe_each(ids.iter().map(ConversationId::as_str), |p| match p {
                    Probe::Stored(v) => found.push(v),
                    Probe::NotStored => {}
                    Probe::Unknown => all_known = false,
                });
            if all_known {
                done.complete(Ok(found));
            } else {
                drop(found);
                tokio::task::spawn_blocking(move || done.complete(state.lookup_batch(&ids)));
            }
        });
    }

    /// Imports a JSON array of conversations, all or nothing; the result is
    /// how many elements were written.
    pub fn import(&self, document: Vec<u8>, done: Completer<usize>) {
        let state = self.state.clone();
        self.handle
            .spawn_blocking(move || done.complete(state.import(&document)));
    }

    /// Stored conversations (reads the store; for tests and tools).
    pub fn stored_count(&self) -> Result<u64> {
        self.state.with_store(|s| s.count())
    }

    pub fn cached_count(&self) -> usize {
        self.state.cache.len()
    }

    /// Stops accepting calls, lets the runtime finish or drop what is in
    /// flight (a dropped call fails with `Shutdown`), delivers every
    /// callback, joins every thread and closes the store. Not from the
    /// callback thread: use `shutdown_deferred` there.
    pub fn shutdown(&self) {
        if self.is_callback_thread() {
            debug_assert!(false, "Engine::shutdown called on the callback thread");
            return;
        }
        self.accepting.store(false, Ordering::Release);
        stop_runtime_and_store(&self.runtime, &self.state);
        self.dispatcher.stop_and_join();
    }

    /// Shutdown from inside a callback: returns at once; once the current
    /// callback returns, the callback thread stops the runtime, delivers
    /// what is still owed, then runs `finally` (which frees the instance)
    /// and exits.
    pub fn shutdown_deferred(&self, finally: Box<dyn FnOnce() + Send>) {
        debug_assert!(self.is_callback_thread());
        self.accepting.store(false, Ordering::Release);
        let runtime = self.runtime.clone();
        let state = self.state.clone();
        self.dispatcher.stop_after_current(
            Box::new(move || stop_runtime_and_store(&runtime, &state)),
            finally,
        );
    }
}

/// Dropping the runtime joins its workers and blocking threads; tasks that
/// never ran are dropped, and their completers fail with `Shutdown`.
fn stop_runtime_and_store<V: Snapshot>(runtime: &Mutex<Option<Runtime>>, state: &State<V>) {
    let rt = runtime.lock().take();
    drop(rt);
    drop(state.store.lock().take());
}

impl<V: Snapshot> Drop for Engine<V> {
    fn drop(&mut self) {
        if self.runtime.lock().is_some() && !self.is_callback_thread() {
            self.shutdown();
        }
    }
}

/// Keeps the first occurrence of each ID, in order.
fn dedup(ids: Vec<ConversationId>) -> Vec<ConversationId> {
    let keep: Vec<bool> = {
        let mut seen = HashSet::with_capacity(ids.len());
        ids.iter().map(|id| seen.insert(id.as_str())).collect()
    };
    if keep.iter().all(|&k| k) {
        return ids;
    }
    ids.into_iter()
        .zip(keep)
        .filter_map(|(id, k)| k.then_some(id))
        .collect()
}
