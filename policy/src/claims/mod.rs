//! Performance claims in docs (DESIGN §6): find them (`matcher` for the text,
//! `forms` for the forms beyond a number and its unit, `tables` for cells read
//! with their header, label row or caption, `context` for what is not the
//! project's claim, `blocks` for where they sit), read what each cites, and
//! judge whether a receipt backs it (`backing`). Knows nothing about GitHub; the diff comes from
//! `crate::diff`.

pub mod audit;
pub mod backing;
pub mod blocks;
pub mod cfg;
pub mod context;
pub mod device;
pub mod fix;
pub mod forms;
pub mod ledger;
pub mod matcher;
pub mod normalise;
pub mod scan;
pub mod scope;
pub mod suggest;
pub mod tables;
pub mod terms;

pub use blocks::{BlockKind, Syntax};
pub use matcher::{Kind, Qualifier, Quantity};

use regex::Regex;
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// A fixed pattern of the scanner (`forms`, `context`), compiled on first use.
type Cell = OnceLock<Regex>;

fn re(cell: &'static Cell, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("a scanner pattern compiles"))
}

/// One claim in one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// Shared by every claim of a file.
    pub path: Arc<str>,
    /// 1-based line and column (in characters) of the claim's first character.
    pub line: u32,
    pub column: u32,
    /// The claim as written ("~10-20 tok/s").
    pub text: String,
    pub unit: String,
    pub block: BlockKind,
    pub quantity: Quantity,
    /// Receipt paths cited in the claim's scope (its sentence, table row, or
    /// the table or code block a marker after it covers; see `scope`), as written.
    pub citations: Vec<String>,
    /// `<!-- receipt-ignore: reason -->` in the same scope: the reason (maybe empty).
    pub ignore: Option<String>,
    /// The device the claim names ("RTX 4090", "CPU"), if any: a receipt from
    /// another backend does not back it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<device::Device>,
}

fn receipt_comment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"<!--\s*receipt\s*:\s*(?P<path>[^\s>]+?)\s*-->").unwrap())
}

fn ignore_comment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"<!--\s*receipt-ignore\s*:?(?P<reason>.*?)-->").unwrap())
}

fn receipt_link() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"\]\(\s*<?(?P<path>[^)\s>]+\.json)>?(?:\s+"[^"]*")?\s*\)"#).unwrap()
    })
}

/// The most distinct receipts a block's claims are judged against. Every claim
/// of a block is judged against each receipt the block cites, so a paragraph of
/// thousands of claims each citing its own receipt would cost claims × receipts
/// (in time and in output); a real paragraph cites a handful.
pub const MAX_CITATIONS: usize = 32;

/// Receipt paths a piece of text cites: `<!-- receipt: path -->` and links to
/// `*.json`, each once, the first `MAX_CITATIONS` of them.
pub fn citations(text: &str) -> Vec<String> {
    let cited = receipt_comment()
        .captures_iter(text)
        .chain(receipt_link().captures_iter(text))
        .map(|c| c.name("path").map_or("", |p| p.as_str()));
    let mut out: Vec<String> = Vec::new();
    for path in cited {
        if path.contains("://") || out.iter().any(|p| p == path) {
            continue;
        }
        out.push(path.to_string());
        if out.len() == MAX_CITATIONS {
            break;
        }
    }
    out
}

/// The reason of a `<!-- receipt-ignore: reason -->` marker, if the text has one.
pub fn ignore_reason(text: &str) -> Option<String> {
    ignore_comment()
        .captures(text)
        .map(|c| c["reason"].trim().to_string())
}

/// `path` relative to `root`, with `/` separators, `.` and `..` resolved
/// lexically (a citation such as `../ci/a.json` from `docs/`); `None` outside it.
pub(crate) fn repo_relative(root: &Path, path: &Path) -> Option<String> {
    use std::path::Component;
    let rel = path.strip_prefix(root).ok()?;
    let mut parts: Vec<String> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => {}
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_and_ignore_markers() {
        assert_eq!(
            citations(
                "15 tok/s ([receipt](ci/inference.json)) <!-- receipt: baselines/2026-01-01/cpu.json -->"
            ),
            vec!["baselines/2026-01-01/cpu.json", "ci/inference.json"]
        );
        assert!(citations("[site](https://x.io/a.json) [doc](docs/a.md)").is_empty());
        assert_eq!(
            citations("<!-- receipt: a.json --> [r](b.json) <!-- receipt: b.json --> [r](a.json)"),
            vec!["a.json", "b.json"]
        );
        let many: String = (0..100)
            .map(|i| format!("<!-- receipt: r{i}.json --> "))
            .collect();
        let read = citations(&many);
        assert_eq!(read.len(), MAX_CITATIONS);
        assert_eq!(
            read.last().unwrap(),
            &format!("r{}.json", MAX_CITATIONS - 1)
        );
        assert_eq!(
            ignore_reason("x <!-- receipt-ignore: quoted from the paper -->"),
            Some("quoted from the paper".into())
        );
        assert_eq!(
            ignore_reason("x <!-- receipt-ignore -->"),
            Some(String::new())
        );
        assert_eq!(ignore_reason("x"), None);
    }
}
