//! Listeners: the conversation manager's events.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::conversation::{imconv_conversation, ConversationView};
use super::error::{
    IMCONV_ERR_INTERNAL, IMCONV_ERR_INVALID_PARAMETERS, IMCONV_ERR_WOULD_DEADLOCK, IMCONV_OK,
};
use super::lookup::imconv_conversation_list_callback;
use super::manager::{imconv_count_callback, imconv_string_list_callback};
use super::sdk::{imconv_sdk, instance};
use super::{guard, UserData};
use crate::events::{Listener, Removal};
use crate::model::ConversationId;

/// A listener: function pointers (any may be NULL) and the `user_data`
/// passed to each. Events run on the instance's callback thread, one at a
/// time, in commit order, one batch per write call, delivered before that
/// write's own callback: `on_new` for conversations that did not exist,
/// `on_changed` for ones that did, `on_deleted` with the IDs of deleted
/// ones, `on_total_unread_changed` with the new total (muted conversations
/// left out). A write that changes nothing raises no event. The arrays are
/// valid until the callback returns; conversations can be kept with
/// `imconv_conversation_retain`.
///
/// The struct can grow in later versions: set it up with
/// `imconv_listener_init` (which sets `struct_size` and clears every
/// member), then set the members you use by name.
#[repr(C)]
pub struct imconv_listener {
    /// `sizeof(imconv_listener)` as the caller was compiled: members past
    /// it are read as absent. Set by `imconv_listener_init`.
    pub struct_size: usize,
    pub on_new: imconv_conversation_list_callback,
    pub on_changed: imconv_conversation_list_callback,
    pub on_deleted: imconv_string_list_callback,
    pub on_total_unread_changed: imconv_count_callback,
    pub user_data: *mut c_void,
}

// SAFETY: repr(C), struct_size first; all-zero is every callback NULL.
unsafe impl super::Growable for imconv_listener {
    /// 0.2.0's layout is this version's. When a member is added, this
    /// stays the size without it (and the new member is read as absent
    /// for callers compiled before it).
    const FIRST_SIZE: usize = std::mem::size_of::<imconv_listener>();
}

/// The host's listener, copied from its struct.
struct HostListener {
    on_new: imconv_conversation_list_callback,
    on_changed: imconv_conversation_list_callback,
    on_deleted: imconv_string_list_callback,
    on_total: imconv_count_callback,
    user_data: UserData,
}

// SAFETY: the function pointers are plain code addresses and user_data is
// only handed back; events run on the callback thread, as documented.
unsafe impl Sync for HostListener {}

fn lend_views(
    views: &[Arc<ConversationView>],
    f: impl FnOnce(*const *const imconv_conversation, usize),
) {
    // The slice holds a reference to each view across the call, so the
    // host may retain them; nothing is counted here.
    let raws: Vec<*const imconv_conversation> =
        views.iter().map(|v| Arc::as_ptr(v).cast()).collect();
    f(raws.as_ptr(), raws.len());
}

impl Listener<ConversationView> for HostListener {
    fn on_new(&self, conversations: &[Arc<ConversationView>]) {
        if let Some(cb) = self.on_new {
            lend_views(conversations, |a, n| unsafe {
                cb(a, n, self.user_data.get())
            });
        }
    }

    fn on_changed(&self, conversations: &[Arc<ConversationView>]) {
        if let Some(cb) = self.on_changed {
            lend_views(conversations, |a, n| unsafe {
                cb(a, n, self.user_data.get())
            });
        }
    }

    fn on_deleted(&self, ids: &[ConversationId]) {
        if let Some(cb) = self.on_deleted {
            let ptrs: Vec<*const c_char> = ids
                .iter()
                .map(|id| id.text().as_bytes_with_nul().as_ptr().cast())
                .collect();
            unsafe { cb(ptrs.as_ptr(), ptrs.len(), self.user_data.get()) }
        }
    }

    fn on_total_unread_changed(&self, total: u64) {
        if let Some(cb) = self.on_total {
            unsafe { cb(total, self.user_data.get()) }
        }
    }
}

/// Registers a listener and stores its ID in `*out_listener_id` for
/// `imconv_remove_listener`. The struct is copied before the call returns;
/// the functions and `user_data` must stay valid until the listener is
/// removed (or the instance freed). Events start with the next write that
/// commits.
///
/// Returns IMCONV_OK; IMCONV_ERR_INVALID_PARAMETERS for a NULL `sdk`,
/// `listener` or `out_listener_id`, or a listener whose `struct_size` is
/// smaller than 0.2.0's (not set up with `imconv_listener_init`; any size
/// from 0.2.0's up is taken, and members past it read as absent);
/// IMCONV_ERR_SHUTDOWN while the instance
/// is being freed; IMCONV_ERR_WRONG_PROCESS in a child after fork(). No
/// callback is made by this call. Synchronous; callable from any thread,
/// including from inside a callback.
///
/// # Safety
/// `sdk` is NULL or a live instance; `listener` is NULL or valid for the
/// call; `out_listener_id` is NULL or writable. The listener's callbacks
/// must not unwind (no C++ exception, no longjmp) through the library.
#[no_mangle]
pub unsafe extern "C" fn imconv_add_listener(
    sdk: *mut imconv_sdk,
    listener: *const imconv_listener,
    out_listener_id: *mut u64,
) -> i32 {
    guard(IMCONV_ERR_INTERNAL, || {
        let sdk = match instance(sdk) {
            Ok(sdk) => sdk,
            Err(code) => return code,
        };
        if listener.is_null() || out_listener_id.is_null() {
            return IMCONV_ERR_INVALID_PARAMETERS;
        }
        // Members past the caller's struct_size read as absent.
        let l = match super::read_growable(listener) {
            Ok(l) => l,
            Err(size) => {
                crate::log::info(format_args!(
                    "imconv_add_listener refused: listener->struct_size is {size}, less than \
                     any version's: set it up with imconv_listener_init"
                ));
                return IMCONV_ERR_INVALID_PARAMETERS;
            }
        };
        let host = HostListener {
            on_new: l.on_new,
            on_changed: l.on_changed,
            on_deleted: l.on_deleted,
            on_total: l.on_total_unread_changed,
            user_data: UserData(l.user_data),
        };
        *out_listener_id = sdk.engine.add_listener(Arc::new(host));
        IMCONV_OK
    })
}

/// Sets up a listener for this version of the library: `struct_size` set,
/// every callback NULL, `user_data` NULL. Later versions may add members;
/// a listener set up this way keeps working. NULL is a no-op.
///
/// # Safety
/// `listener` is NULL or points to writable memory of
/// `sizeof(imconv_listener)` bytes.
#[no_mangle]
pub unsafe extern "C" fn imconv_listener_init(listener: *mut imconv_listener) {
    guard((), || {
        if let Some(l) = listener.as_mut() {
            *l = imconv_listener {
                struct_size: std::mem::size_of::<imconv_listener>(),
                on_new: None,
                on_changed: None,
                on_deleted: None,
                on_total_unread_changed: None,
                user_data: std::ptr::null_mut(),
            };
        }
    })
}

/// Removes a listener. When this returns IMCONV_OK, no call of the
/// listener runs any more, and none will: not even the rest of the batch
/// being delivered. Called from another thread while one of its callbacks
/// runs, it waits for that one callback to return, never for other queued
/// callbacks; called from inside one of its own callbacks, it returns at
/// once (the current callback is the caller).
///
/// Returns IMCONV_OK; IMCONV_ERR_INVALID_PARAMETERS for a NULL `sdk` or an
/// ID that is not registered (or was removed); IMCONV_ERR_WOULD_DEADLOCK
/// when the listener's running callback is itself waiting, directly or
/// through other instances, for the calling thread (for example two
/// instances' listeners removing each other at the same moment): the
/// listener is removed and nothing new reaches it, but that one callback is
/// still running, so keep its `user_data` alive until it returns;
/// IMCONV_ERR_SHUTDOWN while the instance is being freed;
/// IMCONV_ERR_WRONG_PROCESS in a child after fork(). Synchronous; callable
/// from any thread, including from inside a callback.
///
/// # Safety
/// `sdk` is NULL or a live instance.
#[no_mangle]
pub unsafe extern "C" fn imconv_remove_listener(sdk: *mut imconv_sdk, listener_id: u64) -> i32 {
    guard(IMCONV_ERR_INTERNAL, || {
        let sdk = match instance(sdk) {
            Ok(sdk) => sdk,
            Err(code) => return code,
        };
        match sdk.engine.remove_listener(listener_id) {
            Removal::Removed => IMCONV_OK,
            Removal::Unknown => IMCONV_ERR_INVALID_PARAMETERS,
            Removal::RemovedStillRunning => IMCONV_ERR_WOULD_DEADLOCK,
        }
    })
}
