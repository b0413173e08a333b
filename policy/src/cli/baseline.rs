//! The `policy-check baseline …` subcommands: arguments, printing, exit codes.
//! The work is done in `store`, `record`, `compare` and `chart`.

use crate::baseline::{self, Refusal, assess, format_date, parse_date, rate, record, store};
use crate::cli::{EXIT_USAGE, Format};
use crate::config::Policy;
use crate::gates::GateConfig;
use crate::input::{Existing, WriteError};
use crate::report::escape::plain;
use crate::verdict::Status;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use time::OffsetDateTime;

#[derive(Subcommand, Debug)]
pub enum BaselineAction {
    /// Verify a receipt, then copy it to baselines/YYYY-MM-DD/<name>.json (never overwriting).
    Record(RecordArgs),
    /// List the baselines: date, name, envelope, rate, host class, verdict.
    List(ListArgs),
    /// Judge a receipt against the latest baseline of its envelope and host class.
    Compare(CompareArgs),
    /// Draw each envelope's baseline rates over time as a self-contained SVG.
    Chart(ChartArgs),
}

#[derive(Parser, Debug)]
pub struct Common {
    /// The baselines folder (default: the policy's `[baselines] dir`, else baselines).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The policy file (default: ci/receipt-policy.toml if it exists, else the built-in policy).
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

impl Common {
    /// `--dir`, else the policy's `[baselines] dir` (relative to where it runs).
    fn dir(&self, policy: &Policy) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(&policy.baselines_dir))
    }
}

#[derive(Parser, Debug)]
pub struct RecordArgs {
    /// The receipt to record.
    pub receipt: PathBuf,
    /// The file name (default: the id of the envelope it matches).
    #[arg(long)]
    pub name: Option<String>,
    /// The UTC day it belongs to, YYYY-MM-DD (default: today; never later than today).
    #[arg(long)]
    pub date: Option<String>,
    /// Replace an existing baseline of that name and day, keeping the old one as <name>.replaced-<time>.json.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Parser, Debug)]
pub struct ListArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Parser, Debug)]
pub struct CompareArgs {
    /// The new receipt.
    pub receipt: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Parser, Debug)]
pub struct ChartArgs {
    /// Only this envelope (default: every envelope with baselines).
    #[arg(long)]
    pub envelope: Option<String>,
    /// Where to write the SVG (an existing file is kept unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Run a baseline subcommand; returns the exit code.
pub fn run(action: BaselineAction) -> i32 {
    let common = match &action {
        BaselineAction::Record(a) => &a.common,
        BaselineAction::List(a) => &a.common,
        BaselineAction::Compare(a) => &a.common,
        BaselineAction::Chart(a) => &a.common,
    };
    let policy = match super::load_policy(common.policy.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let result = match action {
        BaselineAction::Record(a) => record_command(a, &policy),
        BaselineAction::List(a) => list_command(a, &policy),
        BaselineAction::Compare(a) => compare_command(a, &policy),
        BaselineAction::Chart(a) => chart_command(a, &policy),
    };
    match result {
        Ok(code) => code,
        Err(r) => {
            eprintln!("error: {}\n  fix: {}", plain(&r.message), plain(&r.fix));
            r.exit
        }
    }
}

fn record_command(a: RecordArgs, policy: &Policy) -> Result<i32, Refusal> {
    let date = match a.date.as_deref() {
        None => None,
        Some(s) => Some(parse_date(s).ok_or_else(|| {
            Refusal::new(
                2,
                format!("--date \"{s}\" is not a date"),
                "write the UTC day as YYYY-MM-DD, e.g. 2026-11-26",
            )
        })?),
    };
    let req = record::Request {
        receipt: a.receipt,
        name: a.name,
        date,
        replace: a.replace,
        dir: a.common.dir(policy),
        now: OffsetDateTime::now_utc(),
    };
    let done = record::record(&req, policy)?;
    let b = &done.baseline;
    println!(
        "recorded {} ({}, {} tok/s, {}, verdict {})",
        plain(&done.path.display().to_string()),
        plain(b.envelope.as_deref().unwrap_or("-")),
        b.tokens_per_second.map_or("-".into(), rate),
        plain(b.host_class.as_deref().unwrap_or("-")),
        b.verdict
    );
    if let Some(old) = done.archived {
        println!(
            "kept the replaced baseline as {}",
            plain(&old.display().to_string())
        );
    }
    Ok(0)
}

/// What in the baselines folder is not ours: a warning each, never a failure.
fn print_skipped(s: &store::Store) {
    for p in &s.skipped {
        eprintln!("warning: {}: {}", plain(&p.path), plain(&p.message));
    }
}

fn print_problems(s: &store::Store) {
    print_skipped(s);
    for p in &s.problems {
        eprintln!(
            "error: {}: {}\n  fix: {}",
            plain(&p.path),
            plain(&p.message),
            plain(&p.fix)
        );
    }
    if !s.problems.is_empty() {
        eprintln!(
            "{} problem{} in {}",
            s.problems.len(),
            if s.problems.len() == 1 { "" } else { "s" },
            plain(&s.dir)
        );
    }
}

fn list_command(a: ListArgs, policy: &Policy) -> Result<i32, Refusal> {
    let s = store::load(&a.common.dir(policy), policy, baseline::today());
    match a.format {
        Format::Json => println!(
            "{}",
            crate::report::escape::json_pretty(&s).expect("the store serializes")
        ),
        Format::Text => {
            if !s.exists {
                println!(
                    "no baselines folder at {}; `policy-check baseline record <receipt>` creates it",
                    plain(&s.dir)
                );
            } else if s.baselines.is_empty() {
                println!(
                    "no baselines in {}; `policy-check baseline record <receipt>` adds one",
                    plain(&s.dir)
                );
            } else {
                let rows: Vec<[String; 6]> = s
                    .baselines
                    .iter()
                    .map(|b| {
                        [
                            format_date(b.date),
                            plain(&b.name).into_owned(),
                            plain(b.envelope.as_deref().unwrap_or("-")).into_owned(),
                            b.tokens_per_second.map_or("-".into(), rate),
                            plain(b.host_class.as_deref().unwrap_or("-")).into_owned(),
                            b.verdict.to_string(),
                        ]
                    })
                    .collect();
                let head = ["date", "name", "envelope", "tok/s", "host class", "verdict"];
                let mut w = head.map(str::len);
                for r in &rows {
                    for (i, c) in r.iter().enumerate() {
                        w[i] = w[i].max(c.chars().count());
                    }
                }
                let line = |r: &[&str]| {
                    let mut out = String::new();
                    for (i, c) in r.iter().enumerate() {
                        let pad = w[i] - c.chars().count();
                        if i == 3 {
                            out.push_str(&" ".repeat(pad));
                            out.push_str(c);
                        } else {
                            out.push_str(c);
                            if i + 1 < r.len() {
                                out.push_str(&" ".repeat(pad));
                            }
                        }
                        if i + 1 < r.len() {
                            out.push_str("  ");
                        }
                    }
                    out
                };
                println!("{}", line(&head));
                for r in &rows {
                    let cells: Vec<&str> = r.iter().map(String::as_str).collect();
                    println!("{}", line(&cells));
                }
            }
        }
    }
    print_problems(&s);
    Ok(if s.problems.is_empty() { 0 } else { EXIT_USAGE })
}

fn compare_command(a: CompareArgs, policy: &Policy) -> Result<i32, Refusal> {
    let s = store::load(&a.common.dir(policy), policy, baseline::today());
    if !s.problems.is_empty() {
        print_problems(&s);
        return Err(Refusal::new(
            2,
            format!(
                "{} is not in order, so the latest baseline is unknown",
                s.dir
            ),
            "fix the problems above (`policy-check baseline list` shows them), then compare again",
        ));
    }
    print_skipped(&s);
    let config = policy.gate_config(GateConfig::default());
    let assessed = assess(&a.receipt, policy, &config);
    if assessed.verdict.status == Status::Error {
        let e = assessed.verdict.error.clone();
        return Err(Refusal::new(
            2,
            format!(
                "{}: {}",
                a.receipt.display(),
                e.as_ref().map_or("cannot read it", |e| e.message.as_str())
            ),
            e.map_or_else(|| "check the path".to_string(), |e| e.fix),
        ));
    }
    let c = baseline::compare::compare(&assessed, &s, policy);
    match a.format {
        Format::Json => println!(
            "{}",
            crate::report::escape::json_pretty(&c).expect("a comparison serializes")
        ),
        Format::Text => println!("{}: {}", c.status, plain(&c.message)),
    }
    Ok(c.status.exit_code())
}

fn chart_command(a: ChartArgs, policy: &Policy) -> Result<i32, Refusal> {
    let s = store::load(&a.common.dir(policy), policy, baseline::today());
    if !s.problems.is_empty() {
        print_problems(&s);
        return Err(Refusal::new(
            2,
            format!("{} is not in order; not charting it", s.dir),
            "fix the problems above, then chart again",
        ));
    }
    print_skipped(&s);
    let Some(svg) = baseline::chart::svg(&s, policy, a.envelope.as_deref()) else {
        return Err(Refusal::new(
            2,
            format!(
                "no baselines{} in {} to chart",
                a.envelope
                    .as_deref()
                    .map(|e| format!(" of envelope {e}"))
                    .unwrap_or_default(),
                s.dir
            ),
            "record one with `policy-check baseline record <receipt>`, or check --envelope",
        ));
    };
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Refusal::new(
                2,
                format!("cannot create {}: {e}", dir.display()),
                "check --out",
            )
        })?;
    }
    let existing = match a.force {
        true => Existing::Replace,
        false => Existing::Refuse,
    };
    crate::input::write_atomic(&a.out, svg.as_bytes(), existing).map_err(|e| match e {
        WriteError::Exists => Refusal::new(
            2,
            format!("{} already exists; not overwriting it", a.out.display()),
            "pass --force to replace it, or choose another --out",
        ),
        e => Refusal::new(
            2,
            format!("cannot write {}: {e}", a.out.display()),
            "check --out",
        ),
    })?;
    println!("wrote {}", plain(&a.out.display().to_string()));
    Ok(0)
}
