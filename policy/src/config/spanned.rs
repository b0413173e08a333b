//! Spanned-TOML plumbing shared by every part of the policy file: byte offsets
//! to lines and columns (`Source`), and typed reads of values that record an
//! error pointing into the file instead of failing at the first one; and the
//! one quoting rule for the strings `policy show` writes back.

use super::error::{ConfigCode, Location, PolicyError};
use std::fmt::Write;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A percentage as written (`"15%"`), and where.
#[derive(Debug, Clone)]
pub struct Tolerance {
    /// Percent, 0 ≤ p < 100.
    pub percent: f64,
    pub text: String,
    pub location: Option<Location>,
}

/// Byte offsets → line and column, and the errors found so far.
pub struct Source<'a> {
    pub name: &'a str,
    text: &'a str,
    line_starts: Vec<usize>,
    pub errors: Vec<PolicyError>,
}

impl<'a> Source<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Source<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            name,
            text,
            line_starts,
            errors: Vec::new(),
        }
    }

    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        Location {
            file: self.name.to_string(),
            line: line + 1,
            column,
        }
    }

    pub(crate) fn error(
        &mut self,
        code: ConfigCode,
        span: Range<usize>,
        message: String,
        help: String,
    ) {
        let e = self.make(code, span, message, help);
        self.errors.push(e);
    }

    pub fn make(
        &self,
        code: ConfigCode,
        span: Range<usize>,
        message: String,
        help: String,
    ) -> PolicyError {
        let location = self.location(span.start);
        let line_index = location.line - 1;
        let start = self.line_starts[line_index];
        let end = self
            .line_starts
            .get(line_index + 1)
            .copied()
            .unwrap_or(self.text.len());
        let line_text = self
            .text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
            .to_string();
        let span_end = span.end.min(end).max(span.start);
        let len = self
            .text
            .get(span.start..span_end)
            .map_or(1, |s| s.trim_end_matches(['\n', '\r']).chars().count());
        PolicyError {
            code,
            location: location.clone(),
            message,
            help,
            snippet: Some((line_text, location.column, len)),
            note: None,
        }
    }
}

impl Source<'_> {
    /// The byte offset of a location this source produced.
    pub fn offset_of(&self, location: &Location) -> usize {
        let start = self.line_starts[location.line - 1];
        self.text[start..]
            .char_indices()
            .nth(location.column - 1)
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

pub type Value<'i> = Spanned<DeValue<'i>>;

pub fn unknown_keys(src: &mut Source, t: &DeTable, allowed: &[&str], place: &str) {
    for (key, _) in t.iter() {
        let name: &str = key.get_ref();
        if allowed.contains(&name) {
            continue;
        }
        let help = match nearest(name, allowed.iter().copied()) {
            Some(n) => format!(
                "did you mean `{n}`? valid keys {place}: {}",
                allowed.join(", ")
            ),
            None => format!("valid keys {place}: {}", allowed.join(", ")),
        };
        src.error(
            ConfigCode::UnknownKey,
            key.span(),
            format!("unknown key `{name}` {place}"),
            help,
        );
    }
}

fn type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub fn wrong_type(src: &mut Source, v: &Value, key: &str, expected: &str, example: &str) {
    src.error(
        ConfigCode::WrongType,
        v.span(),
        format!(
            "`{key}` is {}, but it must be {expected}",
            type_name(v.get_ref())
        ),
        format!("write it like this: {example}"),
    );
}

pub fn string<'v>(src: &mut Source, v: &'v Value, key: &str, example: &str) -> Option<&'v str> {
    match v.get_ref() {
        DeValue::String(s) => Some(s.as_ref()),
        _ => {
            wrong_type(src, v, key, "a string", example);
            None
        }
    }
}

pub fn boolean(src: &mut Source, v: &Value, key: &str) -> Option<bool> {
    match v.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        _ => {
            wrong_type(src, v, key, "true or false", "true");
            None
        }
    }
}

pub fn integer(v: &DeValue) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok(),
        _ => None,
    }
}

/// An integer or a finite float.
pub fn number(v: &DeValue) -> Option<f64> {
    match v {
        DeValue::Integer(_) => integer(v).map(|n| n as f64),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite()),
        _ => None,
    }
}

/// A percentage string such as "15%", for `key`; a bad one is reported with `code`.
pub fn percent(
    src: &mut Source,
    v: &Value,
    key: &str,
    example: &str,
    code: ConfigCode,
) -> Option<Tolerance> {
    let DeValue::String(s) = v.get_ref() else {
        // A bare number was probably meant as a percentage: show it as one.
        let example = match number(v.get_ref()) {
            Some(n) if n < 1.0 => format!("\"{}%\"", n * 100.0),
            Some(n) => format!("\"{n}%\""),
            None => example.to_string(),
        };
        wrong_type(src, v, key, "a percentage string", &example);
        return None;
    };
    match parse_percent(s) {
        Ok(percent) => Some(Tolerance {
            percent,
            text: s.to_string(),
            location: Some(src.location(v.span().start)),
        }),
        Err((message, help)) => {
            src.error(code, v.span(), message.replacen("tolerance", key, 1), help);
            None
        }
    }
}

/// "15%" → 15.0. A tolerance is from 0% to below 100% (at 100% the band's lower
/// edge would be zero: every rate would pass).
pub fn parse_percent(s: &str) -> Result<f64, (String, String)> {
    let t = s.trim();
    let Some(number) = t.strip_suffix('%') else {
        let fix = match t.parse::<f64>() {
            Ok(n) if n > 0.0 && n < 1.0 => format!(
                "write the percent sign: \"{t}%\" for {t} percent, or \"{}%\" if {t} is a fraction",
                n * 100.0
            ),
            Ok(_) => format!("write the percent sign: \"{t}%\""),
            Err(_) => "write a percentage such as \"15%\"".into(),
        };
        return Err((format!("tolerance \"{s}\" has no % sign"), fix));
    };
    let n: f64 = match number.trim().parse() {
        Ok(n) if f64::is_finite(n) => n,
        _ => {
            return Err((
                format!("tolerance \"{s}\" is not a number of percent"),
                "write a percentage such as \"15%\"".into(),
            ));
        }
    };
    if n < 0.0 {
        return Err((
            format!("tolerance \"{s}\" is negative"),
            "a tolerance widens the band; write it without the minus sign, e.g. \"5%\"".into(),
        ));
    }
    if n >= 100.0 {
        return Err((
            format!("tolerance \"{s}\" is 100% or more: the band's lower edge would be at or below zero, so every rate would pass"),
            "use a tolerance below 100%, e.g. \"15%\"; widen min/max if the range really is that wide".into(),
        ));
    }
    Ok(n)
}

/// The candidate closest to a mistyped name, if one is close enough to be meant.
pub fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 4);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= limit)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// `s` as a TOML basic string: what `policy show` prints must load back, whatever
/// a policy's strings hold (TOML allows no raw control character, DEL included).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A regex as a TOML literal string (its backslashes stay readable) when it can
/// be one, else as a basic string.
pub fn quote_regex(s: &str) -> String {
    if s.contains('\'') || s.chars().any(char::is_control) {
        quote(s)
    } else {
        format!("'{s}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("15%"), Ok(15.0));
        assert_eq!(parse_percent(" 2.5% "), Ok(2.5));
        assert_eq!(parse_percent("0%"), Ok(0.0));
        assert!(parse_percent("15").unwrap_err().1.contains("\"15%\""));
        assert!(parse_percent("0.15").unwrap_err().1.contains("\"15%\""));
        assert!(parse_percent("150%").unwrap_err().0.contains("100%"));
        assert!(parse_percent("100%").is_err());
        assert!(parse_percent("-5%").unwrap_err().0.contains("negative"));
        assert!(parse_percent("abc%").is_err());
        assert!(parse_percent("nan%").is_err());
    }

    #[test]
    fn nearest_names() {
        let keys = ["tolerance", "kernels", "rate"].into_iter();
        assert_eq!(nearest("tolerence", keys.clone()), Some("tolerance"));
        assert_eq!(nearest("kernel", keys.clone()), Some("kernels"));
        assert_eq!(nearest("zzzzzzzz", keys), None);
    }

    #[test]
    fn locations_are_one_based_and_count_characters() {
        let src = Source::new("p.toml", "a = 1\nbé = \"x\"\n");
        let l = src.location(10);
        assert_eq!((l.line, l.column), (2, 4));
        assert_eq!(src.offset_of(&l), 10);
        assert_eq!(src.location(0).to_string(), "p.toml:1:1");
    }
}
