//! `policy-check claims --format markdown`: the audit a project adopting
//! receipts would otherwise write by hand — every claim with its file, line,
//! result and the receipt that would back it, then counts per file and per result.

use super::claims::{OUTCOMES, exit_code};
use super::markdown::{code, text};
use crate::claims::backing::ClaimVerdict;
use std::collections::BTreeMap;
use std::fmt::Write;

/// GitHub refuses an issue or pull-request body over 65,536 characters; an audit
/// stays under this many bytes (a character is at least one byte).
pub const AUDIT_BUDGET: usize = 60_000;
/// Files listed in the per-file table of an audit too large to show whole.
const FILES_SHOWN: usize = 50;

/// The audit. `would_back[i]` is the receipt that backs (or would back) `verdicts[i]`.
/// When it would not fit in a GitHub body, problems come first, rows stop at the
/// size limit, and a last line says how many more there are and where to see them.
pub fn audit_markdown(
    verdicts: &[ClaimVerdict],
    would_back: &[Option<String>],
    warnings: &[String],
) -> String {
    let mut head = String::from("## Claim audit\n\n");
    let code_ = exit_code(verdicts);
    let files: BTreeMap<&str, BTreeMap<&str, usize>> = per_file(verdicts);
    let _ = writeln!(
        head,
        "{} claim{} in {} file{} → **{}** (exit {code_})\n",
        verdicts.len(),
        if verdicts.len() == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        if code_ == 0 { "pass" } else { "fail" },
    );
    for w in warnings.iter().take(20) {
        let _ = writeln!(head, "- warning: {}", text(w));
    }
    if warnings.len() > 20 {
        let _ = writeln!(head, "- … and {} more warnings", warnings.len() - 20);
    }
    if !warnings.is_empty() {
        head.push('\n');
    }
    let rows: Vec<String> = verdicts
        .iter()
        .zip(would_back)
        .map(|(v, receipt)| claim_row(v, receipt.as_deref()))
        .collect();
    let whole = rows.iter().map(String::len).sum::<usize>() + files.len() * 80 + head.len();
    if whole + 2_000 <= AUDIT_BUDGET {
        let mut out = head;
        if !rows.is_empty() {
            out.push_str(CLAIMS_HEADER);
            rows.iter().for_each(|r| out.push_str(r));
            out.push('\n');
        }
        per_file_table(&mut out, &files, files.len());
        per_result_table(&mut out, verdicts);
        return out;
    }
    // Too large for one body: the counts first, then the worst claims.
    let mut out = head;
    per_result_table(&mut out, verdicts);
    out.push('\n');
    per_file_table(&mut out, &files, FILES_SHOWN);
    let mut order: Vec<usize> = (0..verdicts.len()).collect();
    order.sort_by_key(|&i| super::model::outcome_rank(verdicts[i].outcome.as_str()));
    out.push_str("\n### Claims, problems first\n\n");
    out.push_str(CLAIMS_HEADER);
    let room = AUDIT_BUDGET - 400;
    let mut shown = 0;
    for &i in &order {
        if out.len() + rows[i].len() > room {
            break;
        }
        out.push_str(&rows[i]);
        shown += 1;
    }
    let _ = writeln!(
        out,
        "\n… and {} more claims not shown here (GitHub's size limit); `policy-check claims --filter all --format json` lists every one.",
        verdicts.len() - shown
    );
    out
}

const CLAIMS_HEADER: &str = "| File | Line | Claim | Result | Receipt that would back it | Why |\n|---|---|---|---|---|---|\n";

fn claim_row(v: &ClaimVerdict, receipt: Option<&str>) -> String {
    let receipt = receipt.map_or_else(|| "–".to_string(), code);
    format!(
        "| {} | {} | {} | {} | {receipt} | {} |\n",
        code(&v.claim.path),
        v.claim.line,
        code(&v.claim.text),
        v.outcome.as_str(),
        text(&v.message),
    )
}

/// Counts per file and result; at most `limit` files, those with the most
/// problems first when some are left out.
fn per_file_table(out: &mut String, files: &BTreeMap<&str, BTreeMap<&str, usize>>, limit: usize) {
    out.push_str("### Per file\n\n| File |");
    for o in OUTCOMES {
        let _ = write!(out, " {} |", o.as_str());
    }
    out.push_str(" total |\n|---|");
    out.push_str(&"---:|".repeat(OUTCOMES.len() + 1));
    out.push('\n');
    let mut listed: Vec<(&&str, &BTreeMap<&str, usize>)> = files.iter().collect();
    if files.len() > limit {
        let problems = |c: &BTreeMap<&str, usize>| {
            ["contradicted", "unbacked", "stale"]
                .iter()
                .map(|o| c.get(o).copied().unwrap_or(0))
                .sum::<usize>()
        };
        listed.sort_by_key(|(_, c)| std::cmp::Reverse(problems(c)));
    }
    for (file, counts) in listed.iter().take(limit) {
        let _ = write!(out, "| {} |", code(file));
        for o in OUTCOMES {
            let _ = write!(out, " {} |", counts.get(o.as_str()).copied().unwrap_or(0));
        }
        let _ = writeln!(out, " {} |", counts.values().sum::<usize>());
    }
    if files.len() > limit {
        let _ = writeln!(out, "\n… and {} more files", files.len() - limit);
    }
}

fn per_result_table(out: &mut String, verdicts: &[ClaimVerdict]) {
    out.push_str("\n### Per result\n\n| Result | Claims |\n|---|---:|\n");
    for &o in OUTCOMES {
        let n = verdicts.iter().filter(|v| v.outcome == o).count();
        let _ = writeln!(out, "| {} | {n} |", o.as_str());
    }
}

fn per_file(verdicts: &[ClaimVerdict]) -> BTreeMap<&str, BTreeMap<&str, usize>> {
    let mut files: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for v in verdicts {
        *files
            .entry(&*v.claim.path)
            .or_default()
            .entry(v.outcome.as_str())
            .or_default() += 1;
    }
    files
}
