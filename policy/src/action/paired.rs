//! The paired comparison's measuring half: the base commit checked out in a
//! git worktree inside the repository's git directory (the working tree is never
//! touched), its engine built with the same toolchain and flags as the head's,
//! then base and head benchmarked in interleaved pairs (ABBA) on this machine
//! until the interval decides or the time budget runs out. The statistics are
//! `compare`'s; this module only runs things.

use super::inputs::Inputs;
use crate::compare::{self, Change, Pair};
use crate::config::Policy;
use crate::diff;
use crate::gates::GateConfig;
use crate::measure::Engine;
use crate::measure::{self, BenchSize, Prepared};
use crate::report::model::ComparisonEntry;
use crate::verdict::{Level, Status};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One compare run of the built-in engine: short decodes, so that many pairs
/// fit in the budget (the noise between processes, not within one, limits
/// what a pair can resolve; docs/comparing.md).
pub const PAIR_SIZE: BenchSize = BenchSize {
    tokens: 32,
    runs: 3,
    prompt: Some(8),
};

/// The paths whose change can change the built-in engine's speed.
const BUILTIN_ENGINE_INPUTS: &[&str] = &[
    "engine/",
    "Cargo.toml",
    "Cargo.lock",
    "rust-toolchain",
    ".cargo/",
];

/// Whether a change to these paths can change what the engine measures: for
/// the built-in engine, its sources and build files; for a command engine,
/// anything but docs (its inputs are not known here).
pub fn touches_engine(engine: &Engine, paths: &[String]) -> bool {
    paths.iter().any(|p| match engine {
        Engine::Builtin => BUILTIN_ENGINE_INPUTS
            .iter()
            .any(|i| p.starts_with(i) || p.as_str() == i.trim_end_matches('/')),
        Engine::Command { .. } => !(p.ends_with(".md") || p.starts_with("docs/")),
    })
}

/// What the comparison is asked to do.
pub struct Request<'a> {
    pub root: &'a Path,
    pub inputs: &'a Inputs,
    pub policy: &'a Policy,
    /// The base as the user named it.
    pub base: &'a str,
    /// Where each run's receipt goes (`compare/` under the output directory).
    pub out_dir: PathBuf,
    /// Asked for by `compare: auto`: when there is no engine to compare (the
    /// change adds it), say so and pass instead of calling it incomparable.
    pub auto: bool,
}

/// Compare head (the checkout as it is) with `base`. Err: the request itself is
/// wrong (unknown ref, shallow clone, not a repository): exit 2. A base that
/// cannot be measured is a comparison with status `incomparable` that says why.
pub fn compare(req: &Request) -> Result<ComparisonEntry, String> {
    let settings = &req.policy.compare;
    let base_sha = diff::resolve_commit(req.root, "base", req.base)
        .map_err(|e| format!("cannot compare with the base: {e}"))?;
    let mut entry = ComparisonEntry {
        status: Status::Incomparable,
        outcome: None,
        base: req.base.to_string(),
        base_sha: Some(base_sha.clone()),
        head_sha: diff::head_sha(req.root),
        change: None,
        interval: None,
        confidence: settings.confidence(),
        max_drop: settings.threshold(),
        pairs: Vec::new(),
        stopped: None,
        seconds: 0.0,
        build_seconds: 0.0,
        message: String::new(),
        receipts: Vec::new(),
    };
    let short = crate::report::markdown::short(&base_sha);
    let built = Instant::now();
    let engines = prepare(req, &base_sha, short);
    entry.build_seconds = built.elapsed().as_secs_f64();
    let [base, head] = match engines {
        Ok(x) => x,
        Err(Unavailable { why, no_engine }) => {
            if no_engine && req.auto {
                entry.status = Status::Pass;
            }
            entry.message = why;
            return Ok(entry);
        }
    };
    measure_pairs(req, &base, &head, short, &mut entry);
    Ok(entry)
}

/// Why the base cannot be measured; `no_engine`: there is no engine to compare.
struct Unavailable {
    why: String,
    no_engine: bool,
}

impl From<String> for Unavailable {
    fn from(why: String) -> Unavailable {
        Unavailable {
            why,
            no_engine: false,
        }
    }
}

/// Both engines, built (the base's in its worktree).
fn prepare(req: &Request, base_sha: &str, short: &str) -> Result<[Prepared; 2], Unavailable> {
    let builtin = req.inputs.measure.engine == Engine::Builtin;
    let no_engine = |why: String| Unavailable {
        why,
        no_engine: true,
    };
    if builtin && !req.root.join("engine/Cargo.toml").is_file() {
        return Err(no_engine("Not compared: `engine: builtin` measures bitnet-engine, and this repository has no engine/ for a change to make slower.".into()));
    }
    let cache = compare_dir(req.root)?;
    let worktree = Worktree::add(req.root, &cache.join("base"), base_sha)?;
    if builtin && !worktree.dir.join("engine/Cargo.toml").is_file() {
        return Err(no_engine(format!(
            "Not compared: the base {short} has no engine/ (this change adds it), so there is nothing to compare with."
        )));
    }
    let build = |dir: &Path, target: PathBuf, what: &str| {
        eprintln!(
            "[receipt-action] building the {what} engine in {}",
            dir.display()
        );
        measure::build_in(
            &req.inputs.measure,
            dir,
            builtin.then_some(target.as_path()),
        )
        .map_err(|e| {
            format!(
                "Not compared: the {what}'s engine did not build: {}",
                e.render()
            )
        })
    };
    let base = build(
        &worktree.dir,
        cache.join("target"),
        &format!("base {short}"),
    )?;
    let head_target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| req.root.join("target"));
    let head = build(req.root, head_target, "head")?;
    Ok([base, head])
}

/// `<git dir>/receipt-action`: inside the repository's own git directory, so
/// nothing appears in the working tree or in `git status`.
fn compare_dir(root: &Path) -> Result<PathBuf, String> {
    let out = diff::git(root, &["rev-parse", "--git-common-dir"]).map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "Not compared: cannot find the git directory of {}: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let git_dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let git_dir = if git_dir.is_absolute() {
        git_dir
    } else {
        root.join(git_dir)
    };
    // Absolute: builds and benchmarks run in other directories.
    let git_dir = git_dir
        .canonicalize()
        .map_err(|e| format!("Not compared: cannot open {}: {e}", git_dir.display()))?;
    Ok(git_dir.join("receipt-action"))
}

/// A detached worktree at the base commit. It stays between runs, so the next
/// comparison rebuilds only what changed (checking out in place keeps the
/// timestamps cargo's fingerprints compare).
struct Worktree {
    dir: PathBuf,
}

impl Worktree {
    fn add(root: &Path, dir: &Path, sha: &str) -> Result<Worktree, String> {
        let path = dir.to_string_lossy().into_owned();
        if dir.exists() {
            // Ours, from an earlier run (perhaps one that crashed and left it
            // dirty): move it to the base and drop any change in it.
            let moved = diff::git(dir, &["checkout", "-q", "--detach", "--force", sha])
                .is_ok_and(|o| o.status.success())
                && diff::git(dir, &["clean", "-q", "-f", "-d"]).is_ok_and(|o| o.status.success());
            if moved {
                return Ok(Worktree {
                    dir: dir.to_path_buf(),
                });
            }
            eprintln!("[receipt-action] replacing the base worktree an earlier run left at {path}");
            let _ = diff::git(root, &["worktree", "remove", "--force", &path]);
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(|e| {
                    format!("Not compared: cannot remove the stale worktree {path}: {e}; delete it by hand")
                })?;
            }
        }
        let _ = diff::git(root, &["worktree", "prune"]);
        let out = diff::git(
            root,
            &["worktree", "add", "--detach", "--force", &path, sha],
        )
        .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "Not compared: git worktree add failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Worktree {
            dir: dir.to_path_buf(),
        })
    }
}

#[derive(Clone, Copy)]
enum Side {
    Base,
    Head,
}

/// Interleave base and head runs until the interval decides, the budget runs
/// out, or max_pairs is reached; fill the entry's numbers and verdict.
fn measure_pairs(
    req: &Request,
    base: &Prepared,
    head: &Prepared,
    short: &str,
    entry: &mut ComparisonEntry,
) {
    let settings = &req.policy.compare;
    let (confidence, threshold, budget) = (
        settings.confidence(),
        settings.threshold(),
        settings.budget(),
    );
    let size = match req.inputs.measure.engine {
        Engine::Builtin => PAIR_SIZE,
        Engine::Command { .. } => BenchSize::of(&req.inputs.measure),
    };
    let mut last = [String::new(), String::new()];
    // Absolute: the base's bench command runs in its worktree.
    let out_dir = std::path::absolute(&req.out_dir).unwrap_or_else(|_| req.out_dir.clone());
    // An earlier comparison's receipts must not pass for this one's; only our
    // own file names are removed (output-dir may be a folder of the user's).
    if let Ok(entries) = std::fs::read_dir(&out_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = ["base-", "head-"].iter().any(|p| {
                name.strip_prefix(p)
                    .and_then(|n| n.strip_suffix(".json"))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
            if ours {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let started = Instant::now();
    let mut estimate = None;
    for i in 0..settings.max_pairs() {
        // Start a pair only if one more, at the pace so far, fits in the budget.
        let pace = started
            .elapsed()
            .checked_div(i as u32)
            .unwrap_or(Duration::ZERO);
        if i > 0 && started.elapsed() + pace > budget {
            entry.stopped = Some("budget".into());
            break;
        }
        // ABBA: base first in even pairs, head first in odd ones, so a drift
        // during the run cancels out of the pairs' ratios.
        let head_first = i % 2 == 1;
        let order = if head_first {
            [Side::Head, Side::Base]
        } else {
            [Side::Base, Side::Head]
        };
        let mut rates = [0.0; 2];
        for side in order {
            let (name, prepared, slot) = match side {
                Side::Base => ("base", base, 0),
                Side::Head => ("head", head, 1),
            };
            let receipt = out_dir.join(format!("{name}-{:02}.json", i + 1));
            match measure::bench(&req.inputs.measure, prepared, size, req.root, &receipt)
                .map_err(|e| e.render())
                .and_then(|()| verified_rate(&receipt, req.policy))
            {
                Ok(rate) => rates[slot] = rate,
                Err(why) => {
                    entry.status = Status::Incomparable;
                    entry.message = format!("Not compared: the {name} run {} failed: {why}", i + 1);
                    entry.seconds = started.elapsed().as_secs_f64();
                    return;
                }
            }
            last[slot] = receipt.display().to_string();
        }
        entry.receipts = last.to_vec();
        entry.pairs.push(Pair {
            base: rates[0],
            head: rates[1],
            head_first,
        });
        estimate = compare::estimate(&entry.pairs, confidence, threshold);
        eprintln!(
            "[receipt-action] pair {}: base {:.2} tok/s, head {:.2} tok/s ({:+.1}%){}",
            i + 1,
            rates[0],
            rates[1],
            (rates[1] / rates[0] - 1.0) * 100.0,
            estimate.map_or(String::new(), |e| format!(
                "; change {:+.1}% [{:+.1}, {:+.1}]: {}",
                e.change * 100.0,
                e.interval[0] * 100.0,
                e.interval[1] * 100.0,
                e.outcome.as_str()
            ))
        );
        if estimate.is_some_and(|e| e.outcome != Change::InsufficientEvidence) {
            entry.stopped = Some("decided".into());
            break;
        }
        if i + 1 == settings.max_pairs() {
            entry.stopped = Some("max-pairs".into());
        }
    }
    entry.seconds = started.elapsed().as_secs_f64();
    let n = entry.pairs.len();
    let tally = if entry.stopped.as_deref() == Some("budget") {
        format!(
            "{n} pairs in the {} s budget on this runner",
            budget.as_secs()
        )
    } else {
        format!("{n} pairs on this runner")
    };
    let Some(e) = estimate else {
        // Undecided is a warning, not a failure: a noisy runner must not block
        // a change, and the words say what is not known.
        entry.status = Status::Warn;
        entry.outcome = Some(Change::InsufficientEvidence);
        entry.message = format!(
            "Insufficient evidence: only {tally}; a {:.0}% interval needs at least 6 pairs. Raise `[compare] budget` or use a quieter runner.",
            confidence * 100.0
        );
        return;
    };
    entry.change = Some(e.change);
    entry.interval = Some(e.interval);
    entry.outcome = Some(e.outcome);
    let pct = |x: f64| format!("{:+.1}%", x * 100.0);
    let allowed = format!("{}%", crate::report::markdown::num(threshold * 100.0));
    let judged = match e.outcome {
        Change::Regression => {
            format!("regression: slower by more than the {allowed} allowed (`[compare] max_drop`)")
        }
        Change::Improvement => format!("improvement: faster by more than {allowed}"),
        Change::NoChange => format!("no change: within ±{allowed}"),
        Change::InsufficientEvidence => format!(
            "insufficient evidence: cannot tell whether it is slower by more than {allowed}; raise `[compare] budget` or use a quieter runner"
        ),
    };
    entry.status = e.outcome.status();
    entry.message = format!(
        "decode {} [{}, {}] vs base {short}, {tally}: {judged}",
        pct(e.change),
        pct(e.interval[0]),
        pct(e.interval[1]),
    );
}

/// The decode rate of a compare run's receipt, after `verify`'s gates (a run
/// whose receipt fails them compares nothing).
fn verified_rate(receipt: &Path, policy: &Policy) -> Result<f64, String> {
    let options = crate::verify::VerifyOptions {
        gates: policy.gate_config(GateConfig::default()),
        max_bytes: crate::receipt::parse::DEFAULT_MAX_BYTES,
    };
    let result = crate::verify::verify_file(receipt, &options);
    match (result.status, result.tokens_per_second) {
        (Status::Pass | Status::Warn, Some(rate)) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => {
            let denied: Vec<&str> = result
                .findings
                .iter()
                .filter(|f| f.level == Level::Deny)
                .map(|f| f.code.as_str())
                .collect();
            let why = match &result.error {
                Some(e) => e.message.clone(),
                None => denied.join(", "),
            };
            Err(format!(
                "its receipt {} fails the gates ({why}); `policy-check verify` on it says why",
                receipt.display()
            ))
        }
    }
}
