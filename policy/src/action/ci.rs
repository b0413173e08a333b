//! `policy-check action` and `policy-check publish`: the pipeline as a GitHub
//! Action. The report is written (report.json, the job summary, the log's
//! annotations, the step's outputs) before anything is sent to GitHub, so a
//! failed comment or check run never loses the result.
//!
//! The log is hostile ground: every value is escaped (`report::escape`), and on
//! GitHub the text of the report is also fenced by `::stop-commands::` so a
//! missed value still cannot run a workflow command; our own annotations are
//! written after the fence closes, since nothing runs inside it.

use super::inputs::{Inputs, Mode};
use super::{outputs, pipeline};
use crate::config;
use crate::diff::Range;
use crate::github::{self, Context, Event, Posted, Publication};
use crate::release;
use crate::report::annotations::{self, CHECK_RUN_CAP};
use crate::report::escape::{lines, plain};
use crate::report::markdown::{self, Target};
use crate::report::model::{Commit, Report, RunRef};
use crate::report::stdout_style;
use crate::report::{self, load};
use crate::verdict::EXIT_USAGE;
use crate::verdict::{Level, Status};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The name of the check run (one per comment key).
fn check_name(key: &str) -> String {
    if key == "receipt-action" {
        "receipt-action".into()
    } else {
        format!("receipt-action ({key})")
    }
}

pub fn run_action() -> i32 {
    let started = Instant::now();
    let inputs = match Inputs::from_env() {
        Ok(i) => i,
        Err(errors) => return input_errors(&errors),
    };
    // In a container action the workspace is mounted and is the working
    // directory already; on a host runner, go there so relative inputs resolve.
    if let Some(ws) = std::env::var_os("GITHUB_WORKSPACE")
        && let Err(e) = std::env::set_current_dir(&ws)
    {
        eprintln!(
            "error: cannot enter GITHUB_WORKSPACE {}: {e}",
            plain(&Path::new(&ws).display().to_string())
        );
        return EXIT_USAGE;
    }
    let event = match std::env::var_os("GITHUB_EVENT_PATH") {
        Some(_) => match Event::from_env() {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("error: {}", lines(&e.to_string()));
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let code = match inputs.mode {
        Mode::Release => release_mode(&inputs),
        Mode::Publish => publish_mode(&inputs, event.as_ref()),
        Mode::Pr | Mode::Measure | Mode::Verify => judge_mode(&inputs, event.as_ref()),
    };
    eprintln!(
        "[receipt-action] done in {:.2} s, exit {code}",
        started.elapsed().as_secs_f64()
    );
    code
}

/// The policy input, read only from inside the workspace: the file at that path
/// comes from the checked-out code, and a link from there to the runner's files
/// (`/proc/self/environ` holds the token) must not be read, let alone echoed.
fn workspace_policy(inputs: &Inputs) -> Result<crate::config::Policy, i32> {
    if let Some(p) = &inputs.policy
        && let Err(e) = crate::input::resolve_within(Path::new("."), p)
    {
        let shown = p.display().to_string();
        eprintln!(
            "error: input `policy` {}: {}; {}",
            plain(&shown),
            plain(&e.to_string()),
            e.fix()
        );
        return Err(EXIT_USAGE);
    }
    config::load(inputs.policy.as_deref()).map_err(|rendered| {
        eprint!("{}", lines(&rendered));
        EXIT_USAGE
    })
}

fn judge_mode(inputs: &Inputs, event: Option<&Event>) -> i32 {
    let policy = match workspace_policy(inputs) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (commit, base) = commit_of(event);
    let base = inputs.base.clone().or(base);
    let compare = pipeline::compare_plan(inputs, Path::new("."), base.as_deref());
    let claims = match (inputs.claims, base) {
        (false, _) => Err("Claims were not scanned (input `claims` is false).".to_string()),
        (true, Some(base)) => Ok(Range::Commits {
            base,
            head: "HEAD".into(),
        }),
        (true, None) => Err(
            "Claims were not scanned: this event has no base to compare with; they are scanned on pull requests, or give input `base`."
                .to_string(),
        ),
    };
    let plan = pipeline::Plan {
        root: PathBuf::from("."),
        inputs,
        policy: &policy,
        measure: inputs.mode.measures(),
        claims,
        commit,
        run: run_ref(),
        compare,
    };
    let report = match pipeline::judge(&plan) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", lines(&e));
            // The reader of the job summary must see why there is no verdict.
            let _ = github::write_step_summary(&format!(
                "## ⛔ receipt-action could not judge this run\n\n{}\n",
                markdown::text(&e)
            ));
            return EXIT_USAGE;
        }
    };
    let receipt = inputs
        .mode
        .measures()
        .then(|| pipeline::receipt_path(inputs, Path::new(".")));
    if let Err(code) = record(&report, inputs, receipt.as_deref()) {
        return code;
    }
    let pr = match event {
        Some(Event::PullRequest { number, .. }) => Some(*number),
        _ => None,
    };
    if inputs.mode == Mode::Pr {
        if pr.is_none() {
            eprintln!(
                "note: not a pull_request event; nothing to comment on (the report is in the job summary)"
            );
        } else if let Some(code) = publish(inputs, &report, pr) {
            return code;
        }
    }
    report.exit_code
}

/// The release gate (`policy-check gate --release`) on the checked-out tag,
/// its checklist in the report, the fresh receipt left for attestation.
fn release_mode(inputs: &Inputs) -> i32 {
    let request = release_request(inputs, Path::new("."));
    let result = release::release(&request);
    eprint!("{}", fenced(release::render::text(&result, stdout_style())));
    if let Some(e) = &result.error {
        eprintln!("error: {} ({})", lines(&e.message), plain(&e.fix));
        return result.exit_code;
    }
    // The gate ran without error, so it loaded a policy and judged its receipts.
    let Some(origin) = &result.policy else {
        return result.exit_code;
    };
    let verdicts: Vec<_> = result
        .measurements
        .iter()
        .map(|m| crate::check::Verdict {
            path: m.path.clone(),
            ..m.verdict.clone()
        })
        .collect();
    let mut report = Report::new(&verdicts, &[], origin, pipeline::now());
    report.commit = result.commit.clone().map(|sha| Commit {
        sha,
        base: None,
        pull_request: None,
    });
    report.run = run_ref();
    report.release_gate = Some((&result).into());
    report.settle();
    let receipt = result.measurements.first().map(|m| PathBuf::from(&m.path));
    if let Err(code) = record(&report, inputs, receipt.as_deref()) {
        return code;
    }
    report.exit_code
}

/// Publish reports that measure jobs uploaded: a fork's pull request (from a
/// workflow_run job) or a matrix fanned in.
fn publish_mode(inputs: &Inputs, event: Option<&Event>) -> i32 {
    let Some(path) = &inputs.report else {
        eprintln!(
            "error: mode `publish` needs input `report`: the downloaded report.json, or the directory the artifacts were downloaded to"
        );
        return EXIT_USAGE;
    };
    // The base branch's policy (this job's checkout) judges the artifact again.
    let policy = match workspace_policy(inputs) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = match load_reports(path, &policy) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", lines(&e));
            return EXIT_USAGE;
        }
    };
    // The commit is taken from the event, which GitHub wrote, never from the
    // artifact, which the pull request's code wrote.
    let (head, pr) = match event {
        Some(Event::WorkflowRun { head_sha, .. }) => (head_sha.clone(), None),
        Some(Event::PullRequest {
            head_sha, number, ..
        }) => (head_sha.clone(), Some(*number)),
        _ => {
            eprintln!(
                "error: mode `publish` runs on workflow_run (fork pull requests) or pull_request (a matrix's last job) events; this event has no pull request head to check the report against"
            );
            return EXIT_USAGE;
        }
    };
    let reported = report.commit.as_ref().map(|c| c.sha.as_str());
    if reported != Some(head.as_str()) {
        eprintln!(
            "error: refusing to publish: the report judged commit {} but the event's head is {}; the artifact does not belong to this run",
            plain(reported.unwrap_or("(none)")),
            plain(&head)
        );
        return EXIT_USAGE;
    }
    if let Err(code) = record(&report, inputs, None) {
        return code;
    }
    let pr = match pr {
        Some(n) => Some(n),
        None => match context(inputs)
            .and_then(|ctx| github::pull_request_for_sha(&ctx, &head).map_err(|e| e.to_string()))
        {
            Ok(found) => found,
            Err(e) => {
                eprintln!(
                    "warning: cannot find the pull request of {}: {}",
                    plain(&head),
                    plain(&e)
                );
                return publish_failed(inputs, &report);
            }
        },
    };
    if pr.is_none() {
        eprintln!(
            "note: no open pull request has head {}; publishing the check run only",
            plain(&head)
        );
    }
    match publish(inputs, &report, pr) {
        Some(code) => code,
        None => report.exit_code,
    }
}

/// Read one report, or every `report.json` under a directory (a matrix's
/// artifacts), merged.
fn load_reports(path: &Path, policy: &crate::config::Policy) -> Result<Report, String> {
    let mut files = Vec::new();
    if path.is_dir() {
        collect(path, &mut files, 0)?;
        if files.is_empty() {
            return Err(format!(
                "{}: no report.json inside; point input `report` at the downloaded artifacts",
                path.display()
            ));
        }
    } else {
        files.push(path.to_path_buf());
    }
    files.sort();
    let reports = files
        .iter()
        .map(|f| {
            let lookup = crate::artifact::Lookup::Beside;
            crate::artifact::load(f, load::DEFAULT_MAX_REPORT_BYTES, policy, lookup)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Report::merge(reports)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>, depth: usize) -> Result<(), String> {
    if depth > 4 {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let p = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", p.display()))?;
        if kind.is_dir() {
            collect(&p, files, depth + 1)?;
        } else if kind.is_file() && p.file_name().is_some_and(|n| n == "report.json") {
            files.push(p);
        }
    }
    Ok(())
}

/// Everything that needs no network, before anything is sent: report.json in
/// the output dir, the log's text and annotations, the job summary, the outputs.
/// Err is the exit code when report.json cannot be written.
fn record(report: &Report, inputs: &Inputs, receipt: Option<&Path>) -> Result<(), i32> {
    let report_path = inputs.output_dir.join("report.json");
    if let Err(e) = pipeline::write_atomic(&report_path, &load::to_json(report)) {
        eprintln!("error: {}", lines(&e));
        return Err(EXIT_USAGE);
    }
    print!("{}", fenced(report::text::text(report, stdout_style())));
    // After the fence: inside it the runner would not make annotations.
    if on_github() {
        print!("{}", annotations::workflow_commands(report));
    }
    if let Err(e) = github::write_step_summary(&markdown::markdown(report, Target::Summary)) {
        eprintln!(
            "warning: cannot write the job summary: {}",
            plain(&e.to_string())
        );
    }
    if let Err(e) = github::write_outputs(&outputs(report, receipt, &report_path)) {
        eprintln!(
            "warning: cannot write the step's outputs: {}",
            plain(&e.to_string())
        );
    }
    Ok(())
}

/// Running as a step of a GitHub Actions job, where the log runs workflow commands.
fn on_github() -> bool {
    std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")
}

/// Text for the log: fenced by `::stop-commands::` on GitHub, as it is elsewhere.
fn fenced(text: String) -> String {
    if on_github() {
        annotations::stop_commands(&text)
    } else {
        text
    }
}

fn context(inputs: &Inputs) -> Result<Context, String> {
    if inputs.token.is_none() {
        return Err("no github-token input; pass `github-token: ${{ github.token }}`".into());
    }
    let mut ctx = Context::from_env(inputs.token.clone())?;
    ctx.comment_author = inputs.comment_author.clone();
    Ok(ctx)
}

/// Post the comment and the check run. None when all went well (or publishing
/// failed and does not change the exit code), else the exit code to use.
fn publish(inputs: &Inputs, report: &Report, pr: Option<u64>) -> Option<i32> {
    if !inputs.comment && !inputs.check_run {
        return None;
    }
    let ctx = match context(inputs) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warning: not publishing: {}", plain(&e));
            return publish_failed(inputs, report).into();
        }
    };
    let head = report.commit.as_ref().map(|c| c.sha.clone());
    let publication = Publication {
        key: inputs.comment_key.clone(),
        pr_number: pr,
        comment: (inputs.comment && pr.is_some())
            .then(|| markdown::markdown(report, Target::Comment)),
        check: match (inputs.check_run, head) {
            (true, Some(head_sha)) => Some(check_run(report, &inputs.comment_key, head_sha)),
            _ => None,
        },
    };
    let published = github::publish(&ctx, &publication);
    let mut failed = false;
    for (what, outcome) in [
        ("comment", &published.comment),
        ("check run", &published.check),
    ] {
        match outcome {
            Posted::Created(id) => eprintln!("[receipt-action] {what} {id} created"),
            Posted::Updated(id) => eprintln!("[receipt-action] {what} {id} updated"),
            Posted::Unchanged(id) => {
                eprintln!("[receipt-action] {what} {id} unchanged; not rewritten")
            }
            Posted::Skipped(why) => {
                eprintln!("[receipt-action] {what} skipped: {}", plain(why))
            }
            Posted::Failed(e) => {
                failed = true;
                println!(
                    "::warning title=receipt-action could not publish the {what}::{}",
                    annotations::data(&format!(
                        "{e} (the report is in the job summary and report.json)"
                    ))
                );
            }
        }
    }
    if failed {
        return Some(publish_failed(inputs, report));
    }
    None
}

/// Publishing failed: the exit code follows the verdict unless the user asked
/// for publish failures to be fatal.
fn publish_failed(inputs: &Inputs, report: &Report) -> i32 {
    if inputs.fail_on_publish_error {
        EXIT_USAGE.max(report.exit_code)
    } else {
        report.exit_code
    }
}

fn check_run(report: &Report, key: &str, head_sha: String) -> github::CheckRun {
    let all = annotations::annotations(report);
    let hidden = all.len().saturating_sub(CHECK_RUN_CAP);
    let mut summary = markdown::markdown(report, Target::Comment);
    if hidden > 0 {
        summary.push_str(&format!(
            "\n{hidden} more annotations are not attached (at most {CHECK_RUN_CAP} are); every finding is in the job summary and report.json.\n"
        ));
    }
    github::CheckRun {
        name: check_name(key),
        head_sha,
        conclusion: match report.verdict {
            Status::Pass | Status::Warn => github::Conclusion::Success,
            Status::Fail | Status::Error => github::Conclusion::Failure,
            Status::Incomparable | Status::InsufficientEvidence => github::Conclusion::Neutral,
        },
        title: title(report),
        summary,
        text: None,
        annotations: all
            .into_iter()
            .take(CHECK_RUN_CAP)
            .map(|a| github::Annotation {
                path: a.path,
                start_line: a.line,
                end_line: a.line,
                level: match a.level {
                    Level::Deny => github::AnnotationLevel::Failure,
                    Level::Warn => github::AnnotationLevel::Warning,
                    Level::Allow => github::AnnotationLevel::Notice,
                },
                title: a.title,
                message: a.message,
            })
            .collect(),
    }
}

/// "fail: 1 receipt fail, 2 claims unbacked".
fn title(report: &Report) -> String {
    let parts = report.count_phrases(true);
    if parts.is_empty() {
        format!("{}: every receipt and claim checks out", report.verdict)
    } else {
        format!("{}: {}", report.verdict, parts.join(", "))
    }
}

/// The commit judged and the base to scan claims against: for a pull request
/// its head (GITHUB_SHA is the merge commit there) and base.
fn commit_of(event: Option<&Event>) -> (Option<Commit>, Option<String>) {
    match event {
        Some(Event::PullRequest {
            number,
            head_sha,
            base_sha,
            ..
        }) => (
            Some(Commit {
                sha: head_sha.clone(),
                base: Some(base_sha.clone()),
                pull_request: Some(*number),
            }),
            Some(base_sha.clone()),
        ),
        _ => (
            std::env::var("GITHUB_SHA").ok().map(|sha| Commit {
                sha,
                base: None,
                pull_request: None,
            }),
            None,
        ),
    }
}

fn run_ref() -> Option<RunRef> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Some(RunRef {
        server_url: var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
        repository: var("GITHUB_REPOSITORY")?,
        run_id: var("GITHUB_RUN_ID")?,
        run_attempt: var("GITHUB_RUN_ATTEMPT"),
        event: var("GITHUB_EVENT_NAME"),
        job: var("GITHUB_JOB"),
    })
}

/// `policy-check publish`: publish a report.json (from a workflow_run job).
#[derive(clap::Parser, Debug)]
pub struct PublishArgs {
    /// report.json, or a directory of downloaded artifacts holding report.json files.
    #[arg(long)]
    pub report: PathBuf,
    /// The sticky comment's key.
    #[arg(long, default_value = "receipt-action")]
    pub key: String,
    /// Exit 2 when the comment or check run cannot be posted.
    #[arg(long)]
    pub fail_on_publish_error: bool,
    /// Where the merged report.json is written.
    #[arg(long, default_value = "receipt-action")]
    pub output_dir: PathBuf,
}

/// The same as the action's publish mode, from flags; the token from GITHUB_TOKEN.
pub fn publish_command(args: PublishArgs) -> i32 {
    let mut map = std::collections::HashMap::new();
    map.insert("INPUT_MODE".to_string(), "publish".to_string());
    map.insert("INPUT_REPORT".into(), args.report.display().to_string());
    map.insert("INPUT_COMMENT-KEY".into(), args.key);
    map.insert(
        "INPUT_OUTPUT-DIR".into(),
        args.output_dir.display().to_string(),
    );
    map.insert(
        "INPUT_FAIL-ON-PUBLISH-ERROR".into(),
        args.fail_on_publish_error.to_string(),
    );
    if let Ok(token) = std::env::var("GITHUB_TOKEN") {
        map.insert("INPUT_GITHUB-TOKEN".into(), token);
    }
    let inputs = match Inputs::read(|k| map.get(k).cloned()) {
        Ok(i) => i,
        Err(errors) => return input_errors(&errors),
    };
    let event = match Event::from_env() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {}", lines(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    publish_mode(&inputs, Some(&event))
}

/// The request the action's `release` mode makes from its inputs: the
/// receipts, policy and tag inputs, the fresh receipt in `output-dir`.
fn release_request(inputs: &Inputs, root: &Path) -> release::ReleaseRequest {
    release::ReleaseRequest {
        root: root.to_path_buf(),
        policy: inputs.policy.clone(),
        receipts: inputs.receipts.clone(),
        measure: inputs.measure.clone(),
        receipt_out: super::pipeline::receipt_path(inputs, root),
        tag: inputs.tag.clone(),
        record_baseline: false,
        baseline_name: None,
        now: time::OffsetDateTime::now_utc(),
    }
}

/// Every bad input, each with its fix, then where all inputs are documented.
fn input_errors(errors: &[String]) -> i32 {
    for e in errors {
        eprintln!("error: {}", lines(e));
    }
    eprintln!("see docs/action.md for every input and its values");
    EXIT_USAGE
}
