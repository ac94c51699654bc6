use super::*;

#[test]
fn parses_both_kinds() {
    let c = ConversationId::parse("c2c_alice").unwrap();
    assert_eq!(c.kind(), ConversationType::C2c);
    assert_eq!(c.body(), "alice");
    assert_eq!(c.user_id(), "alice");
    assert_eq!(c.group_id(), "");
    assert_eq!(c.body_bytes_with_nul(), b"alice\0");
    let g = ConversationId::parse("group_@TGS#_abc").unwrap();
    assert_eq!(g.kind(), ConversationType::Group);
    assert_eq!(g.group_id(), "@TGS#_abc");
    assert_eq!(g.user_id(), "");
}

#[test]
fn rejects_bad_ids_with_a_reason() {
    for (bad, why) in [
        ("", "must start with"),
        ("alice", "must start with"),
        ("C2C_alice", "must start with"),
        ("c2c_", "empty"),
        ("group_", "empty"),
        ("c2c_a\u{1}b", "U+0001"),
        ("c2c_a\u{7f}", "U+007F"),
        ("group_x\u{85}", "U+0085"),
        ("c2c_a\nb", "U+000A"),
    ] {
        let e = ConversationId::parse(bad).unwrap_err();
        assert_eq!(e.code(), crate::error::ErrorCode::InvalidParameters);
        assert!(e.message().contains(why), "{bad:?}: {}", e.message());
        assert!(e.message().contains(&quote(bad)), "{}", e.message());
    }
}

#[test]
fn body_length_limit_is_in_bytes() {
    let ok = format!("c2c_{}", "a".repeat(256));
    assert!(ConversationId::parse(&ok).is_ok());
    let long = format!("c2c_{}", "a".repeat(257));
    assert!(ConversationId::parse(&long)
        .unwrap_err()
        .message()
        .contains("257 bytes"));
    // 86 three-byte characters = 258 bytes.
    let multibyte = format!("group_{}", "\u{4e2d}".repeat(86));
    assert!(ConversationId::parse(&multibyte).is_err());
    let fits = format!("group_{}", "\u{4e2d}".repeat(85));
    assert!(ConversationId::parse(&fits).is_ok());
}

#[test]
fn text_lends_a_nul_terminated_copy() {
    let t = Text::new("héllo").unwrap();
    assert_eq!(t.as_str(), "héllo");
    assert_eq!(t.as_bytes_with_nul(), "héllo\0".as_bytes());
    let e = Text::default();
    assert_eq!(e.as_str(), "");
    assert_eq!(e.as_bytes_with_nul(), b"\0");
    assert!(Text::new("a\0b").is_err());
}

#[test]
fn id_list_keeps_order_and_rejects_bad_ids() {
    let mut l = IdList::with_capacity(2);
    l.push("c2c_a").unwrap();
    l.push("group_bc").unwrap();
    l.push("c2c_a").unwrap();
    assert!(l.push("bad").is_err());
    assert_eq!(l.iter().collect::<Vec<_>>(), ["c2c_a", "group_bc", "c2c_a"]);
    assert_eq!(l.id(1), ConversationId::parse("group_bc").unwrap());
    assert_eq!(l.id(0).kind(), ConversationType::C2c);
}

#[test]
fn quote_cuts_long_values() {
    let q = quote(&"x".repeat(1000));
    assert!(q.len() < 120, "{q}");
    assert!(q.contains("1000 bytes"));
    assert_eq!(quote("a\"b"), "\"a\\\"b\"");
}

#[test]
fn temporary_conversation_is_named_after_its_id() {
    let t = Conversation::temporary(ConversationId::parse("group_g1").unwrap());
    assert_eq!(t.show_name.as_str(), "g1");
    assert_eq!(t.unread_count, 0);
    assert!(t.last_message.is_none());
}
