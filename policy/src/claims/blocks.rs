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
    fn rust_doc_comments_and_plain_paragraphs() {
        let rs = "/// Fast: 20 tok/s\n/// more\nfn f() {}\n//! crate doc\n";
        let b = blocks(rs, Syntax::RustDoc);
        assert_eq!(b.len(), 2);
        assert_eq!(&rs[b[0].range.clone()], "/// Fast: 20 tok/s\n/// more\n");
        let txt = "a\nb\n\n\nc\n";
        assert_eq!(blocks(txt, Syntax::Plain).len(), 2);
    }
}
