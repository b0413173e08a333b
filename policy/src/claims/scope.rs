//! What a citation or a `receipt-ignore` covers (docs/claims.md, "What a
//! citation covers"): the sentence it is written in (a wrapped sentence spans
//! lines), a table row, or, from the line right after it, a whole table or code
//! block. Never the other sentences of a paragraph: an ignore on a quoted
//! sentence must not silence a claim written, or later added, beside it.

use super::blocks::{Block, BlockKind};
use super::device::{Device, Mentions};
use super::{citations, ignore_reason};
use regex::bytes::Regex as BytesRegex;
use std::ops::Range;
use std::sync::OnceLock;

/// What covers one sentence, row or code block.
#[derive(Debug, Clone, Default)]
struct Unit {
    citations: Vec<String>,
    ignore: Option<String>,
    mentions: Mentions,
}

/// The scopes of one file's claims, asked for in text order: each block is cut
/// into sentences once and each sentence's markers and device words are read
/// once, so a paragraph of thousands of claims costs one pass.
pub struct Scopes<'a> {
    text: &'a str,
    blocks: &'a [Block],
    /// The block cut last, its units (contiguous, covering it) and the comment
    /// on the line after it.
    block: Option<usize>,
    units: Vec<Range<usize>>,
    trailing: String,
    /// The unit read last: (block, unit index) and what it holds.
    read: Option<((usize, usize), Unit)>,
    /// The table read last: its last row's block index and the comment after
    /// it, so a table's end is found once, not once per row.
    table: Option<(usize, String)>,
}

/// What a claim's scope says about it.
pub struct Covered {
    pub citations: Vec<String>,
    pub ignore: Option<String>,
    pub device: Option<Device>,
}

impl<'a> Scopes<'a> {
    pub fn new(text: &'a str, blocks: &'a [Block]) -> Scopes<'a> {
        Scopes {
            text,
            blocks,
            block: None,
            units: Vec::new(),
            trailing: String::new(),
            read: None,
            table: None,
        }
    }

    /// The citations, ignore and device of the claim at `start..end` of block `i`.
    pub fn claim(&mut self, i: usize, start: usize, end: usize) -> Covered {
        let blocks = self.blocks;
        let block = &blocks[i];
        if self.block != Some(i) {
            self.block = Some(i);
            self.units = units(self.text, block);
            self.trailing = match &self.table {
                Some((last, comment)) if block.kind == BlockKind::TableRow && i <= *last => {
                    comment.clone()
                }
                _ => {
                    let (last, comment) = trailing_comment(self.text, self.blocks, i);
                    if block.kind == BlockKind::TableRow {
                        self.table = Some((last, comment.clone()));
                    }
                    comment
                }
            };
            self.read = None;
        }
        let u = self
            .units
            .partition_point(|r| r.end <= start)
            .min(self.units.len() - 1);
        if self.read.as_ref().is_none_or(|(key, _)| *key != (i, u)) {
            let range = self.units[u].clone();
            let own = match block.kind {
                // A comment inside a code block is code, not a marker.
                BlockKind::CodeBlock => "",
                _ => &self.text[range.clone()],
            };
            let last = u + 1 == self.units.len();
            let markers = if last && !self.trailing.is_empty() {
                format!("{own}\n{}", self.trailing)
            } else {
                own.to_string()
            };
            let unit = Unit {
                citations: citations(&markers),
                ignore: ignore_reason(&markers),
                mentions: Mentions::read(&self.text[range.clone()], range.start),
            };
            self.read = Some(((i, u), unit));
        }
        let (_, unit) = self.read.as_ref().expect("read above");
        // A claim in a table cell also reads its column's header.
        let cell = block.cells.partition_point(|(r, _)| r.start <= start);
        let header = cell
            .checked_sub(1)
            .map(|c| &block.cells[c])
            .filter(|(r, _)| r.contains(&start))
            .map_or("", |(_, h)| h.as_str());
        Covered {
            citations: unit.citations.clone(),
            ignore: unit.ignore.clone(),
            device: unit.mentions.device(start, end, header),
        }
    }
}

/// The pieces of a block a marker can cover: a table row or code block whole,
/// anything else sentence by sentence. Contiguous, from the block's start to
/// its end.
fn units(text: &str, block: &Block) -> Vec<Range<usize>> {
    let range = block.range.clone();
    if matches!(block.kind, BlockKind::TableRow | BlockKind::CodeBlock) {
        return vec![range];
    }
    let mut out = Vec::new();
    let mut start = range.start;
    for next in sentence_starts(&text[range.clone()]) {
        out.push(start..range.start + next);
        start = range.start + next;
    }
    out.push(start..range.end);
    out
}

/// The text of an HTML comment on the line right after block `i`, or right
/// after its whole table for a row; empty when there is none. (Markdown makes a
/// comment that starts a line its own block, so without this a marker on the
/// line after a paragraph would cover nothing.) Also the index of the block it
/// follows: the table's last row for a row.
fn trailing_comment(text: &str, blocks: &[Block], i: usize) -> (usize, String) {
    let block = &blocks[i];
    let mut end = block.range.end;
    let mut last = i;
    if block.kind == BlockKind::TableRow {
        // The table ends where its run of adjacent rows ends.
        for next in &blocks[i + 1..] {
            if next.kind != BlockKind::TableRow || !text[end..next.range.start].trim().is_empty() {
                break;
            }
            end = next.range.end;
            last += 1;
        }
    }
    // The comment must start the very next line: a block's range may or may
    // not take its own line ending, and a blank line ends the reach.
    let after = &text[end..];
    let after = if text[..end].ends_with('\n') {
        after
    } else {
        let after = after.strip_prefix('\r').unwrap_or(after);
        after.strip_prefix('\n').unwrap_or(after)
    };
    let comment = after
        .trim_start_matches([' ', '\t'])
        .strip_prefix("<!--")
        .and_then(|rest| rest.find("-->").map(|close| &rest[..close]))
        .map_or(String::new(), |inner| format!("<!--{inner}-->"));
    (last, comment)
}

/// Words whose abbreviation ends in a period that does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "al", "approx", "ca", "cf", "dr", "eq", "fig", "figs", "incl", "mr", "mrs", "no", "nr", "resp",
    "st", "viz", "vs",
];

/// Block-level HTML tags whose end (or, for `<br>`, whose presence) ends a
/// sentence as a line of its own would.
const BREAKING_TAGS: &[&str] = &[
    "<br>",
    "<br/>",
    "<br />",
    "</p>",
    "</li>",
    "</tr>",
    "</div>",
    "</h1>",
    "</h2>",
    "</h3>",
    "</h4>",
    "</h5>",
    "</h6>",
    "</summary>",
    "</dd>",
    "</dt>",
    "</blockquote>",
];

/// A link to a receipt, bare or in brackets (`([receipt](x.json))`, as
/// `policy-check receipt snippet` writes it) or after a `Receipt:` label
/// (`Receipt: [run 2](r2.json)`), at the start of the text. Bytes
/// and bounded lengths, so that hostile text full of `[` costs a few hundred
/// bytes per look, not the rest of its line.
fn receipt_link_at_start() -> &'static BytesRegex {
    static RE: OnceLock<BytesRegex> = OnceLock::new();
    RE.get_or_init(|| {
        BytesRegex::new(r#"(?-u)^(?i:receipts?\s*:\s*)?\(?\[[^\]\n]{0,200}\]\(\s*<?[^)\s>]{1,300}\.json>?(?:\s+"[^"\n]{0,200}")?\s*\)\)?"#)
            .expect("receipt link regex compiles")
    })
}

/// Past the whitespace, HTML comments and receipt links from `i`: markers right
/// after a sentence's end belong to that sentence. `unclosed` remembers that no
/// `-->` follows, so a text of unclosed comments is searched once.
fn skip_markers(s: &str, mut i: usize, unclosed: &mut bool) -> usize {
    loop {
        let rest = &s[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if let Some(inner) = trimmed.strip_prefix("<!--") {
            match inner.find("-->").filter(|_| !*unclosed) {
                Some(close) => {
                    i += 4 + close + 3;
                    continue;
                }
                None => {
                    *unclosed = true;
                    return i;
                }
            }
        }
        match receipt_link_at_start().find(trimmed.as_bytes()) {
            Some(m) => i += m.end(),
            None => return i,
        }
    }
}

/// Byte offsets (into `s`) where a sentence after the first starts. A sentence
/// ends at `.`, `!` or `?` (with closing brackets, quotes or emphasis after it)
/// followed by a space, a line break or the end, unless the period ends an
/// abbreviation or an initial or the text goes on in lower case; at `。`, `！`,
/// `？`; at a hard line break (two trailing spaces or a `\`); and at `<br>` or
/// the end of a block-level HTML element. Markers right after the end belong to
/// the sentence they follow.
pub fn sentence_starts(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = list_marker_len(s);
    let mut unclosed = false;
    // Per backtick-run length, whether no closing run follows any more.
    let mut unclosed_code = [false; 17];
    while i < s.len() {
        let b = bytes[i];
        if b == b'`' {
            // A code span is code: its `<br>` or `. ` ends nothing.
            let run = bytes[i..].iter().take_while(|&&c| c == b'`').count();
            i += run;
            if run < unclosed_code.len() && !unclosed_code[run] {
                match closing_run(&s[i..], run) {
                    Some(after) => i += after,
                    None => unclosed_code[run] = true,
                }
            }
            continue;
        }
        let end = match b {
            b'.' | b'!' | b'?' => punctuation_end(s, i),
            b'\n' => hard_break(s, i).then_some(i + 1),
            b'<' => BREAKING_TAGS.iter().find_map(|t| {
                s.get(i..i + t.len())
                    .filter(|w| w.eq_ignore_ascii_case(t))
                    .map(|_| i + t.len())
            }),
            0xE3 | 0xEF => ["。", "！", "？"]
                .iter()
                .find(|p| s[i..].starts_with(**p))
                .map(|p| i + p.len()),
            _ => None,
        };
        let Some(end) = end else {
            i += 1;
            continue;
        };
        let next = skip_markers(s, end, &mut unclosed);
        let lower = s[next..].chars().next().is_some_and(char::is_lowercase);
        let by_punctuation = matches!(b, b'.' | b'!' | b'?');
        if next < s.len() && !(by_punctuation && lower) {
            out.push(next);
        }
        i = next.max(i + 1);
    }
    out
}

/// The end of the first run of exactly `run` backticks in `s`, if there is one.
fn closing_run(s: &str, run: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(at) = s[i..].find('`') {
        let start = i + at;
        let len = bytes[start..].iter().take_while(|&&c| c == b'`').count();
        if len == run {
            return Some(start + len);
        }
        i = start + len;
    }
    None
}

/// After a `.`, `!` or `?` at `i`: the end of the sentence (after the run of
/// punctuation and closers), or `None` when it does not end one here.
fn punctuation_end(s: &str, i: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes[i] == b'.' && abbreviation_before(&s[..i]) {
        return None;
    }
    let mut end = i;
    while end < s.len() && matches!(bytes[end], b'.' | b'!' | b'?') {
        end += 1;
    }
    let closers = [')', ']', '"', '\'', '”', '’', '»', '*', '_', '`'];
    while let Some(c) = s[end..].chars().next().filter(|c| closers.contains(c)) {
        end += c.len_utf8();
    }
    let rest = &s[end..];
    (rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with("<!--"))
        .then_some(end)
}

/// Is the word before a period an abbreviation ("vs", "Fig"), an initial
/// ("J."), or the last letter of one written with periods ("e.g.", "U.S.")?
fn abbreviation_before(before: &str) -> bool {
    let word: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphabetic())
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut letters = word.chars();
    match (letters.next(), letters.next()) {
        (None, _) => false,
        (Some(c), None) => c.is_uppercase() || before[..before.len() - c.len_utf8()].ends_with('.'),
        _ => ABBREVIATIONS.contains(&word.to_lowercase().as_str()),
    }
}

/// A hard line break: the line before the `\n` at `i` ends in two spaces or `\`.
fn hard_break(s: &str, i: usize) -> bool {
    let line = s[..i].strip_suffix('\r').unwrap_or(&s[..i]);
    line.ends_with("  ") || line.ends_with('\\')
}

/// The length of a list item's marker and the spaces after it ("- ", "12. ").
fn list_marker_len(s: &str) -> usize {
    let trimmed = s.trim_start_matches([' ', '\t']);
    let lead = s.len() - trimmed.len();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let marker = if digits > 0 && digits <= 9 {
        match trimmed.as_bytes().get(digits) {
            Some(b'.' | b')') => digits + 1,
            _ => return 0,
        }
    } else if trimmed.starts_with(['-', '*', '+']) {
        1
    } else {
        return 0;
    };
    let after = &trimmed[marker..];
    let spaces = after.len() - after.trim_start_matches([' ', '\t']).len();
    if spaces == 0 && !after.is_empty() {
        return 0;
    }
    lead + marker + spaces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut start = 0;
        for next in sentence_starts(s) {
            out.push(s[start..next].trim());
            start = next;
        }
        out.push(s[start..].trim());
        out
    }

    #[test]
    fn sentences_end_at_punctuation_hard_breaks_and_block_tags() {
        assert_eq!(
            sentences("CPU: 15 tok/s. GPU: 80 tok/s! Really? Yes."),
            vec!["CPU: 15 tok/s.", "GPU: 80 tok/s!", "Really?", "Yes."]
        );
        // wrapped over lines, one sentence
        assert_eq!(
            sentences("Decode runs at\n15 tok/s on a\nlaptop. Next."),
            vec!["Decode runs at\n15 tok/s on a\nlaptop.", "Next."]
        );
        assert_eq!(
            sentences("one  \ntwo\\\nthree"),
            vec!["one", "two\\", "three"]
        );
        assert_eq!(sentences("a<br>b</p>c"), vec!["a<br>", "b</p>", "c"]);
        assert_eq!(sentences("一。二"), vec!["一。", "二"]);
        // nothing inside a code span ends a sentence
        assert_eq!(
            sentences("Not `<br>` nor ``a. B`` here. Next `x"),
            vec!["Not `<br>` nor ``a. B`` here.", "Next `x"]
        );
        // closers after the period stay with the sentence
        assert_eq!(
            sentences("(see 15 tok/s.) \"Quoted.\" **Bold.** Done"),
            vec!["(see 15 tok/s.)", "\"Quoted.\"", "**Bold.**", "Done"]
        );
    }

    #[test]
    fn abbreviations_decimals_initials_and_lower_case_do_not_end_a_sentence() {
        assert_eq!(
            sentences(
                "About 1.5x faster, e.g. on CPU, vs. llama.cpp at approx. 15 tok/s. Fig. 3 shows it."
            ),
            vec![
                "About 1.5x faster, e.g. on CPU, vs. llama.cpp at approx. 15 tok/s.",
                "Fig. 3 shows it."
            ]
        );
        assert_eq!(
            sentences("J. Smith measured it."),
            vec!["J. Smith measured it."]
        );
        assert_eq!(sentences("15 tok/s. and more"), vec!["15 tok/s. and more"]);
        assert_eq!(
            sentences("1. Decode: 15 tok/s"),
            vec!["1. Decode: 15 tok/s"]
        );
        assert_eq!(sentences("- Decode. Prefill"), vec!["- Decode.", "Prefill"]);
    }

    #[test]
    fn markers_right_after_a_sentence_belong_to_it() {
        assert_eq!(
            sentences("A 15 tok/s. <!-- receipt: a.json --> B 80 tok/s."),
            vec!["A 15 tok/s. <!-- receipt: a.json -->", "B 80 tok/s."]
        );
        assert_eq!(
            sentences("Measured 12 tok/s (±15%). ([receipt](/ci/a.json)) Next 9 tok/s."),
            vec![
                "Measured 12 tok/s (±15%). ([receipt](/ci/a.json))",
                "Next 9 tok/s."
            ]
        );
        assert_eq!(
            sentences("Done.<!-- receipt-ignore: quoted\nfrom a paper --> B."),
            vec!["Done.<!-- receipt-ignore: quoted\nfrom a paper -->", "B."]
        );
        assert_eq!(
            sentences("Run 2 gave 24 tok/s. Receipt: [run 2](r2.json) Next."),
            vec!["Run 2 gave 24 tok/s. Receipt: [run 2](r2.json)", "Next."]
        );
        // a link to anything else starts the next sentence
        assert_eq!(
            sentences("Done. [docs](a.md) B."),
            vec!["Done.", "[docs](a.md) B."]
        );
    }
}
