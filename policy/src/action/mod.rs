//! Orchestration: `policy-check action` (in CI, configured by `INPUT_*`) and
//! `policy-check run` (the same pipeline on a laptop). This is the one module
//! that spawns the engine; judging stays in `check` and `claims`, rendering in
//! `report`, talking to GitHub in `github`.

pub mod inputs;
pub mod measure;
pub mod paired;
pub mod pipeline;

#[cfg(feature = "github")]
pub mod ci;

use crate::cli::{EXIT_USAGE, load_policy, stdout_style};
use crate::diff::{self, Range};
use crate::report::escape::{lines, plain};
use crate::report::{self, Report};
use inputs::Inputs;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `policy-check run`: measure with the built-in engine, check, scan the
/// working tree's changes against the default branch, print, write report.json.
#[derive(clap::Parser, Debug)]
pub struct RunArgs {
    /// The model: synthetic:tiny, synthetic:2b-4t or a GGUF file.
    #[arg(long, default_value = "synthetic:2b-4t")]
    pub model: String,
    /// Tokens decoded per timed run.
    #[arg(long, default_value_t = 128)]
    pub tokens: u32,
    /// Timed runs (the verdict judges their median).
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// Threads (1 is the deterministic CI default).
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
    /// Receipts to judge as well (files, directories, quoted globs).
    #[arg(long)]
    pub receipts: Vec<String>,
    /// The policy file (default: ci/receipt-policy.toml if it exists, else built-in).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Scan claims added since this ref (default: origin/HEAD, else main, else master).
    #[arg(long)]
    pub base: Option<String>,
    /// Do not scan for claims.
    #[arg(long)]
    pub no_claims: bool,
    /// Where the receipt and report.json go.
    #[arg(long, default_value = "receipt-action")]
    pub output_dir: PathBuf,
    /// The built-in engine's kernels: auto, scalar, avx2 or avx512.
    #[arg(long, default_value = "auto")]
    pub kernels: String,
    /// Also measure the change against this commit: its engine is built in a
    /// worktree and benchmarked in interleaved pairs with the working tree's
    /// (docs/comparing.md).
    #[arg(long, value_name = "REF")]
    pub compare: Option<String>,
}

pub fn run_local(args: RunArgs) -> i32 {
    let started = Instant::now();
    let mut map: HashMap<String, String> = HashMap::new();
    let mut set = |k: &str, v: String| {
        map.insert(format!("INPUT_{}", k.to_ascii_uppercase()), v);
    };
    set("mode", "measure".into());
    set("model", args.model);
    set("tokens", args.tokens.to_string());
    set("runs", args.runs.to_string());
    set("threads", args.threads.to_string());
    set("receipts", args.receipts.join(" "));
    set("output-dir", args.output_dir.display().to_string());
    set("kernels", args.kernels);
    let mut inputs = match Inputs::read(|k| map.get(k).cloned()) {
        Ok(i) => i,
        Err(errors) => return input_errors(&errors),
    };
    inputs.compare = match args.compare {
        Some(base) => inputs::Compare::Ref(base),
        None => inputs::Compare::Off,
    };
    let policy = match load_policy(args.policy.as_deref()) {
        Ok(p) => p,
        Err(rendered) => {
            eprint!("{}", lines(&rendered));
            return EXIT_USAGE;
        }
    };
    let root = PathBuf::from(".");
    let claims = if args.no_claims {
        Err("Claims were not scanned (--no-claims).".to_string())
    } else {
        match args.base.or_else(|| diff::default_base(&root)) {
            Some(base) => Ok(Range::WorkingTree { base }),
            None => Err("Claims were not scanned: no --base given and neither origin/HEAD, main nor master exists.".to_string()),
        }
    };
    let plan = pipeline::Plan {
        root: root.clone(),
        inputs: &inputs,
        policy: &policy,
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

fn input_errors(errors: &[String]) -> i32 {
    for e in errors {
        eprintln!("error: {}", lines(e));
    }
    eprintln!("see docs/action.md for every input and its values");
    EXIT_USAGE
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
