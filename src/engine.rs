//! The engine: answers requests from the cache and the store on the
//! instance's own tokio runtime, and owns the runtime, the store and the
//! callback dispatcher (the one place each of them lives).
//!
//! Threads: `imconv-callback` runs every callback, and also answers lookups
//! from the cache (a cached answer is one hand-off from the calling thread:
//! no other thread wakes); `imconv-rt` is the tokio runtime, whose blocking
//! pool (same name) does the SQLite and JSON work, so that it never stalls
//! the callback thread or the workers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};

use crate::cache::{Cache, Probe};
use crate::config::Config;
use crate::dispatch::{Completer, Context, Dispatcher, Job};
use crate::error::{Error, Result};
use crate::json;
use crate::manager::{Change, Listener, Page, Write};
use crate::model::{Conversation, ConversationId, IdList, ListFilter};
use crate::store::Store;

/// The immutable, shareable form in which a conversation is handed out. The
/// FFI layer's C view implements it, so the view is built once, when the
/// conversation is written or loaded, never per read.
pub trait Snapshot: Send + Sync + Sized + 'static {
    fn build(conversation: Conversation, stored: bool) -> Arc<Self>;
    fn conversation(&self) -> &Conversation;
}

/// Batches of more IDs than this are served entirely on the blocking pool,
/// so one huge request cannot hold up the callback thread.
const LARGE_BATCH: usize = 1024;

pub(crate) struct State<V: Snapshot> {
    pub(crate) handle: Handle,
    pub(crate) cache: Cache<V>,
    /// `None` once shut down. The cache is only written with this held.
    pub(crate) store: Mutex<Option<Store>>,
    /// Queues events on the callback thread (set once the dispatcher runs).
    pub(crate) poster: std::sync::OnceLock<crate::dispatch::Poster>,
    /// The conversation manager's state (listeners, order counter, totals).
    pub(crate) manager: crate::manager::ManagerState<V>,
}

impl<V: Snapshot> State<V> {
    pub(crate) fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> Result<R>) -> Result<R> {
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
        Ok(found.unwrap_or_else(|| V::build(self.manager.temporary(id), false)))
    }

    /// Serves a whole batch from the cache and the store, in request order,
    /// each ID once.
    fn lookup_batch(&self, ids: &IdList) -> Result<Vec<Arc<V>>> {
        let mut seen = HashSet::with_capacity(ids.len());
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
                    let v = store.load(id.as_str())?.map(|c| V::build(c, true));
                    self.cache.put(id.text(), v.clone());
                    found[slot] = v;
                }
                Ok(())
            })?;
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// Imports a document, all or nothing. A large one is parsed on a
    /// second thread while this one writes, chunk by chunk, in one
    /// transaction: the two halves of the work overlap.
    fn import(&self, document: &[u8]) -> Result<usize> {
        if document.len() < PIPELINE_BYTES {
            let mut views = Vec::new();
            json::for_each_conversation(document, |c| {
                views.push(V::build(c, true));
                Ok(())
            })?;
            let mut once = Some(views);
            return self.write_views(|| Ok(once.take()));
        }
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<Arc<V>>>>(8);
            std::thread::Builder::new()
                .name("imconv-import".into())
                .spawn_scoped(scope, move || {
                    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
                    let read = json::for_each_conversation(document, |c| {
                        chunk.push(V::build(c, true));
                        if chunk.len() == IMPORT_CHUNK {
                            let full =
                                std::mem::replace(&mut chunk, Vec::with_capacity(IMPORT_CHUNK));
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
            let mut finished = false;
            self.write_views(|| {
                if finished {
                    return Ok(None);
                }
                match rx.recv() {
                    Ok(Ok(chunk)) if chunk.len() == IMPORT_CHUNK => Ok(Some(chunk)),
                    // A short chunk is the last one.
                    Ok(Ok(chunk)) => {
                        finished = true;
                        Ok(Some(chunk))
                    }
                    Ok(Err(e)) => Err(e),
                    // The parser died (a panic) before the end: roll back.
                    Err(_) => Err(Error::internal("the import parser stopped early")),
                }
            })
        })
    }

    /// Writes the chunks `next_chunk` hands over (`None`: no more) in one
    /// transaction, then refreshes the cache, all under the store's lock.
    /// Returns how many conversations were written.
    fn write_views(
        &self,
        mut next_chunk: impl FnMut() -> Result<Option<Vec<Arc<V>>>>,
    ) -> Result<usize> {
        self.with_store(|store| {
            // With a listener, an import reports its changes like any write.
            let tracking = self.tracking();
            if tracking {
                self.ensure_total(store)?;
            }
            let mut written = Vec::new();
            // With tracking: each ID once, as it was before the call and its
            // last view.
            let mut tracked: Vec<(Option<Conversation>, Arc<V>)> = Vec::new();
            let mut slot_of: HashMap<String, usize> = HashMap::new();
            store.write(|w| {
                while let Some(chunk) = next_chunk()? {
                    for v in &chunk {
                        let id = &v.conversation().id;
                        if tracking {
                            if let Some(&i) = slot_of.get(id.as_str()) {
                                tracked[i].1 = v.clone();
                            } else {
                                let before = self.current(w, id)?;
                                slot_of.insert(id.as_str().to_string(), tracked.len());
                                tracked.push((before, v.clone()));
                            }
                        }
                        w.put(v.conversation())?;
                    }
                    written.extend(chunk);
                }
                Ok(())
            })?;
            let count = written.len();
            if let Some(max) = written.iter().map(|v| v.conversation().order_key).max() {
                self.manager.saw_order_key(max);
            }
            if tracking {
                let changes = tracked
                    .into_iter()
                    .filter(|(b, v)| b.as_ref() != Some(v.conversation()))
                    .map(|(before, v)| Change {
                        id: v.conversation().id.clone(),
                        before,
                        after: Some(v),
                    })
                    .collect();
                self.publish(changes);
            } else {
                self.forget_total();
                // Later elements with the same ID win, in the store as in memory.
                self.cache.refresh(
                    written
                        .iter()
                        .map(|v| (v.conversation().id.text(), v.clone())),
                );
            }
            Ok(count)
        })
    }
}

/// Documents from this size on are parsed on a second thread while the
/// store writes (below it, a thread costs more than it saves).
const PIPELINE_BYTES: usize = 32 * 1024;

/// Elements parsed per chunk of a pipelined import.
const IMPORT_CHUNK: usize = 128;

pub struct Engine<V: Snapshot> {
    accepting: AtomicBool,
    runtime: Arc<Mutex<Option<Runtime>>>,
    pub(crate) state: Arc<State<V>>,
    pub(crate) dispatcher: Dispatcher,
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
        let manager = crate::manager::ManagerState::open(&store)?;
        let state = Arc::new(State {
            handle: runtime.handle().clone(),
            cache: Cache::new(config.cache_capacity),
            store: Mutex::new(Some(store)),
            poster: std::sync::OnceLock::new(),
            manager,
        });
        // The context is the Arc itself, so a job can hand the state on to the pool.
        let dispatcher = Dispatcher::start("imconv-callback", Arc::new(state.clone()))
            .map_err(|e| Error::from(e).context("starting the callback thread"))?;
        let _ = state.poster.set(dispatcher.poster());
        Ok(Engine {
            accepting: AtomicBool::new(true),
            runtime: Arc::new(Mutex::new(Some(runtime))),
            state,
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
        self.dispatcher.execute(Box::new(GetJob { id, done }));
    }

    /// getConversationList: the stored conversations among `ids`, in request
    /// order, each once.
    pub fn get_many(&self, ids: IdList, done: Completer<Vec<Arc<V>>>) {
        if ids.len() > LARGE_BATCH {
            let state = self.state.clone();
            self.state
                .handle
                .spawn_blocking(move || done.complete(state.lookup_batch(&ids)));
        } else {
            self.dispatcher.execute(Box::new(BatchJob { ids, done }));
        }
    }

    /// Imports a JSON array of conversations, all or nothing; the result is
    /// how many elements were written.
    pub fn import(&self, document: Vec<u8>, done: Completer<usize>) {
        let state = self.state.clone();
        self.state
            .handle
            .spawn_blocking(move || done.complete(state.import(&document)));
    }

    /// Applies one write of the conversation manager, all or nothing.
    pub fn write(&self, op: Write, done: Completer<()>) {
        if let Err(e) = op.validate() {
            return done.complete(Err(e));
        }
        let state = self.state.clone();
        self.state
            .handle
            .spawn_blocking(move || done.complete(state.apply(op)));
    }

    /// One page of the ordered list of the conversations that pass `filter`,
    /// starting after `cursor` ("" for the first page).
    pub fn page(&self, filter: ListFilter, cursor: String, count: usize, done: Completer<Page<V>>) {
        let state = self.state.clone();
        self.state
            .handle
            .spawn_blocking(move || done.complete(state.page(&filter, &cursor, count)));
    }

    /// The unread total of the conversations that pass `filter`, leaving out
    /// muted ones.
    pub fn unread_total(&self, filter: ListFilter, done: Completer<u64>) {
        let state = self.state.clone();
        self.state
            .handle
            .spawn_blocking(move || done.complete(state.unread_total(&filter)));
    }

    /// The conversation groups, in creation order.
    pub fn groups(&self, done: Completer<Vec<String>>) {
        let state = self.state.clone();
        self.state
            .handle
            .spawn_blocking(move || done.complete(state.groups()));
    }

    /// Registers a listener; returns its ID for `remove_listener`.
    pub fn add_listener(&self, listener: Arc<dyn Listener<V>>) -> u64 {
        self.state.manager.add_listener(listener)
    }

    /// Unregisters a listener. When it returns (outside the callback thread)
    /// no event reaches the listener any more: events already queued are
    /// let through first. Returns whether the ID was registered.
    pub fn remove_listener(&self, id: u64) -> bool {
        let removed = self.state.manager.remove_listener(id);
        self.dispatcher.barrier();
        removed
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

/// getConversation, on the callback thread: a cached answer is delivered in
/// place; a miss goes to the blocking pool.
struct GetJob<V: Snapshot> {
    id: ConversationId,
    done: Completer<Arc<V>>,
}

impl<V: Snapshot> Job for GetJob<V> {
    fn run(self: Box<Self>, context: &Context) {
        let GetJob { id, done } = *self;
        let Some(state) = state_of::<V>(context) else {
            return done.complete_now(Err(Error::internal("engine context missing")));
        };
        match state.cache.probe(id.as_str()) {
            Probe::Stored(v) => done.complete_now(Ok(v)),
            Probe::NotStored => done.complete_now(Ok(V::build(state.manager.temporary(id), false))),
            Probe::Unknown => {
                let state = state.clone();
                // After shutdown the closure is dropped unrun, and with it
                // the completer, which then reports the shutdown.
                state
                    .handle
                    .clone()
                    .spawn_blocking(move || done.complete(state.load(id)));
            }
        }
    }
}

/// getConversationList, on the callback thread: answered in place when every
/// ID is cached, else handed whole to the blocking pool.
struct BatchJob<V: Snapshot> {
    ids: IdList,
    done: Completer<Vec<Arc<V>>>,
}

impl<V: Snapshot> Job for BatchJob<V> {
    fn run(self: Box<Self>, context: &Context) {
        let BatchJob { ids, done } = *self;
        let Some(state) = state_of::<V>(context) else {
            return done.complete_now(Err(Error::internal("engine context missing")));
        };
        let mut all_known = true;
        let mut found = Vec::with_capacity(ids.len());
        state.cache.probe_each(ids.iter(), |p| match p {
            Probe::Stored(v) => found.push(v),
            Probe::NotStored => {}
            Probe::Unknown => all_known = false,
        });
        if all_known {
            done.complete_now(Ok(dedup_views(found)));
        } else {
            drop(found);
            let state = state.clone();
            state
                .handle
                .clone()
                .spawn_blocking(move || done.complete(state.lookup_batch(&ids)));
        }
    }
}

/// Keeps the first of each view. One ID has one view in the cache, so a
/// repeated ID shows as the same pointer: no string is hashed again.
fn dedup_views<V>(views: Vec<Arc<V>>) -> Vec<Arc<V>> {
    if views.len() < 2 {
        return views;
    }
    let mut seen = HashSet::with_capacity(views.len());
    let keep: Vec<bool> = views
        .iter()
        .map(|v| seen.insert(Arc::as_ptr(v) as usize))
        .collect();
    if keep.iter().all(|&k| k) {
        return views;
    }
    views
        .into_iter()
        .zip(keep)
        .filter_map(|(v, k)| k.then_some(v))
        .collect()
}

pub(crate) fn state_of<V: Snapshot>(context: &Context) -> Option<&Arc<State<V>>> {
    context.downcast_ref::<Arc<State<V>>>()
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
