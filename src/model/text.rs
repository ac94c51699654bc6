//! `Text`: an immutable string stored with a trailing NUL, so that the FFI
//! layer lends it to C without copying; and `quote` for error messages.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::Error;

/// Immutable UTF-8 text that never holds U+0000.
///
/// It is stored with a trailing NUL so that the FFI layer can lend it to C as
/// a string without copying; an empty text allocates nothing.
#[derive(Clone, Default)]
pub struct Text(Box<str>);

/// What an empty text lends: a lone NUL.
pub(super) const EMPTY_WITH_NUL: &str = "\0";

impl Text {
    /// Copies `s`. Fails when it holds U+0000, which no C string can carry.
    pub fn new(s: &str) -> Result<Text, Error> {
        if s.as_bytes().contains(&0) {
            return Err(Error::invalid_parameters(format!(
                "{} holds U+0000",
                quote(s)
            )));
        }
        Ok(Text::from_clean(s))
    }

    /// `s` must hold no U+0000 (checked by the callers).
    pub(super) fn from_clean(s: &str) -> Text {
        if s.is_empty() {
            return Text(Box::default());
        }
        let mut owned = String::with_capacity(s.len() + 1);
        owned.push_str(s);
        owned.push('\0');
        Text(owned.into_boxed_str())
    }

    pub fn as_str(&self) -> &str {
        match self.0.len() {
            0 => "",
            n => &self.0[..n - 1],
        }
    }

    /// The text followed by one NUL byte.
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        if self.0.is_empty() {
            EMPTY_WITH_NUL.as_bytes()
        } else {
            self.0.as_bytes()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.as_str().len()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash like `str` so that maps keyed by Text can be probed with &str.
        self.as_str().hash(state)
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quotes a value for an error message: escaped, and cut short when long, so
/// a message stays readable whatever the caller passed.
pub fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 80;
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}... ({} bytes)", s.len())
    } else {
        format!("{head:?}")
    }
}
