//! Fault injection for tests: a panic at a named stage of a call, so that a
//! test can check that every stage keeps "one signal per call" (a non-zero
//! return and no callback, or IMCONV_OK and exactly one callback). Off
//! unless a test turns it on; then each stage costs one relaxed load.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where a call can be made to panic, in the order a call passes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// An export, before it checked anything (no promise exists yet).
    Entry = 1,
    /// An export reading its arguments (the promise exists).
    Arguments,
    /// The engine taking the call, before it is queued.
    Accept,
    /// An export, after the engine took the call.
    Accepted,
    /// The work on a library thread (a write, or a read of the store).
    Work,
    /// The delivery, before the host's callback.
    Delivery,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Entry,
        Stage::Arguments,
        Stage::Accept,
        Stage::Accepted,
        Stage::Work,
        Stage::Delivery,
    ];
}

static PANIC_AT: AtomicU8 = AtomicU8::new(0);

/// Makes every call panic at `stage` from now on (`None`: never). Global to
/// the process: a test that uses it runs alone in its test binary.
pub fn panic_at(stage: Option<Stage>) {
    PANIC_AT.store(stage.map_or(0, |s| s as u8), Ordering::SeqCst);
}

/// A stage of a call: panics here when a test asked for it.
#[inline]
pub fn point(stage: Stage) {
    if PANIC_AT.load(Ordering::Relaxed) == stage as u8 {
        panic!("a panic injected at {stage:?} (a test asked for it)");
    }
}

/// Failures a test can make happen where nothing else would: an error, not
/// a panic, at one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// A page read on the reader connection fails.
    ReaderPage = 1,
}

static FAIL_AT: AtomicU8 = AtomicU8::new(0);

/// Makes `fault` happen from now on (`None`: never). Global to the process,
/// like [`panic_at`].
pub fn fail_at(fault: Option<Fault>) {
    FAIL_AT.store(fault.map_or(0, |f| f as u8), Ordering::SeqCst);
}

/// Whether a test asked for `fault` here.
#[inline]
pub fn fails(fault: Fault) -> bool {
    FAIL_AT.load(Ordering::Relaxed) == fault as u8
}
