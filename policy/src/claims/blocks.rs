//! Splits a document into the blocks a claim can live in (paragraph, heading,
//! list item, table row, code block), so that a claim knows its block and a
//! citation anywhere in the same block backs it. Markdown goes through
//! pulldown-cmark; Rust sources give their doc comments; other text splits on
//! blank lines.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Serialize;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockKind {
    Paragraph,
    Heading,
    ListItem,
    TableRow,
    CodeBlock,
    Html,
    DocComment,
}

impl BlockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Paragraph => "paragraph",
            BlockKind::Heading => "heading",
            BlockKind::ListItem => "list-item",
            BlockKind::TableRow => "table-row",
            BlockKind::CodeBlock => "code-block",
            BlockKind::Html => "html",
            BlockKind::DocComment => "doc-comment",
        }
    }
}

/// A block: its kind and its byte range in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    pub range: Range<usize>,
    /// For table rows: each cell's range and the header text of its column.
    pub cells: Vec<(Range<usize>, String)>,
}

/// How a file's text is split, chosen from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Markdown,
    RustDoc,
    Plain,
}

impl Syntax {
    pub fn of(path: &str) -> Syntax {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".md") || lower.ends_with(".markdown") || lower.ends_with(".mdx") {
            Syntax::Markdown
        } else if lower.ends_with(".rs") {
            Syntax::RustDoc
        } else {
            Syntax::Plain
        }
    }
}

pub fn blocks(text: &str, syntax: Syntax) -> Vec<Block> {
    match syntax {
        Syntax::Markdown => markdown(text),
        Syntax::RustDoc => rust_doc(text),
        Syntax::Plain => plain(text),
    }
}

/// The blocks of a markdown document that hold one of `offsets` (sorted), or a
/// table that `wants_table` accepts (given the table's offset and text). The document is cut into segments at
/// blank lines outside fenced code, and only the segments that matter go through
/// pulldown-cmark: in a large tree most text holds no claim, so most of it is
/// never parsed. (A segment indented as a list item's continuation paragraph is
/// taken as a list item; one after a non-list segment as indented code.)
pub fn markdown_blocks_near(
    text: &str,
    offsets: &[usize],
    wants_table: impl Fn(usize, &str) -> bool,
) -> Vec<Block> {
    let mut out = Vec::new();
    let mut next = 0; // index into offsets
    let mut previous_was_list = false;
    for seg in segments(text) {
        let source = &text[seg.clone()];
        while next < offsets.len() && offsets[next] < seg.start {
            next += 1;
        }
        let holds_claim = next < offsets.len() && offsets[next] < seg.end;
        let first_line = source.lines().next().unwrap_or("");
        let indent = first_line.len() - first_line.trim_start_matches(' ').len();
        let is_list = list_marker(first_line.trim_start());
        if holds_claim
            || source.contains('|') && holds_table(source) && wants_table(seg.start, source)
        {
            if indent >= 4 && !is_fence(first_line.trim_start()) {
                let kind = if previous_was_list {
                    BlockKind::ListItem
                } else {
                    BlockKind::CodeBlock
                };
                out.push(block(kind, seg.clone()));
            } else {
                out.extend(markdown(source).into_iter().map(|mut b| {
                    b.range = b.range.start + seg.start..b.range.end + seg.start;
                    for (cell, _) in &mut b.cells {
                        *cell = cell.start + seg.start..cell.end + seg.start;
                    }
                    b
                }));
            }
        }
        previous_was_list = is_list || (previous_was_list && indent >= 2);
    }
    out
}

/// Runs of non-blank lines, a fenced code block (blank lines and all) being one run.
fn segments(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut fence: Option<(u8, usize)> = None; // fence char and length
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let end = offset + line.len();
        if let Some((ch, len)) = fence {
            let run = trimmed.bytes().take_while(|&b| b == ch).count();
            if indent < 4 && run >= len && trimmed[run..].trim().is_empty() {
                fence = None;
                out.push(start.take().unwrap_or(offset)..end);
            }
        } else if indent < 4 && is_fence(trimmed) {
            let ch = trimmed.as_bytes()[0];
            fence = Some((ch, trimmed.bytes().take_while(|&b| b == ch).count()));
            start.get_or_insert(offset);
        } else if line.trim().is_empty() {
            out.extend(start.take().map(|s| s..offset));
        } else {
            start.get_or_insert(offset);
        }
        offset = end;
    }
    out.extend(start.map(|s| s..text.len()));
    out
}

fn is_fence(trimmed: &str) -> bool {
    trimmed.starts_with("```") || trimmed.starts_with("~~~")
}

fn list_marker(trimmed: &str) -> bool {
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &trimmed[digits..];
    if digits > 0 {
        return (rest.starts_with(". ") || rest.starts_with(") ")) && digits <= 9;
    }
    ["- ", "* ", "+ "].iter().any(|m| trimmed.starts_with(m))
}

/// Does a segment hold a pipe table anywhere (in a block quote too): a line
/// with a pipe followed by a delimiter row?
fn holds_table(segment: &str) -> bool {
    let strip = |l: &str| l.trim_start_matches([' ', '>']).to_string();
    let lines: Vec<String> = segment.lines().map(strip).collect();
    lines
        .windows(2)
        .any(|w| is_table(&format!("{}\n{}", w[0], w[1])))
}

/// A pipe table: its second line is a delimiter row such as `|---|:--:|`.
fn is_table(segment: &str) -> bool {
    let mut lines = segment.lines();
    let (Some(head), Some(delim)) = (lines.next(), lines.next()) else {
        return false;
    };
    let delim = delim.trim();
    head.contains('|')
        && delim.contains('-')
        && delim
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

fn block(kind: BlockKind, range: Range<usize>) -> Block {
    Block {
        kind,
        range,
        cells: Vec::new(),
    }
}

fn markdown(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    // Open containers: (tag end we wait for, start offset, whether a child block started).
    let mut items: Vec<(usize, Option<usize>)> = Vec::new();
    let mut header: Vec<String> = Vec::new();
    let mut in_head = false;
    let mut row: Option<Block> = None;
    let mut cell_start = 0usize;
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        match event {
            Event::Start(Tag::Item) => items.push((range.start, None)),
            Event::End(TagEnd::Item) => {
                if let Some((start, first_child)) = items.pop() {
                    // A tight item's own text runs up to its first child block.
                    let end = first_child.unwrap_or(range.end);
                    if text[start..end].trim().len() > 2 {
                        out.push(block(BlockKind::ListItem, start..end));
                    }
                }
            }
            Event::Start(tag) if is_block(&tag) => {
                if let Some((_, first_child @ None)) = items.last_mut() {
                    *first_child = Some(range.start);
                }
                match tag {
                    Tag::Paragraph => {
                        let kind = if items.is_empty() {
                            BlockKind::Paragraph
                        } else {
                            BlockKind::ListItem
                        };
                        out.push(block(kind, range));
                    }
                    Tag::Heading { .. } => out.push(block(BlockKind::Heading, range)),
                    Tag::CodeBlock(_) => out.push(block(BlockKind::CodeBlock, range)),
                    Tag::HtmlBlock => out.push(block(BlockKind::Html, range)),
                    Tag::TableHead => {
                        in_head = true;
                        header.clear();
                        row = Some(block(BlockKind::TableRow, range));
                    }
                    Tag::TableRow => row = Some(block(BlockKind::TableRow, range)),
                    Tag::Table(_) => header.clear(),
                    _ => {}
                }
            }
            Event::Start(Tag::TableCell) => cell_start = range.start,
            Event::End(TagEnd::TableCell) => {
                if let Some(r) = row.as_mut() {
                    let cell = cell_start..range.end;
                    if in_head {
                        header.push(
                            text[cell.clone()]
                                .trim()
                                .trim_matches('|')
                                .trim()
                                .to_string(),
                        );
                    }
                    let column = r.cells.len();
                    r.cells
                        .push((cell, header.get(column).cloned().unwrap_or_default()));
                }
            }
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => {
                in_head = false;
                out.extend(row.take());
            }
            _ => {}
        }
    }
    out.sort_by_key(|b| b.range.start);
    out
}

fn is_block(tag: &Tag) -> bool {
    matches!(
        tag,
        Tag::Paragraph
            | Tag::Heading { .. }
            | Tag::CodeBlock(_)
            | Tag::HtmlBlock
            | Tag::Table(_)
            | Tag::TableHead
            | Tag::TableRow
            | Tag::List(_)
            | Tag::BlockQuote(_)
    )
}

/// Runs of `///` or `//!` lines.
fn rust_doc(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Range<usize>> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let is_doc = trimmed.starts_with("///") || trimmed.starts_with("//!");
        match (&mut current, is_doc) {
            (Some(r), true) => r.end = offset + line.len(),
            (None, true) => current = Some(offset..offset + line.len()),
            (Some(_), false) => out.extend(current.take().map(|r| block(BlockKind::DocComment, r))),
            (None, false) => {}
        }
        offset += line.len();
    }
    out.extend(current.map(|r| block(BlockKind::DocComment, r)));
    out
}

/// Paragraphs separated by blank lines.
fn plain(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Range<usize>> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let blank = line.trim().is_empty();
        match (&mut current, blank) {
            (Some(r), false) => r.end = offset + line.len(),
            (None, false) => current = Some(offset..offset + line.len()),
            (Some(_), true) => out.extend(current.take().map(|r| block(BlockKind::Paragraph, r))),
            (None, true) => {}
        }
        offset += line.len();
    }
    out.extend(current.map(|r| block(BlockKind::Paragraph, r)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(BlockKind, &str)> {
        blocks(text, Syntax::Markdown)
            .into_iter()
            .map(|b| (b.kind, text[b.range].trim()))
            .collect()
    }

    #[test]
    fn markdown_blocks_and_their_kinds() {
        let md = "# Speed 10 tok/s\n\npara one\nstill para\n\n- item a\n- item b\n  - nested\n\n| a | tok/s |\n|---|---|\n| x | 15 |\n\n```\ncode 3x faster\n```\n";
        let got = kinds(md);
        assert_eq!(
            got,
            vec![
                (BlockKind::Heading, "# Speed 10 tok/s"),
                (BlockKind::Paragraph, "para one\nstill para"),
                (BlockKind::ListItem, "- item a"),
                (BlockKind::ListItem, "- item b"),
                (BlockKind::ListItem, "- nested"),
                (BlockKind::TableRow, "| a | tok/s |"),
                (BlockKind::TableRow, "| x | 15 |"),
                (BlockKind::CodeBlock, "```\ncode 3x faster\n```"),
            ]
        );
        let rows: Vec<Block> = blocks(md, Syntax::Markdown)
            .into_iter()
            .filter(|b| b.kind == BlockKind::TableRow)
            .collect();
        assert_eq!(rows[1].cells[1].1, "tok/s");
        assert_eq!(
            md[rows[1].cells[1].0.clone()]
                .trim()
                .trim_matches('|')
                .trim(),
            "15"
        );
    }

    #[test]
    fn parsing_only_near_claims_gives_the_same_blocks() {
        let md = "# Speed 10 tok/s\n\npara one\nstill para\n\n- item a\n- item b\n  - nested\n\n| a | tok/s |\n|---|---|\n| x | 15 |\n\n```\ncode 3x faster\n\nmore code\n```\n\n1. loose\n\n    continued 5 tok/s\n";
        let all = blocks(md, Syntax::Markdown);
        let offsets: Vec<usize> = all.iter().map(|b| b.range.start).collect();
        let near = markdown_blocks_near(md, &offsets, |_, _| false);
        // Same kinds in the same order; a list item parsed alone may start at its
        // marker rather than at its paragraph, so ranges need only overlap.
        let kinds = |v: &[Block]| v.iter().map(|b| b.kind).collect::<Vec<_>>();
        assert_eq!(kinds(&near), kinds(&all));
        for (a, b) in near.iter().zip(&all) {
            assert!(
                a.range.start < b.range.end && b.range.start < a.range.end,
                "{a:?} {b:?}"
            );
        }
        // nothing near: nothing parsed, but a table with a unit header is kept
        let tables = markdown_blocks_near(md, &[], |_, t| {
            t.lines().next().is_some_and(|h| h.contains("tok/s"))
        });
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[1].cells[1].1, "tok/s");
    }

    #[test]
    fn rust_doc_comments_and_plain_paragraphs() {
        let rs = "/// Fast: 20 tok/s\n/// more\nfn f() {}\n//! crate doc\n";
        let b = blocks(rs, Syntax::RustDoc);
        assert_eq!(b.len(), 2);
        assert_eq!(&rs[b[0].range.clone()], "/// Fast: 20 tok/s\n/// more\n");
        let txt = "a\nb\n\n\nc\n";
        assert_eq!(blocks(txt, Syntax::Plain).len(), 2);
    }
}
