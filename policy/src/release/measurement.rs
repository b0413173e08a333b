//! Gate item `fresh-measurement`: the receipts given, or a fresh run of the
//! engine, each judged exactly as `policy-check check` judges it. A release
//! receipt must pass (or warn): failing, incomparable (no envelope) and
//! insufficient evidence all fail the item, because a release number that no
//! envelope judged is not a number the project can stand behind.

use super::{Item, ItemStatus, ReleaseRequest, shown};
use crate::baseline::{Assessed, assess, host_class, rate};
use crate::config::Policy;
use crate::gates::GateConfig;
use crate::measure;
use crate::receipt::Receipt;
use crate::verdict::Status;
use crate::verify::{self, Input};
use serde::Serialize;
use std::path::PathBuf;

pub const NAME: &str = "fresh-measurement";

/// A receipt that passed, with what the other items need from it.
#[derive(Debug, Clone)]
pub struct Fresh {
    /// As the checklist shows it.
    pub path: String,
    pub full_path: PathBuf,
    pub receipt: Receipt,
    pub envelope: String,
    /// The envelope's tolerance as a fraction.
    pub tolerance: f64,
    pub host_class: Option<String>,
}

/// One judged receipt, for the JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub path: String,
    pub status: Status,
    pub envelope: Option<String>,
    pub tokens_per_second: Option<f64>,
    pub band: Option<[f64; 2]>,
    pub host_class: Option<String>,
    /// The whole verdict, for the action's report (the JSON keeps the summary above).
    #[serde(skip)]
    pub verdict: crate::check::Verdict,
}

pub struct MeasurementRun {
    pub item: Item,
    /// The receipts that passed, in input order.
    pub passing: Vec<Fresh>,
    pub receipts: Vec<Measured>,
}

pub fn run(request: &ReleaseRequest, policy: &Policy) -> MeasurementRun {
    let config = policy.gate_config(GateConfig {
        now: request.now,
        ..GateConfig::default()
    });
    let (inputs, mut detail) = if request.receipts.is_empty() {
        let out = &request.receipt_out;
        if let Err(e) = measure::measure(&request.measure, &request.root, out) {
            let item = Item::new(
                NAME,
                ItemStatus::Fail,
                vec![format!(
                    "the fresh run of {} on {} wrote no receipt: {}",
                    engine_name(request),
                    request.measure.model,
                    e.render()
                )],
            )
            .with_fix("make the benchmark run (its output is above), or pass the release's receipts with --receipts");
            return MeasurementRun {
                item,
                passing: Vec::new(),
                receipts: Vec::new(),
            };
        }
        let line = format!(
            "measured now: {} bench --model {} --tokens {} --runs {} --threads {}",
            engine_name(request),
            request.measure.model,
            request.measure.tokens,
            request.measure.runs,
            request.measure.threads
        );
        (vec![Input::File(out.clone())], vec![line])
    } else {
        let given: Vec<String> = request
            .receipts
            .iter()
            .map(|r| crate::input::under(&request.root, r).display().to_string())
            .collect();
        (verify::expand(&given), Vec::new())
    };

    let mut status = ItemStatus::Pass;
    let mut fixes: Vec<String> = Vec::new();
    let mut passing = Vec::new();
    let mut receipts = Vec::new();
    for input in &inputs {
        let path = match input {
            Input::File(p) => p,
            Input::Unmatched { pattern, why } => {
                status = status.max(ItemStatus::Error);
                detail.push(format!("{}: {why}", shown(pattern.as_ref(), &request.root)));
                fixes.push("check the --receipts path or pattern (quote globs so policy-check expands them)".into());
                continue;
            }
        };
        let a = assess(path, policy, &config);
        let name = shown(path, &request.root);
        let (line, item_status, fix) = judge_one(&name, &a);
        detail.push(line);
        status = status.max(item_status);
        fixes.extend(fix);
        receipts.push(Measured {
            path: name.clone(),
            status: a.verdict.status,
            envelope: a.envelope().map(str::to_string),
            tokens_per_second: a.verdict.tokens_per_second,
            band: a.verdict.rate.as_ref().map(|r| r.band),
            host_class: a.host_class(),
            verdict: a.verdict.clone(),
        });
        if item_status == ItemStatus::Pass
            && let (Some(receipt), Some(envelope)) = (a.receipt.clone(), a.envelope())
        {
            let tolerance = policy
                .envelopes
                .iter()
                .find(|e| e.id == envelope)
                .map_or(0.0, |e| e.tolerance.percent / 100.0);
            passing.push(Fresh {
                path: name,
                full_path: path.clone(),
                host_class: host_class(&receipt),
                receipt,
                envelope: envelope.to_string(),
                tolerance,
            });
        }
    }
    fixes.dedup();
    let mut item = Item::new(NAME, status, detail);
    if !fixes.is_empty() {
        item = item.with_fix(fixes.join("; "));
    }
    MeasurementRun {
        item,
        passing,
        receipts,
    }
}

fn engine_name(request: &ReleaseRequest) -> &'static str {
    match request.measure.engine {
        crate::measure::Engine::Builtin => "bitnet-engine",
        crate::measure::Engine::Command { .. } => "bench-command",
    }
}

/// One receipt's checklist line, its item status, and its fix.
fn judge_one(name: &str, a: &Assessed) -> (String, ItemStatus, Option<String>) {
    let v = &a.verdict;
    let what = match (&v.envelope, v.tokens_per_second) {
        (Some(e), Some(r)) => {
            let band = v
                .rate
                .as_ref()
                .map(|j| format!(" (band {}–{})", rate(j.band[0]), rate(j.band[1])))
                .unwrap_or_default();
            format!("{}, {} tok/s{band}", e.id, rate(r))
        }
        (None, Some(r)) => format!("no envelope, {} tok/s", rate(r)),
        _ => "not a receipt".to_string(),
    };
    let host = a.host_class().map(|h| format!(", {h}")).unwrap_or_default();
    match v.status {
        Status::Pass | Status::Warn => (
            format!("{name}: {} — {what}{host}", v.status),
            ItemStatus::Pass,
            None,
        ),
        Status::Error => {
            let (message, fix) = v.error.as_ref().map_or_else(
                || ("cannot read it".to_string(), "check the path".to_string()),
                |e| (e.message.clone(), e.fix.clone()),
            );
            (
                format!("{name}: {message}"),
                ItemStatus::Error,
                Some(fix),
            )
        }
        Status::Fail => (
            format!(
                "{name}: fail — {what}{host}\n{}",
                a.failing_findings()
            ),
            ItemStatus::Fail,
            Some(format!(
                "fix the run and measure again; `policy-check check {name}` shows every finding with its fix"
            )),
        ),
        Status::Incomparable => (
            format!("{name}: incomparable — {what}{host}: no envelope of the policy matches it"),
            ItemStatus::Fail,
            Some("a release receipt must be judged by an envelope: add one that matches it (docs/policies.md) or measure a configuration the policy covers".into()),
        ),
        Status::InsufficientEvidence => (
            format!(
                "{name}: insufficient evidence — {what}{host}: the median's interval straddles a band edge"
            ),
            ItemStatus::Fail,
            Some("measure again with more timed runs (--runs) on a quieter machine".into()),
        ),
    }
}
