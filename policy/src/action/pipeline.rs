//! The pipeline `action` and `run` share: measure (or take the given receipts),
//! check every receipt against the policy, re-measure when the evidence is
//! insufficient, scan the change for claims, and put it all in one report.

use super::inputs::Inputs;
use crate::check::{self, Verdict};
use crate::claims::{audit, backing::Backer, ledger, scan};
use crate::config::Policy;
use crate::diff::Range;
use crate::gates::GateConfig;
use crate::measure::{self, MeasureError};
use crate::report::model::{Commit, Report, RunRef};
use crate::verdict::Status;
use crate::verify::{self, VerifyOptions};
use std::path::{Path, PathBuf};

/// What to judge and where.
pub struct Plan<'a> {
    /// The repository: commands run here, claims are scanned here.
    pub root: PathBuf,
    pub inputs: &'a Inputs,
    pub policy: &'a Policy,
    /// Measure with the engine (pr, measure) or only judge `inputs.receipts`.
    pub measure: bool,
    /// The change whose claims to scan; None skips the scan (with a note why).
    pub claims: Result<Range, String>,
    pub commit: Option<Commit>,
    pub run: Option<RunRef>,
    /// The base to measure the change against (`compare`), or why not (a note).
    pub compare: Result<String, Option<String>>,
}

/// Whether to compare with the base, from input `compare`: `Ok(base)`, or the
/// note that says why not (None: nothing worth saying, e.g. compare: off).
pub fn compare_plan(
    inputs: &Inputs,
    root: &Path,
    base: Option<&str>,
) -> Result<String, Option<String>> {
    use super::inputs::{Compare, Mode};
    if !inputs.mode.measures() {
        return Err(None);
    }
    match (&inputs.compare, base) {
        (Compare::Off, _) => Err(None),
        (Compare::Ref(r), _) => Ok(r.clone()),
        (Compare::Auto, _) if inputs.mode != Mode::Pr => Err(None),
        (Compare::Base | Compare::Auto, None) => Err(Some(
            "Not compared with the base: this event has no base; give input `base` (or run on a pull request).".into(),
        )),
        (Compare::Base, Some(base)) => Ok(base.to_string()),
        (Compare::Auto, Some(base)) => {
            let range = Range::Commits {
                base: base.to_string(),
                head: "HEAD".into(),
            };
            match crate::diff::changed_paths(root, &range) {
                Ok(paths) if super::paired::touches_engine(&inputs.measure.engine, &paths) => {
                    Ok(base.to_string())
                }
                Ok(_) => Err(Some(
                    "Not compared with the base: this change touches none of the engine's inputs (input `compare: base` compares anyway).".into(),
                )),
                Err(e) => Err(Some(format!("Not compared with the base: {e}"))),
            }
        }
    }
}

/// Where the measured receipt goes.
pub fn receipt_path(inputs: &Inputs, root: &Path) -> PathBuf {
    let path = inputs
        .receipt
        .clone()
        .unwrap_or_else(|| inputs.output_dir.join("receipt.json"));
    // Relative to the workspace as it is (later steps read the output there).
    if root == Path::new(".") {
        path
    } else {
        root.join(path)
    }
}

pub fn judge(plan: &Plan) -> Result<Report, String> {
    let options = VerifyOptions {
        gates: plan.policy.gate_config(GateConfig::default()),
        max_bytes: crate::receipt::parse::DEFAULT_MAX_BYTES,
    };
    let mut notes = Vec::new();
    let mut verdicts: Vec<Verdict> = Vec::new();
    if plan.measure {
        let receipt = receipt_path(plan.inputs, &plan.root);
        let mut verdict = measure_and_check(plan, &receipt, &options);
        let mut attempt = 0;
        while verdict.status == Status::InsufficientEvidence && attempt < plan.inputs.confirm_runs {
            attempt += 1;
            eprintln!(
                "[receipt-action] insufficient evidence; measuring again ({attempt} of {})",
                plan.inputs.confirm_runs
            );
            verdict = measure_and_check(plan, &receipt, &options);
        }
        if attempt > 0 {
            notes.push(format!(
                "The first measurement was insufficient evidence; re-measured {attempt} time(s) (confirm-runs); the verdict is the last one's: {}.",
                verdict.status
            ));
        }
        verdicts.push(verdict);
    }
    let given: Vec<String> = plan
        .inputs
        .receipts
        .iter()
        .map(|r| plan.root.join(r).display().to_string())
        .collect();
    verdicts.extend(check::check(&verify::expand(&given), plan.policy, &options));
    for v in &mut verdicts {
        v.path = relative(&v.path, &plan.root);
    }

    let claims = match &plan.claims {
        Ok(range) => scan_claims(plan, range.clone())?,
        Err(why) => {
            notes.push(why.clone());
            Vec::new()
        }
    };
    let comparison = match &plan.compare {
        Ok(base) => Some(super::paired::compare(&super::paired::Request {
            root: &plan.root,
            inputs: plan.inputs,
            policy: plan.policy,
            base,
            out_dir: receipt_path(plan.inputs, &plan.root).with_file_name("compare"),
            auto: plan.inputs.compare == super::inputs::Compare::Auto,
        })?),
        Err(note) => {
            notes.extend(note.clone());
            None
        }
    };
    let mut report = Report::new(&verdicts, &claims, &plan.policy.origin, now());
    report.commit = plan.commit.clone();
    report.run = plan.run.clone();
    report.notes = notes;
    report.comparison = comparison;
    report.settle();
    Ok(report)
}

fn measure_and_check(plan: &Plan, receipt: &Path, options: &VerifyOptions) -> Verdict {
    match measure::measure(&plan.inputs.measure, &plan.root, receipt) {
        Ok(()) => check::check_file(receipt, plan.policy, options),
        Err(e) => failed_measurement(receipt, plan.policy, &e),
    }
}

/// A measurement that produced no receipt fails, and says why.
fn failed_measurement(receipt: &Path, policy: &Policy, e: &MeasureError) -> Verdict {
    let mut v = check::verdict(
        receipt.display().to_string(),
        policy,
        None,
        Vec::new(),
        None,
    );
    v.status = Status::Fail;
    v.error = Some(verify::InputError {
        message: e.render(),
        fix: "fix the benchmark so it exits 0 and writes its receipt to $RECEIPT_PATH".into(),
    });
    v
}

fn scan_claims(
    plan: &Plan,
    range: Range,
) -> Result<Vec<crate::claims::backing::ClaimVerdict>, String> {
    let config =
        scan::ScanConfig::from_settings(&plan.policy.claims, Vec::new(), Vec::new(), false)?;
    let request = audit::Request {
        root: plan.root.clone(),
        filter: crate::diff::Filter::Added,
        range,
        paths: Vec::new(),
    };
    let found = audit::find(&request, &config)?;
    for w in &found.warnings {
        eprintln!("warning: {}", crate::report::escape::plain(w));
    }
    let backer = Backer::new(plan.policy, &plan.root, plan.policy.claims.levels.clone());
    let mut verdicts = audit::judge(found.items, &backer);
    // Claims the project accepted in its ledger are not this change's.
    let ledger_path = crate::input::under(&plan.root, ledger::DEFAULT_LEDGER);
    ledger::apply_file(&ledger_path, &plan.root, &mut verdicts, &config)?;
    Ok(verdicts)
}

/// Paths in the report are relative to the repository, as links need them.
fn relative(path: &str, root: &Path) -> String {
    Path::new(path)
        .strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.to_string())
}

/// Now, RFC 3339, to the second.
pub fn now() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Write a file whole or not at all (the folder made first), replacing an old one.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // Never through a symlink: the output folder is in a workspace a fork can fill.
    crate::input::write_atomic(path, contents.as_bytes(), crate::input::Existing::Replace)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
