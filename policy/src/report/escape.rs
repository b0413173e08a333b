//! Hostile strings made safe for a terminal and a CI log. Every value that
//! comes from a receipt, report, doc, file name, git ref or the environment
//! goes through [`plain`] before it is printed as text; a block of lines that
//! holds such values (a rendered error) goes through [`lines`].
//!
//! What is escaped, visibly, as `\n`, `\r`, `\t` or `\u{…}` (so a reader sees
//! that something was there):
//! - control characters: C0, DEL and C1, which covers every ANSI CSI/OSC
//!   sequence (they start with ESC or a C1 introducer) and every line break
//!   a terminal or the Actions runner splits on;
//! - invisible format characters: bidi embeddings, overrides and isolates
//!   (U+202A–U+202E, U+2066–U+2069), zero-width and joiner characters, the line
//!   and paragraph separators, the byte-order mark, the soft hyphen;
//! - workflow commands: a value whose first non-blank character is `:` has it
//!   written `\u{3a}` (the runner runs a line that starts with `::` after
//!   blanks), and `##[` anywhere is written `##\u{5b}` (the runner's older
//!   syntax, recognised anywhere in a line).
//!
//! The escapes are for the eye, not reversible: a backslash is left as it is.
//!
//! JSON keeps the data exact: [`json_pretty`] and [`write_json`] write what
//! serde_json writes, with the hidden characters it leaves raw (DEL, C1, bidi,
//! zero-width) as `\uXXXX` escapes, the same string to any JSON reader.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::borrow::Cow;
use std::fmt::Write;
use std::io;

/// One value on one line, safe for a terminal and the Actions log.
pub fn plain(s: &str) -> Cow<'_, str> {
    if is_plain(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let blank = s.len() - s.trim_start().len();
    let (lead, rest) = s.split_at(blank);
    push_chars(&mut out, lead);
    let rest = match rest.strip_prefix(':') {
        Some(after) => {
            out.push_str("\\u{3a}");
            after
        }
        None => rest,
    };
    // `##[` is split by escaping its bracket; the pieces between are escaped
    // one character at a time.
    let mut pieces = rest.split("##[");
    if let Some(first) = pieces.next() {
        push_chars(&mut out, first);
    }
    for piece in pieces {
        out.push_str("##\\u{5b}");
        push_chars(&mut out, piece);
    }
    Cow::Owned(out)
}

/// Several lines whose content is data (a rendered error, a checklist item's
/// detail): each line escaped as by [`plain`], the line breaks kept.
pub fn lines(s: &str) -> Cow<'_, str> {
    if s.split('\n').all(is_plain) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&plain(line));
    }
    Cow::Owned(out)
}

/// True when `s` needs no escaping: the fast path for the common value.
fn is_plain(s: &str) -> bool {
    !s.trim_start().starts_with(':') && !s.contains("##[") && !s.chars().any(hidden)
}

/// Characters that move the cursor, change the terminal, break a line or are
/// invisible: never printed as they are.
pub(crate) fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                       // soft hyphen
                | '\u{034F}'                 // combining grapheme joiner
                | '\u{061C}'                 // Arabic letter mark
                | '\u{115F}' | '\u{1160}'    // Hangul fillers
                | '\u{180E}'                 // Mongolian vowel separator
                | '\u{200B}'..='\u{200F}'    // zero-width space, (non-)joiner, LRM, RLM
                | '\u{2028}'..='\u{202E}'    // line/paragraph separators, bidi embeddings and overrides
                | '\u{2060}'..='\u{2064}'    // word joiner, invisible operators
                | '\u{2066}'..='\u{206F}'    // bidi isolates, deprecated format characters
                | '\u{3164}'                 // Hangul filler
                | '\u{FEFF}'                 // byte-order mark, zero-width no-break space
                | '\u{FFA0}'                 // halfwidth Hangul filler
                | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        )
}

/// `s` with every hidden character written as a visible escape.
fn push_chars(out: &mut String, s: &str) {
    for c in s.chars() {
        push_char(out, c);
    }
}

/// `c`, or its visible escape when it is hidden.
pub(crate) fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if hidden(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Pretty JSON of `value` with no hidden character raw.
pub fn json_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Guarded(PrettyFormatter::new()));
    value.serialize(&mut ser)?;
    // serde_json writes UTF-8, and the escapes added are ASCII.
    Ok(String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into()))
}

/// Compact JSON of `value` streamed to `out`, with no hidden character raw.
pub fn write_json<W: io::Write, T: Serialize + ?Sized>(
    out: W,
    value: &T,
) -> serde_json::Result<()> {
    value.serialize(&mut serde_json::Serializer::with_formatter(
        out,
        Guarded(CompactFormatter),
    ))
}

/// A serde_json formatter that escapes hidden characters in strings and
/// otherwise writes as the one it wraps.
struct Guarded<F>(F);

impl<F: Formatter> Formatter for Guarded<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if hidden(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(w, "\\u{unit:04x}")?;
                }
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the Actions runner would take for a workflow command: a line that
    /// starts with `::` after blanks, or one holding `##[`.
    fn runs_as_command(line: &str) -> bool {
        line.trim_start().starts_with("::") || line.contains("##[")
    }

    #[test]
    fn clean_values_are_borrowed_unchanged() {
        for s in [
            "receipts/bench-2b.json",
            "i2s_gemv_avx2",
            "24 tok/s — 1.5× faster → fail",
            "a: b",
            "",
        ] {
            assert!(matches!(plain(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn a_newline_cannot_start_a_workflow_command() {
        let out = plain("ok\n::error::x");
        assert_eq!(out, "ok\\n::error::x");
        assert!(!out.contains('\n'));
        let out = plain("ok\r::set-output name=a::b");
        assert!(!out.contains('\r'), "{out}");
    }

    #[test]
    fn a_value_that_starts_with_a_colon_is_escaped_after_blanks() {
        assert_eq!(plain("::error::x"), "\\u{3a}:error::x");
        assert_eq!(plain("  ::warning::x"), "  \\u{3a}:warning::x");
        // NBSP and other Unicode blanks are trimmed by the runner too.
        assert_eq!(plain("\u{a0}::error::x"), "\u{a0}\\u{3a}:error::x");
        // A tab is escaped, so it no longer counts as a blank.
        assert_eq!(plain("\t::error::x"), "\\t\\u{3a}:error::x");
        // A single colon first is escaped too: it could meet a colon we print.
        assert_eq!(plain(":x"), "\\u{3a}x");
        for s in ["::error::x", " ::x::y", "\u{2003}::x::y"] {
            assert!(!runs_as_command(&plain(s)), "{s}");
        }
    }

    #[test]
    fn the_older_command_syntax_is_broken_anywhere() {
        let out = plain("see ##[error]boom and ##[add-mask]x");
        assert_eq!(out, "see ##\\u{5b}error]boom and ##\\u{5b}add-mask]x");
        assert!(!runs_as_command(&out));
    }

    #[test]
    fn ansi_and_osc_sequences_lose_their_escape() {
        let osc = plain("\x1b]8;;http://evil\x07link\x1b]8;;\x07");
        assert_eq!(osc, "\\u{1b}]8;;http://evil\\u{7}link\\u{1b}]8;;\\u{7}");
        assert_eq!(plain("\x1b[2Jgone"), "\\u{1b}[2Jgone");
        // C1 CSI and DEL.
        assert_eq!(plain("a\u{9b}2Jb\u{7f}"), "a\\u{9b}2Jb\\u{7f}");
        for s in [osc, plain("\x1b[2J"), plain("\u{9b}31m")] {
            assert!(!s.chars().any(|c| c.is_control()), "{s}");
        }
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_visible() {
        assert_eq!(
            plain("mock\u{202e}lenrek"),
            "mock\\u{202e}lenrek",
            "right-to-left override"
        );
        assert_eq!(plain("i2s\u{200b}gemv"), "i2s\\u{200b}gemv");
        assert_eq!(plain("a\u{2066}b\u{2069}"), "a\\u{2066}b\\u{2069}");
        assert_eq!(plain("\u{feff}x\u{2028}y"), "\\u{feff}x\\u{2028}y");
        assert_eq!(plain("a\u{200d}b"), "a\\u{200d}b");
    }

    #[test]
    fn json_keeps_the_data_and_writes_hidden_characters_as_escapes() {
        let value = serde_json::json!({
            "path": "a\u{1b}[2J\u{9b}31m\u{7f}\u{202e}b\u{2028}\u{200b}—é",
            "list": ["x", 1]
        });
        let text = json_pretty(&value).unwrap();
        assert!(!text.chars().any(|c| hidden(c) && c != '\n'), "{text}");
        assert!(
            text.contains(r"a\u001b[2J\u009b31m\u007f\u202eb\u2028\u200b—é"),
            "{text}"
        );
        assert_eq!(text, {
            let plain = serde_json::to_string_pretty(&value).unwrap();
            plain
                .replace('\u{9b}', r"\u009b")
                .replace('\u{7f}', r"\u007f")
                .replace('\u{202e}', r"\u202e")
                .replace('\u{2028}', r"\u2028")
                .replace('\u{200b}', r"\u200b")
        });
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
        let mut compact = Vec::new();
        write_json(&mut compact, &value).unwrap();
        let compact = String::from_utf8(compact).unwrap();
        assert!(!compact.contains('\n') && !compact.chars().any(hidden));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&compact).unwrap(),
            value
        );
    }

    #[test]
    fn lines_keep_their_breaks_and_escape_each_line() {
        let out = lines("policy not loaded\n::error::x\n  at \x1b[31mline\r");
        assert_eq!(
            out,
            "policy not loaded\n\\u{3a}:error::x\n  at \\u{1b}[31mline\\r"
        );
        assert!(out.lines().all(|l| !runs_as_command(l)));
        assert!(matches!(lines("a\nb: c\n"), Cow::Borrowed(_)));
    }
}
