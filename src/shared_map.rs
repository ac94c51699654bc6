//! The change counter of a `"shared"` store: one page of a file beside the
//! database (`conversations.db-changes`), mapped shared by every process
//! that has the store open, so that "did another process write?" costs one
//! atomic load on the hot path. A writer raises the counter to the last
//! change it logged (see `store::changes`) after its commit and before its
//! callback; an instance whose own copy differs catches up from the log.
//!
//! Idle instances sleep on the counter itself (a futex on Linux: no thread
//! runs while nothing is written) and a writer wakes them only when some
//! sleep (`waiters`). Elsewhere the sleep is a poll (every 50 ms: `POLL`).
//!
//! Everything here is the `unsafe` needed to map the page and wait on it.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The mapped length: one page holds the counter and the sleepers' count.
const LEN: usize = 4096;
/// Byte offsets in the page.
const COUNTER: usize = 8;
const WAITERS: usize = 16;

/// Without a futex (not Linux), how often a sleeping watcher looks.
#[cfg(not(target_os = "linux"))]
pub const POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// The mapped page. Lives as long as the instance (a suspension closes
/// the file, not the mapping: a mapping is no descriptor and no lock).
pub struct SharedMap {
    page: NonNull<u8>,
    /// The file's identity when mapped (device, inode): a store deleted
    /// and made again has a new one (see [`SharedMap::maps`]).
    identity: (u64, u64),
}

// SAFETY: the page is only reached through atomics, which any thread may
// use; the pointer itself never changes until drop.
unsafe impl Send for SharedMap {}
// SAFETY: as above: shared access is atomic access only.
unsafe impl Sync for SharedMap {}

impl SharedMap {
    /// Maps `file` (grown to one page when shorter; a new file's page is
    /// zeros: counter 0).
    pub fn map(file: &File) -> io::Result<SharedMap> {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata()?;
        if meta.len() < LEN as u64 {
            // Never shrinks one another process grew; two that grow it
            // at once agree.
            file.set_len(LEN as u64)?;
        }
        // SAFETY: a fresh shared mapping of LEN bytes of an open file
        // descriptor (at least LEN long now); the result is checked.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let page = NonNull::new(page.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(SharedMap {
            page,
            identity: (meta.dev(), meta.ino()),
        })
    }

    /// Whether this mapping is of the file `meta` describes.
    pub fn maps(&self, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.identity == (meta.dev(), meta.ino())
    }

    fn counter_ref(&self) -> &AtomicU64 {
        // SAFETY: COUNTER is 8-aligned inside the page-aligned mapping,
        // which lives as long as `self`; every process uses it atomically.
        unsafe { &*self.page.as_ptr().add(COUNTER).cast::<AtomicU64>() }
    }

    fn waiters_ref(&self) -> &AtomicU32 {
        // SAFETY: as for `counter_ref` (4-aligned).
        unsafe { &*self.page.as_ptr().add(WAITERS).cast::<AtomicU32>() }
    }

    /// The counter: the last change any process published.
    pub fn counter(&self) -> u64 {
        self.counter_ref().load(Ordering::Acquire)
    }

    /// After a commit that logged changes up to `seq`: raises the counter
    /// (never lowers it: a later writer may have published first) and
    /// wakes the sleeping watchers of every process.
    pub fn publish(&self, seq: u64) {
        self.counter_ref().fetch_max(seq, Ordering::SeqCst);
        if self.waiters_ref().load(Ordering::SeqCst) > 0 {
            self.wake_all();
        }
    }

    /// Sleeps until the counter differs from `seen` (or a wake-up that
    /// may be spurious). Returns at once when it differs already.
    pub fn wait_while(&self, seen: u64) {
        let waiters = self.waiters_ref();
        waiters.fetch_add(1, Ordering::SeqCst);
        if self.counter_ref().load(Ordering::SeqCst) == seen {
            self.sleep(seen);
        }
        waiters.fetch_sub(1, Ordering::SeqCst);
    }

    #[cfg(target_os = "linux")]
    fn sleep(&self, seen: u64) {
        // The futex word is the counter's low half: the kernel sleeps only
        // while it still holds `seen`'s low half.
        // SAFETY: the address is a 4-aligned word of the live mapping;
        // FUTEX_WAIT (not private: the page is shared between processes)
        // reads it atomically and sleeps until a FUTEX_WAKE on it.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.futex_word(),
                libc::FUTEX_WAIT,
                seen as u32,
                std::ptr::null::<libc::timespec>(),
            );
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn sleep(&self, _seen: u64) {
        std::thread::sleep(POLL);
    }

    /// Wakes every watcher sleeping on the counter, in every process (to
    /// stop this instance's own, others just look again).
    pub fn wake_all(&self) {
        #[cfg(target_os = "linux")]
        // SAFETY: FUTEX_WAKE on a word of the live mapping; it only wakes.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.futex_word(),
                libc::FUTEX_WAKE,
                i32::MAX,
            );
        }
    }

    #[cfg(target_os = "linux")]
    fn futex_word(&self) -> *const u32 {
        let low = if cfg!(target_endian = "little") { 0 } else { 4 };
        // SAFETY: inside the mapping (COUNTER + 4 + 4 <= LEN).
        unsafe { self.page.as_ptr().add(COUNTER + low).cast::<u32>() }
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, unmapped once; no reference
        // into it outlives `self`.
        unsafe {
            libc::munmap(self.page.as_ptr().cast(), LEN);
        }
    }
}

/// The mapping an instance uses now, swapped when a resumed instance finds
/// the file made again (the store deleted meanwhile). A replaced mapping
/// stays mapped until the slot drops: a hot-path reader may still hold a
/// reference to it, and it is one page, replaced at most once per resume.
pub struct MapSlot {
    current: std::sync::atomic::AtomicPtr<SharedMap>,
    // Boxed: `current` points at a `SharedMap`, which must not move when
    // the vector grows.
    #[allow(clippy::vec_box)]
    all: parking_lot::Mutex<Vec<Box<SharedMap>>>,
}

impl MapSlot {
    pub fn new(map: SharedMap) -> MapSlot {
        let mut first = Box::new(map);
        let current = std::sync::atomic::AtomicPtr::new(&mut *first as *mut SharedMap);
        MapSlot {
            current,
            all: parking_lot::Mutex::new(vec![first]),
        }
    }

    /// The current mapping: one atomic load.
    pub fn get(&self) -> &SharedMap {
        // SAFETY: `current` always points into a box held in `all`, whose
        // heap allocation never moves and is freed only when `self` drops,
        // which the returned borrow of `self` outlives not.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }

    /// Makes `map` the current mapping (the old one stays mapped).
    pub fn replace(&self, map: SharedMap) {
        let mut all = self.all.lock();
        let mut boxed = Box::new(map);
        self.current
            .store(&mut *boxed as *mut SharedMap, Ordering::Release);
        all.push(boxed);
    }
}
