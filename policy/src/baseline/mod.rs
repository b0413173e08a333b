//! Dated baselines (DESIGN §9): verified receipts kept under
//! `baselines/YYYY-MM-DD/<name>.json`, so that a slow drift shows up as a
//! regression against the latest comparable one. `store` reads the folder,
//! `record` adds to it, `compare` judges a new receipt against it and `chart`
//! draws its history. No network, no printing: the command line does that.

pub mod chart;
pub mod compare;
pub mod record;
pub mod store;

use crate::check::{self, Verdict};
use crate::config::Policy;
use crate::envelope;
use crate::gates::{self, GateConfig, structure};
use crate::receipt::Receipt;
use crate::verify::{self, Loaded};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use time::format_description::BorrowedFormatItem;
use time::{Date, OffsetDateTime};

const DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// "2026-11-26" → a date; `None` for anything else.
pub fn parse_date(s: &str) -> Option<Date> {
    if s.len() != 10 {
        return None;
    }
    Date::parse(s, DATE_FORMAT).ok()
}

/// A date as the folder names write it.
pub fn format_date(d: Date) -> String {
    d.format(DATE_FORMAT).expect("a date always formats")
}

/// Today, in UTC (baseline folders are UTC dates).
pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// A rate as reports print it: at most two decimals, no trailing zeros.
pub fn rate(r: f64) -> String {
    let s = format!("{r:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Which machines a rate is comparable across: the GPU's name when the receipt
/// names one, else the CPU model and thread count. `None` when the receipt says
/// neither (such a receipt can be neither recorded nor compared).
pub fn host_class(r: &Receipt) -> Option<String> {
    let host = r.host.as_ref()?;
    let gpu = host
        .gpu
        .as_ref()
        .and_then(|g| g.get("name"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(name) = gpu {
        return Some(format!("gpu: {name}"));
    }
    match (host.cpu_model.as_deref().map(str::trim), host.threads) {
        (Some(model), Some(threads)) if !model.is_empty() => {
            Some(format!("cpu: {model}, {threads} threads"))
        }
        _ => None,
    }
}

/// Why a host class is missing, for messages.
pub const NO_HOST_CLASS_FIX: &str = "the benchmark must write host.cpu_model and host.threads (or host.gpu.name) so that its rate is only compared with runs on the same kind of machine";

/// One receipt read, gated and judged, with the typed receipt kept.
#[derive(Debug, Clone)]
pub struct Assessed {
    pub bytes: Vec<u8>,
    pub verdict: Verdict,
    pub receipt: Option<Receipt>,
}

impl Assessed {
    pub fn envelope(&self) -> Option<&str> {
        self.verdict.envelope.as_ref().map(|e| e.id.as_str())
    }

    pub fn host_class(&self) -> Option<String> {
        self.receipt.as_ref().and_then(host_class)
    }

    /// The UTC date the receipt says it was measured on.
    pub fn measured_on(&self) -> Option<Date> {
        let r = self.receipt.as_ref()?;
        OffsetDateTime::parse(&r.timestamp, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|t| t.to_offset(time::UtcOffset::UTC).date())
    }

    /// The findings that made it fail, one per line, for refusals.
    pub fn failing_findings(&self) -> String {
        let mut lines: Vec<String> = self
            .verdict
            .findings
            .iter()
            .filter(|f| f.level == crate::verdict::Level::Deny)
            .map(|f| format!("  {}: {}", f.code, f.message))
            .collect();
        if let Some(e) = &self.verdict.error {
            lines.push(format!("  {}", e.message));
        }
        lines.join("\n")
    }
}

/// Read, gate and judge one receipt exactly as `check` does, keeping the receipt.
pub fn assess(path: &Path, policy: &Policy, gates_config: &GateConfig) -> Assessed {
    let display = path.display().to_string();
    match verify::read_capped(path, crate::receipt::parse::DEFAULT_MAX_BYTES) {
        Ok(Loaded::Bytes(bytes)) => {
            let gated = gates::check_bytes(&bytes, gates_config);
            let judgement = gated
                .receipt
                .as_ref()
                .map(|r| envelope::judge(policy, r, &r.to_value()));
            let verdict = check::verdict(
                display,
                policy,
                gated.receipt.as_ref(),
                gated.findings,
                judgement,
            );
            Assessed {
                bytes,
                verdict,
                receipt: gated.receipt,
            }
        }
        Ok(Loaded::TooLarge(size)) => {
            let findings = vec![structure::too_large(
                size,
                crate::receipt::parse::DEFAULT_MAX_BYTES,
            )];
            Assessed {
                bytes: Vec::new(),
                verdict: check::verdict(display, policy, None, findings, None),
                receipt: None,
            }
        }
        Err((message, fix)) => {
            let mut verdict = check::verdict(display, policy, None, Vec::new(), None);
            verdict.status = crate::verdict::Status::Error;
            verdict.error = Some(verify::InputError {
                message,
                fix: fix.to_string(),
            });
            Assessed {
                bytes: Vec::new(),
                verdict,
                receipt: None,
            }
        }
    }
}

/// A reason a baseline command cannot go on: what, where, how to fix it, and
/// the exit code it ends with.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{message}\n  fix: {fix}")]
pub struct Refusal {
    pub message: String,
    pub fix: String,
    pub exit: i32,
}

impl Refusal {
    pub fn new(exit: i32, message: impl Into<String>, fix: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            fix: fix.into(),
            exit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("2026-11-26").is_some());
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("2026-1-05").is_none());
        assert!(parse_date("latest").is_none());
        assert_eq!(format_date(parse_date("2026-01-05").unwrap()), "2026-01-05");
    }

    #[test]
    fn rates_print_without_noise() {
        assert_eq!(rate(13.200000000000001), "13.2");
        assert_eq!(rate(15.0), "15");
        assert_eq!(rate(14.256), "14.26");
    }
}

/// A path relative to the repository root under `baselines/YYYY-MM-DD/<name>.json`
/// → (date, name); `None` for any other path.
pub fn dated_path<'a>(cited: &'a str, dir: &str) -> Option<(&'a str, &'a str)> {
    let rest = cited.trim_start_matches("./").trim_start_matches('/');
    let rest = rest.strip_prefix(dir)?.strip_prefix('/')?;
    let (date, file) = rest.split_once('/')?;
    let name = file.strip_suffix(".json").filter(|n| !n.contains('/'))?;
    parse_date(date).map(|_| (date, name))
}

#[cfg(test)]
mod dated_path_tests {
    use super::*;

    #[test]
    fn dated_baseline_paths() {
        assert_eq!(
            dated_path("baselines/2026-11-26/cpu-i2s.json", "baselines"),
            Some(("2026-11-26", "cpu-i2s"))
        );
        assert_eq!(
            dated_path("./baselines/2026-11-26/cpu.json", "baselines"),
            Some(("2026-11-26", "cpu"))
        );
        assert_eq!(
            dated_path("baselines/2026-13-01/cpu.json", "baselines"),
            None
        );
        assert_eq!(
            dated_path("baselines/2026-11-26/x/cpu.json", "baselines"),
            None
        );
        assert_eq!(
            dated_path("docs/baselines/2026-11-26/cpu.json", "baselines"),
            None
        );
        assert_eq!(dated_path("ci/inference.json", "baselines"), None);
        // `[baselines] dir` moves them; the old folder is then just a folder.
        assert_eq!(
            dated_path("perf/baselines/2026-11-26/cpu.json", "perf/baselines"),
            Some(("2026-11-26", "cpu"))
        );
        assert_eq!(
            dated_path("baselines/2026-11-26/cpu.json", "perf/baselines"),
            None
        );
    }
}
