//! Bytes → JSON document, refusing what a receipt can never be (too big, empty,
//! not UTF-8, not JSON, too deep) and noting duplicate keys, which serde_json
//! would otherwise resolve silently by keeping the last value.

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;

/// The largest receipt read by default: 16 MiB. Real receipts are a few KiB.
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// A parsed JSON document and the places where a key was repeated.
#[derive(Debug)]
pub struct Document {
    pub value: Value,
    /// JSON pointers of the second (and later) occurrences of a key.
    pub duplicate_keys: Vec<String>,
}

/// Why bytes are not a JSON document. Each maps to one structure gate.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseProblem {
    Empty,
    InvalidUtf8 {
        offset: usize,
        line: usize,
        column: usize,
    },
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
        looks_binary: bool,
    },
    TooDeep {
        line: usize,
        column: usize,
    },
}

/// Parse receipt bytes. A UTF-8 byte-order mark is skipped.
pub fn parse(bytes: &[u8]) -> Result<Document, ParseProblem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseProblem::Empty);
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let offset = e.valid_up_to();
        let (line, column) = line_column(&bytes[..offset]);
        return Err(ParseProblem::InvalidUtf8 {
            offset,
            line,
            column,
        });
    }
    let duplicates = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let root = Path {
        parent: None,
        segment: Segment::Root,
    };
    let value = ValueSeed {
        path: &root,
        duplicates: &duplicates,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v))
    .map_err(|e| {
        let message = e.to_string();
        if message.starts_with("recursion limit exceeded") {
            ParseProblem::TooDeep {
                line: e.line(),
                column: e.column(),
            }
        } else {
            ParseProblem::InvalidJson {
                line: e.line(),
                column: e.column(),
                message: strip_position(&message).to_string(),
                looks_binary: bytes.contains(&0),
            }
        }
    })?;
    Ok(Document {
        value,
        duplicate_keys: duplicates.into_inner(),
    })
}

/// serde_json appends " at line L column C"; we report the place separately.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

fn line_column(prefix: &[u8]) -> (usize, usize) {
    let line = prefix.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = prefix.len()
        - prefix
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (line, column)
}

/// Escape one JSON-pointer segment (RFC 6901).
pub fn escape_pointer_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Where a value sits, as a chain of parents; turned into a pointer only when
/// a duplicate is found, so valid receipts pay no allocation for it.
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Segment<'a>,
}

enum Segment<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl Path<'_> {
    fn pointer(&self) -> String {
        let mut segments = Vec::new();
        let mut at = Some(self);
        while let Some(p) = at {
            match p.segment {
                Segment::Root => {}
                Segment::Key(k) => segments.push(escape_pointer_segment(k)),
                Segment::Index(i) => segments.push(i.to_string()),
            }
            at = p.parent;
        }
        segments.iter().rev().map(|s| format!("/{s}")).collect()
    }
}

struct ValueSeed<'a> {
    path: &'a Path<'a>,
    duplicates: &'a RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let path = Path {
                parent: Some(self.path),
                segment: Segment::Index(items.len()),
            };
            let seed = ValueSeed {
                path: &path,
                duplicates: self.duplicates,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = Path {
                parent: Some(self.path),
                segment: Segment::Key(&key),
            };
            let value = map.next_value_seed(ValueSeed {
                path: &path,
                duplicates: self.duplicates,
            })?;
            if object.contains_key(&key) {
                self.duplicates.borrow_mut().push(path.pointer());
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objects_and_finds_duplicate_keys_with_pointers() {
        let doc = parse(br#"{"a": 1, "m": {"x/y": [1, {"k": 1, "k": 2}]}, "a": 3}"#).unwrap();
        assert_eq!(doc.duplicate_keys, vec!["/m/x~1y/1/k", "/a"]);
        // the last value counts in the document, as serde_json would have it
        assert_eq!(doc.value["a"], 3);
    }

    #[test]
    fn empty_and_whitespace_only_are_empty() {
        assert_eq!(parse(b"").unwrap_err(), ParseProblem::Empty);
        assert_eq!(parse(b" \n\t ").unwrap_err(), ParseProblem::Empty);
    }

    #[test]
    fn invalid_utf8_names_offset_line_and_column() {
        let err = parse(b"{\n  \"a\": \"\xff\"}").unwrap_err();
        assert_eq!(
            err,
            ParseProblem::InvalidUtf8 {
                offset: 10,
                line: 2,
                column: 9
            }
        );
    }

    #[test]
    fn nan_infinity_and_trailing_garbage_are_invalid_json() {
        for text in [
            &br#"{"tokens_per_second": NaN}"#[..],
            br#"{"tokens_per_second": Infinity}"#,
            br#"{"a": 1} x"#,
            br#"{"tokens_per_second": 1e400}"#,
        ] {
            assert!(
                matches!(parse(text), Err(ParseProblem::InvalidJson { .. })),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse(text.as_bytes()),
            Err(ParseProblem::TooDeep { .. })
        ));
    }

    #[test]
    fn binary_data_is_invalid_utf8_or_invalid_json() {
        let bin: Vec<u8> = (0u8..=255).cycle().take(4096).collect();
        assert!(matches!(parse(&bin), Err(ParseProblem::InvalidUtf8 { .. })));
        let nul = b"\0\0\0\0GGUF";
        assert!(matches!(
            parse(nul),
            Err(ParseProblem::InvalidJson {
                looks_binary: true,
                ..
            })
        ));
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert!(parse(b"\xEF\xBB\xBF{}").is_ok());
    }
}
