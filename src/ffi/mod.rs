//! The C ABI: the only code with `extern "C"`, raw pointers and `unsafe`.
//!
//! Each file is one part of the API: `error` (codes and their texts),
//! `string` (strings the library hands over), `sdk` (instances), `lookup`
//! (getConversation, getConversationList), `import` (writing conversations),
//! `conversation` (the conversation view, its JSON form and its lifetime),
//! `handle` (the one door for pointer casts, references C holds, and lends).
//! Everything here checks and converts arguments, then calls the safe core.

#![allow(non_camel_case_types)]

pub mod backup;
pub mod conversation;
pub mod encryption;
pub mod error;
mod handle;
pub mod import;
pub mod listener;
pub mod log;
pub mod lookup;
pub mod manager;
pub mod sdk;
pub mod server;
pub mod string;
pub mod suspension;

use crate::write::Write;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::dispatch::Completer;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::inject::{self, Stage};
use crate::model::{check_document_size, quote, ConversationId, IdList, Text, MAX_DOCUMENT_BYTES};
use sdk::instance;

pub use conversation::*;
pub use error::*;
pub use import::*;
pub use listener::*;
pub use log::*;
pub use lookup::*;
pub use manager::*;
pub use sdk::*;
pub use server::*;
pub use string::*;
pub use suspension::*;

/// Runs the body of an export; a panic becomes `on_panic` instead of
/// unwinding into C (which would abort the host).
fn guard<R>(on_panic: R, body: impl FnOnce() -> R) -> R {
    // A panic in here goes to the log, not to stderr.
    let _inside = crate::log::InLibrary::enter();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// The frame of a blocking export that reports failure through
/// `out_error`: `*out_error` is cleared, `body` runs under the panic guard,
/// and its failure is logged (as `what`) and handed to the host as a
/// message for `imconv_string_free`; returns its code.
///
/// # Safety
/// `out_error` is NULL or writable.
unsafe fn with_out_error(
    what: &str,
    out_error: *mut *mut c_char,
    body: impl FnOnce() -> Result<i32>,
) -> i32 {
    guard(error::IMCONV_ERR_INTERNAL, || {
        if !out_error.is_null() {
            // SAFETY: not NULL, so writable (this function's contract).
            unsafe { *out_error = std::ptr::null_mut() };
        }
        body().unwrap_or_else(|error| {
            crate::log::failure(what, &error);
            if !out_error.is_null() {
                // SAFETY: as above.
                unsafe { *out_error = handle::give_string(error.message().to_string()) };
            }
            error.code().as_i32()
        })
    })
}

/// The host's `user_data`: passed back untouched, never dereferenced.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);

// SAFETY: the library never dereferences user_data; it only hands it back
// to the host's callbacks, which the header documents run on a library thread.
unsafe impl Send for UserData {}

impl UserData {
    fn get(self) -> *mut c_void {
        self.0
    }
}

/// Borrows a C string argument as UTF-8, naming the argument in the error.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for `'a`.
unsafe fn str_arg<'a>(p: *const c_char, name: &dyn std::fmt::Display) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::invalid_parameters(format!("{name} is NULL")));
    }
    // SAFETY: not NULL, so a NUL-terminated string valid for 'a (this
    // function's contract).
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        Error::invalid_parameters(format!(
            "{name} is not valid UTF-8 ({e}): {}",
            quote(&String::from_utf8_lossy(bytes))
        ))
    })
}

/// A message as a C string for a callback: a NUL inside (never produced by
/// the library) would cut it, so it is replaced.
fn message_cstring(message: &str) -> CString {
    CString::new(message.replace('\0', "\u{fffd}")).unwrap_or_default()
}

/// Calls the host's failure callback with the error's code and message.
fn deliver_error(on_error: ErrorCallback, error: &Error, user_data: UserData) {
    crate::log::failure("a call failed", error);
    let desc = message_cstring(error.message());
    // SAFETY: on_error is the host's function; desc lives across the call.
    unsafe { on_error(error.code().as_i32(), desc.as_ptr(), user_data.get()) }
}

/// Reads are bounded by the dispatcher; writes by their queue.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Read,
    Write,
}

/// The body of every async export. It checks the instance and both
/// callbacks (a failed check is the return value, and no callback is ever
/// made), reads the arguments with `args` on the calling thread (a bad one
/// fails through `on_error`), then `start`s the work with the promise whose
/// success goes to `deliver` and failure to `on_error`. When `start` refuses
/// the call (it dropped the promise unfulfilled), its code is returned.
///
/// One signal per call, panics included: a panic before the promise exists
/// is the return value (IMCONV_ERR_INTERNAL, no callback); once it exists
/// the call returns IMCONV_OK and the promise owes exactly one callback
/// (dropped by the panic, it fails with IMCONV_ERR_INTERNAL; handed over, it
/// completes as it would have); a panic while delivering, before the host's
/// callback ran, fails the call through `on_error`.
///
/// A read (lookup, list, page, total, groups) also takes one of the
/// instance's [`crate::engine::MAX_QUEUED_READS`] places, given back once
/// its callback ran: none free is the return value IMCONV_ERR_QUEUE_FULL.
///
/// # Safety
/// `sdk` is NULL or a live instance; `args` reads only valid pointers.
#[allow(clippy::too_many_arguments)]
unsafe fn async_call<S, A, T>(
    kind: CallKind,
    sdk: *mut imconv_sdk,
    on_success: Option<S>,
    on_error: Option<ErrorCallback>,
    user_data: *mut c_void,
    args: impl FnOnce() -> Result<A>,
    start: impl FnOnce(&Engine<ConversationView>, A, Completer<T>) -> Result<()>,
    deliver: impl FnOnce(T, S, *mut c_void) + Send + 'static,
) -> i32
where
    S: Send + 'static,
    T: Send + 'static,
{
    guard(IMCONV_ERR_INTERNAL, || {
        inject::point(Stage::Entry);
        // SAFETY: `sdk` is NULL or a live instance (this function's contract).
        let sdk = match unsafe { instance(sdk) } {
            Ok(sdk) => sdk,
            Err(code) => return code,
        };
        let (Some(on_success), Some(on_error)) = (on_success, on_error) else {
            return IMCONV_ERR_INVALID_PARAMETERS;
        };
        let user_data = UserData(user_data);
        let deliver = move |result: Result<T>| {
            // The library's own work before the host's callback runs under a
            // panic guard; the host's callback does not (see `host_call`).
            let checked = catch_unwind(AssertUnwindSafe(|| inject::point(Stage::Delivery)));
            match (checked, result) {
                (Ok(()), Ok(value)) => deliver(value, on_success, user_data.get()),
                (Ok(()), Err(e)) => deliver_error(on_error, &e, user_data),
                // A panic before the host's callback: the call is still owed one.
                (Err(_), _) => deliver_error(
                    on_error,
                    &Error::internal(
                        "internal error: a panic was caught while delivering the result",
                    ),
                    user_data,
                ),
            }
        };
        let done = match kind {
            CallKind::Read => match sdk.engine.read_completer(deliver) {
                Ok(done) => done,
                Err(e) => return e.code().as_i32(),
            },
            CallKind::Write => sdk.engine.completer(deliver),
        };
        catch_unwind(AssertUnwindSafe(move || {
            inject::point(Stage::Arguments);
            match args() {
                // Refused at once (a full queue): the code is the return
                // value, and `start` dropped the promise without a delivery.
                Ok(args) => match start(&sdk.engine, args, done) {
                    Ok(()) => {
                        inject::point(Stage::Accepted);
                        IMCONV_OK
                    }
                    Err(e) => e.code().as_i32(),
                },
                Err(e) => {
                    done.complete(Err(e));
                    IMCONV_OK
                }
            }
        }))
        // The promise was dropped by the panic (and fails with
        // IMCONV_ERR_INTERNAL) or handed over (and completes): either way
        // exactly one callback follows.
        .unwrap_or(IMCONV_OK)
    })
}

/// Runs a write: the shared body of every write export. An argument that
/// cannot be read fails the write in order, like a write that fails.
///
/// # Safety
/// `sdk` is NULL or a live instance; `op` reads only valid pointers.
pub(crate) unsafe fn write_call(
    sdk: *mut imconv_sdk,
    op: impl FnOnce() -> Result<Write>,
    on_success: import::imconv_done_callback,
    on_error: lookup::imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: `sdk` is NULL or a live instance and the callbacks are the
    // host's (this function's contract); the last closure calls the host's
    // `on_success` with its own `user_data`.
    unsafe {
        async_call(
            CallKind::Write,
            sdk,
            on_success,
            on_error,
            user_data,
            || Ok(op()),
            |engine, op, done| engine.submit(op, done),
            |(), on_success, user_data| on_success(user_data),
        )
    }
}

/// Runs a write whose one argument is a JSON document (`json_array`): the
/// shared body of import, sync, snapshot, messages and profiles.
///
/// # Safety
/// `sdk` is NULL or a live instance; `json_array` is NULL or a C string.
pub(crate) unsafe fn json_write_call(
    sdk: *mut imconv_sdk,
    json_array: *const c_char,
    write: fn(Vec<u8>) -> Write,
    on_success: import::imconv_done_callback,
    on_error: lookup::imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: as this function's contract says; `json_array` is read
    // inside the call.
    unsafe {
        write_call(
            sdk,
            || read_json(json_array, "json_array").map(write),
            on_success,
            on_error,
            user_data,
        )
    }
}

/// A struct the host hands in that can grow from version to version: it
/// starts with `struct_size`, and an all-zero value means "every member
/// absent" (NULL callbacks and pointers, 0, false).
///
/// # Safety
/// Implement only for `#[repr(C)]` structs whose first member is the
/// `usize` struct_size and for which all-zero bytes are a valid value.
pub(crate) unsafe trait Growable: Sized {
    /// The size of the struct in 0.2.0, the first version that had it:
    /// the smallest a caller can have been compiled with.
    const FIRST_SIZE: usize;
}

/// Reads a growable struct as its caller was compiled: the first
/// `struct_size` bytes (at most this version's size) over an all-zero
/// struct, so members past the caller's `struct_size` read as absent. A
/// larger `struct_size` (a caller compiled against a later header) is read
/// up to this version's members. Err: the `struct_size` it had, when below
/// [`Growable::FIRST_SIZE`] (not set up with its `_init`).
///
/// # Safety
/// `p` points to at least `struct_size` readable bytes (and to a `usize`).
pub(crate) unsafe fn read_growable<T: Growable>(p: *const T) -> std::result::Result<T, usize> {
    // SAFETY: `p` points to a readable `usize` (this function's contract).
    let size = unsafe { p.cast::<usize>().read_unaligned() };
    if size < T::FIRST_SIZE {
        return Err(size);
    }
    let mut out = std::mem::MaybeUninit::<T>::zeroed();
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: the caller's struct has `size` readable bytes; `out` has
    // size_of::<T>() >= n; all-zero bytes (and so any prefix of a valid T
    // over them) are a valid T by the trait's contract.
    unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), out.as_mut_ptr().cast::<u8>(), n);
        Ok(out.assume_init())
    }
}

type ErrorCallback =
    unsafe extern "C-unwind" fn(code: i32, desc: *const c_char, user_data: *mut c_void);

/// Largest ID array a call accepts (bounded only so that its size in bytes
/// cannot overflow).
const MAX_IDS: usize = isize::MAX as usize / std::mem::size_of::<*const c_char>();

/// Copies and validates an ID array; the error names the first bad entry.
///
/// # Safety
/// `ids` is NULL or points to `count` readable pointers, each NULL or a C
/// string.
pub(crate) unsafe fn read_ids(ids: *const *const c_char, count: usize) -> Result<IdList> {
    if count == 0 {
        return Ok(IdList::default());
    }
    if ids.is_null() {
        return Err(Error::invalid_parameters(format!(
            "conversation_ids is NULL but count is {count}"
        )));
    }
    if count > MAX_IDS {
        return Err(Error::invalid_parameters(format!(
            "count {count} is too large"
        )));
    }
    // SAFETY: not NULL, so `count` readable pointers (this function's
    // contract); `count` <= MAX_IDS keeps the size within isize.
    let ptrs = unsafe { std::slice::from_raw_parts(ids, count) };
    // A first pass reads one byte of each string: the host's strings are
    // usually scattered, and these independent loads overlap their cache
    // misses, where the measuring pass below would take them one by one.
    for &p in ptrs {
        if !p.is_null() {
            // SAFETY: not NULL, so a C string: its first byte is readable.
            std::hint::black_box(unsafe { p.read() });
        }
    }
    let mut list = IdList::with_capacity(count);
    for (i, &p) in ptrs.iter().enumerate() {
        let name = format_args!("conversation_ids[{i}]");
        // SAFETY: each entry is NULL or a C string (this function's contract).
        let id = unsafe { str_arg(p, &name) }?;
        list.push(id)
            .map_err(|e| e.context(format_args!("conversation_ids[{i}]")))?;
    }
    Ok(list)
}

/// Reads one conversation ID argument.
///
/// # Safety
/// As for `str_arg`.
pub(crate) unsafe fn read_id(p: *const c_char, name: &str) -> Result<ConversationId> {
    // SAFETY: as this function's contract says.
    ConversationId::parse(unsafe { str_arg(p, &name) }?)
}

/// Reads a text argument; NULL reads as "" when `null_is_empty`.
///
/// # Safety
/// As for `str_arg`.
pub(crate) unsafe fn read_text(p: *const c_char, name: &str, null_is_empty: bool) -> Result<Text> {
    if p.is_null() && null_is_empty {
        return Ok(Text::default());
    }
    // SAFETY: as this function's contract says.
    Text::new(unsafe { str_arg(p, &name) }?)
}

/// Copies a JSON document argument.
///
/// # Safety
/// As for `str_arg`.
pub(crate) unsafe fn read_json(p: *const c_char, name: &str) -> Result<Vec<u8>> {
    if p.is_null() {
        return Err(Error::invalid_parameters(format!("{name} is NULL")));
    }
    // Measured without reading past the limit, and refused before a copy.
    // SAFETY: not NULL, so a C string: strnlen stops at its NUL or the limit.
    let len = unsafe { libc::strnlen(p, MAX_DOCUMENT_BYTES + 1) };
    check_document_size(name, len)?;
    // SAFETY: the string's first `len` bytes are readable (strnlen found
    // them before its NUL).
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener as a later version might have it: one member more.
    #[repr(C)]
    #[derive(Debug, PartialEq)]
    struct Grown {
        struct_size: usize,
        first: usize,
        added: usize,
    }

    // SAFETY: repr(C), struct_size first, all-zero is a valid value.
    unsafe impl Growable for Grown {
        const FIRST_SIZE: usize = 2 * std::mem::size_of::<usize>();
    }

    #[test]
    fn members_past_struct_size_read_as_absent() {
        let word = std::mem::size_of::<usize>();
        // A caller compiled before `added`: what follows its struct is not
        // its own (poison here), and is never read.
        let old = [2 * word, 7, usize::MAX];
        // SAFETY: `old` holds struct_size (two words) readable bytes.
        let read = unsafe { read_growable(old.as_ptr().cast::<Grown>()) }.unwrap();
        assert_eq!(
            read,
            Grown {
                struct_size: 2 * word,
                first: 7,
                added: 0
            }
        );
        // The current size, and a later caller's larger one.
        for size in [3 * word, 5 * word] {
            let new = [size, 7, 9, usize::MAX, usize::MAX];
            // SAFETY: `new` holds five words, more than any size read here.
            let read = unsafe { read_growable(new.as_ptr().cast::<Grown>()) }.unwrap();
            assert_eq!((read.first, read.added), (7, 9));
        }
        // Below the first version's size: not set up, refused.
        for size in [0, word, 2 * word - 1] {
            let bad = [size, 7, 9];
            // SAFETY: `bad` holds a readable usize (the struct_size read).
            let read = unsafe { read_growable(bad.as_ptr().cast::<Grown>()) };
            assert_eq!(read, Err(size));
        }
    }
}
