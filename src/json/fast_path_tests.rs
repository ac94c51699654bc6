use super::*;
use crate::error::ErrorCode;

fn one(json: &str) -> Result<Conversation> {
    parse_conversations(format!("[{json}]").as_bytes()).map(|mut v| v.remove(0))
}

#[test]
fn strings_with_and_without_escapes() {
    let c = one(r#"{"conversationID":"c2c_\u00e9t\u00e9","showName":"caf\u00e9 \ud83d\ude00 \"q\" \\ /","faceUrl":"plain é 😀"}"#).unwrap();
    assert_eq!(c.id.as_str(), "c2c_été");
    assert_eq!(c.show_name.as_str(), "café 😀 \"q\" \\ /");
    assert_eq!(c.face_url.as_str(), "plain é 😀");
}

#[test]
fn raw_control_characters_in_strings_are_malformed() {
    for bad in ["a\tb", "a\nb", "a\u{1}b"] {
        let doc = format!(r#"[{{"conversationID":"c2c_a","showName":"{bad}"}}]"#);
        let e = parse_conversations(doc.as_bytes()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidJson, "{bad:?}: {e}");
    }
    let e = parse_conversations(br#"[{"conversationID":"c2c_a","showName":"\q"}]"#).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidJson, "{e}");
}

#[test]
fn numbers_that_are_not_plain_integers() {
    for (value, code) in [
        ("1e3", ErrorCode::InvalidParameters),
        ("1.0", ErrorCode::InvalidParameters),
        ("-1", ErrorCode::InvalidParameters),
        ("18446744073709551616", ErrorCode::InvalidParameters),
        ("\"7\"", ErrorCode::InvalidJson),
        ("true", ErrorCode::InvalidJson),
    ] {
        let e = one(&format!(
            r#"{{"conversationID":"c2c_a","unreadCount":{value}}}"#
        ))
        .unwrap_err();
        assert_eq!(e.code(), code, "{value}: {e}");
        assert!(e.message().contains("unreadCount"), "{value}: {e}");
    }
    assert_eq!(
        one(r#"{"conversationID":"c2c_a","unreadCount":0}"#)
            .unwrap()
            .unread_count,
        0
    );
    assert_eq!(
        one(r#"{"conversationID":"c2c_a","draftTimestamp":18446744073709551615}"#)
            .unwrap()
            .draft_timestamp,
        u64::MAX
    );
    let m =
        one(r#"{"conversationID":"c2c_a","lastMessage":{"msgID":"m","timestamp":-0}}"#).unwrap();
    assert_eq!(m.last_message.unwrap().timestamp, 0);
    let e = one(r#"{"conversationID":"c2c_a","type":1.5}"#).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidParameters, "{e}");
}

#[test]
fn repeated_keys_take_the_last_and_whitespace_is_fine() {
    let c =
        one("{ \"conversationID\" : \"c2c_a\" , \"showName\" : \"x\" ,\n \"showName\" : \"y\" }")
            .unwrap();
    assert_eq!(c.show_name.as_str(), "y");
    let with_ws = "{\"conversationID\":\"c2c_a\",\"lastMessage\": { \"msgID\" : \"m\" , \"timestamp\" : 5 } }";
    let c = one(with_ws).unwrap();
    let out = conversation_to_json(&c).unwrap();
    assert_eq!(
        parse_conversations(format!("[{out}]").as_bytes()).unwrap()[0],
        c
    );
}

#[test]
fn trailing_garbage_and_bad_utf8_are_malformed() {
    assert_eq!(
        parse_conversations(b"[] x").unwrap_err().code(),
        ErrorCode::InvalidJson
    );
    assert_eq!(
        parse_conversations(b"[\"\xff\"]").unwrap_err().code(),
        ErrorCode::InvalidJson
    );
    assert!(parse_conversations(b"")
        .unwrap_err()
        .message()
        .contains("malformed"));
    let e = parse_conversations(b"\"x\"").unwrap_err();
    assert!(e.message().contains("expected a JSON array"), "{e}");
}
