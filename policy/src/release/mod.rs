//! The release gate (DESIGN §9): `policy-check gate --release` and the action's
//! `release` mode. A release ships only when, on the day it is cut,
//!
//! 1. a fresh measurement (or the receipts given) passes its envelope,
//! 2. every performance claim in the docs is backed by a receipt no older than
//!    the policy's `max_age` that the fresh measurement still reproduces,
//! 3. a dated baseline of the release's envelope exists (or is recorded now),
//! 4. the tag is a semantic version later than the last released one.
//!
//! Each item is its own module; this one holds the checklist model and runs
//! the items in order. Printing is in `render`, arguments in `cli`.

pub mod baseline;
pub mod claims;
pub mod measurement;
pub mod render;
pub mod tag;

use crate::config::{Origin, Policy};
use crate::measure::Spec;
use serde::Serialize;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// What the release gate is asked to check.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    /// The repository: docs are audited, tags read and baselines kept here.
    pub root: PathBuf,
    /// The policy file (default: `<root>/ci/receipt-policy.toml` if it exists, else built-in).
    pub policy: Option<PathBuf>,
    /// Receipts to judge instead of a fresh run (files, directories, globs;
    /// relative ones are taken from `root`). Empty: measure now.
    pub receipts: Vec<String>,
    /// How to measure when no receipts are given (engine, model, tokens, …).
    pub measure: Spec,
    /// Where the fresh run writes its receipt.
    pub receipt_out: PathBuf,
    /// The version being released (`vX.Y.Z`); `None` skips the tag item.
    pub tag: Option<String>,
    /// Record the fresh receipt as today's baseline when none is there yet.
    pub record_baseline: bool,
    /// The baseline's file name (default: the envelope id).
    pub baseline_name: Option<String>,
    /// The time the gate judges at (UTC).
    pub now: OffsetDateTime,
}

/// An item's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Pass,
    /// Not checked (e.g. no `--tag`); the detail says why. Does not fail the gate.
    Skip,
    Fail,
    /// Could not be judged: unreadable input or bad configuration (exit 2).
    Error,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pass => "pass",
            ItemStatus::Skip => "skip",
            ItemStatus::Fail => "fail",
            ItemStatus::Error => "error",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `fresh-measurement`, `claims`, `baseline` or `tag`.
    pub name: &'static str,
    pub status: ItemStatus,
    /// What was checked and what was found, one fact per line.
    pub detail: Vec<String>,
    /// How to make a failing item pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Item {
    pub fn new(name: &'static str, status: ItemStatus, detail: Vec<String>) -> Item {
        Item {
            name,
            status,
            detail,
            fix: None,
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Item {
        self.fix = Some(fix.into());
        self
    }
}

/// Why the gate could not run at all (exit 2).
#[derive(Debug, Clone, Serialize)]
pub struct GateError {
    pub message: String,
    pub fix: String,
}

/// The release gate's answer.
#[derive(Debug, Clone, Serialize)]
pub struct GateResult {
    pub format: &'static str,
    /// `pass`, `fail` or `error`.
    pub status: &'static str,
    pub exit_code: i32,
    /// The checked-out commit, when the root is a git repository.
    pub commit: Option<String>,
    pub tag: Option<String>,
    pub policy: Option<Origin>,
    /// The receipts the gate judged as this release's measurement.
    pub measurements: Vec<measurement::Measured>,
    pub items: Vec<Item>,
    /// Set when the gate could not run (the policy does not load, a bad option).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<GateError>,
}

impl GateResult {
    fn refused(request: &ReleaseRequest, error: GateError) -> GateResult {
        GateResult {
            format: FORMAT,
            status: "error",
            exit_code: crate::verdict::EXIT_USAGE,
            commit: crate::diff::head_sha(&request.root),
            tag: request.tag.clone(),
            policy: None,
            measurements: Vec::new(),
            items: Vec::new(),
            error: Some(error),
        }
    }
}

pub const FORMAT: &str = "policy-check/gate/1";

/// Run the release gate: load the policy, then every item in order.
pub fn release(request: &ReleaseRequest) -> GateResult {
    let policy = match crate::config::load_in(&request.root, request.policy.as_deref()) {
        Ok(p) => p,
        Err(rendered) => {
            return GateResult::refused(
                request,
                GateError {
                    message: format!("the policy does not load:\n{}", rendered.trim_end()),
                    fix: "fix the policy file as each error says (`policy-check policy show` checks it)"
                        .into(),
                },
            );
        }
    };
    release_with(request, &policy)
}

/// The gate under an already loaded policy.
pub fn release_with(request: &ReleaseRequest, policy: &Policy) -> GateResult {
    if let Some(name) = &request.baseline_name
        && let Err(r) = crate::baseline::record::check_name(name)
    {
        return GateResult::refused(
            request,
            GateError {
                message: r.message,
                fix: r.fix,
            },
        );
    }
    let measured = measurement::run(request, policy);
    let claims = claims::check(request, policy, &measured.passing);
    let tag = tag::check(&request.root, request.tag.as_deref());
    // A baseline is recorded only for a release that passes everything else.
    let blockers: Vec<&'static str> = [&measured.item, &claims, &tag]
        .into_iter()
        .filter(|i| matches!(i.status, ItemStatus::Fail | ItemStatus::Error))
        .map(|i| i.name)
        .collect();
    let baseline = baseline::check(request, policy, measured.passing.first(), &blockers);
    let items = vec![measured.item, claims, baseline, tag];
    let worst = items
        .iter()
        .map(|i| i.status)
        .max()
        .unwrap_or(ItemStatus::Pass);
    let (status, exit_code) = match worst {
        ItemStatus::Pass | ItemStatus::Skip => ("pass", 0),
        ItemStatus::Fail => ("fail", 1),
        ItemStatus::Error => ("error", crate::verdict::EXIT_USAGE),
    };
    GateResult {
        format: FORMAT,
        status,
        exit_code,
        commit: crate::diff::head_sha(&request.root),
        tag: request.tag.clone(),
        policy: Some(policy.origin.clone()),
        measurements: measured.receipts,
        items,
        error: None,
    }
}

/// A path as the checklist shows it: relative to the root when inside it.
pub(crate) fn shown(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}
