//! One signal per call, panics included: a panic injected at each stage of
//! each kind of async call, with thread and host delivery. A call that
//! returns non-zero never calls back; one that returns IMCONV_OK calls back
//! exactly once. (0.2.0 signalled twice when a panic came after the
//! call's promise existed: IMCONV_ERR_INTERNAL returned and on_error.)
//!
//! The injection is global to the process, so this binary holds one test.

use std::ffi::{c_char, c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use imconv::ffi::*;
use imconv::inject::{self, Stage};

#[derive(Default)]
struct Calls {
    successes: AtomicUsize,
    errors: AtomicUsize,
    last_error: AtomicUsize,
}

unsafe fn calls<'a>(user_data: *mut c_void) -> &'a Calls {
    &*(user_data as *const Calls)
}

unsafe extern "C-unwind" fn on_done(user_data: *mut c_void) {
    calls(user_data).successes.fetch_add(1, Ordering::SeqCst);
}
unsafe extern "C-unwind" fn on_conversation(_: *const imconv_conversation, user_data: *mut c_void) {
    calls(user_data).successes.fetch_add(1, Ordering::SeqCst);
}
unsafe extern "C-unwind" fn on_list(
    _: *const *const imconv_conversation,
    _: usize,
    ud: *mut c_void,
) {
    calls(ud).successes.fetch_add(1, Ordering::SeqCst);
}
unsafe extern "C-unwind" fn on_page(
    _: *const *const imconv_conversation,
    _: usize,
    _: *const c_char,
    _: bool,
    user_data: *mut c_void,
) {
    calls(user_data).successes.fetch_add(1, Ordering::SeqCst);
}
unsafe extern "C-unwind" fn on_count(_: u64, user_data: *mut c_void) {
    calls(user_data).successes.fetch_add(1, Ordering::SeqCst);
}
unsafe extern "C-unwind" fn on_error(code: i32, _: *const c_char, user_data: *mut c_void) {
    let c = calls(user_data);
    c.last_error.store(code as usize, Ordering::SeqCst);
    c.errors.fetch_add(1, Ordering::SeqCst);
}

const KINDS: [&str; 7] = [
    "get",
    "get_missing",
    "list",
    "import",
    "pin",
    "page",
    "total",
];

/// Starts one call of a kind; returns its return value.
unsafe fn start(sdk: *mut imconv_sdk, kind: &str, ud: *mut c_void) -> i32 {
    let a = CString::new("c2c_a").unwrap();
    let missing = CString::new("c2c_nobody").unwrap();
    let doc = CString::new(r#"[{"conversationID":"c2c_b"}]"#).unwrap();
    let ids = [a.as_ptr(), missing.as_ptr()];
    let e = Some(on_error as unsafe extern "C-unwind" fn(i32, *const c_char, *mut c_void));
    match kind {
        "get" => imconv_get_conversation(sdk, a.as_ptr(), Some(on_conversation), e, ud),
        "get_missing" => {
            imconv_get_conversation(sdk, missing.as_ptr(), Some(on_conversation), e, ud)
        }
        "list" => imconv_get_conversation_list(sdk, ids.as_ptr(), 2, Some(on_list), e, ud),
        "import" => imconv_import_conversations(sdk, doc.as_ptr(), Some(on_done), e, ud),
        "pin" => imconv_pin_conversation(sdk, a.as_ptr(), true, Some(on_done), e, ud),
        "page" => {
            imconv_get_conversation_page(sdk, ptr::null(), ptr::null(), 10, Some(on_page), e, ud)
        }
        "total" => imconv_get_total_unread(sdk, ptr::null(), Some(on_count), e, ud),
        _ => unreachable!(),
    }
}

unsafe fn open(host: bool) -> *mut imconv_sdk {
    let config = if host {
        r#"{"user_id":"me","delivery":"host"}"#
    } else {
        r#"{"user_id":"me"}"#
    };
    let config = CString::new(config).unwrap();
    let mut sdk = ptr::null_mut();
    let mut error = ptr::null_mut();
    assert_eq!(
        imconv_sdk_new(config.as_ptr(), &mut sdk, &mut error),
        IMCONV_OK
    );
    // Something to find: c2c_a, committed before any injection.
    let setup = Calls::default();
    let doc = CString::new(r#"[{"conversationID":"c2c_a","unreadCount":1}]"#).unwrap();
    let ud = &setup as *const Calls as *mut c_void;
    assert_eq!(
        imconv_import_conversations(sdk, doc.as_ptr(), Some(on_done), Some(on_error), ud),
        IMCONV_OK
    );
    while setup.successes.load(Ordering::SeqCst) == 0 {
        assert_eq!(setup.errors.load(Ordering::SeqCst), 0);
        if host {
            imconv_dispatch(sdk, 0);
        }
        std::thread::yield_now();
    }
    sdk
}

#[test]
fn every_call_signals_once_whatever_stage_panics() {
    let mut checked = 0;
    let mut refused = 0;
    let mut internal = 0;
    for host in [false, true] {
        for stage in Stage::ALL {
            unsafe {
                let sdk = open(host);
                let all: Vec<(&str, Box<Calls>)> =
                    KINDS.iter().map(|k| (*k, Box::default())).collect();
                inject::panic_at(Some(stage));
                let codes: Vec<i32> = all
                    .iter()
                    .map(|(kind, c)| start(sdk, kind, &**c as *const Calls as *mut c_void))
                    .collect();
                if host {
                    imconv_dispatch(sdk, 0);
                }
                // Free delivers every callback still owed before it returns.
                imconv_sdk_free(sdk);
                inject::panic_at(None);
                for ((kind, c), rc) in all.iter().zip(codes) {
                    let signals =
                        c.successes.load(Ordering::SeqCst) + c.errors.load(Ordering::SeqCst);
                    let what = format!("{kind} with a panic at {stage:?} (host delivery: {host})");
                    if rc == IMCONV_OK {
                        assert_eq!(signals, 1, "{what}: IMCONV_OK, then {signals} callbacks");
                        if c.errors.load(Ordering::SeqCst) == 1
                            && c.last_error.load(Ordering::SeqCst) == IMCONV_ERR_INTERNAL as usize
                        {
                            internal += 1;
                        }
                    } else {
                        assert_eq!(
                            signals, 0,
                            "{what}: returned {rc}, then {signals} callbacks"
                        );
                        assert_eq!(rc, IMCONV_ERR_INTERNAL, "{what}");
                        refused += 1;
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 2 * Stage::ALL.len() * KINDS.len());
    // Entry panics are returned; the stages after the promise are called back.
    assert_eq!(refused, 2 * KINDS.len());
    assert!(
        internal >= 2 * 3 * KINDS.len(),
        "{internal} failed with INTERNAL"
    );
}
