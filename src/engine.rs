//! The engine: the instance's threads and the jobs they run. It owns the
//! runtime, the callback dispatcher, the read pool and the write queue, and
//! hands the work to the instance's [`State`], which runs it on the thread
//! it is given: every move of work between threads is here (a call goes
//! down ffi → engine → state and comes back state → engine → dispatch →
//! ffi, once).
//!
//! Threads: `imconv-callback` runs every callback, and also answers single
//! lookups from the cache, all that wait at once (a cached answer is one
//! hand-off from the calling thread: no other thread wakes); a batch the
//! cache can answer is answered on its calling thread; `imconv-rt` is the
//! tokio runtime, whose blocking
//! pool (same name) does the SQLite and JSON work: reads that miss the cache,
//! and the one writer that drains the write queue.
//!
//! Writes: every write of an instance (import, sync, messages, read state,
//! drafts, pins, options, marks, groups, deletes, profiles) enters one FIFO
//! queue when its call is accepted. One drain at a time takes what is
//! queued, commits it in order (writes queued together share a transaction,
//! each all or nothing on its own), then posts each write's events and its
//! callback, in order. The queue is bounded (see [`MAX_QUEUED_WRITES`] and
//! [`MAX_QUEUED_BYTES`]): past that, calls are refused at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};

use crate::cache::Probe;
use crate::config::{Config, Delivery, Durability};
use crate::dispatch::{Completer, Dispatcher, Poster};
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Listener, Removal};
use crate::inject::{self, Stage};
use crate::model::{ConversationId, IdList, ListFilter, Snapshot, Text};
use crate::state::{Page, State};
use crate::write::Write;

mod jobs;
mod problems;
mod read_pool;
mod shutdown;
mod suspension;
#[cfg(test)]
mod tests;
mod upkeep;
mod wal_sync;
mod writes;

use jobs::*;
use read_pool::ReadPool;
use upkeep::Upkeep;
use wal_sync::WalSync;
pub use writes::WriteStats;
use writes::*;

/// Batches of more IDs than this are served entirely on the blocking pool,
/// so that one huge request does not hold up its calling thread.
const LARGE_BATCH: usize = 1024;

/// Most writes waiting in one instance's queue; more are refused at once
/// with `QueueFull`.
pub const MAX_QUEUED_WRITES: usize = 10_000;
/// Most bytes of arguments (documents, IDs, texts) waiting in one
/// instance's queue; a write that would pass it is refused at once with
/// `QueueFull` (a write into an empty queue is always taken).
pub const MAX_QUEUED_BYTES: usize = 64 << 20;
/// Most reads (lookups, lists, pages, totals, group lists) of one instance
/// accepted and not yet called back; more are refused at once with
/// `QueueFull`. A host that issues reads without waiting for them (or, with
/// host delivery, without dispatching) cannot grow memory past this.
pub const MAX_QUEUED_READS: usize = 65_536;

pub struct Engine<V: Snapshot> {
    accepting: AtomicBool,
    /// Opened with `"read_only": true`: every write is refused.
    read_only: bool,
    runtime: Arc<Mutex<Option<Runtime>>>,
    /// The runtime's handle, for the writer's drain.
    handle: Handle,
    core: Arc<Core<V>>,
    pub(crate) dispatcher: Dispatcher,
}

/// What the engine's threads and jobs share: the state they serve, and the
/// ways work moves on from it (the blocking pool for reads, the callback
/// thread for events, the write queue, the store's upkeep). The state
/// itself starts nothing: every hand-off to another thread is here.
struct Core<V: Snapshot> {
    state: State<V>,
    /// Reads handed to the runtime's blocking pool, counted so that free
    /// lets them finish.
    reads: Arc<ReadPool>,
    /// Queues events on the callback thread.
    poster: Poster,
    writes: Mutex<Queue>,
    upkeep: Upkeep,
    /// getConversation calls waiting for the callback thread, which answers
    /// them together (see [`Engine::get`]), and the emptied buffers of the
    /// last answered group, reused so that the path allocates nothing.
    lookups: Mutex<PendingLookups<V>>,
    spare_lookups: Mutex<PendingLookups<V>>,
    /// Shared: the idle watcher (see `suspension`), and whether its
    /// catch-up is queued.
    watcher: Mutex<Option<suspension::Watcher>>,
    catching: AtomicBool,
    /// Suspended, or suspending: calls are refused.
    suspending: AtomicBool,
    /// Signalled when the writer's drain ends.
    drained: parking_lot::Condvar,
}

impl<V: Snapshot> Core<V> {
    /// [`State::load`] on the blocking pool, answering `done` (once the
    /// instance is shutting down, right here: see [`ReadPool::settle`]).
    fn load_later(self: &Arc<Self>, id: ConversationId, done: Completer<Arc<V>>) {
        let core = self.clone();
        self.reads
            .spawn(move || done.complete(core.fresh().and_then(|()| core.state.load(id))));
    }

    /// [`State::page`] on the blocking pool, answering `done` (as
    /// `load_later`).
    fn page_later(
        self: &Arc<Self>,
        filter: ListFilter,
        cursor: String,
        count: usize,
        done: Completer<Page<V>>,
    ) {
        let core = self.clone();
        self.reads.spawn(move || {
            done.complete(
                core.fresh()
                    .and_then(|()| core.state.page(&filter, &cursor, count)),
            )
        });
    }

    /// Any other read on the blocking pool (as `load_later`).
    fn read_later<T: Send + 'static>(
        self: &Arc<Self>,
        done: Completer<T>,
        read: impl FnOnce(&State<V>) -> Result<T> + Send + 'static,
    ) {
        let core = self.clone();
        self.reads
            .spawn(move || done.complete(core.fresh().and_then(|()| read(&core.state))));
    }

    /// Queues the store's problems waiting to be told, as a batch of their
    /// own, on the callback thread.
    /// Queues a write's events on the callback thread.
    fn post_events(self: &Arc<Self>, events: crate::events::Events<V>) {
        let core = self.clone();
        self.poster
            .execute(Box::new(move || events.deliver(&core.state.listeners)));
    }
}

impl<V: Snapshot> Engine<V> {
    /// Opens the store and starts the runtime and the callback thread.
    pub fn open(config: &Config) -> Result<Engine<V>> {
        // One worker: every task is blocking work on the pool (the writer
        // and store reads), so the worker only hands it over.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(4)
            .enable_time()
            .thread_name("imconv-rt")
            .on_thread_start(crate::log::library_thread)
            .build()
            .map_err(|e| Error::from(e).context("starting the runtime"))?;
        let state = State::open(config)?;
        let dispatcher = match config.delivery {
            Delivery::Thread => Dispatcher::start("imconv-callback")
                .map_err(|e| Error::from(e).context("starting the callback thread"))?,
            Delivery::Host => Dispatcher::start_host()
                .map_err(|e| Error::from(e).context("creating the event descriptor"))?,
        };
        let wal_sync = match (config.durability, state.wal_path()) {
            (Durability::Normal, Some(wal)) => {
                let health = state.health.clone();
                Some(WalSync::new(
                    wal,
                    config.sync_interval,
                    Box::new(move |e| {
                        health.fail(e);
                    }),
                ))
            }
            _ => None,
        };
        let handle = runtime.handle().clone();
        // Jobs carry the core they serve (see engine/jobs.rs).
        let core = Arc::new(Core {
            reads: ReadPool::new(handle.clone()),
            poster: dispatcher.poster(),
            writes: Mutex::new(Queue::default()),
            upkeep: Upkeep::new(handle.clone(), state.checkpointer(), wal_sync),
            lookups: Mutex::new(PendingLookups::default()),
            spare_lookups: Mutex::new(PendingLookups::default()),
            watcher: Mutex::new(None),
            catching: AtomicBool::new(false),
            suspending: AtomicBool::new(false),
            drained: parking_lot::Condvar::new(),
            state,
        });
        *core.watcher.lock() = suspension::start_watcher(&core)?;
        problems::tell_on_callback_thread(&core);
        Ok(Engine {
            accepting: AtomicBool::new(true),
            read_only: config.read_only,
            runtime: Arc::new(Mutex::new(Some(runtime))),
            handle,
            core,
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

    /// The promise for one read (lookup, list, page, total, groups), or
    /// `QueueFull` when [`MAX_QUEUED_READS`] reads wait for their callbacks
    /// (the call is then refused at once).
    pub fn read_completer<T, F>(&self, deliver: F) -> Result<Completer<T>>
    where
        T: Send + 'static,
        F: FnOnce(Result<T>) + Send + 'static,
    {
        self.refuse_if_suspended()?;
        self.dispatcher
            .read_completer(MAX_QUEUED_READS, deliver)
            .map_err(|waiting| {
                crate::log::warn(format_args!(
                    "a read was refused: {waiting} reads wait for their callbacks"
                ));
                Error::new(
                    ErrorCode::QueueFull,
                    format!(
                        "the read queue is full ({waiting} reads wait for their callbacks; at most \
                         {MAX_QUEUED_READS}): retry once earlier reads have called back"
                    ),
                )
            })
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
    ///
    /// The call joins the lookups waiting for the callback thread; the
    /// first to join queues one job there that answers all that are
    /// waiting when it runs. Under load that is many at once, probed in
    /// groups whose cache misses overlap (see [`crate::cache`]), so a lookup
    /// costs the calling thread a copy and a push, and the callback thread
    /// a share of a batched probe. A miss is read on the blocking pool.
    pub fn get(&self, id: ConversationId, done: Completer<Arc<V>>) {
        self.get_checked(id.as_str(), done)
    }

    /// [`Engine::get`] of an ID already checked with
    /// [`ConversationId::check`], so that the call copies it only once.
    pub fn get_checked(&self, id: &str, done: Completer<Arc<V>>) {
        inject::point(Stage::Accept);
        // Another process wrote: caught up on the blocking pool first.
        if self.core.state.is_stale() {
            return match ConversationId::parse(id) {
                Ok(id) => self.core.load_later(id, done),
                Err(e) => done.complete(Err(e)),
            };
        }
        if self.dispatcher.is_host_delivery() {
            // The host counts callbacks (`imconv_dispatch(max)`), so each
            // lookup is its own job: probed here, queued finished (read on
            // the blocking pool while the writer holds the cache).
            let mut probe = Probe::Unknown;
            self.core.state.cache.try_probe_each([id], |p| probe = p);
            let id = match ConversationId::parse(id) {
                Ok(id) => id,
                Err(e) => return done.complete(Err(e)),
            };
            return match probe {
                Probe::Stored(v) => done.complete(Ok(v)),
                Probe::NotStored => {
                    done.complete(Ok(V::build(self.core.state.temporary(id), false)))
                }
                Probe::Unknown => self.core.load_later(id, done),
            };
        }
        let first = {
            let mut waiting = self.core.lookups.lock();
            waiting.ids.push_checked(id);
            waiting.replies.push(done);
            waiting.replies.len() == 1
        };
        if first {
            self.dispatcher
                .execute(Box::new(AnswerLookups(self.core.clone())));
        }
    }

    /// getConversationList: the stored conversations among `ids`, in request
    /// order, each once. Answered on the calling thread when every ID is
    /// cached (the probes of a batch overlap, see [`crate::cache`]); else,
    /// for batches above `LARGE_BATCH` (1,024), and while the writer holds the
    /// cache (the calling thread never waits for it), read on the blocking
    /// pool.
    pub fn get_many(&self, ids: IdList, done: Completer<Vec<Arc<V>>>) {
        inject::point(Stage::Accept);
        if ids.len() <= LARGE_BATCH && !self.core.state.is_stale() {
            let mut all_known = true;
            let mut found = Vec::with_capacity(ids.len());
            let probed = self
                .core
                .state
                .cache
                .try_probe_each(ids.iter(), |p| match p {
                    Probe::Stored(v) => found.push(v),
                    Probe::NotStored => {}
                    Probe::Unknown => all_known = false,
                });
            if probed && all_known {
                return done.complete(Ok(dedup_views(found)));
            }
        }
        self.core
            .read_later(done, move |state| state.lookup_batch(&ids));
    }

    /// Imports a JSON array of conversations (each replaces the stored one),
    /// all or nothing; the result is how many elements were written. Err:
    /// refused at once (the queue is full, or shut down), and `done` is
    /// dropped without a delivery.
    pub fn import(&self, document: Vec<u8>, done: Completer<usize>) -> Result<()> {
        self.submit_counted(Ok(Write::Import(document)), done)
    }

    /// Merges a JSON array of conversations (each changes only the fields it
    /// names), all or nothing; the result is how many elements were read.
    /// Err as for `import`.
    pub fn sync(&self, document: Vec<u8>, done: Completer<usize>) -> Result<()> {
        self.submit_counted(Ok(Write::Sync(document)), done)
    }

    /// A sync of the server's whole list: as [`Engine::sync`], and every
    /// stored conversation the array does not name is deleted, in the same
    /// write. Err as for `import`.
    pub fn sync_snapshot(&self, document: Vec<u8>, done: Completer<usize>) -> Result<()> {
        self.submit_counted(Ok(Write::SyncSnapshot(document)), done)
    }

    /// Queues one write, all or nothing. Err as for `import`.
    pub fn write(&self, op: Write, done: Completer<()>) -> Result<()> {
        self.submit(Ok(op), done)
    }

    /// Queues a write whose arguments may have failed to read: a failure
    /// is delivered in order with the writes accepted before it, like any
    /// other failed write. Err as for `import`.
    pub fn submit(&self, op: Result<Write>, done: Completer<()>) -> Result<()> {
        self.enqueue(op, Reply::Done(done))
    }

    /// As `submit`, for writes that answer with a count (import, sync).
    fn submit_counted(&self, op: Result<Write>, done: Completer<usize>) -> Result<()> {
        self.enqueue(op, Reply::Count(done))
    }

    fn enqueue(&self, op: Result<Write>, reply: Reply) -> Result<()> {
        inject::point(Stage::Accept);
        if let Err(e) = self.refuse_if_suspended() {
            reply.cancel();
            return Err(e);
        }
        if self.read_only {
            reply.cancel();
            return Err(Error::new(
                ErrorCode::ReadOnly,
                "the instance was opened with \"read_only\": true: it writes nothing",
            ));
        }
        let bytes = op.as_ref().map_or(0, Write::queued_bytes);
        let spawn = {
            let mut q = self.core.writes.lock();
            if q.closed {
                drop(q);
                reply.cancel();
                return Err(Error::shutdown());
            }
            if q.items.len() >= MAX_QUEUED_WRITES
                || (!q.items.is_empty() && q.bytes + bytes > MAX_QUEUED_BYTES)
            {
                let (n, queued) = (q.items.len(), q.bytes);
                drop(q);
                crate::log::warn(format_args!(
                    "a write was refused: the write queue is full ({n} writes, {queued} bytes)"
                ));
                reply.cancel();
                return Err(Error::new(
                    ErrorCode::QueueFull,
                    format!(
                        "the write queue is full ({n} writes, {queued} bytes waiting; at most {MAX_QUEUED_WRITES} writes and {MAX_QUEUED_BYTES} bytes): retry once earlier writes have completed"
                    ),
                ));
            }
            q.items.push_back(Queued { op, reply, bytes });
            q.bytes += bytes;
            !std::mem::replace(&mut q.draining, true)
        };
        if spawn {
            let core = self.core.clone();
            self.handle.spawn_blocking(move || drain(&core));
        }
        Ok(())
    }

    /// One page of the ordered list of the conversations that pass `filter`,
    /// starting after `cursor` ("" for the first page).
    ///
    /// With thread delivery the page is read on the callback thread, on the
    /// store's reader connection (never waiting for the writer) and from
    /// the cache: the cost of the query, with no thread to wake. What that
    /// cannot answer (see [`State::page_beside_writer`]) goes to the
    /// blocking pool, as it does with host delivery (where the host counts
    /// callbacks, and a job must be one).
    pub fn page(&self, filter: ListFilter, cursor: String, count: usize, done: Completer<Page<V>>) {
        inject::point(Stage::Accept);
        if !self.dispatcher.is_host_delivery() && !self.core.state.is_stale() {
            return self.dispatcher.execute(Box::new(PageJob {
                core: self.core.clone(),
                filter,
                cursor,
                count,
                done,
            }));
        }
        self.core.page_later(filter, cursor, count, done);
    }

    /// The unread total of the conversations that pass `filter`, leaving out
    /// muted ones.
    pub fn unread_total(&self, filter: ListFilter, done: Completer<u64>) {
        self.core
            .read_later(done, move |state| state.unread_total(&filter));
    }

    /// A full check of the store in the background: the IDs of damaged
    /// conversations (see [`State::verify`]).
    pub fn verify_store(&self, done: Completer<Vec<String>>) {
        self.core.read_later(done, |state| state.verify());
    }

    /// The conversation groups, in creation order.
    pub fn groups(&self, done: Completer<Vec<Text>>) {
        self.core.read_later(done, |state| state.groups());
    }

    /// Registers a listener; returns its ID for `remove_listener`.
    pub fn add_listener(&self, listener: Arc<dyn Listener<V>>) -> u64 {
        let id = self.core.state.listeners.add(listener);
        self.core.post_problems();
        self.wake_watcher();
        id
    }

    /// Unregisters a listener: after this returns no event reaches it, not
    /// even the rest of the batch being delivered. A call of it running on
    /// the callback thread is waited for (never one of the calling thread
    /// itself), unless that thread waits for this one (see `Removal`).
    pub fn remove_listener(&self, id: u64) -> Removal {
        self.core.state.listeners.remove(id)
    }

    /// Subscribes to the unread count of the conversations that pass
    /// `filter`: every later write that moves it raises
    /// `Listener::on_filtered_unread` with the new count. Returns the
    /// subscription's ID.
    pub fn subscribe_unread(&self, filter: ListFilter) -> u64 {
        let id = self.core.state.subscriptions.subscribe(filter);
        self.wake_watcher();
        id
    }

    /// Ends a subscription; false when there is none with that ID.
    pub fn unsubscribe_unread(&self, id: u64) -> bool {
        self.core.state.subscriptions.unsubscribe(id)
    }

    /// Host delivery: runs up to `max` waiting callbacks (0: all waiting
    /// now) on the calling thread; returns how many ran.
    pub fn dispatch(&self, max: usize) -> usize {
        self.dispatcher.dispatch(max)
    }

    /// Host delivery: a descriptor readable while callbacks wait; -1 with
    /// thread delivery.
    pub fn event_fd(&self) -> i32 {
        self.dispatcher.event_fd()
    }

    /// How the writer has grouped writes into transactions so far.
    pub fn write_stats(&self) -> WriteStats {
        self.core.writes.lock().stats
    }

    /// How many pages were read beside the writer, on the reader
    /// connection (see [`Engine::page`]).
    pub fn pages_beside_writer(&self) -> u64 {
        self.core.state.pages_beside_writer.load(Ordering::Relaxed)
    }

    /// Stored conversations (reads the store; for tests and tools).
    pub fn stored_count(&self) -> Result<u64> {
        self.core.state.with_store(|s| s.count())
    }

    pub fn cached_count(&self) -> usize {
        self.core.state.cache.len()
    }

    /// Entries the cache has inserted since the instance opened (see
    /// [`crate::cache::Cache::inserted`]).
    pub fn cache_inserts(&self) -> u64 {
        self.core.state.cache.inserted()
    }
}
