//! The C ABI: the only code with `extern "C"`, raw pointers and `unsafe`.
//!
//! Each file is one part of the API: `error` (codes and their texts),
//! `string` (strings the library hands over), `sdk` (instances), `lookup`
//! (getConversation, getConversationList), `import` (writing conversations),
//! `conversation` (the conversation view, its JSON form and its lifetime).
//! Everything here checks and converts arguments, then calls the safe core.

#![allow(non_camel_case_types)]

pub mod conversation;
pub mod error;
pub mod import;
pub mod listener;
pub mod log;
pub mod lookup;
pub mod manager;
pub mod sdk;
pub mod string;

use crate::write::Write;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::dispatch::Completer;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{quote, ConversationId, IdList, Text, MAX_DOCUMENT_BYTES};
use sdk::instance;

pub use conversation::*;
pub use error::*;
pub use import::*;
pub use listener::*;
pub use log::*;
pub use lookup::*;
pub use manager::*;
pub use sdk::*;
pub use string::*;

/// Runs the body of an export; a panic becomes `on_panic` instead of
/// unwinding into C (which would abort the host).
fn guard<R>(on_panic: R, body: impl FnOnce() -> R) -> R {
    // A panic in here goes to the log, not to stderr.
    let _inside = crate::log::InLibrary::enter();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
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
    let bytes = CStr::from_ptr(p).to_bytes();
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

/// The body of every async export. It checks the instance and both
/// callbacks (a failed check is the return value, and no callback is ever
/// made), reads the arguments with `args` on the calling thread (a bad one
/// fails through `on_error`), then `start`s the work with the promise whose
/// success goes to `deliver` and failure to `on_error`. When `start` refuses
/// the call (it dropped the promise unfulfilled), its code is returned.
///
/// # Safety
/// `sdk` is NULL or a live instance; `args` reads only valid pointers.
unsafe fn async_call<S, A, T>(
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
        let sdk = match instance(sdk) {
            Ok(sdk) => sdk,
            Err(code) => return code,
        };
        let (Some(on_success), Some(on_error)) = (on_success, on_error) else {
            return IMCONV_ERR_INVALID_PARAMETERS;
        };
        let user_data = UserData(user_data);
        let done = sdk.engine.completer(move |result: Result<T>| match result {
            Ok(value) => deliver(value, on_success, user_data.get()),
            Err(e) => deliver_error(on_error, &e, user_data),
        });
        match args() {
            // Refused at once (a full queue): the code is the return value.
            Ok(args) => match start(&sdk.engine, args, done) {
                Ok(()) => IMCONV_OK,
                Err(e) => e.code().as_i32(),
            },
            Err(e) => {
                done.complete(Err(e));
                IMCONV_OK
            }
        }
    })
}

/// Runs a write: the shared body of every write export. An argument that
/// cannot be read fails the write in order, like a write that fails.
pub(crate) unsafe fn write_call(
    sdk: *mut imconv_sdk,
    op: impl FnOnce() -> Result<Write>,
    on_success: import::imconv_done_callback,
    on_error: lookup::imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    async_call(
        sdk,
        on_success,
        on_error,
        user_data,
        || Ok(op()),
        |engine, op, done| engine.submit(op, done),
        |(), on_success, user_data| unsafe { on_success(user_data) },
    )
}

type ErrorCallback = unsafe extern "C" fn(code: i32, desc: *const c_char, user_data: *mut c_void);

/// Largest ID array a call accepts (bounded only so that its size in bytes
/// cannot overflow).
const MAX_IDS: usize = isize::MAX as usize / std::mem::size_of::<*const c_char>();

/// Copies and validates an ID array; the error names the first bad entry.
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
    let ptrs = std::slice::from_raw_parts(ids, count);
    // A first pass reads one byte of each string: the host's strings are
    // usually scattered, and these independent loads overlap their cache
    // misses, where the measuring pass below would take them one by one.
    for &p in ptrs {
        if !p.is_null() {
            std::hint::black_box(p.read());
        }
    }
    let mut list = IdList::with_capacity(count);
    for (i, &p) in ptrs.iter().enumerate() {
        let name = format_args!("conversation_ids[{i}]");
        let id = str_arg(p, &name)?;
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
    ConversationId::parse(str_arg(p, &name)?)
}

/// Reads a text argument; NULL reads as "" when `null_is_empty`.
///
/// # Safety
/// As for `str_arg`.
pub(crate) unsafe fn read_text(p: *const c_char, name: &str, null_is_empty: bool) -> Result<Text> {
    if p.is_null() && null_is_empty {
        return Ok(Text::default());
    }
    Text::new(str_arg(p, &name)?)
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
    let len = libc::strnlen(p, MAX_DOCUMENT_BYTES + 1);
    if len > MAX_DOCUMENT_BYTES {
        return Err(Error::invalid_parameters(format!(
            "{name} is more than {MAX_DOCUMENT_BYTES} bytes"
        )));
    }
    Ok(std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec())
}
