//! The one door between the library's objects and the pointers C holds:
//! every cast of a handle, every reference count C takes or gives back
//! (an instance's new and free, a view's retain and release), every string
//! handed over for `imconv_string_free`, and every lend of views or texts to
//! a callback is here, each with its contract. (Reading the host's own
//! arguments, strings, arrays and versioned structs, is `mod.rs`'s.)
//!
//! Two library objects are `Arc`s seen from C: an instance (`imconv_sdk*`,
//! the `Arc`'s pointer itself) and a conversation view
//! (`imconv_conversation*`, a pointer to the C struct the view begins with).
//! A pointer C holds is always an `Arc`'s own (`Arc::as_ptr`, cast), so the
//! count C takes with it is the `Arc`'s.

use std::ffi::{c_char, CString};
use std::ptr;
use std::sync::Arc;

use super::conversation::{imconv_conversation, ConversationView};
use super::sdk::imconv_sdk;
use crate::model::Text;

/// A library object C holds as a pointer to `Raw`.
///
/// # Safety
/// A pointer to `Self` must be a valid pointer to `Raw`: `Self` is `Raw`,
/// or is `#[repr(C)]` with a `Raw` as its first field.
pub(crate) unsafe trait ArcHandle: Sized {
    type Raw;
}

// SAFETY: the instance is its own C type (opaque to C).
unsafe impl ArcHandle for imconv_sdk {
    type Raw = imconv_sdk;
}

// SAFETY: `ConversationView` is `#[repr(C)]` and begins with its
// `imconv_conversation`.
unsafe impl ArcHandle for ConversationView {
    type Raw = imconv_conversation;
}

/// Gives C an owned reference: [`take`] gives it back, once.
pub(crate) fn into_raw<T: ArcHandle>(object: Arc<T>) -> *mut T::Raw {
    Arc::into_raw(object).cast::<T::Raw>().cast_mut()
}

/// The pointer C sees for an object someone else keeps alive.
pub(crate) fn as_raw<T: ArcHandle>(object: &Arc<T>) -> *const T::Raw {
    Arc::as_ptr(object).cast()
}

/// The object behind a handle, borrowed.
///
/// # Safety
/// `handle` is not NULL and was made by [`into_raw`] or [`as_raw`] for a `T`
/// that stays alive for `'a`.
pub(crate) unsafe fn borrow<'a, T: ArcHandle>(handle: *const T::Raw) -> &'a T {
    // SAFETY: an `Arc<T>`'s pointer, alive for `'a` (this function's
    // contract).
    unsafe { &*handle.cast::<T>() }
}

/// A new reference to the object behind a handle, for as long as the
/// caller holds it (whatever C does with its own meanwhile).
///
/// # Safety
/// As for [`borrow`], during this call.
pub(crate) unsafe fn hold<T: ArcHandle>(handle: *const T::Raw) -> Arc<T> {
    let handle = handle.cast::<T>();
    // SAFETY: an `Arc<T>`'s pointer, alive now (this function's contract):
    // the count added here is the one the returned `Arc` gives back.
    unsafe {
        Arc::increment_strong_count(handle);
        Arc::from_raw(handle)
    }
}

/// Takes back the reference [`into_raw`] gave C.
///
/// # Safety
/// `handle` is [`into_raw`]'s, and this is its one `take`.
pub(crate) unsafe fn take<T: ArcHandle>(handle: *const T::Raw) -> Arc<T> {
    // SAFETY: `into_raw`'s pointer, taken back once (this function's
    // contract).
    unsafe { Arc::from_raw(handle.cast::<T>()) }
}

/// Counts one more reference C holds (a view's retain).
///
/// # Safety
/// As for [`borrow`], during this call.
pub(crate) unsafe fn retain<T: ArcHandle>(handle: *const T::Raw) {
    // SAFETY: an `Arc<T>`'s pointer, alive now (this function's contract).
    unsafe { Arc::increment_strong_count(handle.cast::<T>()) }
}

/// Gives back one reference C held (a view's release).
///
/// # Safety
/// `handle` holds a reference counted by [`retain`], given back once.
pub(crate) unsafe fn release<T: ArcHandle>(handle: *const T::Raw) {
    // SAFETY: the reference `retain` counted (this function's contract).
    unsafe { Arc::decrement_strong_count(handle.cast::<T>()) }
}

/// Hands a view to C for the length of a call. `view` keeps its reference
/// across the call, so `imconv_conversation_retain` may count on the
/// pointer, and gives it back however the call ends (a host's forced
/// unwind included).
pub(crate) fn lend<R>(
    view: Arc<ConversationView>,
    f: impl FnOnce(*const imconv_conversation) -> R,
) -> R {
    f(as_raw(&view))
}

/// Lends views that `views` keeps across the call, as an array of pointers
/// (NULL when there are none).
pub(crate) fn lend_slice<R>(
    views: &[Arc<ConversationView>],
    f: impl FnOnce(*const *const imconv_conversation, usize) -> R,
) -> R {
    let raws: Vec<*const imconv_conversation> = views.iter().map(as_raw).collect();
    f(array_ptr(&raws), raws.len())
}

/// Lends many views at once, as an array of pointers, and gives them back.
pub(crate) fn lend_all<R>(
    views: Vec<Arc<ConversationView>>,
    f: impl FnOnce(*const *const imconv_conversation, usize) -> R,
) -> R {
    let result = lend_slice(&views, f);
    // The views were last counted on the calling thread: plain loads of
    // every count first overlap the cache misses that the (locked, so
    // serializing) decrements of the drop would otherwise take one at a time.
    for view in &views {
        std::hint::black_box(Arc::strong_count(view));
    }
    drop(views);
    result
}

/// Hands a string to the caller, who frees it with `imconv_string_free`
/// ([`take_string`]).
pub(crate) fn give_string(s: String) -> *mut c_char {
    super::message_cstring(&s).into_raw()
}

/// Takes back a string [`give_string`] handed over.
///
/// # Safety
/// `s` is [`give_string`]'s, taken back once.
pub(crate) unsafe fn take_string(s: *mut c_char) -> CString {
    // SAFETY: `CString::into_raw`'s pointer, taken back once (this
    // function's contract).
    unsafe { CString::from_raw(s) }
}

/// A text as C sees it: its bytes, with the NUL `Text` keeps after them.
pub(crate) fn text_ptr(text: &Text) -> *const c_char {
    c_str_ptr(text.as_bytes_with_nul())
}

/// Bytes that end with a NUL, as a C string.
pub(crate) fn c_str_ptr(bytes_with_nul: &[u8]) -> *const c_char {
    debug_assert_eq!(bytes_with_nul.last(), Some(&0), "a C string ends with NUL");
    bytes_with_nul.as_ptr().cast()
}

/// Lends texts that live across the call as an array of C strings (NULL
/// when there are none): conversation IDs, group names.
pub(crate) fn lend_texts<'a, R>(
    texts: impl Iterator<Item = &'a Text>,
    f: impl FnOnce(*const *const c_char, usize) -> R,
) -> R {
    let ptrs: Vec<*const c_char> = texts.map(text_ptr).collect();
    f(array_ptr(&ptrs), ptrs.len())
}

/// Lends `strings` to C for the duration of `f`, as NUL-terminated copies
/// (an interior NUL, which no stored ID has, is dropped): for text that is
/// not a [`Text`] already (damaged IDs, messages).
pub(crate) fn lend_strings<'a, R>(
    strings: impl Iterator<Item = &'a str>,
    f: impl FnOnce(*const *const c_char, usize) -> R,
) -> R {
    let owned: Vec<CString> = strings.map(c_string).collect();
    let ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
    f(array_ptr(&ptrs), ptrs.len())
}

/// `s` as a C string, interior NULs dropped.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// An array for C: NULL when empty (never a dangling non-NULL pointer).
pub(crate) fn array_ptr<T>(items: &[T]) -> *const T {
    if items.is_empty() {
        ptr::null()
    } else {
        items.as_ptr()
    }
}
