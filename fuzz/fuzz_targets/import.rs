//! Import never panics, and whatever it accepts exports to JSON that
//! imports back to the same conversation, byte for byte.
#![no_main]

use imconv::json::{conversation_to_json, parse_conversations};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(conversations) = parse_conversations(data) else {
        return;
    };
    for c in conversations {
        let out = conversation_to_json(&c).expect("export of an imported conversation");
        let again = parse_conversations(format!("[{out}]").as_bytes())
            .expect("an exported conversation imports");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0], c);
        assert_eq!(conversation_to_json(&again[0]).unwrap(), out);
    }
});
