//! Config parsing never panics, and what it accepts is a valid config: a
//! user_id that names one folder, a folder name that is short and safe.
#![no_main]

use imconv::config::{folder_name, Config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Config::parse(s) {
        assert!(!c.user_id.is_empty() && c.user_id.len() <= 256);
        assert!(!c.user_id.contains('/') && c.user_id != ".." && c.user_id != ".");
        let folder = folder_name(&c.user_id);
        assert!(!folder.is_empty() && folder.len() <= 128);
        assert!(!folder.contains('/') && folder != ".." && folder != ".");
        assert!(c.cache_capacity >= 16);
    }
});
