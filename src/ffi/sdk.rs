//! Instances: creating and freeing one user's conversation engine.

use std::ffi::{c_char, CStr};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once};

use super::conversation::ConversationView;
use super::error::{
    IMCONV_ERR_INTERNAL, IMCONV_ERR_INVALID_PARAMETERS, IMCONV_ERR_SHUTDOWN, IMCONV_ERR_TIMEOUT,
    IMCONV_ERR_WOULD_DEADLOCK, IMCONV_ERR_WRONG_PROCESS, IMCONV_OK,
};
use super::handle::{borrow, hold, into_raw, take};
use super::{guard, str_arg, with_out_error};
use crate::config::Config;
use crate::dispatch::{join_stopped, Joined};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// One user's conversation store and the threads that serve it. Opaque.
pub struct imconv_sdk {
    pub(crate) engine: Engine<ConversationView>,
    /// The fork generation it was created in (see `FORK_GENERATION`).
    fork_generation: u64,
    /// Set by the first `imconv_sdk_free`: a second call while the instance
    /// is still being torn down is then a no-op.
    freeing: AtomicBool,
}

/// Counts forks: bumped in every child. An instance made before a fork has
/// no threads in the child, so it refuses calls there.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
static FORK_HANDLER: Once = Once::new();

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    // The child must not hold its parent's stores: its copies of the lock
    // descriptors go (no lock, no allocation: safe right after fork).
    crate::store::close_lock_fds_in_child(|fd| {
        // SAFETY: fd is a lock descriptor this process inherited and that
        // nothing in the child uses (its instances refuse every call).
        unsafe { libc::close(fd) };
    });
}

impl imconv_sdk {
    fn in_creating_process(&self) -> bool {
        FORK_GENERATION.load(Ordering::Relaxed) == self.fork_generation
    }

    /// The checks of every async call, in order: may the call be accepted?
    /// Err is the code to return (and no callback is made).
    pub(crate) fn accept(&self) -> std::result::Result<(), i32> {
        if !self.in_creating_process() {
            return Err(IMCONV_ERR_WRONG_PROCESS);
        }
        if !self.engine.is_accepting() {
            return Err(IMCONV_ERR_SHUTDOWN);
        }
        Ok(())
    }
}

/// The library's version, e.g. "0.2.0". Static; never free it. Any thread.
#[no_mangle]
pub extern "C" fn imconv_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

/// Creates an instance: opens (or creates) one user's conversation store and
/// starts the threads that serve it.
///
/// `config_json`: a JSON object (unknown keys are an error):
/// - `"user_id"` (string, required): the user whose conversations these are;
///   1 to 256 bytes of UTF-8 without control characters, `/` or `\`, and not
///   `.` or `..` (it names the store's folder).
/// - `"data_dir"` (string): the store lives in `<data_dir>/<folder>/`, where
///   the folder is the user_id when it is made only of lowercase ASCII
///   letters, digits, `_`, `-` and `.` (at most 128 bytes), else
///   `u~<readable part>~<hash>`; a store kept by 0.1.0 in
///   `<data_dir>/<user_id>/` is moved there once. Folders are created
///   `0700` and files `0600` whatever the umask (tightened when found
///   looser). Omitted: an in-memory store that lives as long as the
///   instance.
/// - `"delivery"`: `"thread"` (default: callbacks run on the instance's
///   callback thread) or `"host"` (no callback runs until the host calls
///   `imconv_dispatch` on its own thread; `imconv_event_fd` tells when).
/// - `"read_only"` (bool, default false): open an existing store to read
///   it only; every write call then returns IMCONV_ERR_READ_ONLY. Without
///   it, a store that cannot be written is refused with
///   IMCONV_ERR_READ_ONLY. It works on a read-only file system and in a
///   folder the process cannot write (the database read as SQLite's
///   `immutable` when its WAL is absent or empty; a WAL holding writes
///   there is refused with IMCONV_ERR_IO).
/// - `"shared"` (bool, default false; needs `"data_dir"`, not
///   `"restore_from"`): several instances, in this and other processes (an
///   app, its notification extension, a widget), open the store at once,
///   read-write or read-only; each sees the others' writes at its next
///   call and its listeners hear of them. All instances of a store are
///   shared or none is (IMCONV_ERR_STORE_LOCKED otherwise). See
///   `imconv_suspend`.
/// - `"on_damage"`: `"fail"` (default: an open that finds the store
///   damaged is refused with IMCONV_ERR_STORE_DAMAGED and changes
///   nothing) or `"rebuild"` (the damaged files are moved aside, every
///   intact conversation salvaged into a fresh store, and the first
///   listener added told through `on_store_error`).
/// - `"sync_interval_ms"` (1 to 3,600,000, default 1000): with
///   `"durability": "normal"`, the longest an acknowledged write waits for
///   the WAL's sync (the power-loss window).
/// - `"durability"`: `"normal"` (default; a completed import survives a
///   crash of the process) or `"full"` (it also survives power loss).
/// - `"cache_capacity"` (at least 16, default 200000): most conversations
///   (and known-missing IDs) kept in memory.
/// - `"restore_from"` (string; needs `"data_dir"`, not `"read_only"`): a
///   backup made by `imconv_backup` that replaces the store at this open.
///   It is verified first (SQLite's integrity check, a schema this version
///   opens, no other user_id); the store it replaces is moved aside in the
///   store's folder as `conversations.db.replaced` (with its WAL as
///   `conversations.db.replaced-wal`; one such copy is kept). It restores
///   at every open that names it: name it once. A backup that fails its
///   checks is refused with IMCONV_ERR_DATABASE (IMCONV_ERR_IO when there
///   is no such file) and the store is left as it was; a store open in
///   another instance gives IMCONV_ERR_STORE_LOCKED.
///
/// - `"encryption_key"` (string or null; needs `"data_dir"`): 64
///   hexadecimal digits, a raw 256-bit key that the host keeps in the
///   platform's keystore. With it every file of the store is encrypted and
///   every page authenticated (AEGIS-256; no key derivation runs at open),
///   backups made by `imconv_backup` too (they open with the same key). A
///   wrong key, a missing key for an encrypted store, or a key for a plain
///   store is refused with IMCONV_ERR_WRONG_KEY, the files left exactly as
///   they were (never taken for damage, never rebuilt). The library keeps
///   its own copy of the key, wiped when the instance is freed; it is never
///   logged or put in a message. `imconv_rekey` encrypts, changes the key
///   or decrypts; `imconv_delete_store` removes a store whose key is lost.
///
/// On success returns IMCONV_OK and stores the instance in `*out_sdk`; free
/// it with `imconv_sdk_free`. On failure returns the code (for example
/// IMCONV_ERR_STORE_LOCKED when another instance, in this or another
/// process, has the same store open; IMCONV_ERR_WRONG_KEY for an
/// encryption key that does not open the store; IMCONV_ERR_READ_ONLY for a store that
/// cannot be written; IMCONV_ERR_DATABASE for a file that is not a store,
/// or one of another user_id), sets `*out_sdk` to NULL and, when
/// `out_error` is not NULL, stores a message in `*out_error` that the
/// caller frees with `imconv_string_free` (NULL on success).
///
/// Blocking (it opens the store). Callable from any thread, including from
/// inside a callback.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out_sdk` is NULL or
/// writable; `out_error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn imconv_sdk_new(
    config_json: *const c_char,
    out_sdk: *mut *mut imconv_sdk,
    out_error: *mut *mut c_char,
) -> i32 {
    // SAFETY: `out_error` and `out_sdk` are NULL or writable, and
    // `config_json` NULL or a C string (this function's contract); `out_sdk`
    // is checked for NULL before each write.
    unsafe {
        with_out_error("imconv_sdk_new failed", out_error, || {
            if out_sdk.is_null() {
                return Err(Error::invalid_parameters("out_sdk is NULL"));
            }
            *out_sdk = ptr::null_mut();
            *out_sdk = into_raw(create(config_json)?);
            Ok(IMCONV_OK)
        })
    }
}

/// # Safety
/// `config_json` is NULL or a C string.
unsafe fn create(config_json: *const c_char) -> Result<Arc<imconv_sdk>> {
    // SAFETY: `config_json` is NULL or a C string (this function's contract).
    let config = Config::parse(unsafe { str_arg(config_json, &"config_json") }?)?;
    FORK_HANDLER.call_once(|| {
        // SAFETY: registers a handler that only bumps an atomic (async-signal
        // safe). glibc unregisters it if the library is dlclose'd.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    let engine = Engine::open(&config)?;
    Ok(Arc::new(imconv_sdk {
        engine,
        fork_generation: FORK_GENERATION.load(Ordering::Relaxed),
        freeing: AtomicBool::new(false),
    }))
}

/// Frees an instance. NULL is a no-op.
///
/// It stops accepting calls (they return IMCONV_ERR_SHUTDOWN), fails the
/// writes still waiting in the queue with IMCONV_ERR_SHUTDOWN, lets the
/// write being committed finish, answers every read accepted before it
/// (lookups, lists, pages, totals, group lists) with its result, delivers
/// every callback still owed (each exactly once), joins every library thread, closes the store and frees the
/// instance. When it returns, no callback of this instance runs any more
/// and no thread of it remains, so dlclose is then safe.
///
/// Called from inside a callback of the same instance, it returns at once:
/// the instance accepts no new calls, the callbacks still owed are
/// delivered after the current callback returns, and the instance is then
/// torn down on its callback thread, which exits last.
///
/// Called from inside a callback of another instance, it waits as from any
/// thread, unless this instance's callback thread is itself waiting,
/// directly or through other instances, for the calling thread (for
/// example it is freeing the calling thread's instance at the same moment):
/// waiting would then hang both, so it returns at once and the instance is
/// torn down on its own callback thread as above. Either way, it never
/// blocks forever.
///
/// Called in a child process after fork(), it does nothing (the instance's
/// threads do not exist there); the memory stays allocated.
///
/// Where it returned before the teardown was done (from a callback), the
/// host learns that the instance's last thread has exited with
/// `imconv_wait_freed` (before `dlclose`, say).
///
/// # Safety
/// `sdk` is NULL or an instance from `imconv_sdk_new` not freed before.
/// No other thread may use it while, or after, this call frees it.
#[no_mangle]
pub unsafe extern "C-unwind" fn imconv_sdk_free(sdk: *mut imconv_sdk) {
    let owned = guard(None, || {
        if sdk.is_null() {
            return None;
        }
        // SAFETY: an instance from imconv_sdk_new not freed before (this
        // function's contract): the `Arc` it holds keeps it alive.
        let instance = unsafe { borrow::<imconv_sdk>(sdk) };
        if !instance.in_creating_process() || instance.freeing.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the pointer is imconv_sdk_new's `into_raw`, and the
        // `freeing` flag just taken makes this its one `take`.
        Some(unsafe { take::<imconv_sdk>(sdk) })
    });
    let Some(owned) = owned else { return };
    // Where it cannot wait, the callback thread finishes the teardown
    // and drops this last reference.
    let keep = owned.clone();
    // Outside the export's panic guard: with host delivery, or after a host
    // ended the callback thread, the callbacks still owed run right here,
    // and none of the host's may run under a guard (see `dispatch`); the
    // teardown guards its own work.
    owned.engine.close(Box::new(move || drop(keep)));
    guard((), move || drop(owned));
}

/// Waits until every instance freed without waiting (from inside a
/// callback, see `imconv_sdk_free`) has finished its teardown and its last
/// thread has exited, for at most `timeout_ms` milliseconds (0: just
/// checks). Instances freed from a host thread need no wait: their free
/// returns when they are gone.
///
/// Returns IMCONV_OK when none is left (then no thread of a freed instance
/// remains and `dlclose` is safe as far as they are concerned);
/// IMCONV_ERR_TIMEOUT when one still runs; IMCONV_ERR_WOULD_DEADLOCK when
/// called from a callback of an instance being torn down (it would wait for
/// its own thread). Blocking; call it from a host thread.
#[no_mangle]
pub extern "C" fn imconv_wait_freed(timeout_ms: u32) -> i32 {
    guard(IMCONV_ERR_INTERNAL, || {
        match join_stopped(std::time::Duration::from_millis(timeout_ms as u64)) {
            Joined::All => IMCONV_OK,
            Joined::TimedOut => IMCONV_ERR_TIMEOUT,
            Joined::SelfWait => IMCONV_ERR_WOULD_DEADLOCK,
        }
    })
}

/// Resolves an instance argument and the checks every async call makes.
///
/// # Safety
/// `sdk` is NULL or a live instance.
pub(crate) unsafe fn instance<'a>(
    sdk: *mut imconv_sdk,
) -> std::result::Result<&'a imconv_sdk, i32> {
    if sdk.is_null() {
        return Err(IMCONV_ERR_INVALID_PARAMETERS);
    }
    // SAFETY: not NULL, so a live instance (this function's contract), which
    // the caller's call keeps alive for `'a`.
    let sdk = unsafe { borrow::<imconv_sdk>(sdk) };
    sdk.accept()?;
    Ok(sdk)
}

/// Host delivery (`"delivery": "host"` in the config): runs up to `max`
/// waiting callbacks (0: all those waiting now) on the calling thread, one
/// at a time, and returns how many ran. With host delivery no callback of
/// the instance runs anywhere else: the host calls this from its own event
/// loop (the thread that calls it is the callback thread for that time).
/// Every other rule holds: each accepted call gets exactly one callback, in
/// the same order as with thread delivery, never inside the call that
/// started it. Calls from several threads at once take turns, and so does
/// an `imconv_sdk_free` on another thread (it delivers what is left after
/// the dispatch in progress returns). Called from inside a callback (a
/// nested event loop), it runs further waiting callbacks on this thread.
///
/// A callback may call `imconv_sdk_free` on this instance: the teardown
/// then finishes here, every callback still owed is delivered, and the
/// instance is gone when this returns (do not call it again with `sdk`).
///
/// Returns 0 for NULL, for an instance with thread delivery, in a child
/// after fork(), or when nothing waits.
///
/// # Safety
/// `sdk` is NULL or a live instance.
#[no_mangle]
pub unsafe extern "C-unwind" fn imconv_dispatch(sdk: *mut imconv_sdk, max: usize) -> usize {
    let held = guard(None, || {
        // SAFETY: NULL or a live instance (this function's contract).
        if sdk.is_null() || !unsafe { borrow::<imconv_sdk>(sdk) }.in_creating_process() {
            return None;
        }
        // Held for the call: a callback that frees the instance must not
        // free it under this function's feet.
        // SAFETY: a live instance (this function's contract); the count
        // taken here is given back by dropping `held`.
        Some(unsafe { hold::<imconv_sdk>(sdk) })
    });
    let Some(held) = held else { return 0 };
    // Outside the export's panic guard: the host's callbacks run in here
    // (see `dispatch`).
    let ran = held.engine.dispatch(max);
    guard((), move || drop(held));
    ran
}

/// Host delivery: a file descriptor that is readable while callbacks wait,
/// for poll/epoll/select, GLib's g_unix_fd_add, Qt's QSocketNotifier or a
/// game loop; when it is readable, call `imconv_dispatch`. The library owns
/// it (do not read, write or close it); it is valid until the instance is
/// freed. Returns -1 for NULL, thread delivery, or a child after fork().
///
/// # Safety
/// `sdk` is NULL or a live instance.
#[no_mangle]
pub unsafe extern "C" fn imconv_event_fd(sdk: *mut imconv_sdk) -> i32 {
    guard(-1, || {
        if sdk.is_null() {
            return -1;
        }
        // SAFETY: not NULL, so a live instance (this function's contract).
        let sdk = unsafe { borrow::<imconv_sdk>(sdk) };
        if !sdk.in_creating_process() {
            return -1;
        }
        sdk.engine.event_fd()
    })
}
