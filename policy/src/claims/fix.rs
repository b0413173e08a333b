//! `policy-check claims --fix --receipt PATH`: cite a receipt on the lines of
//! bare claims it backs. Only unbacked claims without any citation, on lines the
//! change adds, whose number the receipt supports are edited; a contradicted claim
//! never is. The citation goes at the end of the claim's sentence, or at the end
//! of the line when the sentence goes on past it (inside the last cell of a table
//! row), before the line's own ending, so CRLF files stay CRLF: a citation covers
//! its own sentence only. A second run finds the claims backed and changes nothing.

use super::backing::{Backer, ClaimVerdict, Outcome};
use super::{BlockKind, Claim, scope};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One line to rewrite.
#[derive(Debug, Clone, PartialEq)]
pub struct LineEdit {
    /// 1-based.
    pub line: u32,
    pub old: String,
    pub new: String,
}

/// What `--fix` would do.
#[derive(Debug, Default)]
pub struct Plan {
    /// Per file, its edits in line order.
    pub edits: BTreeMap<String, Vec<LineEdit>>,
    /// Claims left as they are, with why.
    pub left: Vec<String>,
}

/// Which claims the receipt (cited as `cite`) backs, and the edits that cite it.
/// `read` gives a file's bytes (the working tree).
pub fn plan(
    verdicts: &[ClaimVerdict],
    backer: &Backer,
    cite: &str,
    read: impl Fn(&str) -> Option<Vec<u8>>,
) -> Plan {
    let mut plan = Plan::default();
    // Per line: whether it is a table row, and the columns of the claims to cite.
    let mut lines: BTreeMap<(String, u32), (bool, Vec<u32>)> = BTreeMap::new();
    for v in verdicts {
        let c = &v.claim;
        let place = format!("{}:{}:{}: {}", c.path, c.line, c.column, c.text);
        match v.outcome {
            Outcome::Backed | Outcome::Ignored => continue,
            Outcome::Unbacked if c.citations.is_empty() && c.ignore.is_none() => {}
            Outcome::Unbacked if c.ignore.is_some() => {
                plan.left.push(format!(
                    "{place}: has a receipt-ignore marker without a reason; not edited"
                ));
                continue;
            }
            outcome => {
                plan.left.push(format!(
                    "{place}: {} ({}); --fix edits only claims that cite nothing",
                    outcome.as_str(),
                    v.message
                ));
                continue;
            }
        }
        if c.block == BlockKind::CodeBlock {
            plan.left.push(format!(
                "{place}: in a code block, where a citation would be code; cite {cite} on the line after the block"
            ));
            continue;
        }
        let mut trial: Claim = c.clone();
        trial.citations = vec![cite.to_string()];
        let judged = backer.judge(trial);
        if judged.outcome != Outcome::Backed {
            plan.left.push(format!(
                "{place}: {cite} does not back it ({}: {}); not edited",
                judged.outcome.as_str(),
                judged.message
            ));
            continue;
        }
        let entry = lines.entry((c.path.to_string(), c.line)).or_default();
        entry.0 = c.block == BlockKind::TableRow;
        entry.1.push(c.column);
    }
    let mut by_file: BTreeMap<String, BTreeMap<u32, (bool, Vec<u32>)>> = BTreeMap::new();
    for ((path, line), claims) in lines {
        by_file.entry(path).or_default().insert(line, claims);
    }
    for (path, wanted) in by_file {
        let Some(bytes) = read(&path) else {
            plan.left
                .push(format!("{path}: could not be read; not edited"));
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let edits: Vec<LineEdit> = split_lines(&text)
            .into_iter()
            .enumerate()
            .filter_map(|(i, line)| {
                let (row, columns) = wanted.get(&(i as u32 + 1))?;
                let new = if *row {
                    cited(line, cite)
                } else {
                    cited_in_sentences(line, cite, columns)
                };
                Some(LineEdit {
                    line: i as u32 + 1,
                    old: line.to_string(),
                    new,
                })
            })
            .collect();
        plan.edits.insert(path, edits);
    }
    plan
}

/// Lines with their endings kept.
fn split_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The line with `<!-- receipt: cite -->` added, before its ending; in a table
/// row, inside the last cell, so the table keeps its columns.
fn cited(line: &str, cite: &str) -> String {
    let body = line.trim_end_matches(['\n', '\r']);
    let ending = &line[body.len()..];
    let comment = format!("<!-- receipt: {cite} -->");
    let trimmed = body.trim_end();
    let rewritten = match trimmed.strip_suffix('|') {
        Some(head) if trimmed.trim_start().starts_with('|') => {
            format!("{} {comment} |", head.trim_end())
        }
        _ => format!("{trimmed} {comment}"),
    };
    format!("{rewritten}{ending}")
}

/// The line with `<!-- receipt: cite -->` at the end of the sentence of each
/// claim at `columns` (1-based, in characters), or at the line's end for a
/// sentence that goes on past it; never where it would cover another sentence.
fn cited_in_sentences(line: &str, cite: &str, columns: &[u32]) -> String {
    let body = line.trim_end_matches(['\n', '\r']);
    let ending = &line[body.len()..];
    let starts = scope::sentence_starts(body);
    let mut ends = Vec::new();
    let mut at_line_end = false;
    for column in columns {
        let at = body
            .char_indices()
            .nth((*column as usize).saturating_sub(1))
            .map_or(body.len(), |(i, _)| i);
        match starts.iter().find(|s| **s > at) {
            Some(next) => ends.push(*next),
            None => at_line_end = true,
        }
    }
    ends.sort_unstable();
    ends.dedup();
    let comment = format!("<!-- receipt: {cite} -->");
    let mut out = String::with_capacity(line.len() + comment.len() * (ends.len() + 1));
    let mut from = 0;
    for next in ends {
        let head = from + body[from..next].trim_end().len();
        out.push_str(&body[from..head]);
        out.push(' ');
        out.push_str(&comment);
        from = head;
    }
    if at_line_end {
        out.push_str(body[from..].trim_end());
        out.push(' ');
        out.push_str(&comment);
    } else {
        out.push_str(&body[from..]);
    }
    out.push_str(ending);
    out
}

/// The edits as a unified diff without context (`git apply --unidiff-zero`, `patch -p1`).
pub fn patch(plan: &Plan) -> String {
    let mut out = String::new();
    for (path, edits) in &plan.edits {
        let _ = writeln!(out, "--- a/{path}\n+++ b/{path}");
        for e in edits {
            let _ = write!(out, "@@ -{0},1 +{0},1 @@\n-{1}", e.line, e.old);
            if !e.old.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
            let _ = write!(out, "+{}", e.new);
            if !e.new.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

/// Apply one file's edits to its bytes (other lines are kept byte for byte).
pub fn apply(bytes: &[u8], edits: &[LineEdit]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 ({e})"))?;
    let mut out = String::with_capacity(text.len() + 64 * edits.len());
    for (i, line) in split_lines(text).into_iter().enumerate() {
        match edits.iter().find(|e| e.line == i as u32 + 1) {
            Some(e) if e.old == line => out.push_str(&e.new),
            Some(e) => {
                return Err(format!(
                    "line {} changed since it was scanned; run --fix again",
                    e.line
                ));
            }
            None => out.push_str(line),
        }
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_go_before_the_line_ending_and_inside_table_rows() {
        let c = "ci/a.json";
        assert_eq!(
            cited("About 15 tok/s.\r\n", c),
            "About 15 tok/s. <!-- receipt: ci/a.json -->\r\n"
        );
        assert_eq!(
            cited("| cpu | 15 tok/s |\n", c),
            "| cpu | 15 tok/s <!-- receipt: ci/a.json --> |\n"
        );
        assert_eq!(cited("15 tok/s", c), "15 tok/s <!-- receipt: ci/a.json -->");
    }

    #[test]
    fn citations_go_at_the_end_of_each_claims_sentence() {
        let c = "ci/a.json";
        let line = "CPU: 15 tok/s. GPU: 80 tok/s. Prefill 120 tok/s on\n";
        assert_eq!(
            cited_in_sentences(line, c, &[6]),
            "CPU: 15 tok/s. <!-- receipt: ci/a.json --> GPU: 80 tok/s. Prefill 120 tok/s on\n"
        );
        // the last sentence goes on to the next line: the line's end is inside it
        assert_eq!(
            cited_in_sentences(line, c, &[6, 39]),
            "CPU: 15 tok/s. <!-- receipt: ci/a.json --> GPU: 80 tok/s. Prefill 120 tok/s on <!-- receipt: ci/a.json -->\n"
        );
        assert_eq!(
            cited_in_sentences("About 15 tok/s.\r\n", c, &[7]),
            "About 15 tok/s. <!-- receipt: ci/a.json -->\r\n"
        );
    }

    #[test]
    fn apply_keeps_other_lines_and_refuses_a_changed_line() {
        let edits = vec![LineEdit {
            line: 2,
            old: "b\r\n".into(),
            new: "B\r\n".into(),
        }];
        assert_eq!(apply(b"a\r\nb\r\nc", &edits).unwrap(), b"a\r\nB\r\nc");
        assert!(apply(b"a\r\nx\r\nc", &edits).is_err());
    }
}
