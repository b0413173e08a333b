//! Text as a reader sees it, for the claim matcher. Characters that render as
//! nothing (zero-width space, non-joiner and joiner, word joiner, byte-order
//! mark, soft hyphen) are dropped, so `1<ZWSP>15.2 tok/s` reads as the 115.2 a
//! reader sees, not 15.2; no-break and other fixed-width spaces (U+00A0, U+2007,
//! U+202F, …) become spaces, and so do their HTML references (`&nbsp;`,
//! `&#8203;`); emphasis and code-span markers touching a number (`**115.2**`,
//! `` `55` ``) and inline HTML tags (`<b>55</b>`, `<span>55</span>`) are dropped. A claim found in
//! the normalised text maps back to its byte offset in the original, so lines and
//! columns stay those of the file. One pass, linear in the text.

use std::borrow::Cow;

/// The normalised text and the way back to the original's offsets.
#[derive(Debug)]
pub struct Normalised<'t> {
    pub text: Cow<'t, str>,
    /// At the start of each run copied unchanged: (offset in `text`, offset in
    /// the original), ascending in both. Empty when nothing changed.
    runs: Vec<(usize, usize)>,
}

impl Normalised<'_> {
    /// The original offset of a character that starts at `at` in the normalised
    /// text (past anything dropped just before it: a claim starts at its number,
    /// not at the `**` around it).
    pub fn original(&self, at: usize) -> usize {
        let i = self.runs.partition_point(|&(n, _)| n <= at);
        match i.checked_sub(1).map(|i| self.runs[i]) {
            Some((n, o)) => o + (at - n),
            None => at,
        }
    }

    /// The original offset where text ending at `at` ends (before anything
    /// dropped just after it).
    pub fn original_end(&self, at: usize) -> usize {
        let i = self.runs.partition_point(|&(n, _)| n < at);
        match i.checked_sub(1).map(|i| self.runs[i]) {
            Some((n, o)) => o + (at - n),
            None => at,
        }
    }
}

/// Inline HTML elements whose tags a reader does not see; a `<br>` or `<td>`
/// separates what is around it, and `<sup>`/`<sub>` change what a number means
/// (10<sup>3</sup>), so those stay.
const INLINE_TAGS: &[&str] = &[
    "a", "abbr", "b", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strong", "time", "tt", "u", "var",
];

/// The bytes an edit can start at: markers, `<` and `&`, and the UTF-8 lead
/// bytes of the characters in `seen_as` (U+00xx, U+18xx, U+20xx, U+30xx, U+FEFF).
const MAY_START_AN_EDIT: [bool; 256] = {
    let mut table = [false; 256];
    let bytes = [b'*', b'_', b'`', b'<', b'&', 0xC2, 0xE1, 0xE2, 0xE3, 0xEF];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
};

pub fn normalise(text: &str) -> Normalised<'_> {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut copied = 0; // original offset up to which `out` holds the text
    let mut i = 0;
    while i < b.len() {
        // Most bytes can start no edit: skip to the next that can (always a
        // character's start: ASCII, or the lead byte of a character `seen_as` knows).
        match b[i..].iter().position(|&c| MAY_START_AN_EDIT[c as usize]) {
            Some(k) => i += k,
            None => break,
        }
        let (len, edit) = edit_at(text, i);
        let Some(replacement) = edit else {
            i += len;
            continue;
        };
        if runs.is_empty() {
            out.reserve(text.len());
            runs.push((0, 0));
        }
        out.push_str(&text[copied..i]);
        if !replacement.is_empty() {
            push_run(&mut runs, out.len(), i);
            out.push_str(replacement);
        }
        i += len;
        copied = i;
        push_run(&mut runs, out.len(), i);
    }
    if runs.is_empty() {
        return Normalised {
            text: Cow::Borrowed(text),
            runs,
        };
    }
    out.push_str(&text[copied..]);
    Normalised {
        text: Cow::Owned(out),
        runs,
    }
}

fn push_run(runs: &mut Vec<(usize, usize)>, normalised: usize, original: usize) {
    match runs.last_mut() {
        Some(last) if last.0 == normalised => *last = (normalised, original),
        _ => runs.push((normalised, original)),
    }
}

/// What to do with the text at byte `i`: how many bytes it looks at, and what
/// replaces them (`None`: they stay).
fn edit_at(text: &str, i: usize) -> (usize, Option<&'static str>) {
    let b = text.as_bytes();
    if let c @ (b'*' | b'_' | b'`') = b[i] {
        // A delimiter run is judged whole.
        let len = b[i..].iter().take_while(|&&x| x == c).count();
        let before = text[..i].chars().next_back();
        let after = text[i + len..].chars().next();
        let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        let touches_number = if c == b'_' {
            // `_` never emphasises inside a word (x86_64, v1_2)
            digit(before) && !word(after) || digit(after) && !word(before)
        } else {
            digit(before) || digit(after)
        };
        return (len, touches_number.then_some(""));
    }
    match b[i] {
        b'<' => match inline_tag(&b[i..]) {
            Some(len) => (len, Some("")),
            None => (1, None),
        },
        b'&' => match entity(&b[i..]) {
            Some((len, c)) => (len, seen_as(c)),
            None => (1, None),
        },
        c if c.is_ascii() => (1, None),
        _ => {
            // `i` is always at a character's start: every step is whole characters.
            match text.get(i..).and_then(|t| t.chars().next()) {
                Some(c) => (c.len_utf8(), seen_as(c)),
                None => (1, None),
            }
        }
    }
}

/// What a reader sees of a character that is invisible or a space: nothing,
/// or a space; `None` for any other character.
fn seen_as(c: char) -> Option<&'static str> {
    match c {
        // soft hyphen, Mongolian vowel separator, zero-width space, non-joiner and
        // joiner, word joiner and invisible operators, zero-width no-break space (BOM)
        '\u{AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' => {
            Some("")
        }
        // no-break, figure, thin, hair and other fixed-width spaces
        '\u{A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => Some(" "),
        _ => None,
    }
}

/// An HTML character reference at the start of `b` (`&nbsp;`, `&#8203;`,
/// `&#x200B;`) for one of the characters `seen_as` knows: its length and the
/// character.
fn entity(b: &[u8]) -> Option<(usize, char)> {
    const NAMED: &[(&str, char)] = &[
        ("nbsp", '\u{A0}'),
        ("NonBreakingSpace", '\u{A0}'),
        ("shy", '\u{AD}'),
        ("ensp", '\u{2002}'),
        ("emsp", '\u{2003}'),
        ("numsp", '\u{2007}'),
        ("thinsp", '\u{2009}'),
        ("ThinSpace", '\u{2009}'),
        ("hairsp", '\u{200A}'),
        ("ZeroWidthSpace", '\u{200B}'),
        ("zwnj", '\u{200C}'),
        ("zwj", '\u{200D}'),
        ("NoBreak", '\u{2060}'),
        ("MediumSpace", '\u{205F}'),
    ];
    let end = b.iter().take(34).position(|&c| c == b';')?;
    let body = std::str::from_utf8(&b[1..end]).ok()?;
    let c = match body.strip_prefix('#') {
        Some(n) => {
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)?
        }
        None => NAMED.iter().find(|(name, _)| *name == body)?.1,
    };
    seen_as(c).map(|_| (end + 1, c))
}

/// The length of an inline HTML tag at the start of `b` (`<b>`, `</span>`,
/// `<span class="x" hidden>`), by CommonMark's grammar for raw HTML: a tag is
/// dropped whole, so text that is not one (`<span 15 tok/s>`, shown as text) must
/// stay. A tag is on one line and at most `MAX_TAG` bytes, which keeps the look
/// from each `<` short (a run of unclosed `<b a="` costs no rescans).
fn inline_tag(b: &[u8]) -> Option<usize> {
    const MAX_TAG: usize = 512;
    let b = &b[..b.len().min(MAX_TAG)];
    let at = |i: usize| b.get(i).copied();
    let spaces = |i: usize| {
        b[i.min(b.len())..]
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count()
    };
    let closing = at(1) == Some(b'/');
    let mut i = if closing { 2 } else { 1 };
    let name_len = b[i..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let name = &b[i..i + name_len];
    if !INLINE_TAGS
        .iter()
        .any(|t| t.as_bytes().eq_ignore_ascii_case(name))
    {
        return None;
    }
    i += name_len;
    // Attributes: a space, a name, and maybe `= value` (quoted or bare).
    while !closing && spaces(i) > 0 {
        let start = i + spaces(i);
        if !at(start).is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b':') {
            break;
        }
        i = start
            + b[start..]
                .iter()
                .take_while(|&&c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-')
                })
                .count();
        let equals = i + spaces(i);
        if at(equals) != Some(b'=') {
            continue;
        }
        let value = equals + 1 + spaces(equals + 1);
        i = match at(value)? {
            q @ (b'"' | b'\'') => {
                let len = b[value + 1..].iter().position(|&c| c == q || c == b'\n')?;
                if b[value + 1 + len] != q {
                    return None;
                }
                value + len + 2
            }
            _ => {
                let len = b[value..]
                    .iter()
                    .take_while(|&&c| !c.is_ascii_whitespace() && !b"\"'=<>`".contains(&c))
                    .count();
                if len == 0 {
                    return None;
                }
                value + len
            }
        };
    }
    i += spaces(i);
    if !closing && at(i) == Some(b'/') {
        i += 1;
    }
    (at(i) == Some(b'>')).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalise(s).text.into_owned()
    }

    #[test]
    fn invisible_characters_are_dropped_and_no_break_spaces_are_spaces() {
        assert_eq!(norm("1\u{200B}15.2 tok/s"), "115.2 tok/s");
        for c in ['\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{AD}'] {
            assert_eq!(norm(&format!("1{c}5 tok/s")), "15 tok/s", "{:?}", c);
        }
        for c in ['\u{A0}', '\u{202F}', '\u{2007}'] {
            assert_eq!(norm(&format!("115.2{c}tok/s")), "115.2 tok/s", "{:?}", c);
        }
        for e in ["&nbsp;", "&#160;", "&#xA0;", "&thinsp;", "&#8239;"] {
            assert_eq!(norm(&format!("115.2{e}tok/s")), "115.2 tok/s", "{e}");
        }
        for e in ["&#8203;", "&#x200b;", "&ZeroWidthSpace;", "&shy;", "&zwj;"] {
            assert_eq!(norm(&format!("1{e}15.2 tok/s")), "115.2 tok/s", "{e}");
        }
        assert_eq!(
            norm("a &amp; b &#65; &#xFFFFFFFF; &"),
            "a &amp; b &#65; &#xFFFFFFFF; &"
        );
        // other non-ASCII text is kept as it is
        assert_eq!(norm("≈ 15 tok/s – café ×"), "≈ 15 tok/s – café ×");
    }

    #[test]
    fn markers_touching_a_number_are_dropped_and_others_kept() {
        assert_eq!(norm("**115.2** tok/s"), "115.2 tok/s");
        assert_eq!(norm("*115.2* tok/s"), "115.2 tok/s");
        assert_eq!(norm("__115.2__ tok/s"), "115.2 tok/s");
        assert_eq!(norm("`115.2` tok/s"), "115.2 tok/s");
        assert_eq!(norm("1**15.2** tok/s"), "115.2 tok/s");
        assert_eq!(norm("x86_64 and __init__ a__5"), "x86_64 and __init__ a__5");
        assert_eq!(norm("**bold** * list"), "**bold** * list");
        assert_eq!(norm("<span>55</span> tok/s"), "55 tok/s");
        assert_eq!(norm("<b>55</b> <STRONG class=\"x\">5</STRONG>"), "55 5");
        assert_eq!(
            norm("<br>10<sup>3</sup> <10 tok/s <span"),
            "<br>10<sup>3</sup> <10 tok/s <span"
        );
        assert_eq!(norm("<!-- receipt: a.json -->"), "<!-- receipt: a.json -->");
        // tags by CommonMark's grammar; what is not one is text a reader sees
        assert_eq!(norm("<b x=1 y='a b' z data-n = \"2\" />5</b>"), "5");
        for text in [
            "<span 15 tok/s>",
            "<b x=>",
            "<b x=\"5\n\">",
            "<b\n>",
            "<bogus>5",
        ] {
            assert_eq!(norm(text), text);
        }
    }

    #[test]
    fn offsets_map_back_to_the_original() {
        let s = "a **1\u{200B}15.2**\u{A0}tok/s <b>9</b> z";
        let n = normalise(s);
        assert_eq!(n.text, "a 115.2 tok/s 9 z");
        let at = |needle: &str| n.text.find(needle).unwrap();
        assert_eq!(n.original(at("115.2")), s.find('1').unwrap());
        assert_eq!(n.original(at("15.2")), s.find("15.2").unwrap());
        assert_eq!(n.original(at(" tok/s")), s.find('\u{A0}').unwrap());
        assert_eq!(n.original(at("tok/s")), s.find("tok/s").unwrap());
        assert_eq!(n.original(at("9")), s.find('9').unwrap());
        assert_eq!(n.original_end(at("115.2") + 5), s.find("**\u{A0}").unwrap());
        assert_eq!(n.original(n.text.len()), s.len());
        // unchanged text maps to itself
        let plain = normalise("15 tok/s");
        assert!(matches!(plain.text, Cow::Borrowed(_)));
        assert_eq!(plain.original(3), 3);
    }
}
