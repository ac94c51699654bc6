//! Random sequences of C ABI calls on one instance (lookups, lists,
//! imports, messages, syncs, pins, pages, deletes, read state, reads up to
//! a message, sync stages, unread subscriptions, listeners with every event
//! added and removed, from the fuzzer's thread and from inside their own
//! callbacks, free with calls in flight and re-create): no panic, no hang,
//! and every accepted call gets exactly one callback.
#![no_main]

use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};

use imconv::ffi::*;
use libfuzzer_sys::fuzz_target;

/// One callback counter per call of an input (at most 200 calls).
static TICKETS: [AtomicU8; 200] = [const { AtomicU8::new(0) }; 200];

fn ticket(i: usize) -> *mut c_void {
    &TICKETS[i] as *const AtomicU8 as *mut c_void
}

fn hit(u: *mut c_void) {
    // SAFETY: every user_data here is a leaked ticket.
    let t = unsafe { &*(u as *const AtomicU8) };
    assert_eq!(t.fetch_add(1, Ordering::SeqCst), 0, "a second callback");
}

extern "C-unwind" fn done(u: *mut c_void) {
    hit(u)
}
extern "C-unwind" fn fail(_: i32, _: *const c_char, u: *mut c_void) {
    hit(u)
}
extern "C-unwind" fn one(_: *const imconv_conversation, u: *mut c_void) {
    hit(u)
}
extern "C-unwind" fn list(_: *const *const imconv_conversation, _: usize, u: *mut c_void) {
    hit(u)
}
extern "C-unwind" fn page(
    _: *const *const imconv_conversation,
    _: usize,
    _: *const c_char,
    _: bool,
    u: *mut c_void,
) {
    hit(u)
}
extern "C-unwind" fn views(_: *const *const imconv_conversation, _: usize, _: *mut c_void) {}
extern "C-unwind" fn stage(_: *mut c_void) {}
extern "C-unwind" fn grouped(
    name: *const c_char,
    _: *const *const imconv_conversation,
    _: usize,
    _: *mut c_void,
) {
    assert!(!name.is_null());
}
extern "C-unwind" fn counted(_: u64, filter: *const imconv_list_filter, _: u64, _: *mut c_void) {
    assert!(!filter.is_null());
}

/// The instance now, and the ID of a listener that removes itself from its
/// own callback.
static SDK: AtomicPtr<imconv_sdk> = AtomicPtr::new(std::ptr::null_mut());
static SELF_REMOVING: AtomicU64 = AtomicU64::new(0);

extern "C-unwind" fn remove_self(_: *const *const imconv_conversation, _: usize, _: *mut c_void) {
    let id = SELF_REMOVING.swap(0, Ordering::SeqCst);
    if id != 0 {
        // SAFETY: the instance whose callback this is.
        unsafe { imconv_remove_listener(SDK.load(Ordering::SeqCst), id) };
    }
}

fn open() -> *mut imconv_sdk {
    let config = CString::new(r#"{"user_id":"me","cache_capacity":16}"#).unwrap();
    let mut sdk = std::ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(
        unsafe { imconv_sdk_new(config.as_ptr(), &mut sdk, std::ptr::null_mut()) },
        IMCONV_OK
    );
    sdk
}

fuzz_target!(|data: &[u8]| {
    for t in &TICKETS {
        t.store(0, Ordering::SeqCst);
    }
    let mut sdk = open();
    SDK.store(sdk, Ordering::SeqCst);
    SELF_REMOVING.store(0, Ordering::SeqCst);
    let mut accepted = Vec::new();
    let mut listeners = Vec::new();
    for (i, chunk) in data.chunks(2).enumerate().take(200) {
        let op = chunk[0] % 12;
        let arg = chunk.get(1).copied().unwrap_or(0);
        let id = CString::new(format!("c2c_u{}", arg % 8)).unwrap();
        let json = CString::new(match op {
            3 => format!(r#"[{{"conversationID":"c2c_u{}","unreadCount":{arg}}}]"#, arg % 8),
            4 => format!(r#"[{{"conversationID":"c2c_u{}","msgID":"m{}","timestamp":{arg},"isSelf":{}}}]"#, arg % 8, arg % 5, arg % 2 == 0),
            5 => format!(r#"[{{"conversationID":"group_g{}","groupReadSequence":{arg},"lastMessage":{{"msgID":"s{arg}","timestamp":{i}}}}}]"#, arg % 3),
            _ => String::from_utf8_lossy(chunk).into_owned().replace('\0', ""),
        })
        .unwrap();
        let t = ticket(i);
        let ids = [id.as_ptr()];
        // SAFETY: valid pointers for each call; callbacks never unwind.
        let rc = unsafe {
            match op {
                0 => imconv_get_conversation(sdk, id.as_ptr(), Some(one), Some(fail), t),
                1 => imconv_get_conversation_list(sdk, ids.as_ptr(), 1, Some(list), Some(fail), t),
                2 => imconv_pin_conversation(
                    sdk,
                    id.as_ptr(),
                    arg % 2 == 0,
                    Some(done),
                    Some(fail),
                    t,
                ),
                3 => imconv_import_conversations(sdk, json.as_ptr(), Some(done), Some(fail), t),
                4 => imconv_apply_messages(sdk, json.as_ptr(), Some(done), Some(fail), t),
                5 => imconv_sync_conversations(sdk, json.as_ptr(), Some(done), Some(fail), t),
                6 => imconv_get_conversation_page(
                    sdk,
                    std::ptr::null(),
                    std::ptr::null(),
                    arg as usize,
                    Some(page),
                    Some(fail),
                    t,
                ),
                7 => {
                    let callback = if arg % 3 == 0 { remove_self } else { views };
                    // Set up as a host does: init, then the members by name.
                    let mut l = std::mem::MaybeUninit::<imconv_listener>::uninit();
                    imconv_listener_init(l.as_mut_ptr());
                    let mut l = l.assume_init();
                    l.on_new = Some(callback);
                    l.on_changed = Some(callback);
                    l.on_sync_server_start = Some(stage);
                    l.on_conversation_group_created = Some(grouped);
                    l.on_unread_count_changed_by_filter = Some(counted);
                    let mut lid = 0;
                    if imconv_add_listener(sdk, &l, &mut lid) == IMCONV_OK {
                        if arg % 3 == 0 {
                            SELF_REMOVING.store(lid, Ordering::SeqCst);
                        } else {
                            listeners.push(lid);
                        }
                    }
                    if arg % 2 == 0 {
                        if let Some(lid) = listeners.pop() {
                            imconv_remove_listener(sdk, lid);
                        }
                    }
                    imconv_delete_conversations(sdk, ids.as_ptr(), 1, Some(done), Some(fail), t)
                }
                8 => imconv_clean_unread(sdk, std::ptr::null(), 0, 0, Some(done), Some(fail), t),
                10 => {
                    let msg = CString::new(format!("m{}", arg % 5)).unwrap();
                    imconv_mark_read(sdk, id.as_ptr(), msg.as_ptr(), Some(done), Some(fail), t)
                }
                11 => {
                    let mut sid = 0;
                    if imconv_subscribe_unread_count(sdk, std::ptr::null(), &mut sid) == IMCONV_OK
                        && arg % 2 == 0
                    {
                        imconv_unsubscribe_unread_count(sdk, sid);
                    }
                    if arg % 4 == 0 {
                        let g = CString::new(format!("g{}", arg % 3)).unwrap();
                        imconv_create_group(sdk, g.as_ptr(), ids.as_ptr(), 1, Some(done), Some(fail), t)
                    } else {
                        imconv_report_sync(sdk, (arg % 4) as i32, Some(done), Some(fail), t)
                    }
                }
                _ => {
                    // Free with calls in flight, then a new instance.
                    imconv_sdk_free(sdk);
                    sdk = open();
                    SDK.store(sdk, Ordering::SeqCst);
                    SELF_REMOVING.store(0, Ordering::SeqCst);
                    listeners.clear();
                    imconv_apply_messages(sdk, json.as_ptr(), Some(done), Some(fail), t)
                }
            }
        };
        if rc == IMCONV_OK {
            accepted.push(t);
        }
    }
    // SAFETY: the instance from `open`.
    unsafe { imconv_sdk_free(sdk) };
    // Free delivered everything owed: exactly one callback each.
    for (i, t) in TICKETS.iter().enumerate() {
        let want = accepted.contains(&ticket(i)) as u8;
        assert_eq!(t.load(Ordering::SeqCst), want, "call {i}");
    }
});
