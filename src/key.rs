//! The store's encryption key (`"encryption_key"`): 32 raw bytes that the
//! host keeps in the platform's keystore. It is never logged, never put in
//! an error message, never printed by `Debug`, and its bytes (and every
//! text made of them) are wiped when dropped.

use std::fmt;

use crate::error::{Error, Result};

/// Length of a key in bytes (AEGIS-256's key).
pub const KEY_BYTES: usize = 32;

/// A raw 256-bit key. Boxed, so that moving it copies a pointer, not the
/// secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey {
    bytes: Box<[u8; KEY_BYTES]>,
}

impl StoreKey {
    /// Reads 64 hexadecimal digits (either case). The error names `what`
    /// (the argument) and what is wrong with it, never the text.
    pub fn from_hex(text: &str, what: &str) -> Result<StoreKey> {
        let digits = text.as_bytes();
        if digits.len() != 2 * KEY_BYTES {
            return Err(Error::invalid_parameters(format!(
                "{what} must be {} hexadecimal digits (a raw 256-bit key), not {} characters",
                2 * KEY_BYTES,
                text.chars().count()
            )));
        }
        let mut bytes = Box::new([0u8; KEY_BYTES]);
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            match (hex_value(pair[0]), hex_value(pair[1])) {
                (Some(high), Some(low)) => bytes[i] = high << 4 | low,
                _ => {
                    wipe(&mut bytes[..]);
                    return Err(Error::invalid_parameters(format!(
                        "{what} must be hexadecimal digits only (0-9, a-f)"
                    )));
                }
            }
        }
        Ok(StoreKey { bytes })
    }

    /// The key as SQLite3 Multiple Ciphers takes a raw key (no key
    /// derivation): `raw:` and 64 hex digits, in a text wiped when dropped.
    pub fn raw_text(&self) -> Secret {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(4 + 2 * KEY_BYTES);
        text.push_str("raw:");
        for b in self.bytes.iter() {
            text.push(HEX[usize::from(b >> 4)] as char);
            text.push(HEX[usize::from(b & 15)] as char);
        }
        Secret(text)
    }

    /// The raw bytes (a key check is computed from them).
    pub fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.bytes
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        wipe(&mut self.bytes[..]);
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(<secret>)")
    }
}

/// A text made of a key, wiped when dropped. Made at its final capacity,
/// so that no reallocation leaves a copy behind.
pub struct Secret(String);

impl Secret {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        wipe(&mut bytes);
    }
}

/// Overwrites `bytes` with zeros in a way the optimizer keeps (the bytes
/// are read afterwards through `black_box`).
pub fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(&*bytes);
}

/// Wipes a string the caller owns (the key's text from the config).
pub fn wipe_string(text: String) {
    let mut bytes = text.into_bytes();
    wipe(&mut bytes);
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hex_and_refuses_the_rest_without_echoing_it() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let key = StoreKey::from_hex(hex, "k").unwrap();
        assert_eq!(key.bytes()[1], 0x11);
        assert_eq!(key.bytes()[31], 0xff);
        assert_eq!(
            key.raw_text().as_str(),
            format!("raw:{}", hex.to_lowercase())
        );
        assert_eq!(format!("{key:?}"), "StoreKey(<secret>)");
        for bad in [
            &hex[..62],
            "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ] {
            let e = StoreKey::from_hex(bad, "config: 'encryption_key'").unwrap_err();
            assert!(e.message().contains("encryption_key"), "{}", e.message());
            assert!(!e.message().contains("112233"), "{}", e.message());
        }
    }
}
