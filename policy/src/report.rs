//! Renderers: turn results into text for a terminal or JSON for scripts. They
//! read the result model and decide nothing; the verdict is made before them.

pub mod annotations;
pub mod audit;
pub mod check;
pub mod claims;
pub mod conventions;
pub mod escape;
pub mod load;
pub mod markdown;
pub mod model;
pub mod sarif;
pub mod text;

pub use model::Report;

use crate::verdict::{Finding, Level, Status};
use crate::verify::{ReceiptResult, overall};
use escape::plain;
use serde::Serialize;
use std::fmt::Write;
use std::io::IsTerminal;

/// Identifies the JSON shape of `verify --format json`; bumped on breaking changes.
pub const VERIFY_JSON_FORMAT: &str = "policy-check/verify/1";

/// ANSI styling, on only when writing to a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub(crate) fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub(crate) fn status(self, status: Status) -> String {
        let label = format!("{:<5}", status.as_str().to_ascii_uppercase());
        let code = match status {
            Status::Pass => "32",
            Status::Warn | Status::Incomparable | Status::InsufficientEvidence => "33",
            Status::Fail | Status::Error => "1;31",
        };
        self.paint(code, &label)
    }

    pub(crate) fn level(self, level: Level) -> String {
        let code = match level {
            Level::Deny => "31",
            Level::Warn => "33",
            Level::Allow => "2",
        };
        self.paint(code, &format!("{:<4}", level.as_str()))
    }
}

/// Text for a terminal: one line per receipt, its findings below it, a summary.
pub fn verify_text(results: &[ReceiptResult], style: Style) -> String {
    let mut out = String::new();
    for r in results {
        let mut headline = format!("{} {}", style.status(r.status), plain(&r.path));
        if let (Some(v), Some(b), Some(t)) = (&r.schema_version, &r.backend, r.tokens_per_second) {
            let _ = write!(headline, "  (v{}, {}, {t} tok/s)", plain(v), plain(b));
        }
        let _ = writeln!(out, "{headline}");
        if let Some(e) = &r.error {
            input_error_lines(&mut out, e);
        }
        for f in r.findings.iter().filter(|f| f.level != Level::Allow) {
            finding_lines(&mut out, style, f);
        }
    }
    let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
    let _ = writeln!(out, "\n{}", summary_line(&statuses, overall(results)));
    if results.iter().any(|r| !r.findings.is_empty()) {
        let _ = writeln!(
            out,
            "Run `policy-check explain <code>` for what a code means and how to fix it."
        );
    }
    out
}

const ALL_STATUSES: [Status; 6] = [
    Status::Pass,
    Status::Warn,
    Status::Fail,
    Status::Error,
    Status::Incomparable,
    Status::InsufficientEvidence,
];

/// Counts for the text summary: statuses that occurred, plus pass and fail always.
/// An input that could not be read, indented under its headline.
pub(crate) fn input_error_lines(out: &mut String, e: &crate::verify::InputError) {
    let _ = writeln!(out, "      {}", plain(&e.message));
    let _ = writeln!(out, "      fix: {}", plain(&e.fix));
}

/// One finding: level, code, place and message, then the fix, each value escaped.
pub(crate) fn finding_lines(out: &mut String, style: Style, f: &Finding) {
    let place = match (&f.place.pointer, f.place.line) {
        (Some(p), _) if !p.is_empty() => format!(" at {}", plain(p)),
        (_, Some(line)) => format!(" at line {line}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "  {} {}{place}: {}",
        style.level(f.level),
        plain(&f.code),
        plain(&f.message)
    );
    let _ = writeln!(out, "       fix: {}", plain(&f.fix));
    if let Some(rule) = &f.rule {
        let _ = writeln!(out, "       rule: {}", plain(rule));
    }
}

/// "3 receipts: 1 pass, 2 fail → fail (exit 1)": statuses that occurred, plus
/// pass and fail always.
pub(crate) fn summary_line(statuses: &[Status], overall: Status) -> String {
    let parts: Vec<String> = ALL_STATUSES
        .into_iter()
        .map(|s| (s.as_str(), statuses.iter().filter(|x| **x == s).count()))
        .filter(|&(s, n)| n > 0 || s == "pass" || s == "fail")
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    format!(
        "{} receipt{}: {} → {overall} (exit {})",
        statuses.len(),
        if statuses.len() == 1 { "" } else { "s" },
        parts.join(", "),
        overall.exit_code()
    )
}

/// How many of each status, every status present (stable JSON).
pub(crate) fn status_counts(statuses: &[Status]) -> serde_json::Map<String, serde_json::Value> {
    ALL_STATUSES
        .iter()
        .map(|s| {
            let n = statuses.iter().filter(|x| *x == s).count();
            (s.as_str().to_string(), n.into())
        })
        .collect()
}

#[derive(Serialize)]
struct VerifyJson<'a> {
    format: &'static str,
    status: Status,
    exit_code: i32,
    counts: serde_json::Map<String, serde_json::Value>,
    receipts: &'a [ReceiptResult],
}

/// Stable JSON for scripts (documented in docs/receipts.md).
pub fn verify_json(results: &[ReceiptResult]) -> String {
    let status = overall(results);
    let doc = VerifyJson {
        format: VERIFY_JSON_FORMAT,
        status,
        exit_code: status.exit_code(),
        counts: status_counts(&results.iter().map(|r| r.status).collect::<Vec<_>>()),
        receipts: results,
    };
    let mut text = escape::json_pretty(&doc).expect("results serialize");
    text.push('\n');
    text
}

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn stdout_style() -> Style {
    Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}
