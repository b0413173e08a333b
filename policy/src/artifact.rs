//! Reports read back from an artifact are judged again, not trusted. Why: the
//! `report.json` that `publish` and `report` read may come from a fork's pull
//! request, whose code wrote it; a `"verdict": "pass"` beside deny findings must
//! not render a green check. So the receipts the artifact carries are verified and
//! judged again with the reader's policy (in `publish`, the base branch's), every
//! other status is derived from what it summarises (a claim's outcome, the
//! comparison's outcome, the gate's items), and only then is the verdict settled.
//! What cannot be recomputed without the pull request's code (which claims a diff
//! adds, the comparison's timings) is read as written; docs/reports.md says so.

use crate::check;
use crate::config::Policy;
use crate::input;
use crate::report::Report;
use crate::report::model::ReceiptEntry;
use crate::verdict::{Level, Status};
use crate::verify::VerifyOptions;
use std::path::{Component, Path, PathBuf};

/// Where the receipts a report names are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Only beside the report: an artifact (`publish`), which must carry them.
    Beside,
    /// Beside the report, then under the working directory (`report` on one's own run).
    BesideThenHere,
}

/// Read a report.json and judge it again with `policy`.
pub fn load(
    path: &Path,
    max_bytes: u64,
    policy: &Policy,
    lookup: Lookup,
) -> Result<Report, String> {
    let mut report = crate::report::load::load(path, max_bytes)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut roots = vec![dir];
    if lookup == Lookup::BesideThenHere {
        roots.push(Path::new("."));
    }
    let options = VerifyOptions {
        gates: policy.gate_config(Default::default()),
        ..Default::default()
    };
    rejudge(&mut report, &roots, policy, &options);
    Ok(report)
}

/// Judge `report` again; its receipts are looked up under `roots` in turn (the
/// folder the artifact was downloaded to first).
pub fn rejudge(report: &mut Report, roots: &[&Path], policy: &Policy, options: &VerifyOptions) {
    let mut rechecked = 0usize;
    for entry in &mut report.receipts {
        let shown = entry.path.clone();
        let found = roots
            .iter()
            .find_map(|root| locate(root, &entry.path).map(|rel| (*root, rel)));
        let replaced = match found {
            Some((dir, rel)) => match input::read_within(dir, &rel, options.max_bytes) {
                Ok(bytes) => {
                    rechecked += 1;
                    ReceiptEntry::from(&check::check_bytes(shown, &bytes, policy, options))
                }
                Err(e) => missing(shown, &format!("{e}; {}", e.fix())),
            },
            None => missing(
                shown,
                "the artifact does not carry this receipt, so it cannot be verified again; upload the whole output-dir",
            ),
        };
        *entry = replaced;
    }
    for claim in &mut report.claims {
        if let Some(outcome) = claim_outcome(&claim.outcome) {
            claim.level = policy
                .claims
                .levels
                .get(&outcome)
                .copied()
                .unwrap_or(outcome.default_level());
        } else {
            claim.level = Level::Deny;
        }
    }
    if let Some(c) = &mut report.comparison {
        c.status = match c.outcome {
            Some(outcome) => outcome.status(),
            // No outcome: the comparison did not run to an answer.
            None if c.status == Status::Pass => Status::Incomparable,
            None => c.status,
        };
    }
    if let Some(g) = &mut report.release_gate {
        let worst = g.items.iter().map(|i| i.status.as_str());
        g.status = worst
            .fold("pass", |acc, s| match (acc, s) {
                ("error", _) | (_, "error") => "error",
                ("fail", _) | (_, "fail") => "fail",
                _ => acc,
            })
            .to_string();
    }
    let policy_note = format!(
        "judged again from the artifact with {} (sha256 {}): {rechecked} of {} receipts verified",
        policy.origin.path,
        &policy.origin.sha256[..12.min(policy.origin.sha256.len())],
        report.receipts.len()
    );
    report.notes.push(policy_note);
    report.policy.path = policy.origin.path.clone();
    report.policy.sha256 = policy.origin.sha256.clone();
    report.settle();
}

fn missing(path: String, why: &str) -> ReceiptEntry {
    ReceiptEntry {
        path,
        status: Status::Error,
        backend: None,
        model: None,
        tokens_per_second: None,
        envelope: None,
        rate: None,
        roofline: None,
        roofline_fraction: None,
        kernels: Vec::new(),
        findings: Vec::new(),
        error: Some(why.to_string()),
    }
}

fn claim_outcome(s: &str) -> Option<crate::claims::backing::Outcome> {
    crate::claims::backing::Outcome::parse(s)
}

/// Where a receipt the report names lies in the artifact: the report wrote paths
/// relative to the measuring job's workspace (`receipt-action/receipt.json`), and
/// the artifact holds that folder's contents, so the shortest trailing part of
/// the path that exists under `dir` is taken. Paths that climb out are refused.
fn locate(dir: &Path, path: &str) -> Option<PathBuf> {
    let parts: Vec<Component> = Path::new(path)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    if Path::new(path)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return None;
    }
    (0..parts.len())
        .rev()
        .map(|start| parts[start..].iter().collect::<PathBuf>())
        .find(|rel| std::fs::symlink_metadata(dir.join(rel)).is_ok())
}
