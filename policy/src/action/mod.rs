//! Orchestration: `policy-check action` (in CI, configured by `INPUT_*`) and
//! `policy-check run` (the same pipeline on a laptop). This is the one module
//! that spawns the engine; judging stays in `check` and `claims`, rendering in
//! `report`, talking to GitHub in `github`.

pub mod inputs;
pub mod paired;
pub mod pipeline;

#[cfg(feature = "github")]
pub mod ci;

use crate::config::Policy;
use crate::diff::{self, Range};
use crate::report::escape::{lines, plain};
use crate::report::stdout_style;
use crate::report::{self, Report};
use crate::verdict::EXIT_USAGE;
use inputs::Inputs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `policy-check run` once its arguments are typed: measure, check, scan the
/// working tree's changes against `base` (unless `no_claims`), print, write
/// report.json.
pub fn run_local(inputs: Inputs, policy: &Policy, base: Option<String>, no_claims: bool) -> i32 {
    let started = Instant::now();
    let root = PathBuf::from(".");
    let claims = if no_claims {
        Err("Claims were not scanned (--no-claims).".to_string())
    } else {
        match base.or_else(|| diff::default_base(&root)) {
            Some(base) => Ok(Range::WorkingTree { base }),
            None => Err("Claims were not scanned: no --base given and neither origin/HEAD, main nor master exists.".to_string()),
        }
    };
    let plan = pipeline::Plan {
        root: root.clone(),
        inputs: &inputs,
        policy,
        measure: true,
        claims,
        commit: diff::head_sha(&root).map(|sha| report::model::Commit {
            sha,
            base: None,
            pull_request: None,
        }),
        run: None,
        compare: pipeline::compare_plan(&inputs, &root, None),
    };
    let report = match pipeline::judge(&plan) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", lines(&e));
            return EXIT_USAGE;
        }
    };
    let path = inputs.output_dir.join("report.json");
    if let Err(e) = pipeline::write_atomic(&path, &report::load::to_json(&report)) {
        eprintln!("error: {}", lines(&e));
        return EXIT_USAGE;
    }
    print!("{}", report::text::text(&report, stdout_style()));
    eprintln!(
        "report: {} (render it with `policy-check report --report {} --format markdown`); took {:.1} s",
        plain(&path.display().to_string()),
        plain(&path.display().to_string()),
        started.elapsed().as_secs_f64()
    );
    report.exit_code
}

/// The report's verdict as the action's outputs.
pub fn outputs(
    report: &Report,
    receipt: Option<&Path>,
    report_path: &Path,
) -> Vec<(&'static str, String)> {
    vec![
        ("verdict", report.verdict.as_str().to_string()),
        (
            "tokens-per-second",
            report
                .headline_rate()
                .map(|r| format!("{r:.2}"))
                .unwrap_or_default(),
        ),
        (
            "receipt-path",
            receipt.map(|p| p.display().to_string()).unwrap_or_default(),
        ),
        ("report-path", report_path.display().to_string()),
        ("unbacked-claims", report.unbacked_claims().to_string()),
    ]
}
