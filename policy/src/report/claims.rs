//! Text and JSON for `policy-check claims`: one line per claim with its place,
//! result and reason (at most `PER_FILE` per file and `FILES` files, problems
//! first), each distinct fix once, then counts per file and per result. JSON
//! holds every claim.

use super::Style;
use super::escape::plain;
use crate::claims::backing::{ClaimVerdict, Outcome};
use crate::verdict::Level;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Identifies the JSON shape of `claims --format json`.
pub const CLAIMS_JSON_FORMAT: &str = "policy-check/claims/1";

pub(crate) const OUTCOMES: &[Outcome] = Outcome::ALL;

/// 1 when any claim's result is at deny level, else 0.
pub fn exit_code(verdicts: &[ClaimVerdict]) -> i32 {
    i32::from(verdicts.iter().any(|v| v.level == Level::Deny))
}

fn counts(verdicts: &[ClaimVerdict]) -> BTreeMap<&'static str, usize> {
    OUTCOMES
        .iter()
        .map(|o| {
            (
                o.as_str(),
                verdicts.iter().filter(|v| v.outcome == *o).count(),
            )
        })
        .collect()
}

/// Claims printed per file; the rest are counted (an adopting project can have
/// thousands, and a CI log is read by a person).
const PER_FILE: usize = 10;

/// Files listed, and files in the per-file counts; the rest are counted.
const FILES: usize = 50;

/// Distinct fixes printed; the rest are counted.
const FIXES: usize = 20;

pub fn claims_text(verdicts: &[ClaimVerdict], warnings: &[String], style: Style) -> String {
    let mut out = String::new();
    for w in warnings {
        let _ = writeln!(out, "warning: {}", plain(w));
    }
    // Per file, in scan order; in each, deny first, then warn, then the rest;
    // files with a problem before files without.
    let rank = |v: &&ClaimVerdict| match v.level {
        Level::Deny => 0,
        Level::Warn => 1,
        Level::Allow => 2,
    };
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut files: Vec<(&str, Vec<&ClaimVerdict>)> = Vec::new();
    for v in verdicts {
        let i = *index.entry(&v.claim.path).or_insert_with(|| {
            files.push((&v.claim.path, Vec::new()));
            files.len() - 1
        });
        files[i].1.push(v);
    }
    for (_, list) in &mut files {
        list.sort_by_key(rank);
    }
    files.sort_by_key(|(_, list)| list.first().map_or(2, rank));
    // Each distinct fix once, with how many claims it is for.
    let mut fixes: Vec<(&'static str, usize)> = Vec::new();
    for v in verdicts.iter().filter(|v| v.level != Level::Allow) {
        if let Some(s) = &v.suggestion {
            match fixes.iter_mut().find(|(f, _)| f == s) {
                Some((_, n)) => *n += 1,
                None => fixes.push((s, 1)),
            }
        }
    }
    for (file, list) in files.iter().take(FILES) {
        for v in list.iter().take(PER_FILE) {
            claim_line(&mut out, v, style);
        }
        if list.len() > PER_FILE {
            let _ = writeln!(
                out,
                "  … and {} more in {} (--format json lists every claim)",
                list.len() - PER_FILE,
                plain(file)
            );
        }
    }
    if files.len() > FILES {
        let rest: usize = files[FILES..].iter().map(|(_, l)| l.len()).sum();
        let _ = writeln!(
            out,
            "… and {rest} claims in {} more files (--format json lists every claim)",
            files.len() - FILES
        );
    }
    if !fixes.is_empty() {
        let _ = writeln!(out);
        for (fix, n) in fixes.iter().take(FIXES) {
            let _ = writeln!(
                out,
                "fix ({n} claim{}): {}",
                if *n == 1 { "" } else { "s" },
                plain(fix)
            );
        }
        if fixes.len() > FIXES {
            let _ = writeln!(
                out,
                "… and {} more distinct fixes (--format json has each claim's)",
                fixes.len() - FIXES
            );
        }
    }
    summary(&mut out, verdicts);
    out
}

fn claim_line(out: &mut String, v: &ClaimVerdict, style: Style) {
    let c = &v.claim;
    let label = format!("{:<12}", v.outcome.as_str());
    let label = match v.level {
        Level::Deny => style.paint("31", &label),
        Level::Warn => style.paint("33", &label),
        Level::Allow => style.paint("32", &label),
    };
    let _ = writeln!(
        out,
        "{}:{}:{}: {label} {} ({}, {}): {}",
        plain(&c.path),
        c.line,
        c.column,
        plain(&c.text),
        c.quantity.kind.as_str(),
        c.block.as_str(),
        plain(&v.message)
    );
}

/// Counts per file (when there are several) and per result, and the verdict.
fn summary(out: &mut String, verdicts: &[ClaimVerdict]) {
    let mut per_file: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for v in verdicts {
        *per_file
            .entry(&*v.claim.path)
            .or_default()
            .entry(v.outcome.as_str())
            .or_default() += 1;
    }
    if per_file.len() > 1 {
        let _ = writeln!(out);
        for (file, counts) in per_file.iter().take(FILES) {
            let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {o}")).collect();
            let _ = writeln!(out, "  {}: {}", plain(file), parts.join(", "));
        }
        if per_file.len() > FILES {
            let _ = writeln!(out, "  … and {} more files", per_file.len() - FILES);
        }
    }
    let parts: Vec<String> = counts(verdicts)
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(o, n)| format!("{n} {o}"))
        .collect();
    let code = exit_code(verdicts);
    let _ = writeln!(
        out,
        "\n{} claim{}{}{} → {} (exit {code})",
        verdicts.len(),
        if verdicts.len() == 1 { "" } else { "s" },
        if parts.is_empty() { "" } else { ": " },
        parts.join(", "),
        if code == 0 { "pass" } else { "fail" }
    );
}

#[derive(Serialize)]
struct ClaimsJson<'a> {
    format: &'static str,
    status: &'static str,
    exit_code: i32,
    counts: BTreeMap<&'static str, usize>,
    warnings: &'a [String],
    claims: &'a [ClaimVerdict],
}

/// Compact JSON (an audit can hold a hundred thousand claims), streamed to `out`.
pub fn write_claims_json(
    out: &mut impl std::io::Write,
    verdicts: &[ClaimVerdict],
    warnings: &[String],
) -> std::io::Result<()> {
    let code = exit_code(verdicts);
    let doc = ClaimsJson {
        format: CLAIMS_JSON_FORMAT,
        status: if code == 0 { "pass" } else { "fail" },
        exit_code: code,
        counts: counts(verdicts),
        warnings,
        claims: verdicts,
    };
    super::escape::write_json(&mut *out, &doc)?;
    out.write_all(b"\n")
}
