//! Renderers for `policy-check check`: terminal text and stable JSON. They read
//! verdicts and decide nothing.

use super::Style;
use super::escape::plain;
use crate::check::{Verdict, overall};
use crate::config::Origin;
use crate::verdict::{Level, Status};
use serde::Serialize;
use std::fmt::Write;

/// Identifies the JSON shape of `check --format json`; bumped on breaking changes.
pub const CHECK_JSON_FORMAT: &str = "policy-check/check/1";

fn num(x: f64) -> String {
    if x.is_infinite() {
        return "∞".into();
    }
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Text for a terminal: a line per receipt with its envelope and rate, its
/// findings below it, the policy that judged, and a summary with the exit code.
pub fn check_text(verdicts: &[Verdict], origin: &Origin, style: Style) -> String {
    let mut out = String::new();
    for v in verdicts {
        let mut line = format!("{} {}", style.status(v.status), plain(&v.path));
        if let Some(e) = &v.envelope {
            let _ = write!(line, "  envelope {} ({})", plain(&e.id), e.status.as_str());
            if let Some(label) = e.label {
                let _ = write!(line, " [{}]", plain(label));
            }
        }
        let _ = writeln!(out, "{line}");
        if let Some(r) = &v.rate {
            let judged = judged(r.value, r.confidence, r.interval, r.samples, " tok/s");
            let _ = writeln!(
                out,
                "      rate: {judged}; band [{}, {}]: {}{}",
                num(r.band[0]),
                num(r.band[1]),
                outcome_words(r.outcome),
                if r.reference {
                    " (reference only: judged by the roofline fraction)"
                } else {
                    ""
                }
            );
        }
        if let Some(r) = &v.roofline {
            let judged = judged(r.value, r.confidence, r.interval, r.samples, "");
            let _ = writeln!(
                out,
                "      roofline fraction: {judged} of {} tok/s; bounds [{}, {}]: {}",
                num(r.roofline_tokens_per_second),
                r.min.map_or("0".into(), num),
                r.max.map_or("∞".into(), num),
                outcome_words(r.outcome)
            );
        }
        if let Some(e) = &v.error {
            super::input_error_lines(&mut out, e);
        }
        for f in v.findings.iter().filter(|f| f.level != Level::Allow) {
            super::finding_lines(&mut out, style, f);
        }
    }
    let statuses: Vec<Status> = verdicts.iter().map(|v| v.status).collect();
    let _ = writeln!(
        out,
        "\npolicy: {} (sha256 {})",
        plain(&origin.path),
        origin.sha256
    );
    let _ = writeln!(out, "{}", super::summary_line(&statuses, overall(verdicts)));
    out
}

/// "median 13.4 tok/s, 93.75% interval [13.3, 13.5] of 5 samples", or the single value.
fn judged(
    value: f64,
    confidence: Option<f64>,
    interval: [f64; 2],
    samples: usize,
    unit: &str,
) -> String {
    match confidence {
        Some(c) => format!(
            "median {}{unit}, {:.2}% interval [{}, {}] of {samples} samples",
            num(value),
            c * 100.0,
            num(interval[0]),
            num(interval[1]),
        ),
        None => format!("{}{unit} (single value)", num(value)),
    }
}

fn outcome_words(outcome: crate::envelope::judge::RateOutcome) -> &'static str {
    use crate::envelope::judge::RateOutcome;
    match outcome {
        RateOutcome::Inside => "inside",
        RateOutcome::Below => "below",
        RateOutcome::Above => "above",
        RateOutcome::Straddles => "straddles an edge",
    }
}

#[derive(Serialize)]
struct CheckJson<'a> {
    format: &'static str,
    status: Status,
    exit_code: i32,
    policy: &'a Origin,
    counts: serde_json::Map<String, serde_json::Value>,
    verdicts: &'a [Verdict],
}

/// Stable JSON for scripts (documented in docs/policies.md).
pub fn check_json(verdicts: &[Verdict], origin: &Origin) -> String {
    let status = overall(verdicts);
    let doc = CheckJson {
        format: CHECK_JSON_FORMAT,
        status,
        exit_code: status.exit_code(),
        policy: origin,
        counts: super::status_counts(&verdicts.iter().map(|v| v.status).collect::<Vec<_>>()),
        verdicts,
    };
    let mut text = super::escape::json_pretty(&doc).unwrap_or_else(|e| {
        format!("{{\"format\": \"{CHECK_JSON_FORMAT}\", \"error\": \"cannot serialize: {e}\"}}")
    });
    text.push('\n');
    text
}
