//! Reads of the list: ordered pages, the unread total and the group names,
//! the filter they take, and the callbacks that receive them.

use std::ffi::{c_char, c_void};
use std::ptr;

use crate::error::{Error, Result};
use crate::ffi::conversation::imconv_conversation;
use crate::ffi::handle::{lend_all, lend_texts};
use crate::ffi::lookup::imconv_error_callback;
use crate::ffi::sdk::imconv_sdk;
use crate::ffi::{async_call, str_arg, CallKind};
use crate::model::{ConversationType, ListFilter, Text};

/// Receives a list of strings (valid until the callback returns).
pub type imconv_string_list_callback = Option<
    unsafe extern "C-unwind" fn(
        strings: *const *const c_char,
        count: usize,
        user_data: *mut c_void,
    ),
>;

/// Receives a number.
pub type imconv_count_callback =
    Option<unsafe extern "C-unwind" fn(value: u64, user_data: *mut c_void)>;

/// Receives one page of the ordered list: `count` conversations, the cursor
/// to pass for the next page, and whether the list is finished. All valid
/// until the callback returns (copy the cursor to keep it).
pub type imconv_page_callback = Option<
    unsafe extern "C-unwind" fn(
        conversations: *const *const imconv_conversation,
        count: usize,
        next_cursor: *const c_char,
        is_finished: bool,
        user_data: *mut c_void,
    ),
>;

/// Which conversations a page or an unread total covers
/// (V2TIMConversationListFilter). A NULL filter covers all. The struct can
/// grow in later versions: set it up with `imconv_list_filter_init` (which
/// sets `struct_size` and clears every member: covers all), then set the
/// members you use by name.
#[repr(C)]
pub struct imconv_list_filter {
    /// `sizeof(imconv_list_filter)` as the caller was compiled: members
    /// past it are read as absent. Set by `imconv_list_filter_init`.
    pub struct_size: usize,
    /// 0 for any, else IMCONV_CONVERSATION_TYPE_C2C or _GROUP.
    pub r#type: i32,
    /// 0 for any, else only conversations whose mark_list holds this value.
    pub mark: u64,
    /// NULL for any, else only conversations in this conversation group.
    pub group: *const c_char,
    /// Only conversations with unread messages.
    pub has_unread: bool,
    /// Only conversations with an unread @ mention.
    pub has_at: bool,
}

/// Sets up a filter for this version of the library: `struct_size` set,
/// every member cleared (covers all). NULL is a no-op.
///
/// # Safety
/// `filter` is NULL or points to writable memory of
/// `sizeof(imconv_list_filter)` bytes.
#[no_mangle]
pub unsafe extern "C" fn imconv_list_filter_init(filter: *mut imconv_list_filter) {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        crate::ffi::guard((), || {
            if let Some(f) = filter.as_mut() {
                *f = imconv_list_filter {
                    struct_size: std::mem::size_of::<imconv_list_filter>(),
                    r#type: 0,
                    mark: 0,
                    group: ptr::null(),
                    has_unread: false,
                    has_at: false,
                };
            }
        })
    }
}

// SAFETY: repr(C), struct_size first; all-zero is the filter that covers
// all.
unsafe impl crate::ffi::Growable for imconv_list_filter {
    /// 0.2.0's layout is this version's; see imconv_listener's.
    const FIRST_SIZE: usize = std::mem::size_of::<imconv_list_filter>();
}

/// Reads a filter argument (NULL covers all; members past the caller's
/// `struct_size` read as absent).
///
/// # Safety
/// `filter` is NULL or points to a filter set up with
/// imconv_list_filter_init, whose `group` is NULL or a C string.
pub(crate) unsafe fn read_filter(filter: *const imconv_list_filter) -> Result<ListFilter> {
    if filter.is_null() {
        return Ok(ListFilter::default());
    }
    // SAFETY: `filter` is a filter the caller set up (this function's
    // contract).
    let f = unsafe { crate::ffi::read_growable(filter) }.map_err(|size| {
        Error::invalid_parameters(format!(
            "filter->struct_size is {size}, less than any version's ({}): set the filter up with imconv_list_filter_init",
            <imconv_list_filter as crate::ffi::Growable>::FIRST_SIZE
        ))
    })?;
    let kind = match f.r#type {
        0 => None,
        1 => Some(ConversationType::C2c),
        2 => Some(ConversationType::Group),
        other => {
            return Err(Error::invalid_parameters(format!(
                "filter type must be 0, 1 or 2 (got {other})"
            )))
        }
    };
    let group = if f.group.is_null() {
        None
    } else {
        // SAFETY: a set-up filter's `group` is NULL or a C string.
        Some(unsafe { str_arg(f.group, &"filter group") }?.to_string())
    };
    Ok(ListFilter {
        kind,
        mark: (f.mark != 0).then_some(f.mark),
        group,
        has_unread: f.has_unread,
        has_at: f.has_at,
    })
}

/// Gets one page of the conversation list (Tencent's getConversationList
/// with nextSeq and count): pinned conversations first, then by order_key
/// descending (the newest activity first), ties by conversation ID
/// descending; only those that pass `filter` (NULL: all).
///
/// `cursor`: NULL or "" for the first page, else the `next_cursor` a
/// previous page returned (opaque text). `count`: 1 to 1000
/// (IMCONV_MAX_PAGE); any other count is refused. Paging is stable: a conversation that moves or is deleted
/// while you page never makes another one be skipped or returned twice (one
/// that moves up past the cursor is simply not returned again).
/// `on_success(conversations, count, next_cursor, is_finished, user_data)`.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a count of
/// 0 or over 1000, a filter type other than 0, 1, 2, a cursor that is not
/// a well-formed cursor of this call, or a string that is not valid UTF-8; IMCONV_ERR_DATABASE when the store
/// cannot be read.
///
/// The calling contract of a read (return codes, the one callback, what the
/// callback may keep, threads) is in the header's preamble, "Reads".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `filter` is NULL
/// or valid for the call (its `group` NULL or a NUL-terminated string);
/// `cursor` is NULL or a NUL-terminated string; the callbacks must not
/// unwind (no C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_conversation_page(
    sdk: *mut imconv_sdk,
    filter: *const imconv_list_filter,
    cursor: *const c_char,
    count: usize,
    on_success: imconv_page_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        let args = || -> Result<(ListFilter, String)> {
            let cursor = if cursor.is_null() {
                String::new()
            } else {
                str_arg(cursor, &"cursor")?.to_string()
            };
            Ok((read_filter(filter)?, cursor))
        };
        async_call(
            CallKind::Read,
            sdk,
            on_success,
            on_error,
            user_data,
            args,
            |engine, (filter, cursor), done| {
                engine.page(filter, cursor, count, done);
                Ok(())
            },
            |page: crate::state::Page<_>, on_success, user_data| {
                let next = crate::ffi::message_cstring(&page.next_cursor);
                // The host's callback, with the page lent for the call.
                lend_all(page.conversations, |array, n| {
                    on_success(array, n, next.as_ptr(), page.finished, user_data)
                })
            },
        )
    }
}

/// Gets the total unread count of the conversations that pass `filter`
/// (NULL: all), leaving out those whose receive option mutes them (1, 2, 3):
/// `on_success(total, user_data)`.
///
/// Errors through `on_error`: IMCONV_ERR_INVALID_PARAMETERS for a filter
/// type other than 0, 1, 2 or a group name that is not valid UTF-8;
/// IMCONV_ERR_DATABASE when the store cannot be read.
///
/// The calling contract of a read (return codes, the one callback, what the
/// callback may keep, threads) is in the header's preamble, "Reads".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; `filter` is NULL
/// or valid for the call (its `group` NULL or a NUL-terminated string); the
/// callbacks must not unwind (no C++ exception, no longjmp) through the
/// library.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_total_unread(
    sdk: *mut imconv_sdk,
    filter: *const imconv_list_filter,
    on_success: imconv_count_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        async_call(
            CallKind::Read,
            sdk,
            on_success,
            on_error,
            user_data,
            || read_filter(filter),
            |engine, filter, done| {
                engine.unread_total(filter, done);
                Ok(())
            },
            // The host's callback.
            |total: u64, on_success, user_data| on_success(total, user_data),
        )
    }
}

/// Gets the names of the conversation groups, in creation order:
/// `on_success(names, count, user_data)` (`names` NULL when `count` is 0).
///
/// Errors through `on_error`: IMCONV_ERR_DATABASE when the store cannot be
/// read.
///
/// The calling contract of a read (return codes, the one callback, what the
/// callback may keep, threads) is in the header's preamble, "Reads".
///
/// # Safety
/// `sdk` is NULL or a live instance from `imconv_sdk_new`; the callbacks
/// must not unwind (no C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_get_groups(
    sdk: *mut imconv_sdk,
    on_success: imconv_string_list_callback,
    on_error: imconv_error_callback,
    user_data: *mut c_void,
) -> i32 {
    // SAFETY: every pointer argument is as this function's contract (its
    // doc) requires: what it points to is read or copied during the call;
    // the callbacks and user_data are kept for the call's one callback.
    unsafe {
        async_call(
            CallKind::Read,
            sdk,
            on_success,
            on_error,
            user_data,
            || Ok(()),
            |engine, (), done| {
                engine.groups(done);
                Ok(())
            },
            |names: Vec<Text>, on_success, user_data| {
                // The host's callback, with the names lent for the call.
                lend_texts(names.iter(), |array, n| on_success(array, n, user_data))
            },
        )
    }
}
