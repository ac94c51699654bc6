//! The message, profile and sync documents never panic the parsers, and
//! what they accept keeps the limits: msgIDs of 1 to 128 bytes, messages of
//! at most 64 KiB, group names of 1 to 32 bytes, no mark 0.
#![no_main]

use imconv::json::{for_each_patch, parse_messages, parse_profiles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(messages) = parse_messages(data, "me") {
        for m in messages {
            assert!((1..=128).contains(&m.message.msg_id.len()));
            assert!(m.message.json.len() <= 64 * 1024);
            assert!(m.mention.is_none() || m.conversation_id.group_id() != "");
        }
    }
    let _ = parse_profiles(data);
    let _ = for_each_patch(data, |p| {
        if let Some(marks) = &p.mark_list {
            assert!(!marks.contains(&0));
        }
        if let Some(groups) = &p.conversation_group_list {
            assert!(groups.iter().all(|g| (1..=32).contains(&g.len())));
        }
        if let Some(m) = &p.last_message {
            assert!((1..=128).contains(&m.msg_id.len()));
        }
        Ok(())
    });
});
