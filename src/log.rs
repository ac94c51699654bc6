//! The library's log: what it tells the host (opening stores, migrations,
//! recoveries, refused inputs, caught panics), through one sink the host
//! sets. The library never writes to stdout or stderr itself: without a
//! sink, messages are dropped, and panics inside the library (on its own
//! threads, or inside one of its calls) go to the sink instead of the
//! default panic message; panics elsewhere in the process still reach the
//! previous panic hook.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Once};

use parking_lot::RwLock;

use crate::error::{Error, ErrorCode};

/// How much a message matters; a sink set at one level receives it and
/// everything more severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    pub fn from_i32(level: i32) -> Option<Level> {
        Some(match level {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => return None,
        })
    }
}

/// Receives one message; called on whatever thread logs it.
pub type Sink = dyn Fn(Level, &str) + Send + Sync;

static SINK: RwLock<Option<Arc<Sink>>> = parking_lot::const_rwlock(None);
/// The most verbose level passed to the sink (0: none), read without a lock
/// so that a disabled message costs one load and formats nothing.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// Sets the sink and its level (`None`: no log).
pub fn set_sink(level: Level, sink: Option<Arc<Sink>>) {
    let enabled = sink.is_some();
    *SINK.write() = sink;
    LEVEL.store(if enabled { level as u8 } else { 0 }, Ordering::Release);
    install_panic_hook();
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Acquire)
}

/// Logs a message, formatted only when someone receives it. The sink is
/// called with no lock of the log held.
pub fn log(level: Level, message: fmt::Arguments) {
    if !enabled(level) {
        return;
    }
    let sink = SINK.read().clone();
    if let Some(sink) = sink {
        sink(level, &message.to_string());
    }
}

pub fn error(message: fmt::Arguments) {
    log(Level::Error, message)
}
pub fn warn(message: fmt::Arguments) {
    log(Level::Warn, message)
}
pub fn info(message: fmt::Arguments) {
    log(Level::Info, message)
}
pub fn debug(message: fmt::Arguments) {
    log(Level::Debug, message)
}

/// Logs a failure handed to the host (`what` says which, for example "a
/// call failed"), at the level its kind deserves: input the library refused
/// at info, a refusal for the instance's state (locked, deadlock, timeout,
/// another process) at warn, a store, I/O, memory or internal failure at
/// error, shutdown at debug. This is the one place failures are logged, so
/// none is logged twice.
pub fn failure(what: &str, e: &Error) {
    let level = match e.code() {
        ErrorCode::InvalidParameters | ErrorCode::InvalidJson | ErrorCode::ReadOnly => Level::Info,
        ErrorCode::StoreLocked
        | ErrorCode::WrongProcess
        | ErrorCode::QueueFull
        | ErrorCode::WouldDeadlock
        | ErrorCode::Timeout
        | ErrorCode::WrongKey
        | ErrorCode::StoreBusy
        | ErrorCode::Suspended => Level::Warn,
        ErrorCode::Database
        | ErrorCode::Io
        | ErrorCode::OutOfMemory
        | ErrorCode::StoreDamaged
        | ErrorCode::StoreFailed
        | ErrorCode::Internal => Level::Error,
        ErrorCode::Shutdown | ErrorCode::Ok => Level::Debug,
    };
    log(level, format_args!("{what}: {e}"));
}

thread_local! {
    /// Inside the library: one of its threads, or one of its calls.
    static IN_LIBRARY: Cell<u32> = const { Cell::new(0) };
}

/// Marks the current thread as the library's for its whole life.
pub fn library_thread() {
    install_panic_hook();
    IN_LIBRARY.with(|c| c.set(c.get() + 1));
}

/// Marks the current thread as inside the library until dropped (an
/// exported call running on the host's thread).
pub struct InLibrary(());

impl InLibrary {
    pub fn enter() -> InLibrary {
        IN_LIBRARY.with(|c| c.set(c.get() + 1));
        InLibrary(())
    }
}

impl Drop for InLibrary {
    fn drop(&mut self) {
        IN_LIBRARY.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

fn in_library() -> bool {
    IN_LIBRARY.try_with(|c| c.get() > 0).unwrap_or(false)
}

static HOOK: Once = Once::new();

/// Routes panics inside the library to the log; others to the hook that
/// was there before. Installed once.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if in_library() {
                error(format_args!(
                    "a panic inside the library was caught: {info}"
                ));
            } else {
                previous(info);
            }
        }));
    });
}

/// At unload: gives back the hook's memory (std's hook is this library's
/// own copy when it is a shared library, so the host's panics are not
/// affected; at a static link's exit nothing panics any more).
pub fn uninstall_panic_hook() {
    if HOOK.is_completed() {
        drop(std::panic::take_hook());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[test]
    fn levels_filter_and_panics_inside_go_to_the_sink() {
        let got: Arc<Mutex<Vec<(Level, String)>>> = Arc::default();
        let g = got.clone();
        set_sink(
            Level::Info,
            Some(Arc::new(move |l, m: &str| {
                g.lock().push((l, m.to_string()))
            })),
        );
        info(format_args!("opened {}", 1));
        debug(format_args!("not passed"));
        std::thread::spawn(|| {
            library_thread();
            let _ = std::panic::catch_unwind(|| panic!("boom (expected by the test)"));
        })
        .join()
        .unwrap();
        set_sink(Level::Debug, None);
        info(format_args!("no sink: dropped"));
        // Other tests may log meanwhile: look for these messages only.
        let got = got.lock();
        assert!(
            got.contains(&(Level::Info, "opened 1".to_string())),
            "{got:?}"
        );
        assert!(got
            .iter()
            .all(|(_, m)| m != "not passed" && m != "no sink: dropped"));
        assert!(
            got.iter()
                .any(|(l, m)| *l == Level::Error && m.contains("boom")),
            "{got:?}"
        );
    }
}
