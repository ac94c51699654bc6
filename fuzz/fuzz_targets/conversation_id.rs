//! ID validation never panics, and agrees with itself: an accepted ID has a
//! known prefix and a 1..=256-byte body without control characters, and
//! `IdList` accepts exactly what `ConversationId::parse` accepts.
#![no_main]

use imconv::model::{ConversationId, IdList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = ConversationId::parse(s);
    let mut list = IdList::default();
    assert_eq!(parsed.is_ok(), list.push(s).is_ok());
    if let Ok(id) = parsed {
        let body = id.body();
        assert!(!body.is_empty() && body.len() <= 256);
        assert!(!body.chars().any(char::is_control));
        assert_eq!(format!("{}{}", id.kind().prefix(), body), s);
        assert_eq!(id.body_bytes_with_nul(), format!("{body}\0").as_bytes());
        assert_eq!(list.id(0), id);
    }
});
