//! A report for a terminal: each receipt with its envelope, rate and findings,
//! each claim that needs attention, then one verdict line with the exit code.
//! Every string from the report is data and is printed through `plain`.

use super::Style;
use super::escape::plain;
use super::markdown::{num, short};
use super::model::Report;
use crate::verdict::Level;
use std::fmt::Write;

pub fn text(report: &Report, style: Style) -> String {
    let mut out = String::new();
    if let Some(c) = &report.comparison {
        let _ = writeln!(
            out,
            "{} against base {}: {}\n",
            style.status(c.status),
            plain(&c.base),
            plain(&c.message)
        );
    }
    for r in &report.receipts {
        let mut line = format!("{} {}", style.status(r.status), plain(&r.path));
        if let Some(e) = &r.envelope {
            let _ = write!(line, "  envelope {} ({})", plain(&e.id), plain(&e.status));
            if let Some(label) = &e.label {
                let _ = write!(line, " [{}]", plain(label));
            }
        }
        let _ = writeln!(out, "{line}");
        if let Some(x) = &r.rate {
            let _ = writeln!(
                out,
                "      rate {} tok/s (interval {}–{}, {} runs), band {}–{}: {}{}",
                num(x.value),
                num(x.interval[0]),
                num(x.interval[1]),
                x.samples,
                num(x.band[0]),
                num(x.band[1]),
                plain(&x.outcome),
                if x.reference { " (reference only)" } else { "" }
            );
        }
        match (&r.roofline, r.roofline_fraction) {
            (Some(x), _) => {
                let _ = writeln!(
                    out,
                    "      roofline fraction {} (interval {}–{}) of {} tok/s, {}: {} (judged)",
                    num(x.value),
                    num(x.interval[0]),
                    num(x.interval[1]),
                    num(x.roofline_tokens_per_second),
                    super::markdown::fraction_bounds(x),
                    plain(&x.outcome)
                );
            }
            (None, Some(f)) => {
                let _ = writeln!(out, "      {:.0}% of the bandwidth roofline", f * 100.0);
            }
            (None, None) => {}
        }
        if let Some(e) = &r.error {
            let _ = writeln!(out, "      {}", plain(e));
        }
        for f in r.findings.iter().filter(|f| f.level != Level::Allow) {
            super::finding_lines(&mut out, style, f);
        }
    }
    let problems: Vec<_> = report.claims.iter().filter(|c| c.is_problem()).collect();
    if !problems.is_empty() {
        let _ = writeln!(out);
    }
    for c in &problems {
        let _ = writeln!(
            out,
            "{}:{}:{}: {} {} {}",
            plain(&c.path),
            c.line,
            c.column,
            style.level(c.level),
            plain(&c.outcome),
            plain(&c.text)
        );
        let _ = writeln!(out, "       {}", plain(&c.message));
        if let Some(s) = &c.suggestion {
            let _ = writeln!(out, "       fix: {}", plain(s));
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {}", plain(note));
    }
    let parts = report.count_phrases(false);
    let _ = writeln!(
        out,
        "\npolicy: {} (sha256 {})",
        plain(&report.policy.path),
        plain(short(&report.policy.sha256))
    );
    let _ = writeln!(
        out,
        "{} → {} (exit {})",
        if parts.is_empty() {
            "nothing judged".to_string()
        } else {
            plain(&parts.join(", ")).into_owned()
        },
        style.paint(
            match report.exit_code {
                0 => "32",
                1 => "1;31",
                _ => "33",
            },
            report.verdict.as_str()
        ),
        report.exit_code
    );
    out
}
