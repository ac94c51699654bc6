//! Listeners: the conversation manager's events.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::conversation::{imconv_conversation, ConversationView};
use super::error::{
    IMCONV_ERR_INTERNAL, IMCONV_ERR_INVALID_PARAMETERS, IMCONV_ERR_WOULD_DEADLOCK, IMCONV_OK,
};
use super::handle::{c_string, lend_slice, lend_strings, lend_texts, text_ptr};
use super::lookup::imconv_conversation_list_callback;
use super::manager::{
    imconv_count_callback, imconv_list_filter, imconv_list_filter_init,
    imconv_string_list_callback, read_filter,
};
use super::sdk::{imconv_sdk, instance};
use super::{guard, UserData};
use crate::events::{FilteredUnread, GroupEvent, Listener, Removal, StoreProblem, SyncStage};
use crate::model::{ConversationId, ConversationType, Text};

/// An event with nothing to tell but that it happened.
pub type imconv_event_callback = Option<unsafe extern "C-unwind" fn(user_data: *mut c_void)>;

/// A conversation group event naming a group and conversations (valid
/// until the callback returns).
pub type imconv_group_conversations_callback = Option<
    unsafe extern "C-unwind" fn(
        group_name: *const c_char,
        conversations: *const *const imconv_conversation,
        count: usize,
        user_data: *mut c_void,
    ),
>;

/// A conversation group event naming a group.
pub type imconv_group_callback =
    Option<unsafe extern "C-unwind" fn(group_name: *const c_char, user_data: *mut c_void)>;

/// A conversation group renamed.
pub type imconv_group_renamed_callback = Option<
    unsafe extern "C-unwind" fn(
        old_name: *const c_char,
        new_name: *const c_char,
        user_data: *mut c_void,
    ),
>;

/// A subscribed filter's new unread count: the subscription's ID, its
/// filter (valid until the callback returns) and the count.
pub type imconv_filtered_unread_callback = Option<
    unsafe extern "C-unwind" fn(
        subscription_id: u64,
        filter: *const imconv_list_filter,
        count: u64,
        user_data: *mut c_void,
    ),
>;

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
/// Since 0.3.0, Tencent's other conversation events, in the same batch
/// (see each member), in this order: the list's events (new, changed,
/// deleted), group events, the sync stage, the total, then subscriptions'
/// counts. They are:
/// the host's sync stages (`imconv_report_sync`), the five conversation
/// group events raised by the group calls (a membership event names only
/// the conversations it changed, and is not raised when it changed none;
/// groups an import or sync creates raise none), and the counts of unread
/// subscriptions (`imconv_subscribe_unread_count`).
///
/// The struct can grow in later versions: set it up with
/// `imconv_listener_init` (which sets `struct_size` and clears every
/// member), then set the members you use by name. A caller compiled against
/// 0.2.0 (up to `user_data`) keeps working: the members after it read as
/// NULL.
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
    /// The host reported that a sync with its server started (Tencent's
    /// onSyncServerStart). Since 0.3.0, like every member below.
    pub on_sync_server_start: imconv_event_callback,
    /// ... finished (onSyncServerFinish).
    pub on_sync_server_finish: imconv_event_callback,
    /// ... failed (onSyncServerFailed).
    pub on_sync_server_failed: imconv_event_callback,
    /// `imconv_create_group` created a group, with the conversations put
    /// in it (onConversationGroupCreated).
    pub on_conversation_group_created: imconv_group_conversations_callback,
    /// `imconv_delete_group` deleted a group (onConversationGroupDeleted).
    pub on_conversation_group_deleted: imconv_group_callback,
    /// `imconv_rename_group` renamed a group
    /// (onConversationGroupNameChanged).
    pub on_conversation_group_name_changed: imconv_group_renamed_callback,
    /// `imconv_add_to_group` put conversations in a group
    /// (onConversationsAddedToGroup).
    pub on_conversations_added_to_group: imconv_group_conversations_callback,
    /// `imconv_remove_from_group` took conversations out of a group
    /// (onConversationsDeletedFromGroup).
    pub on_conversations_deleted_from_group: imconv_group_conversations_callback,
    /// A subscribed unread count changed
    /// (onUnreadMessageCountChangedByFilter).
    pub on_unread_count_changed_by_filter: imconv_filtered_unread_callback,
    /// The store has a problem, told once per problem (since 0.4.0):
    /// IMCONV_ERR_STORE_DAMAGED with the IDs of the damaged conversations
    /// (left out of lists and pages, failing their lookups, until a delete,
    /// import or sync replaces them; none when the damage is in a part of
    /// the store that is no one conversation's), or IMCONV_ERR_STORE_FAILED
    /// (a write failed to reach the disk: later writes are refused until
    /// the store is opened again). A batch of its own, after the batch of
    /// the write (or read) that found it.
    pub on_store_error: imconv_store_error_callback,
}

/// A problem of the store: its code (IMCONV_ERR_STORE_DAMAGED or
/// IMCONV_ERR_STORE_FAILED), a message naming it, and the IDs of the
/// conversations it affects (`count` of them; NULL when none). All valid
/// until the callback returns.
pub type imconv_store_error_callback = Option<
    unsafe extern "C-unwind" fn(
        code: i32,
        message: *const c_char,
        conversation_ids: *const *const c_char,
        count: usize,
        user_data: *mut c_void,
    ),
>;

// SAFETY: repr(C), struct_size first; all-zero is every callback NULL.
unsafe impl super::Growable for imconv_listener {
    /// 0.2.0's layout: up to and including `user_data`.
    const FIRST_SIZE: usize =
        std::mem::offset_of!(imconv_listener, user_data) + std::mem::size_of::<*mut c_void>();
}

/// The host's listener, copied from its struct.
struct HostListener {
    l: imconv_listener,
    user_data: UserData,
}

// SAFETY: the function pointers are plain code addresses and user_data is
// only handed back; events run on the callback thread, as documented.
unsafe impl Sync for HostListener {}
// SAFETY: as above; the copied struct's own `user_data` is never read
// (the `UserData` beside it is what is handed back).
unsafe impl Send for HostListener {}

impl Listener<ConversationView> for HostListener {
    fn on_new(&self, conversations: &[Arc<ConversationView>]) {
        if let Some(cb) = self.l.on_new {
            // SAFETY: the host's listener function, with the views lent for
            // the call and the user_data it registered (see imconv_listener).
            lend_slice(conversations, |a, n| unsafe {
                cb(a, n, self.user_data.get())
            });
        }
    }

    fn on_changed(&self, conversations: &[Arc<ConversationView>]) {
        if let Some(cb) = self.l.on_changed {
            // SAFETY: as in on_new.
            lend_slice(conversations, |a, n| unsafe {
                cb(a, n, self.user_data.get())
            });
        }
    }

    fn on_deleted(&self, ids: &[ConversationId]) {
        if let Some(cb) = self.l.on_deleted {
            // SAFETY: as in on_new; the IDs live across the call.
            lend_texts(ids.iter().map(ConversationId::text), |a, n| unsafe {
                cb(a, n, self.user_data.get())
            });
        }
    }

    fn on_total_unread_changed(&self, total: u64) {
        if let Some(cb) = self.l.on_total_unread_changed {
            // SAFETY: the host's listener function, with its user_data.
            unsafe { cb(total, self.user_data.get()) }
        }
    }

    fn on_sync(&self, stage: SyncStage) {
        let cb = match stage {
            SyncStage::Started => self.l.on_sync_server_start,
            SyncStage::Finished => self.l.on_sync_server_finish,
            SyncStage::Failed => self.l.on_sync_server_failed,
        };
        if let Some(cb) = cb {
            // SAFETY: the host's listener function, with its user_data.
            unsafe { cb(self.user_data.get()) }
        }
    }

    fn on_group(&self, event: &GroupEvent<Arc<ConversationView>>) {
        let u = self.user_data.get();
        let with_views = |cb: imconv_group_conversations_callback, group: &Text, views| {
            if let Some(cb) = cb {
                // SAFETY: as in on_new; the group's name lives across the call.
                lend_slice(views, |a, n| unsafe { cb(text_ptr(group), a, n, u) });
            }
        };
        match event {
            GroupEvent::Created {
                name: group,
                conversations,
            } => with_views(self.l.on_conversation_group_created, group, conversations),
            GroupEvent::Added {
                name: group,
                conversations,
            } => with_views(self.l.on_conversations_added_to_group, group, conversations),
            GroupEvent::Removed {
                name: group,
                conversations,
            } => with_views(
                self.l.on_conversations_deleted_from_group,
                group,
                conversations,
            ),
            GroupEvent::Deleted { name: group } => {
                if let Some(cb) = self.l.on_conversation_group_deleted {
                    // SAFETY: the host's listener function; the name lives
                    // across the call.
                    unsafe { cb(text_ptr(group), u) }
                }
            }
            GroupEvent::Renamed { from, to } => {
                if let Some(cb) = self.l.on_conversation_group_name_changed {
                    // SAFETY: the host's listener function; both names live
                    // across the call.
                    unsafe { cb(text_ptr(from), text_ptr(to), u) }
                }
            }
        }
    }

    fn on_filtered_unread(&self, f: &FilteredUnread) {
        let Some(cb) = self.l.on_unread_count_changed_by_filter else {
            return;
        };
        // The filter as the host gave it (its group name lent for the call).
        let group = f.filter.group.as_deref().and_then(|g| CString::new(g).ok());
        let mut filter = std::mem::MaybeUninit::<imconv_list_filter>::uninit();
        // SAFETY: init writes every member of the struct it is given.
        let mut filter = unsafe {
            imconv_list_filter_init(filter.as_mut_ptr());
            filter.assume_init()
        };
        filter.r#type = match f.filter.kind {
            None => 0,
            Some(ConversationType::C2c) => 1,
            Some(ConversationType::Group) => 2,
        };
        filter.mark = f.filter.mark.unwrap_or(0);
        filter.group = group.as_ref().map_or(std::ptr::null(), |g| g.as_ptr());
        filter.has_unread = f.filter.has_unread;
        filter.has_at = f.filter.has_at;
        // SAFETY: the host's listener function; the filter and its group
        // name live across the call.
        unsafe { cb(f.subscription, &filter, f.count, self.user_data.get()) }
    }

    fn on_store_problem(&self, p: &StoreProblem) {
        let Some(cb) = self.l.on_store_error else {
            return;
        };
        let message = c_string(&p.message);
        // SAFETY: the host's listener function; the message and the IDs
        // are lent across the call.
        lend_strings(p.ids.iter().map(String::as_str), |ids, n| unsafe {
            cb(
                p.code.as_i32(),
                message.as_ptr(),
                ids,
                n,
                self.user_data.get(),
            )
        })
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
    // SAFETY: `sdk` is NULL or a live instance, `listener` NULL or valid for
    // the call, `out_listener_id` NULL or writable (this function's
    // contract); the listener is copied, its callbacks and user_data the
    // host keeps valid while it is registered.
    unsafe {
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
                user_data: UserData(l.user_data),
                l,
            };
            *out_listener_id = sdk.engine.add_listener(Arc::new(host));
            IMCONV_OK
        })
    }
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
    // SAFETY: `listener` is NULL or writable for sizeof(imconv_listener)
    // bytes (this function's contract).
    unsafe {
        guard((), || {
            if let Some(l) = listener.as_mut() {
                *l = imconv_listener {
                    struct_size: std::mem::size_of::<imconv_listener>(),
                    on_new: None,
                    on_changed: None,
                    on_deleted: None,
                    on_total_unread_changed: None,
                    user_data: std::ptr::null_mut(),
                    on_sync_server_start: None,
                    on_sync_server_finish: None,
                    on_sync_server_failed: None,
                    on_conversation_group_created: None,
                    on_conversation_group_deleted: None,
                    on_conversation_group_name_changed: None,
                    on_conversations_added_to_group: None,
                    on_conversations_deleted_from_group: None,
                    on_unread_count_changed_by_filter: None,
                    on_store_error: None,
                };
            }
        })
    }
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
    // SAFETY: `sdk` is NULL or a live instance (this function's contract).
    unsafe {
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
}

/// Subscribes to the unread count of the conversations that pass `filter`
/// (Tencent's subscribeUnreadMessageCountByFilter; NULL: all), and stores
/// the subscription's ID in `*out_subscription_id`. From then on, every
/// write that changes that count raises `on_unread_count_changed_by_filter`
/// with the ID, the filter and the new count (muted conversations left
/// out, as in `imconv_get_total_unread`), in the write's event batch after
/// the total; a write that leaves the count as it was raises nothing. Read
/// the count it starts from with `imconv_get_total_unread` and the same
/// filter. Each raised count equals what `imconv_get_total_unread` with
/// the same filter answers right after that write, however the writes
/// were grouped into transactions.
///
/// Returns IMCONV_OK; IMCONV_ERR_INVALID_PARAMETERS for a NULL `sdk` or
/// `out_subscription_id`, or a filter that cannot be read (type other than
/// 0, 1, 2; `struct_size` below 0.2.0's; a group name that is not UTF-8);
/// IMCONV_ERR_SHUTDOWN while the instance is being freed;
/// IMCONV_ERR_WRONG_PROCESS in a child after fork(). Synchronous: the
/// filter is copied before it returns; callable from any thread, including
/// from inside a callback.
///
/// # Safety
/// `sdk` is NULL or a live instance; `filter` is NULL or valid for the call
/// (its `group` NULL or a NUL-terminated string); `out_subscription_id` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn imconv_subscribe_unread_count(
    sdk: *mut imconv_sdk,
    filter: *const imconv_list_filter,
    out_subscription_id: *mut u64,
) -> i32 {
    // SAFETY: `sdk` is NULL or a live instance, `filter` NULL or set up with
    // imconv_list_filter_init, `out_subscription_id` NULL or writable (this
    // function's contract); the filter is copied.
    unsafe {
        guard(IMCONV_ERR_INTERNAL, || {
            let sdk = match instance(sdk) {
                Ok(sdk) => sdk,
                Err(code) => return code,
            };
            if out_subscription_id.is_null() {
                return IMCONV_ERR_INVALID_PARAMETERS;
            }
            match read_filter(filter) {
                Ok(f) => {
                    *out_subscription_id = sdk.engine.subscribe_unread(f);
                    IMCONV_OK
                }
                Err(e) => {
                    crate::log::info(format_args!(
                        "imconv_subscribe_unread_count refused: {}",
                        e.message()
                    ));
                    IMCONV_ERR_INVALID_PARAMETERS
                }
            }
        })
    }
}

/// Ends an unread-count subscription (Tencent's
/// unsubscribeUnreadMessageCountByFilter): no count of it is raised by a
/// write that commits after this returns.
///
/// Returns IMCONV_OK; IMCONV_ERR_INVALID_PARAMETERS for a NULL `sdk` or an
/// ID that is not subscribed (or was unsubscribed); IMCONV_ERR_SHUTDOWN
/// while the instance is being freed; IMCONV_ERR_WRONG_PROCESS in a child
/// after fork(). Synchronous; callable from any thread, including from
/// inside a callback.
///
/// # Safety
/// `sdk` is NULL or a live instance.
#[no_mangle]
pub unsafe extern "C" fn imconv_unsubscribe_unread_count(
    sdk: *mut imconv_sdk,
    subscription_id: u64,
) -> i32 {
    // SAFETY: `sdk` is NULL or a live instance (this function's contract).
    unsafe {
        guard(IMCONV_ERR_INTERNAL, || {
            let sdk = match instance(sdk) {
                Ok(sdk) => sdk,
                Err(code) => return code,
            };
            if sdk.engine.unsubscribe_unread(subscription_id) {
                IMCONV_OK
            } else {
                IMCONV_ERR_INVALID_PARAMETERS
            }
        })
    }
}
