//! The thread that runs the host's callbacks, started without a panic
//! guard at its base.
//!
//! A host may end the thread its callback runs on with a forced unwind:
//! `pthread_exit`, a cancellation, or CPython ending a thread that enters a
//! finalizing interpreter. glibc aborts the process when such an unwind is
//! caught and not rethrown, which is what every `catch_unwind` does,
//! including the one at the base of each `std::thread`. So the callback
//! thread is a plain POSIX thread whose start routine may unwind, and the
//! library calls the host only from frames with no `catch_unwind` above
//! them (see `dispatch`): a forced unwind runs the library's destructors on
//! its way and ends the thread, as the host asked.
//!
//! Everything here is the `unsafe` needed to start and join that thread.

use std::ffi::{c_void, CString};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A started thread: joined with [`HostThread::join`], or detached when
/// dropped unjoined.
pub struct HostThread {
    handle: libc::pthread_t,
    finished: Arc<AtomicBool>,
    joined: bool,
}

// SAFETY: a pthread_t may be joined or detached from any thread.
unsafe impl Send for HostThread {}

/// Set when the thread's body has returned or been unwound through.
struct Finished(Arc<AtomicBool>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

type Body = Box<dyn FnOnce() + Send>;

/// The callback thread's stack: what `std::thread` gives by default.
const STACK_BYTES: usize = 2 << 20;

type StartRoutine = extern "C-unwind" fn(*mut c_void) -> *mut c_void;

extern "C" {
    /// pthread_create, declared with a start routine that may unwind (the
    /// libc crate's declaration says it may not).
    #[link_name = "pthread_create"]
    fn pthread_create_unwinding(
        thread: *mut libc::pthread_t,
        attr: *const libc::pthread_attr_t,
        start: StartRoutine,
        arg: *mut c_void,
    ) -> libc::c_int;
}

/// What `spawn` hands to the new thread.
struct Start {
    body: Body,
    finished: Arc<AtomicBool>,
    name: Option<CString>,
}

extern "C-unwind" fn start(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the Box<Start> leaked by `spawn`, handed to exactly
    // this one thread.
    let start = *unsafe { Box::from_raw(arg.cast::<Start>()) };
    let _finished = Finished(start.finished);
    if let Some(name) = &start.name {
        // SAFETY: a C string of at most 15 bytes, for this very thread. A
        // failure only leaves the thread unnamed.
        unsafe { libc::pthread_setname_np(libc::pthread_self(), name.as_ptr()) };
    }
    (start.body)();
    std::ptr::null_mut()
}

impl HostThread {
    /// Starts `body` on a new thread named `name` (at most 15 bytes are
    /// kept, the kernel's limit). `body` must not let a Rust panic escape:
    /// nothing above it catches one (the process would abort).
    pub fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> io::Result<HostThread> {
        let finished = Arc::new(AtomicBool::new(false));
        let name = CString::new(name.chars().take(15).collect::<String>()).ok();
        let arg = Box::into_raw(Box::new(Start {
            body: Box::new(body),
            finished: finished.clone(),
            name,
        }));
        let mut handle: libc::pthread_t = 0;
        // SAFETY: `attr` is initialized before use and destroyed after;
        // `start` matches pthread's start routine (it may unwind, as
        // pthread_exit itself does); `arg` is a valid leaked box.
        let rc = unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            libc::pthread_attr_init(&mut attr);
            // std's default, whatever the platform's (macOS gives 512 KiB).
            libc::pthread_attr_setstacksize(&mut attr, STACK_BYTES);
            let rc = pthread_create_unwinding(&mut handle, &attr, start, arg.cast());
            libc::pthread_attr_destroy(&mut attr);
            rc
        };
        if rc != 0 {
            // SAFETY: the thread was not created, so `arg` is still ours.
            drop(unsafe { Box::from_raw(arg) });
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(HostThread {
            handle,
            finished,
            joined: false,
        })
    }

    /// True once the thread's body returned or was unwound through (the
    /// thread then exits at once).
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Waits until the thread has exited.
    pub fn join(mut self) {
        self.joined = true;
        // SAFETY: the thread was created joinable and is joined once.
        unsafe { libc::pthread_join(self.handle, std::ptr::null_mut()) };
    }
}

impl Drop for HostThread {
    fn drop(&mut self) {
        if !self.joined {
            // SAFETY: never joined, so still joinable; detaching lets the
            // system reclaim it when it exits.
            unsafe { libc::pthread_detach(self.handle) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_joins_and_names() {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = HostThread::spawn("imconv-test-thread-long-name", move || {
            let name = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
            tx.send(name.trim().to_string()).unwrap();
        })
        .unwrap();
        assert_eq!(rx.recv().unwrap(), "imconv-test-thr");
        t.join();
    }

    #[test]
    fn finished_is_set_when_the_body_returns() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = HostThread::spawn("t", move || {
            let _ = rx.recv();
        })
        .unwrap();
        assert!(!t.is_finished());
        drop(tx);
        while !t.is_finished() {
            std::thread::yield_now();
        }
        t.join();
    }
}
