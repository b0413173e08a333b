//! `policy-check receipt snippet`: the markdown that replaces a bare claim — the
//! command that reproduces a receipt (explicit feature flags, the deterministic
//! and strict environment), the number it measured with its envelope's band, and
//! the citation. Every value comes from the receipt; nothing is a constant. The
//! snippet is checked as `policy-check claims` would check it once pasted.

use crate::check;
use crate::claims::backing::{Backer, Outcome};
use crate::claims::scan::{self, ScanConfig};
use crate::config::Policy;
use crate::receipt::Receipt;
use crate::report::markdown::num;
use crate::verdict::Status;
use crate::verify::VerifyOptions;
use std::fmt::Write;
use std::path::Path;

/// The plan's three templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// A short validation run (the plan's 4-token template).
    Quick,
    /// A production benchmark (the plan's 128-token template).
    Benchmark,
    /// A dated baseline under baselines/YYYY-MM-DD/.
    Baseline,
}

/// Why no snippet could be made: the message names the receipt and the fix.
#[derive(Debug)]
pub struct SnippetError(pub String);

/// A snippet, and whether it backs itself when pasted.
#[derive(Debug)]
pub struct Snippet {
    pub markdown: String,
    /// Claims in the snippet that `policy-check claims` would not pass, with why.
    pub problems: Vec<String>,
}

/// What the command needs from the receipt.
struct Run {
    engine: String,
    features: Vec<String>,
    backend: String,
    model: String,
    tokens: u64,
    threads: Option<u64>,
    seed: Option<String>,
    deterministic: bool,
}

impl Run {
    fn of(receipt: &Receipt, cited: &str, tokens: u64) -> Result<Run, SnippetError> {
        let missing = |field: &str, fix: &str| {
            SnippetError(format!(
                "{cited}: the receipt has no {field}, so the command that reproduces it cannot be written; {fix}"
            ))
        };
        let build = receipt.build.as_ref();
        let engine = build.and_then(|b| b.engine.clone()).ok_or_else(|| {
            missing(
                "build.engine",
                "record which engine ran (bitnet-engine writes it)",
            )
        })?;
        // The receipt's own feature list; else the one its backend needs.
        let mut features: Vec<String> = build
            .and_then(|b| b.extra.get("features"))
            .and_then(|f| f.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if features.is_empty() {
            features.push(
                if receipt.backend == "cpu" {
                    "cpu"
                } else {
                    "gpu"
                }
                .to_string(),
            );
        }
        let model = receipt
            .model
            .as_ref()
            .and_then(|m| {
                m.path
                    .clone()
                    .or_else(|| m.preset.as_ref().map(|p| format!("synthetic:{p}")))
            })
            .ok_or_else(|| missing("model.path", "record the model file the run loaded"))?;
        let threads = receipt.host.as_ref().and_then(|h| h.threads).or_else(|| {
            receipt
                .env("RAYON_NUM_THREADS")
                .and_then(|t| t.parse().ok())
        });
        Ok(Run {
            engine,
            features,
            backend: receipt.backend.clone(),
            model,
            tokens,
            threads,
            seed: receipt.seed(),
            deterministic: receipt.deterministic.unwrap_or(false),
        })
    }

    /// `KEY=value …`: strict mode always (honest compute), then the determinism the receipt had.
    fn environment(&self) -> String {
        let mut env = vec!["BITNET_STRICT_MODE=1".to_string()];
        env.push(format!(
            "BITNET_DETERMINISTIC={}",
            u8::from(self.deterministic)
        ));
        if let Some(seed) = &self.seed {
            env.push(format!("BITNET_SEED={seed}"));
        }
        if let Some(t) = self.threads {
            env.push(format!("RAYON_NUM_THREADS={t}"));
        }
        env.join(" ")
    }

    /// The benchmark command, one `\`-joined command over three lines.
    fn command(&self, receipt_out: &str) -> String {
        let mut args = format!("bench --model {} --tokens {}", self.model, self.tokens);
        if let Some(t) = self.threads {
            let _ = write!(args, " --threads {t}");
        }
        if let Some(seed) = &self.seed {
            let _ = write!(args, " --seed {seed}");
        }
        if self.backend != "cpu" {
            let _ = write!(args, " --backend {}", self.backend);
        }
        let _ = write!(args, " --receipt {receipt_out}");
        format!(
            "{} \\\n  cargo run --release -p {} --no-default-features --features {} -- \\\n  {args}",
            self.environment(),
            self.engine,
            self.features.join(",")
        )
    }
}

/// Where the snippet's command comes from, first found wins: `--command`, the
/// policy's `[claims] snippet_command`, the command line the receipt records
/// (`run.command`), else bitnet-engine's `cargo run` form built from the receipt.
enum CommandSource<'a> {
    Template(&'a str),
    BitnetEngine(Run),
}

/// A template pastes into a fenced block as one line and writes the receipt.
fn template<'a>(text: &'a str, from: &'static str) -> Result<CommandSource<'a>, SnippetError> {
    let problem = if !text.contains("{receipt}") {
        Some("has no {receipt}: the snippet's command must write the receipt it cites")
    } else if text.chars().any(|c| c.is_control() || c == '`') || text.len() > MAX_COMMAND {
        Some("is not one plain line (control characters, backticks, or over 1,000 bytes)")
    } else {
        None
    };
    match problem {
        None => Ok(CommandSource::Template(text)),
        Some(p) => Err(SnippetError(format!(
            "{from} \"{}\" {p}; pass --command 'my-bench --tokens {{tokens}} --out {{receipt}}' or set [claims] snippet_command",
            text.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        ))),
    }
}

const MAX_COMMAND: usize = 1000;

/// Make the snippet for the receipt at `root/cited`.
/// `command`: the user's benchmark command template (`{receipt}`, `{tokens}`).
pub fn snippet(
    root: &Path,
    cited: &str,
    style: Template,
    policy: &Policy,
    command: Option<&str>,
) -> Result<Snippet, SnippetError> {
    let path = root.join(cited);
    let options = VerifyOptions {
        gates: policy.gate_config(VerifyOptions::default().gates),
        ..VerifyOptions::default()
    };
    let verdict = check::check_file(&path, policy, &options);
    if let Some(e) = &verdict.error {
        return Err(SnippetError(format!("{cited}: {}; {}", e.message, e.fix)));
    }
    if !matches!(verdict.status, Status::Pass | Status::Warn) {
        let codes: Vec<&str> = verdict.findings.iter().map(|f| f.code.as_str()).collect();
        return Err(SnippetError(format!(
            "{cited}: `policy-check check` says {} ({}); an example needs a receipt that passes — run `policy-check check {cited}` to see why, fix the run and measure again",
            verdict.status.as_str(),
            codes.join(", ")
        )));
    }
    let envelope = verdict
        .envelope
        .as_ref()
        .and_then(|e| policy.envelopes.iter().find(|p| p.id == e.id))
        .ok_or_else(|| {
            SnippetError(format!(
                "{cited}: matches no envelope of the policy, so no band can be shown; add an envelope for it (docs/policies.md)"
            ))
        })?;
    let receipt = read(&path, cited)?;
    let tokens = receipt
        .tokens_requested
        .or(receipt.tokens_generated)
        .ok_or_else(|| {
            SnippetError(format!(
                "{cited}: the receipt has no tokens_requested, so the command that reproduces it cannot be written; record how many tokens were generated"
            ))
        })?;
    let recorded = receipt
        .run
        .as_ref()
        .and_then(|r| r.extra.get("command"))
        .and_then(|c| c.as_str());
    let source = match (command, &policy.claims.snippet_command, recorded) {
        (Some(t), _, _) => template(t, "--command")?,
        (None, Some(t), _) => template(t, "[claims] snippet_command")?,
        (None, None, Some(t)) => template(t, "the receipt's run.command")?,
        (None, None, None) => CommandSource::BitnetEngine(Run::of(&receipt, cited, tokens)?),
    };
    let band = match envelope.band() {
        Some([lo, hi]) if hi.is_finite() => format!(
            "; the `{}` envelope's band is {}–{} tok/s (±{}%)",
            envelope.id,
            num(lo),
            num(hi),
            num(envelope.tolerance.percent)
        ),
        _ => format!("; envelope `{}`", envelope.id),
    };
    let rate = num(receipt.tokens_per_second);
    // A link readers can follow from any doc (`/` is the repository's root on
    // GitHub), which the claim scan reads as a citation.
    let citation = format!("([receipt](/{cited}))");
    // A rerun never overwrites a dated baseline: it writes a fresh receipt to compare.
    let out = if crate::baseline::dated_path(cited, &policy.baselines_dir).is_some() {
        "ci/inference.json"
    } else {
        cited
    };
    let run_command = |out: &str| match &source {
        CommandSource::Template(text) => text
            .replace("{receipt}", out)
            .replace("{tokens}", &tokens.to_string()),
        CommandSource::BitnetEngine(run) => run.command(out),
    };
    let mut md = String::new();
    match style {
        Template::Quick => {
            let _ = writeln!(md, "#### Quick validation ({tokens} tokens)\n");
            let _ = writeln!(
                md,
                "```bash\n# Generate a receipt for validation\n{}\n\n# The rate it measured\njq '.tokens_per_second' {out}\n```\n",
                run_command(out)
            );
            let _ = writeln!(
                md,
                "Measured {rate} tok/s over {tokens} tokens{band}. {citation}"
            );
        }
        Template::Benchmark => {
            let _ = writeln!(md, "#### Benchmark ({tokens} tokens)\n");
            let _ = writeln!(
                md,
                "```bash\n# Measure with strict validation\n{}\n\n# Check that the receipt shows real computation and passes its envelope\npolicy-check check {out}\n```\n",
                run_command(out)
            );
            let _ = writeln!(
                md,
                "Measured {rate} tok/s over {tokens} tokens{band}. {citation}"
            );
        }
        Template::Baseline => {
            let (date, name) = crate::baseline::dated_path(cited, &policy.baselines_dir).ok_or_else(|| {
                SnippetError(format!(
                    "{cited}: a baseline snippet cites a dated baseline ({}/YYYY-MM-DD/<name>.json); record the receipt first with `policy-check baseline record {cited}` and pass the path it prints",
                    policy.baselines_dir
                ))
            })?;
            let _ = writeln!(md, "#### Baseline of {date} ({tokens} tokens)\n");
            let _ = writeln!(
                md,
                "```bash\n# Measure, then store the receipt as a dated baseline\n{}\npolicy-check baseline record {out} --name {name}\n```\n",
                run_command(out)
            );
            let _ = writeln!(
                md,
                "Measured {rate} tok/s over {tokens} tokens on {date}{band}. {citation}"
            );
        }
    }
    let problems = self_check(root, cited, &md, policy);
    Ok(Snippet {
        markdown: md,
        problems,
    })
}

fn read(path: &Path, cited: &str) -> Result<Receipt, SnippetError> {
    let bytes = crate::input::read_capped(path, crate::receipt::parse::DEFAULT_MAX_BYTES)
        .map_err(|e| SnippetError(format!("{cited}: {e}; {}", e.fix())))?;
    crate::receipt::parse::parse(&bytes)
        .ok()
        .and_then(|d| Receipt::from_document(d.value).ok())
        .ok_or_else(|| {
            SnippetError(format!(
                "{cited}: cannot be read as a receipt; run `policy-check verify {cited}`"
            ))
        })
}

/// The snippet as `policy-check claims` would judge it in a file at the root.
fn self_check(root: &Path, cited: &str, md: &str, policy: &Policy) -> Vec<String> {
    let config = ScanConfig::default();
    let backer = Backer::new(policy, root, policy.claims.levels.clone());
    scan::scan_text("snippet.md", md, &config)
        .into_iter()
        .map(|c| backer.judge(c))
        .filter(|v| v.outcome != Outcome::Backed)
        .map(|v| {
            format!(
                "`{}` would be {} when pasted: {} (receipt {cited})",
                v.claim.text,
                v.outcome.as_str(),
                v.message
            )
        })
        .collect()
}
