//! The hand-written field reader: an object's members with their values
//! unread (`RawValue`), read one by one with checks that name the field.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Number;

use super::Raw;
use crate::error::{Error, ErrorCode, Result};
use crate::model::Text;

/// A string from the document: borrowed unless it holds escapes.
pub(super) struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON value where an object is expected (an element of the top-level
/// array, read in the same pass as the array, or a nested object): the
/// object's members in document order, their values unread; or the type of
/// a non-object, for the error.
pub(super) enum Element<'a> {
    Object(MemberList<'a>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Element<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Element<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a conversation object")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                map: M,
            ) -> std::result::Result<Element<'de>, M::Error> {
                Ok(Element::Object(read_members(map)?))
            }
            fn visit_seq<S: SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> std::result::Result<Element<'de>, S::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Element::Other("an array"))
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("a string"))
            }
            fn visit_unit<E>(self) -> std::result::Result<Element<'de>, E> {
                Ok(Element::Other("null"))
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) type MemberList<'a> = Vec<(Cow<'a, str>, Raw<'a>)>;

pub(super) fn read_members<'de, M: MapAccess<'de>>(
    mut map: M,
) -> std::result::Result<MemberList<'de>, M::Error> {
    let mut members = Vec::with_capacity(map.size_hint().unwrap_or(20));
    while let Some((Str(key), value)) = map.next_entry::<Str<'de>, Raw<'de>>()? {
        members.push((key, value));
    }
    Ok(members)
}

/// Reads the fields of one JSON object, naming `path.field` in errors.
pub(super) struct Fields<'a, 'p> {
    pub(super) members: MemberList<'a>,
    pub(super) path: &'p str,
}

impl<'a, 'p> Fields<'a, 'p> {
    /// The fields of a nested object (`path` names it).
    pub(super) fn of(raw: Raw<'a>, path: &'p str) -> Result<Fields<'a, 'p>> {
        let element = serde_json::from_str(raw.get())
            .map_err(|e| Error::invalid_json(format!("malformed JSON: {e}")))?;
        Fields::from_element(element, path)
    }

    /// The fields of an element read where an object is expected.
    pub(super) fn from_element(element: Element<'a>, path: &'p str) -> Result<Fields<'a, 'p>> {
        match element {
            Element::Object(members) => Ok(Fields { members, path }),
            Element::Other(got) if path.is_empty() => Err(Error::invalid_json(format!(
                "expected an object, got {got}"
            ))),
            Element::Other(got) => Err(Error::invalid_json(format!(
                "field '{path}': expected an object, got {got}"
            ))),
        }
    }

    /// The field's full name for messages (no allocation at the top level).
    pub(super) fn name<'f>(&self, field: &'f str) -> Cow<'f, str> {
        if self.path.is_empty() {
            Cow::Borrowed(field)
        } else {
            Cow::Owned(format!("{}.{field}", self.path))
        }
    }

    pub(super) fn param(&self, field: &str, what: impl std::fmt::Display) -> Error {
        Error::invalid_parameters(format!("field '{}' {what}", self.name(field)))
    }

    /// The value of `field` (the last one, if repeated), with `null` read
    /// as absent.
    pub(super) fn get(&self, field: &str) -> Option<Raw<'a>> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == field)
            .map(|(_, v)| *v)
            .filter(|v| v.get() != "null")
    }

    pub(super) fn str(&self, field: &str) -> Result<Option<Cow<'a, str>>> {
        self.get(field)
            .map(|v| as_str(v, &self.name(field)))
            .transpose()
    }

    pub(super) fn text(&self, field: &str) -> Result<Text> {
        match self.get(field) {
            None => Ok(Text::default()),
            Some(v) => as_text(v, &self.name(field)),
        }
    }

    pub(super) fn u64(&self, field: &str) -> Result<Option<u64>> {
        self.get(field)
            .map(|v| as_u64(v, &self.name(field)))
            .transpose()
    }

    pub(super) fn i64(&self, field: &str) -> Result<Option<i64>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => {
                if let Ok(n) = v.get().parse::<i64>() {
                    return Ok(Some(n));
                }
                let n = as_number(v, &self.name(field), "an integer")?;
                n.as_i64().map(Some).ok_or_else(|| {
                    Error::invalid_parameters(format!(
                        "field '{}' must be an integer that fits in 64 bits (got {})",
                        self.name(field),
                        v.get()
                    ))
                })
            }
        }
    }

    pub(super) fn bool(&self, field: &str) -> Result<Option<bool>> {
        match self.get(field).map(RawValue::get) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(wrong_type(&self.name(field), "true or false", other)),
        }
    }

    /// A text field with a length limit; `None` when absent.
    pub(super) fn limited_text(&self, field: &str, max: usize) -> Result<Option<Text>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => {
                let name = self.name(field);
                let text = as_text(v, &name)?;
                if text.len() > max {
                    return Err(
                        self.param(field, format!("is {} bytes, more than {max}", text.len()))
                    );
                }
                Ok(Some(text))
            }
        }
    }

    /// An array field; `None` when absent.
    pub(super) fn list(&self, field: &str) -> Result<Option<Vec<Raw<'a>>>> {
        match self.get(field) {
            None => Ok(None),
            Some(_) => self.array(field).map(Some),
        }
    }

    pub(super) fn array(&self, field: &str) -> Result<Vec<Raw<'a>>> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(v) if v.get().starts_with('[') => serde_json::from_str(v.get())
                .map_err(|e| Error::invalid_json(format!("malformed JSON: {e}"))),
            Some(v) => Err(wrong_type(&self.name(field), "an array", v.get())),
        }
    }
}

/// A number field's value. One code per kind of bad number: a value that
/// is not a number is a wrong type, and a number the field cannot hold (too
/// large for any float, like `1e400`, or out of the field's range) is
/// IMCONV_ERR_INVALID_PARAMETERS naming the field, never malformed JSON.
pub(super) fn as_number(v: Raw, name: &str, expected: &str) -> Result<Number> {
    let text = v.get();
    if !matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9')) {
        return Err(wrong_type(name, expected, text));
    }
    serde_json::from_str(text).map_err(|_| {
        Error::invalid_parameters(format!(
            "field '{name}' must be {expected} in range (got {text})"
        ))
    })
}

pub(super) fn as_u64(v: Raw, name: &str) -> Result<u64> {
    // Fast path: plain digits (the common case) need no JSON parser.
    if let Ok(n) = v.get().parse::<u64>() {
        return Ok(n);
    }
    // -0 is 0, as the signed fields read it.
    if v.get() == "-0" {
        return Ok(0);
    }
    let n = as_number(v, name, "an integer")?;
    n.as_u64().ok_or_else(|| {
        Error::invalid_parameters(format!(
            "field '{name}' must be an integer from 0 to {} (got {})",
            u64::MAX,
            v.get()
        ))
    })
}

pub(super) fn as_str<'a>(v: Raw<'a>, name: &str) -> Result<Cow<'a, str>> {
    let text = v.get();
    if !text.starts_with('"') {
        return Err(wrong_type(name, "a string", text));
    }
    // The document's syntax was checked when it was split, so a string
    // without escapes is exactly the text between its quotes.
    if !text.contains('\\') {
        return Ok(Cow::Borrowed(&text[1..text.len() - 1]));
    }
    let Str(s) = serde_json::from_str(text)
        .map_err(|e| Error::invalid_json(format!("field '{name}': {e}")))?;
    Ok(s)
}

pub(super) fn as_text(v: Raw, name: &str) -> Result<Text> {
    let s = as_str(v, name)?;
    Text::new(&s).map_err(|_| Error::invalid_parameters(format!("field '{name}' holds U+0000")))
}

pub(super) fn wrong_type(name: &str, expected: &str, got: &str) -> Error {
    Error::new(
        ErrorCode::InvalidJson,
        format!("field '{name}' must be {expected}, got {}", type_name(got)),
    )
}

/// The JSON type of a value's text, for messages.
pub(super) fn type_name(json: &str) -> &'static str {
    match json.as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        Some(b'-' | b'0'..=b'9') => "a number",
        _ => "nothing",
    }
}
