//! Issue 26, item 8: one code per kind of bad number, and a draft's time
//! that neither holds a conversation above newer messages when the clock
//! is far ahead nor reads as "no draft" when it is before 1970.

mod common;

use imconv::error::ErrorCode;
use imconv::write::{draft_time, Write, DRAFT_CLOCK_MARGIN_SECONDS};

use common::*;

#[test]
fn a_number_a_field_cannot_hold_is_invalid_parameters_naming_the_field() {
    let e = memory();
    for (value, field) in [
        ("1e400", "unreadCount"),
        ("18446744073709551616", "unreadCount"),
        ("-1", "unreadCount"),
        ("1.5", "unreadCount"),
        ("1e400", "orderKey"),
    ] {
        let doc = format!(r#"[{{"conversationID":"c2c_a","{field}":{value}}}]"#);
        let err = import(&e, &doc).unwrap_err();
        // 0.3.0: 1e400 was IMCONV_ERR_INVALID_JSON, 2^64 INVALID_PARAMETERS.
        assert_eq!(err.code(), ErrorCode::InvalidParameters, "{value}: {err}");
        assert!(err.message().contains(field), "{value}: {err}");
        assert!(err.message().contains(value), "{value}: {err}");
    }
    let err = messages(
        &e,
        r#"[{"conversationID":"c2c_a","msgID":"m","timestamp":1e400}]"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters, "{err}");
    // Malformed JSON stays malformed JSON.
    let err = import(&e, r#"[{"conversationID":"c2c_a","unreadCount":1e}]"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidJson, "{err}");
}

#[test]
fn minus_zero_is_zero_in_every_integer_field() {
    let e = memory();
    // 0.3.0 refused -0 in the unsigned fields and took it in the signed.
    import(
        &e,
        r#"[{"conversationID":"c2c_a","unreadCount":-0,"orderKey":-0,"c2cReadTimestamp":-0,
            "lastMessage":{"msgID":"m","timestamp":-0}}]"#,
    )
    .unwrap();
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.unread_count, 0);
    assert_eq!(a.0.order_key, 0);
    assert_eq!(a.0.last_message.as_ref().unwrap().timestamp, 0);
}

#[test]
fn a_draft_time_is_bounded_by_the_newest_activity_and_never_zero() {
    let day = DRAFT_CLOCK_MARGIN_SECONDS;
    assert_eq!(draft_time(1_000, 0), 1_000, "an empty store bounds nothing");
    assert_eq!(draft_time(5_000_000, 1_000_000), 1_000_000 + day);
    assert_eq!(draft_time(1_000_100, 1_000_000), 1_000_100);
    assert_eq!(
        draft_time(0, 0),
        1,
        "a clock before 1970 is never 'no draft'"
    );
    assert_eq!(draft_time(0, 1_000_000), 1);
}

#[test]
fn a_clock_far_ahead_does_not_keep_a_drafted_conversation_above_newer_messages() {
    let e = memory();
    // The store's newest activity is in 1970 (1,000,000 s): this machine's
    // clock (2026) is decades ahead of it, as a clock 50 years fast is
    // ahead of real messages.
    messages(
        &e,
        r#"[{"conversationID":"c2c_a","msgID":"a1","timestamp":1000000},
            {"conversationID":"c2c_b","msgID":"b1","timestamp":999000}]"#,
    )
    .unwrap();
    write(
        &e,
        Write::Draft {
            id: id("c2c_b"),
            text: text("later"),
        },
    )
    .unwrap();
    let b = get(&e, "c2c_b");
    assert_eq!(b.0.draft_timestamp, 1_000_000 + DRAFT_CLOCK_MARGIN_SECONDS);
    assert_eq!(order(&e), ["c2c_b", "c2c_a"], "the draft moves it up");
    // A message two days after the newest activity: newer than the draft.
    messages(
        &e,
        &format!(
            r#"[{{"conversationID":"c2c_a","msgID":"a2","timestamp":{}}}]"#,
            1_000_000 + 2 * DRAFT_CLOCK_MARGIN_SECONDS
        ),
    )
    .unwrap();
    // 0.3.0 kept c2c_b on top: its draft carried the clock's 2026.
    assert_eq!(order(&e), ["c2c_a", "c2c_b"]);
}
