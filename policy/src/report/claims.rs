//! Text and JSON for `policy-check claims`: one line per claim with its place,
//! result and reason, then counts per file and per result.

use super::Style;
use super::escape::plain;
use crate::claims::backing::{ClaimVerdict, Outcome};
use crate::verdict::Level;
use serde::Serialize;
use std::collections::BTreeMap;
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

pub fn claims_text(verdicts: &[ClaimVerdict], warnings: &[String], style: Style) -> String {
    let mut out = String::new();
    for w in warnings {
        let _ = writeln!(out, "warning: {}", plain(w));
    }
    for v in verdicts {
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
        if let Some(s) = &v.suggestion
            && v.level != Level::Allow
        {
            let _ = writeln!(out, "    fix: {}", plain(s));
        }
    }
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
        for (file, counts) in &per_file {
            let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {o}")).collect();
            let _ = writeln!(out, "  {}: {}", plain(file), parts.join(", "));
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
    out
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
