//! `policy-check claims --format markdown`: the audit a project adopting
//! receipts would otherwise write by hand — every claim with its file, line,
//! result and the receipt that would back it, then counts per file and per result.

use super::claims::{OUTCOMES, exit_code};
use super::markdown::{code, text};
use crate::claims::backing::ClaimVerdict;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The audit. `would_back[i]` is the receipt that backs (or would back) `verdicts[i]`.
pub fn audit_markdown(
    verdicts: &[ClaimVerdict],
    would_back: &[Option<String>],
    warnings: &[String],
) -> String {
    let mut out = String::from("## Claim audit\n\n");
    let code_ = exit_code(verdicts);
    let files: BTreeMap<&str, BTreeMap<&str, usize>> = per_file(verdicts);
    let _ = writeln!(
        out,
        "{} claim{} in {} file{} → **{}** (exit {code_})\n",
        verdicts.len(),
        if verdicts.len() == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        if code_ == 0 { "pass" } else { "fail" },
    );
    for w in warnings {
        let _ = writeln!(out, "- warning: {}", text(w));
    }
    if !warnings.is_empty() {
        out.push('\n');
    }
    if !verdicts.is_empty() {
        out.push_str("| File | Line | Claim | Result | Receipt that would back it | Why |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for (v, receipt) in verdicts.iter().zip(would_back) {
            let receipt = match receipt {
                Some(r) => code(r),
                None => "–".to_string(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {receipt} | {} |",
                code(&v.claim.path),
                v.claim.line,
                code(&v.claim.text),
                v.outcome.as_str(),
                text(&v.message),
            );
        }
        out.push('\n');
    }
    out.push_str("### Per file\n\n| File |");
    for o in OUTCOMES {
        let _ = write!(out, " {} |", o.as_str());
    }
    out.push_str(" total |\n|---|");
    out.push_str(&"---:|".repeat(OUTCOMES.len() + 1));
    out.push('\n');
    for (file, counts) in &files {
        let _ = write!(out, "| {} |", code(file));
        for o in OUTCOMES {
            let _ = write!(out, " {} |", counts.get(o.as_str()).copied().unwrap_or(0));
        }
        let _ = writeln!(out, " {} |", counts.values().sum::<usize>());
    }
    out.push_str("\n### Per result\n\n| Result | Claims |\n|---|---:|\n");
    for &o in OUTCOMES {
        let n = verdicts.iter().filter(|v| v.outcome == o).count();
        let _ = writeln!(out, "| {} | {n} |", o.as_str());
    }
    out
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
