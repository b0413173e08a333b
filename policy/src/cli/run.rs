//! `policy-check run`: its arguments, typed into the action's inputs (the same
//! pipeline as the action's `measure` mode, on a laptop).

use crate::action::inputs::{Compare, Inputs, Mode};
use crate::measure::parse_kernels;
use crate::report::escape::lines;
use crate::verdict::EXIT_USAGE;
use std::path::PathBuf;

/// What one measurement with the built-in engine runs (`run`, and the release
/// gate's fresh run).
#[derive(clap::Args, Debug)]
pub struct RunSize {
    /// The model: synthetic:tiny, synthetic:2b-4t or a GGUF file.
    #[arg(long, default_value = "synthetic:2b-4t")]
    pub model: String,
    /// Tokens decoded per timed run.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub tokens: u32,
    /// Timed runs (the verdict judges their median).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// Threads (1 is the deterministic CI default).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
}

impl RunSize {
    /// Into the measurement spec.
    pub fn apply(self, spec: &mut crate::measure::Spec) {
        spec.model = self.model;
        spec.tokens = self.tokens;
        spec.runs = self.runs;
        spec.threads = self.threads;
    }
}

/// `policy-check run`: measure with the built-in engine, check, scan the
/// working tree's changes against the default branch, print, write report.json.
#[derive(clap::Parser, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub size: RunSize,
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
    /// Write the measured receipt here instead (e.g. ci/inference.json, the one docs cite).
    #[arg(long)]
    pub receipt: Option<PathBuf>,
    /// Measure your own engine: the command that runs its benchmark and writes
    /// its receipt to $RECEIPT_PATH (the action's `engine: command`).
    #[arg(long)]
    pub bench_command: Option<String>,
    /// With --bench-command: the command that builds your engine first.
    #[arg(long, requires = "bench_command")]
    pub build_command: Option<String>,
    /// The built-in engine's kernels: auto, scalar, avx2 or avx512.
    #[arg(long, default_value = "auto")]
    pub kernels: String,
    /// Also measure the change against this commit: its engine is built in a
    /// worktree and benchmarked in interleaved pairs with the working tree's
    /// (docs/comparing.md).
    #[arg(long, value_name = "REF")]
    pub compare: Option<String>,
}

pub fn run(args: RunArgs) -> i32 {
    let kernels = match parse_kernels(&args.kernels) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: --{}", lines(&e));
            return EXIT_USAGE;
        }
    };
    let policy = match super::load_policy(args.policy.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut inputs = Inputs::defaults();
    inputs.mode = Mode::Measure;
    args.size.apply(&mut inputs.measure);
    inputs.measure.kernels = kernels;
    inputs.receipts = args.receipts;
    inputs.output_dir = args.output_dir;
    inputs.receipt = args.receipt;
    if let Some(bench) = args.bench_command {
        inputs.measure.engine = crate::measure::Engine::Command {
            build: args.build_command,
            bench,
        };
    }
    inputs.compare = match args.compare {
        Some(base) => Compare::Ref(base),
        None => Compare::Off,
    };
    crate::action::run_local(inputs, &policy, args.base, args.no_claims)
}
