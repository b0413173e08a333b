//! The `policy-check` command line: parses arguments, wires the library
//! together, prints, and returns the documented exit code. No checking logic here.

use crate::claims::terms::Outcome;
use crate::config::error::ConfigCode;
use crate::config::{self, Policy};
use crate::envelope::EnvelopeCode;
use crate::gates::{self, Code, GateConfig, ModelHash};
use crate::input::{self, Existing};
use crate::receipt::{SchemaVersion, schema};
use crate::report::escape::{lines, plain};
use crate::report::model::{UNREADABLE_RECEIPT, UNREADABLE_RECEIPT_SUMMARY};
use crate::report::{self, stdout_style};
use crate::verify::{self, VerifyOptions};
use clap::{Parser, Subcommand, ValueEnum};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub mod baseline;
pub mod init;
pub mod release;
pub mod run;

pub use crate::verdict::{EXIT_INTERNAL, EXIT_USAGE};

#[derive(Parser, Debug)]
#[command(
    name = "policy-check",
    version,
    about = "Verify inference benchmark receipts and keep performance claims honest",
    after_help = "Exit codes: 0 pass or warn, 1 fail, 2 usage error or unreadable input, 3 incomparable or insufficient evidence, 4 internal error (a bug; please report it)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check receipts: schema, honesty, environment and consistency gates.
    Verify(VerifyArgs),
    /// Print a published JSON Schema.
    Schema {
        #[command(subcommand)]
        which: SchemaKind,
    },
    /// Verify receipts, then judge each against the envelope that matches it.
    Check(CheckArgs),
    /// Write or show the envelope policy.
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Find performance claims in docs and judge whether receipts back them.
    Claims(ClaimsArgs),
    /// Check documented command lines against the policy's [commands] conventions.
    Commands(CommandsArgs),
    /// Record, list, compare and chart dated baselines (docs/baselines.md).
    Baseline {
        #[command(subcommand)]
        action: crate::cli::baseline::BaselineAction,
    },
    /// The release gate: fresh measurement, every doc claim backed, a dated baseline, the tag.
    Gate(crate::cli::release::GateArgs),
    /// Measure with the built-in engine, check, scan your changes for claims, report.
    Run(run::RunArgs),
    /// The GitHub Action's entry point, configured by INPUT_* variables (docs/action.md).
    #[cfg(feature = "github")]
    Action,
    /// Publish report.json files as a PR comment and check run (workflow_run jobs).
    #[cfg(feature = "github")]
    Publish(crate::action::ci::PublishArgs),
    /// Render an existing report.json (written by `run` or `action`).
    Report(ReportArgs),
    /// Work with one receipt: `snippet` prints the markdown for a receipt-backed example.
    Receipt {
        #[command(subcommand)]
        action: ReceiptAction,
    },
    /// Explain a finding code: what it catches, why, how to fix it, an example.
    Explain {
        /// A code such as `mock-kernel`; without one, list every code.
        code: Option<String>,
    },
}

/// What `claims` and `commands` look at: the change (or the whole tree), the
/// files, the policy and the repository.
#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// With --filter all: files or directories to look at (default: every tracked file).
    pub paths: Vec<String>,
    /// The base of the change (default: origin/HEAD, else main, else master).
    #[arg(long)]
    pub base: Option<String>,
    /// The head of the change; without it, the working tree is compared with the base.
    #[arg(long)]
    pub head: Option<String>,
    /// Which lines: added ones, those in diff hunks, those in changed files, or everywhere.
    #[arg(long, value_parser = ["added", "diff-context", "file", "all"], default_value = "added")]
    pub filter: String,
    /// The policy file (default: ci/receipt-policy.toml, else built-in).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Glob of files to scan (repeatable; default: [claims] include, else README*, **/README*, docs/**, *.md).
    #[arg(long)]
    pub include: Vec<String>,
    /// Glob of files to skip (repeatable).
    #[arg(long)]
    pub exclude: Vec<String>,
    /// The repository root (paths and citations are relative to it).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

#[derive(Parser, Debug)]
pub struct ClaimsArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    /// text for a terminal, json for scripts, markdown for the audit table (docs/claims.md).
    #[arg(long, value_enum, default_value = "text")]
    pub format: ClaimsFormat,
    /// Do not report numbers inside code blocks.
    #[arg(long)]
    pub no_code_blocks: bool,
    /// Cite --receipt on the added lines of the bare claims it backs: prints a patch (or applies it with --write).
    #[arg(long, requires = "receipt")]
    pub fix: bool,
    /// With --fix: the receipt to cite, relative to --root, as docs will cite it.
    #[arg(long, requires = "fix")]
    pub receipt: Option<String>,
    /// With --fix: edit the files instead of printing the patch.
    #[arg(long, requires = "fix")]
    pub write: bool,
    /// With --filter all: record every claim that fails now as accepted in the
    /// claims ledger, so checks judge only new or changed claims (docs/claims.md).
    #[arg(long, conflicts_with_all = ["fix", "prune"])]
    pub accept: bool,
    /// Drop ledger entries whose claim is no longer in the docs.
    #[arg(long, conflicts_with = "fix")]
    pub prune: bool,
    /// The claims ledger (default: ci/accepted-claims.json under --root).
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// Judge every claim as if nothing were accepted.
    #[arg(long, conflicts_with_all = ["accept", "prune"])]
    pub no_ledger: bool,
}

#[derive(Parser, Debug)]
pub struct CommandsArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum ReceiptAction {
    /// Print markdown that replaces a bare claim: the command that reproduces the
    /// receipt, the number it measured with its envelope's band, and the citation.
    Snippet(SnippetArgs),
}

#[derive(Parser, Debug)]
pub struct SnippetArgs {
    /// The receipt, as docs will cite it: a path relative to --root.
    pub receipt: String,
    /// quick (a short validation run), benchmark (a production benchmark) or baseline (a dated baseline).
    #[arg(long, value_enum, default_value = "benchmark")]
    pub style: crate::snippet::Template,
    /// Policy file whose envelopes judge the receipt (default: ci/receipt-policy.toml, else built-in).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The repository root (the receipt path and the citation are relative to it).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Your engine's benchmark command instead of bitnet-engine's, with `{receipt}`
    /// where the receipt goes and `{tokens}` for the token count (docs/claims.md).
    #[arg(long, value_name = "TEMPLATE")]
    pub command: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SchemaKind {
    /// The receipt schema.
    Receipt {
        /// Schema version: 1.0 or 1.1.
        #[arg(long, default_value = "1.1")]
        version: String,
    },
    /// The schema of report.json.
    Report,
}

#[derive(Parser, Debug)]
pub struct ReportArgs {
    /// The report.json to render.
    #[arg(long, default_value = "report.json")]
    pub report: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// For markdown: the PR comment (65,536-character limit) or the job summary (1 MiB).
    #[arg(long, value_enum, default_value = "comment")]
    pub target: MarkdownTarget,
    /// Refuse report files larger than this many bytes.
    #[arg(long, default_value_t = crate::report::load::DEFAULT_MAX_REPORT_BYTES)]
    pub max_size: u64,
    /// The policy the report's receipts are judged again with (default:
    /// ci/receipt-policy.toml, else built-in); the report's own verdict is not trusted.
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Text,
    Markdown,
    Sarif,
    Json,
    /// GitHub workflow commands (`::error file=…,line=…::…`).
    Annotations,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MarkdownTarget {
    Comment,
    Summary,
}

#[derive(Subcommand, Debug)]
pub enum PolicyAction {
    /// Write a commented starter policy (refuses to overwrite without --force).
    Init {
        /// Where to write it.
        #[arg(long, default_value = config::DEFAULT_POLICY_PATH)]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// Start an envelope from this receipt, measured on this machine.
        #[arg(long, value_name = "RECEIPT")]
        from_receipt: Option<PathBuf>,
    },
    /// Print the effective policy: the file merged over the built-in one.
    Show {
        /// The policy file (default: ci/receipt-policy.toml if it exists, else the built-in policy).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

#[derive(Parser, Debug)]
pub struct CheckArgs {
    /// Receipt files, directories (every *.json inside) or quoted globs.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// The policy file (default: ci/receipt-policy.toml if it exists, else the built-in policy).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The model file the receipts claim to have run; its sha256 must match model.sha256.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Refuse receipt files larger than this many bytes.
    #[arg(long, default_value_t = crate::receipt::parse::DEFAULT_MAX_BYTES)]
    pub max_size: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClaimsFormat {
    Text,
    Json,
    /// The audit: a table of every claim with the receipt that would back it, counts per file and result.
    Markdown,
}

#[derive(Parser, Debug)]
pub struct VerifyArgs {
    /// Receipt files, directories (every *.json inside) or quoted globs.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Receipts older than this get `stale-receipt` (e.g. 30d, 12h, 2w); `none` skips the check.
    #[arg(long, default_value = "30d")]
    pub max_age: String,
    /// Require GPU kernel ids whatever the backend says.
    #[arg(long)]
    pub require_gpu_kernels: bool,
    /// The model file the receipts claim to have run; its sha256 must match model.sha256.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Refuse receipt files larger than this many bytes.
    #[arg(long, default_value_t = crate::receipt::parse::DEFAULT_MAX_BYTES)]
    pub max_size: u64,
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Verify(args) => match verify_command(args) {
            Ok(code) => code,
            Err(message) => usage_error(&message),
        },
        Command::Schema {
            which: SchemaKind::Receipt { version },
        } => match SchemaVersion::from_cli(&version) {
            Some(v) => {
                print!("{}", schema::text(v));
                0
            }
            None => usage_error(&format!(
                "unknown receipt schema version \"{version}\"; known: 1.0, 1.1"
            )),
        },
        Command::Schema {
            which: SchemaKind::Report,
        } => {
            print!("{}", report::load::REPORT_SCHEMA);
            0
        }
        Command::Run(args) => run::run(args),
        #[cfg(feature = "github")]
        Command::Action => crate::action::ci::run_action(),
        #[cfg(feature = "github")]
        Command::Publish(args) => crate::action::ci::publish_command(args),
        Command::Gate(args) => crate::cli::release::run(args),
        Command::Report(args) => match report_command(&args) {
            Ok(code) => code,
            Err(message) => usage_error(&message),
        },
        Command::Receipt {
            action: ReceiptAction::Snippet(args),
        } => snippet_command(&args),
        Command::Check(args) => match check_command(args) {
            Ok(code) => code,
            Err(message) => usage_error(&message),
        },
        Command::Policy {
            action:
                PolicyAction::Init {
                    path,
                    force,
                    from_receipt,
                },
        } => match init::run(&path, force, from_receipt.as_deref()) {
            Ok(()) => 0,
            Err(message) => usage_error(&message),
        },
        Command::Policy {
            action: PolicyAction::Show { policy },
        } => match load_policy(policy.as_deref()) {
            Ok(p) => {
                print!("{}", p.to_toml());
                0
            }
            Err(code) => code,
        },
        Command::Commands(args) => match commands_command(args) {
            Ok(code) => code,
            Err(message) => usage_error(&message),
        },
        Command::Claims(args) => match claims_command(args) {
            Ok(code) => code,
            Err(message) => usage_error(&message),
        },
        Command::Baseline { action } => crate::cli::baseline::run(action),
        Command::Explain { code: None } => {
            for &code in Code::ALL {
                println!(
                    "{:<30} {:<5} {}",
                    code.as_str(),
                    code.default_level().as_str(),
                    code.summary()
                );
            }
            for &code in EnvelopeCode::ALL {
                let level = match code.default() {
                    crate::envelope::diags::CodeDefault::Level(l) => l.as_str(),
                    _ => "-",
                };
                println!("{:<30} {:<5} {}", code.as_str(), level, code.summary());
            }
            for &outcome in Outcome::ALL {
                let info = outcome.info();
                println!(
                    "{:<30} {:<5} {}",
                    outcome.as_str(),
                    info.level.as_str(),
                    info.summary
                );
            }
            println!(
                "{:<30} {:<5} {}",
                UNREADABLE_RECEIPT, "deny", UNREADABLE_RECEIPT_SUMMARY
            );
            for &code in ConfigCode::ALL {
                println!("{:<30} {:<5} {}", code.as_str(), "exit2", code.summary());
            }
            0
        }
        Command::Explain { code: Some(name) } => {
            let text = match (
                Code::parse(&name),
                EnvelopeCode::parse(&name),
                Outcome::parse(&name),
                ConfigCode::parse(&name),
            ) {
                (Some(code), ..) => Some(gates::explain(code)),
                (None, Some(code), ..) => Some(code.explain()),
                (None, None, Some(outcome), _) => Some(crate::claims::terms::explain(outcome)),
                (None, None, None, Some(code)) => Some(code.explain()),
                (None, None, None, None) if name == UNREADABLE_RECEIPT => Some(format!(
                    "{UNREADABLE_RECEIPT} (input, level deny)\n\n{UNREADABLE_RECEIPT_SUMMARY}\n\nThe receipt could not be read at all: missing, not a regular file, over the size cap, not UTF-8 or not JSON. The message names the file and what failed; `policy-check verify FILE` says the same with the fix. Nothing else is judged for that receipt, and the run fails (docs/receipts.md).\n"
                )),
                (None, None, None, None) => None,
            };
            match text {
                Some(t) => {
                    print!("{t}");
                    0
                }
                None => usage_error(&format!(
                    "no code named \"{name}\"{}; run `policy-check explain` to list every code",
                    nearest(&name)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default()
                )),
            }
        }
    }
}

/// Messages name files, refs and values from the command line: escaped.
fn usage_error(message: &str) -> i32 {
    eprintln!("error: {}", lines(message));
    EXIT_USAGE
}

fn verify_command(args: VerifyArgs) -> Result<i32, String> {
    let max_age = match args.max_age.as_str() {
        "none" => None,
        s => Some(gates::environment::parse_age(s).ok_or_else(|| {
            format!("--max-age \"{s}\" is not an age; write e.g. 30d, 12h, 2w (at most a century), or none")
        })?),
    };
    let model_sha256 = model_hash(args.model.as_deref())?;
    let options = VerifyOptions {
        gates: GateConfig {
            max_age,
            require_gpu_kernels: args.require_gpu_kernels,
            model_sha256,
            ..GateConfig::default()
        },
        max_bytes: args.max_size,
    };
    let results = verify::verify(&verify::expand(&args.inputs), &options);
    let text = match args.format {
        Format::Json => report::verify_json(&results),
        Format::Text => report::verify_text(&results, stdout_style()),
    };
    print!("{text}");
    Ok(verify::overall(&results).exit_code())
}

/// The policy (`config::load`), or its errors printed and the usage exit code.
pub(crate) fn load_policy(path: Option<&Path>) -> Result<Policy, i32> {
    config::load(path).map_err(|rendered| {
        eprint!("{}", lines(&rendered));
        EXIT_USAGE
    })
}

fn model_hash(path: Option<&Path>) -> Result<Option<ModelHash>, String> {
    path.map(|path| {
        sha256_file(path)
            .map(|sha256| ModelHash {
                path: path.display().to_string(),
                sha256,
            })
            .map_err(|e| format!("--model {}: {e}", path.display()))
    })
    .transpose()
}

fn check_command(args: CheckArgs) -> Result<i32, String> {
    let policy = match load_policy(args.policy.as_deref()) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let options = VerifyOptions {
        gates: policy.gate_config(GateConfig {
            model_sha256: model_hash(args.model.as_deref())?,
            ..GateConfig::default()
        }),
        max_bytes: args.max_size,
    };
    let verdicts = crate::check::check(&verify::expand(&args.inputs), &policy, &options);
    let text = match args.format {
        Format::Json => report::check::check_json(&verdicts, &policy.origin),
        Format::Text => report::check::check_text(&verdicts, &policy.origin, stdout_style()),
    };
    print!("{text}");
    Ok(crate::check::overall(&verdicts).exit_code())
}

fn claims_command(args: ClaimsArgs) -> Result<i32, String> {
    use crate::claims::{audit, backing::Backer, ledger, scan};
    let policy = match load_policy(args.scan.policy.as_deref()) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let config = scan::ScanConfig::from_settings(
        &policy.claims,
        args.scan.include,
        args.scan.exclude,
        args.no_code_blocks,
    )?;
    let filter = crate::diff::Filter::parse(&args.scan.filter).expect("clap checked the value");
    if filter != crate::diff::Filter::All && !args.scan.paths.is_empty() {
        return Err("paths are only taken with --filter all; other filters scan the diff".into());
    }
    if args.accept && (filter != crate::diff::Filter::All || !args.scan.paths.is_empty()) {
        return Err("--accept records the claims of the whole tree (and replaces the ledger): use it with --filter all and no paths".into());
    }
    let range = range(filter, args.scan.base, args.scan.head, &args.scan.root)?;
    let request = audit::Request {
        root: args.scan.root.clone(),
        filter,
        range,
        paths: args.scan.paths,
    };
    if args.fix
        && (filter != crate::diff::Filter::Added
            || matches!(request.range, crate::diff::Range::Commits { .. }))
    {
        return Err("--fix edits the lines your working tree adds: use it with the default --filter added and without --head".into());
    }
    let ledger_path = args
        .ledger
        .clone()
        .unwrap_or_else(|| crate::input::under(&args.scan.root, ledger::DEFAULT_LEDGER));
    if args.prune {
        return prune_ledger(&ledger_path, &args.scan.root, &config);
    }
    let found = audit::find(&request, &config)?;
    let backer = Backer::new(&policy, &args.scan.root, policy.claims.levels.clone());
    let mut verdicts = audit::judge(found.items, &backer);
    if args.accept {
        let accepted = ledger::Ledger::accepting(&verdicts);
        accepted.save(&ledger_path)?;
        let files: std::collections::BTreeSet<_> = verdicts
            .iter()
            .filter(|v| v.level != crate::verdict::Level::Allow)
            .map(|v| v.claim.path.clone())
            .collect();
        println!(
            "accepted {} failing claim{} in {} file{} into {}; checks now judge only new or changed claims (docs/claims.md)",
            accepted.len(),
            if accepted.len() == 1 { "" } else { "s" },
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            plain(&ledger_path.display().to_string())
        );
        return Ok(0);
    }
    if !args.no_ledger {
        ledger::apply_file(&ledger_path, &args.scan.root, &mut verdicts, &config)?;
    }
    if let Some(receipt) = args.receipt.as_deref().filter(|_| args.fix) {
        return fix_claims(&verdicts, &backer, &args.scan.root, receipt, args.write);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match args.format {
        ClaimsFormat::Json => {
            report::claims::write_claims_json(&mut out, &verdicts, &found.warnings)
        }
        ClaimsFormat::Markdown => {
            let candidates =
                crate::claims::suggest::candidates(&args.scan.root, &policy, &backer, &verdicts);
            let would_back = crate::claims::suggest::would_back(&verdicts, &backer, &candidates);
            let text = report::audit::audit_markdown(&verdicts, &would_back, &found.warnings);
            std::io::Write::write_all(&mut out, text.as_bytes())
        }
        ClaimsFormat::Text => {
            let style = stdout_style();
            let text = report::claims::claims_text(&verdicts, &found.warnings, style);
            std::io::Write::write_all(&mut out, text.as_bytes())
        }
    };
    written
        .and_then(|()| std::io::Write::flush(&mut out))
        .map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(report::claims::exit_code(&verdicts))
}

/// `claims --prune`: drop ledger entries whose claim is gone; 0, or 2 when
/// there is no ledger to prune.
fn prune_ledger(
    path: &Path,
    root: &Path,
    config: &crate::claims::scan::ScanConfig,
) -> Result<i32, String> {
    use crate::claims::ledger;
    let Some(mut accepted) = ledger::Ledger::load(path)? else {
        return Err(format!(
            "{}: no claims ledger to prune; `policy-check claims --filter all --accept` writes one",
            path.display()
        ));
    };
    let dropped = accepted.prune(|file| ledger::copies_in(root, file, config));
    accepted.save(path)?;
    println!(
        "dropped {dropped} accepted claim{} that the docs no longer hold; {} remain in {}",
        if dropped == 1 { "" } else { "s" },
        accepted.len(),
        plain(&path.display().to_string())
    );
    Ok(0)
}

/// 0 with the snippet on stdout; 1 when the printed snippet would not pass
/// `policy-check claims` (each reason on stderr); 2 when none can be made.
fn snippet_command(args: &SnippetArgs) -> i32 {
    let policy = match load_policy(args.policy.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let cited = args.receipt.trim_start_matches("./");
    match crate::snippet::snippet(
        &args.root,
        cited,
        args.style,
        &policy,
        args.command.as_deref(),
    ) {
        Err(crate::snippet::SnippetError(message)) => usage_error(&message),
        Ok(s) => {
            print!("{}", s.markdown);
            for p in &s.problems {
                eprintln!("error: {}", lines(p));
            }
            i32::from(!s.problems.is_empty())
        }
    }
}

/// `claims --fix`: the patch on stdout (or the files edited with --write), the
/// claims left alone on stderr; 1 when any claim on an added line is left unbacked.
fn fix_claims(
    verdicts: &[crate::claims::backing::ClaimVerdict],
    backer: &crate::claims::backing::Backer,
    root: &Path,
    receipt: &str,
    write: bool,
) -> Result<i32, String> {
    use crate::claims::fix;
    let cite = receipt.trim_start_matches("./");
    if !root.join(cite).is_file() {
        return Err(format!(
            "--receipt {receipt}: no such file under {}; pass the receipt's path relative to the repository root",
            root.display()
        ));
    }
    let read = |p: &str| input::read_within(root, Path::new(p), input::MAX_DOC_BYTES);
    let plan = fix::plan(verdicts, backer, cite, |p| read(p).ok());
    let count: usize = plan.edits.values().map(Vec::len).sum();
    if write {
        for (path, edits) in &plan.edits {
            let bytes = read(path).map_err(|e| format!("{path}: {e}; {}", e.fix()))?;
            let fixed = fix::apply(&bytes, edits).map_err(|e| format!("{path}: {e}"))?;
            // Replaced atomically, never through a symlink (a doc linked out of the
            // repository is refused above; a link inside it is not edited either).
            input::write_atomic(&root.join(path), &fixed, Existing::Replace)
                .map_err(|e| format!("{path}: cannot write: {e}"))?;
            for e in edits {
                println!("{}:{}: cited {}", plain(path), e.line, plain(cite));
            }
        }
    } else {
        print!("{}", fix::patch(&plan));
    }
    for why in &plan.left {
        eprintln!("not fixed: {}", plain(why));
    }
    eprintln!(
        "{count} line{} {} {}; {} claim{} left as {}",
        if count == 1 { "" } else { "s" },
        match (write, count == 1) {
            (true, true) => "now cites",
            (true, false) => "now cite",
            (false, _) => "would cite",
        },
        plain(cite),
        plan.left.len(),
        if plan.left.len() == 1 { "" } else { "s" },
        if plan.left.len() == 1 {
            "it was"
        } else {
            "they were"
        },
    );
    Ok(i32::from(!plan.left.is_empty()))
}

/// The change to look at: none for `--filter all`, else base...head or the working tree.
fn range(
    filter: crate::diff::Filter,
    base: Option<String>,
    head: Option<String>,
    root: &Path,
) -> Result<crate::diff::Range, String> {
    if filter == crate::diff::Filter::All {
        return Ok(crate::diff::Range::WorkingTree {
            base: String::new(),
        });
    }
    if !crate::diff::is_work_tree(root) {
        return Err(crate::diff::DiffError::NotARepo {
            repo: root.display().to_string(),
        }
        .to_string());
    }
    let base = match base {
        Some(b) => b,
        None => crate::diff::default_base(root).ok_or(
            "no --base given and neither origin/HEAD, main nor master exists; pass --base <ref>",
        )?,
    };
    Ok(match head {
        Some(head) => crate::diff::Range::Commits { base, head },
        None => crate::diff::Range::WorkingTree { base },
    })
}

fn commands_command(args: CommandsArgs) -> Result<i32, String> {
    use crate::claims::{audit, scan};
    let policy = match load_policy(args.scan.policy.as_deref()) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    if policy.commands.rules.is_empty() {
        eprintln!(
            "note: the policy ({}) has no [[commands.rule]]; nothing to check (docs/claims.md, \"Command conventions\")",
            plain(&policy.origin.path)
        );
    }
    // Commands live in the same docs as claims: [claims] include/exclude pick the files.
    let config = scan::ScanConfig::from_settings(
        &policy.claims,
        args.scan.include,
        args.scan.exclude,
        false,
    )?;
    let filter = crate::diff::Filter::parse(&args.scan.filter).expect("clap checked the value");
    if filter != crate::diff::Filter::All && !args.scan.paths.is_empty() {
        return Err("paths are only taken with --filter all; other filters check the diff".into());
    }
    let request = audit::Request {
        range: range(filter, args.scan.base, args.scan.head, &args.scan.root)?,
        root: args.scan.root,
        filter,
        paths: args.scan.paths,
    };
    let checked = crate::conventions::check(&request, &config, &policy.commands)?;
    print!(
        "{}",
        match args.format {
            Format::Json => report::conventions::commands_json(&checked),
            Format::Text => report::conventions::commands_text(&checked),
        }
    );
    Ok(report::conventions::exit_code(&checked))
}

fn report_command(args: &ReportArgs) -> Result<i32, String> {
    let policy = config::load(args.policy.as_deref())?;
    let lookup = crate::artifact::Lookup::BesideThenHere;
    let loaded = crate::artifact::load(&args.report, args.max_size, &policy, lookup)?;
    let text = match args.format {
        ReportFormat::Text => report::text::text(&loaded, stdout_style()),
        ReportFormat::Markdown => report::markdown::markdown(
            &loaded,
            match args.target {
                MarkdownTarget::Comment => report::markdown::Target::Comment,
                MarkdownTarget::Summary => report::markdown::Target::Summary,
            },
        ),
        ReportFormat::Sarif => report::sarif::sarif(&loaded),
        ReportFormat::Json => report::load::to_json(&loaded),
        ReportFormat::Annotations => report::annotations::workflow_commands(&loaded),
    };
    print!("{text}");
    Ok(loaded.exit_code)
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut hasher = Sha256::new();
    crate::input::stream_capped(path, crate::input::MAX_MODEL_BYTES, |chunk| {
        hasher.update(chunk)
    })
    .map_err(|e| format!("{e}; {}", e.fix()))?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The known code closest to a mistyped one, if any is close.
fn nearest(name: &str) -> Option<&'static str> {
    let codes = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(EnvelopeCode::ALL.iter().map(|c| c.as_str()))
        .chain(Outcome::ALL.iter().map(|c| c.as_str()))
        .chain(ConfigCode::ALL.iter().map(|c| c.as_str()))
        .chain([UNREADABLE_RECEIPT]);
    config::spanned::nearest(name, codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_code_for_typos() {
        assert_eq!(nearest("mock-kernal"), Some("mock-kernel"));
        assert_eq!(nearest("completely-different"), None);
    }
}
