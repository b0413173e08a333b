//! `policy-check gate [--release] …`: arguments to a `ReleaseRequest`, the
//! checklist printed, the gate's exit code returned.

use crate::action::inputs::{Inputs, Mode};
use crate::cli::Format;
use crate::release::{self, ReleaseRequest, render};
use crate::report::stdout_style;
use std::path::PathBuf;
use time::OffsetDateTime;

#[derive(clap::Parser, Debug)]
pub struct GateArgs {
    /// The release gate: fresh measurement, claims, baseline, tag. It is the only
    /// gate, so `policy-check gate` runs it with or without this flag.
    #[arg(long)]
    pub release: bool,
    /// The version being released, vMAJOR.MINOR.PATCH; it must be later than the last v* tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// The release's receipts (files, directories, quoted globs) instead of a fresh run.
    #[arg(long, num_args = 1..)]
    pub receipts: Vec<String>,
    /// The policy file (default: ci/receipt-policy.toml if it exists, else built-in).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Record the fresh receipt as today's baseline (when every other item passes).
    #[arg(long)]
    pub record_baseline: bool,
    /// The baseline's name with --record-baseline (default: the envelope id).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// For the fresh run (when no --receipts are given).
    #[command(flatten)]
    pub size: super::run::RunSize,
    /// Where the fresh receipt goes (<dir>/receipt.json).
    #[arg(long, default_value = "receipt-action")]
    pub output_dir: PathBuf,
    /// The repository root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

pub fn run(args: GateArgs) -> i32 {
    // The fresh run is configured like the action's, from the same defaults.
    let mut inputs = Inputs::defaults();
    inputs.mode = Mode::Release;
    args.size.apply(&mut inputs.measure);
    inputs.output_dir = args.output_dir.clone();
    let request = ReleaseRequest {
        root: args.root.clone(),
        policy: args.policy,
        receipts: args.receipts,
        receipt_out: crate::action::pipeline::receipt_path(&inputs, &args.root),
        measure: inputs.measure,
        tag: args.tag,
        record_baseline: args.record_baseline,
        baseline_name: args.name,
        now: OffsetDateTime::now_utc(),
    };
    let result = release::release(&request);
    let text = match args.format {
        Format::Json => render::json(&result),
        Format::Text => render::text(&result, stdout_style()),
    };
    print!("{text}");
    result.exit_code
}
