//! `policy-check action` end to end, run as the runner runs it: `INPUT_*`
//! variables, GitHub's own example pull_request payload adjusted to a temp
//! repository's commits, job summary and output files, the built-in engine on
//! `synthetic:tiny`, and the stateful GitHub fake.
#![cfg(feature = "github")]

mod common;
// The fake is shared with the github suite, which uses all of it.
#[allow(dead_code)]
#[path = "github/fake.rs"]
mod fake;

use common::git;
use fake::Fake;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// An envelope that the tiny synthetic model passes on any machine: the test is
/// about the action's plumbing, not this host's speed.
const POLICY: &str = r#"version = 1
[[envelope]]
id = "cpu-tiny"
when = { backend = "cpu", "model.preset" = "tiny", "model.format" = "i2s" }
tokens_per_second = { min = 1.0, max = 1000000.0 }
tolerance = "0%"
kernels = { require = ["i2s_gemv*", "attention_*"], forbid = ["*mock*"] }
deterministic = true
"#;

/// GitHub's first example payload of `name` with `action`.
fn example(name: &str, action: &str) -> Value {
    let path = common::npm_fixture("@octokit/webhooks-examples/api.github.com/index.json");
    let text = std::fs::read_to_string(path).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap()["examples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == action)
        .unwrap()
        .clone()
}

/// GitHub's example `pull_request` `opened` payload, pointed at our commits.
fn pr_event(number: u64, base: &str, head: &str, head_repo: &str) -> Value {
    let mut event = example("pull_request", "opened");
    event["number"] = number.into();
    let pr = &mut event["pull_request"];
    pr["number"] = number.into();
    pr["head"]["sha"] = head.into();
    pr["base"]["sha"] = base.into();
    pr["base"]["repo"]["full_name"] = fake::REPO.into();
    pr["head"]["repo"]["full_name"] = head_repo.into();
    pr["head"]["repo"]["fork"] = (head_repo != fake::REPO).into();
    event["repository"]["full_name"] = fake::REPO.into();
    event
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    summary: String,
    outputs: String,
}

/// Run the action in `repo` with `inputs`, for `event`, against `fake`.
fn action(repo: &Path, fake: &Fake, event: &Value, inputs: &[(&str, &str)]) -> Run {
    policy_check(repo, fake, event, &["action"], inputs)
}

/// Run `policy-check <args>` as a workflow step would.
fn policy_check(
    repo: &Path,
    fake: &Fake,
    event: &Value,
    args: &[&str],
    inputs: &[(&str, &str)],
) -> Run {
    let files = tempfile::tempdir().unwrap();
    let event_path = files.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let summary = files.path().join("summary.md");
    let outputs = files.path().join("outputs.txt");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_policy-check"));
    cmd.args(args)
        .current_dir(repo)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", repo)
        .env(
            "GITHUB_EVENT_NAME",
            if event.get("workflow_run").is_some() {
                "workflow_run"
            } else if event.get("release").is_some() {
                "release"
            } else {
                "pull_request"
            },
        )
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_API_URL", fake.server.uri())
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", fake::REPO)
        .env("GITHUB_RUN_ID", "77")
        .env("GITHUB_SHA", "0000000000000000000000000000000000000000")
        .env("GITHUB_TOKEN", "test-token")
        .env("BITNET_ENGINE", common::bitnet_engine())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .env("INPUT_MODEL", "synthetic:tiny")
        .env("INPUT_TOKENS", "16")
        .env("INPUT_RUNS", "3")
        .env("INPUT_GITHUB-TOKEN", "test-token")
        .env("INPUT_POLICY", "ci/receipt-policy.toml");
    for (k, v) in inputs {
        cmd.env(format!("INPUT_{}", k.to_ascii_uppercase()), v);
    }
    let out = cmd.output().unwrap();
    let run = Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        outputs: std::fs::read_to_string(&outputs).unwrap_or_default(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

/// A repository whose head adds one unbacked claim to its README.
fn repo_with_claim() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    std::fs::create_dir_all(root.join("ci")).unwrap();
    std::fs::write(root.join("ci/receipt-policy.toml"), POLICY).unwrap();
    std::fs::write(root.join("README.md"), "# Demo\n\nA fast engine.\n").unwrap();
    std::fs::write(root.join(".gitignore"), "receipt-action/\n").unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-qm", "base"]);
    let base = git(root, &["rev-parse", "HEAD"]);
    std::fs::write(
        root.join("README.md"),
        "# Demo\n\nA fast engine.\n\nIt decodes 35 tok/s on a laptop.\n",
    )
    .unwrap();
    git(root, &["commit", "-qam", "claim"]);
    let head = git(root, &["rev-parse", "HEAD"]);
    (dir, base, head)
}

fn output(run: &Run, name: &str) -> String {
    let prefix = format!("{name}=");
    run.outputs
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no output {name} in {}", run.outputs))
        .to_string()
}

#[test]
fn pr_with_an_unbacked_claim_fails_then_passes_in_the_same_comment() {
    let (dir, base, head) = repo_with_claim();
    let fake = Fake::start();
    let run = action(
        dir.path(),
        &fake,
        &pr_event(5, &base, &head, fake::REPO),
        &[],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    {
        let s = fake.state();
        assert_eq!(s.comments.len(), 1, "{:?}", s.log);
        assert_eq!(s.comments[0].pr, 5);
        assert!(
            s.comments[0].body.contains("35 tok/s"),
            "{}",
            s.comments[0].body
        );
        // compare: auto skips a change that touches no engine input, in one line.
        assert!(
            s.comments[0].body.contains(
                "Not compared with the base: this change touches none of the engine's inputs"
            ),
            "{}",
            s.comments[0].body
        );
        assert_eq!(s.checks.len(), 1);
        let check = &s.checks[0];
        assert_eq!(
            check.head_sha, head,
            "the check run goes on the PR head, not GITHUB_SHA"
        );
        assert_eq!(check.conclusion, "failure");
        let claim = check
            .annotations
            .iter()
            .find(|a| a["path"] == "README.md")
            .expect("an annotation on the claim");
        assert_eq!(claim["start_line"], 5);
    }
    assert_eq!(output(&run, "verdict"), "fail");
    assert_eq!(output(&run, "unbacked-claims"), "1");
    let rate = output(&run, "tokens-per-second");
    assert!(
        rate.parse::<f64>().is_ok_and(|r| r > 0.0),
        "{rate}: {}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.summary.starts_with("## ❌ Performance receipts: fail"),
        "{}",
        run.summary
    );
    assert!(
        run.stdout.contains("::error file=README.md,line=5"),
        "{}",
        run.stdout
    );
    let report = dir.path().join(output(&run, "report-path"));
    assert!(report.is_file(), "{}", report.display());
    assert!(dir.path().join(output(&run, "receipt-path")).is_file());

    // Fix the claim: the same comment is updated and the run passes.
    std::fs::write(
        dir.path().join("README.md"),
        "# Demo\n\nA fast engine.\n\nIt decodes 35 tok/s on a laptop. <!-- receipt-ignore: a user's report, not our measurement -->\n",
    )
    .unwrap();
    git(dir.path(), &["commit", "-qam", "fix claim"]);
    let fixed = git(dir.path(), &["rev-parse", "HEAD"]);
    let run = action(
        dir.path(),
        &fake,
        &pr_event(5, &base, &fixed, fake::REPO),
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let s = fake.state();
    assert_eq!(
        s.comments.len(),
        1,
        "updated in place, not a second comment"
    );
    assert!(
        s.comments[0].body.contains("Performance receipts: pass"),
        "{}",
        s.comments[0].body
    );
    assert_eq!(s.checks.len(), 2, "a check run per head commit");
    assert_eq!(s.checks[1].conclusion, "success");
}

#[test]
fn fork_with_a_read_only_token_still_writes_its_report_and_exits_by_the_verdict() {
    let (dir, base, head) = repo_with_claim();
    let fake = Fake::start();
    fake.state().read_only = true;
    let event = pr_event(9, &base, &head, "someone/fork");
    let run = action(dir.path(), &fake, &event, &[]);
    assert_eq!(
        run.code, 1,
        "the verdict's code, not a crash: {}",
        run.stderr
    );
    assert!(run.stdout.contains("read-only"), "{}", run.stdout);
    assert!(run.summary.contains("35 tok/s"));
    assert!(dir.path().join("receipt-action/report.json").is_file());

    // Measure mode: no API calls at all; receipts and report for upload.
    let writes_before = fake.state().log.len();
    let run = action(dir.path(), &fake, &event, &[("mode", "measure")]);
    assert_eq!(run.code, 1);
    assert_eq!(
        fake.state().log.len(),
        writes_before,
        "measure talks to no API"
    );
    assert!(dir.path().join("receipt-action/receipt.json").is_file());
    assert!(dir.path().join("receipt-action/report.json").is_file());
    // With fail-on-publish-error the failed publish is fatal.
    let run = action(
        dir.path(),
        &fake,
        &event,
        &[("fail-on-publish-error", "true")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn a_command_engine_writing_a_mock_receipt_fails_the_honesty_gates_and_says_why() {
    let (dir, base, head) = repo_with_claim();
    let fake = Fake::start();
    let bench = r#"cat > "$RECEIPT_PATH" <<'EOF'
{"schema_version": "1.0.0", "timestamp": "2026-01-01T00:00:00Z", "compute_path": "mock",
 "backend": "cpu", "kernels": ["mock_gemv"], "tokens_per_second": 100.0}
EOF"#;
    let run = action(
        dir.path(),
        &fake,
        &pr_event(3, &base, &head, fake::REPO),
        &[("engine", "command"), ("bench-command", bench)],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let s = fake.state();
    let body = &s.comments[0].body;
    assert!(
        body.contains("mock-compute-path") || body.contains("mock-kernel"),
        "{body}"
    );
    assert!(body.contains("Why receipts did not pass"), "{body}");
}

#[test]
fn a_bench_command_that_writes_nothing_fails_with_its_last_lines() {
    let (dir, base, head) = repo_with_claim();
    let fake = Fake::start();
    let run = action(
        dir.path(),
        &fake,
        &pr_event(4, &base, &head, fake::REPO),
        &[
            ("engine", "command"),
            (
                "bench-command",
                "echo compiling; echo 'segfault in kernel' >&2; exit 3",
            ),
            ("claims", "false"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.summary.contains("segfault in kernel"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("bench-command failed"),
        "{}",
        run.summary
    );
}

#[test]
fn bad_inputs_are_all_reported_with_exit_2() {
    let (dir, base, head) = repo_with_claim();
    let fake = Fake::start();
    let run = action(
        dir.path(),
        &fake,
        &pr_event(4, &base, &head, fake::REPO),
        &[("mode", "deploy"), ("tokens", "many")],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("input `mode`") && run.stderr.contains("input `tokens`"),
        "{}",
        run.stderr
    );
    assert_eq!(fake.state().log.len(), 0);
}

/// GitHub's example `workflow_run` `completed` payload for a fork's run at `head`.
fn workflow_run_event(head: &str) -> Value {
    let mut event = example("workflow_run", "completed");
    event["workflow_run"]["head_sha"] = head.into();
    event["workflow_run"]["event"] = "pull_request".into();
    event["workflow_run"]["head_repository"]["full_name"] = "someone/fork".into();
    event["workflow_run"]["repository"]["full_name"] = fake::REPO.into();
    event["repository"]["full_name"] = fake::REPO.into();
    event
}

#[test]
fn publish_posts_a_forks_report_found_by_head_sha_and_refuses_a_foreign_one() {
    let (dir, base, head) = repo_with_claim();
    let fake = Fake::start();
    // The fork's job: measure, no token needed, report uploaded.
    let run = action(
        dir.path(),
        &fake,
        &pr_event(9, &base, &head, "someone/fork"),
        &[("mode", "measure"), ("github-token", "")],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(fake.state().log.len(), 0);

    // The workflow_run job: the default branch's policy and the downloaded
    // artifact (the whole output-dir), nothing else.
    let publisher = tempfile::tempdir().unwrap();
    let artifact = publisher.path().join("artifacts/receipt-action-linux");
    std::fs::create_dir_all(&artifact).unwrap();
    std::fs::create_dir_all(publisher.path().join("ci")).unwrap();
    std::fs::copy(
        dir.path().join("ci/receipt-policy.toml"),
        publisher.path().join("ci/receipt-policy.toml"),
    )
    .unwrap();
    for name in ["report.json", "receipt.json"] {
        std::fs::copy(
            dir.path().join("receipt-action").join(name),
            artifact.join(name),
        )
        .unwrap();
    }
    fake.state().pulls.push((9, head.clone()));
    let run = action(
        publisher.path(),
        &fake,
        &workflow_run_event(&head),
        &[("mode", "publish"), ("report", "artifacts")],
    );
    assert_eq!(run.code, 1, "the report's verdict: {}", run.stderr);
    {
        let s = fake.state();
        assert_eq!(s.comments.len(), 1, "{:?}", s.log);
        assert_eq!(s.comments[0].pr, 9, "the PR found from the head sha");
        assert!(s.comments[0].body.contains("35 tok/s"));
        assert_eq!(s.checks[0].head_sha, head);
    }

    // The same through `policy-check publish`: the comment is unchanged.
    let run = policy_check(
        publisher.path(),
        &fake,
        &workflow_run_event(&head),
        &["publish", "--report", "artifacts"],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("unchanged"), "{}", run.stderr);
    assert_eq!(fake.state().comments.len(), 1);

    // An artifact for another commit is refused before anything is posted.
    let writes = fake.state().writes();
    let other = "1".repeat(40);
    let run = action(
        publisher.path(),
        &fake,
        &workflow_run_event(&other),
        &[("mode", "publish"), ("report", "artifacts")],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("refusing to publish"), "{}", run.stderr);
    assert_eq!(fake.state().writes(), writes);

    // A report that is not a report is refused with its place.
    std::fs::write(artifact.join("report.json"), "{\"format\": 3}").unwrap();
    let run = action(
        publisher.path(),
        &fake,
        &workflow_run_event(&head),
        &[("mode", "publish"), ("report", "artifacts")],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("report.json") && run.stderr.contains("schema"),
        "{}",
        run.stderr
    );
}

#[test]
fn insufficient_evidence_is_measured_again_confirm_runs_times() {
    let (dir, base, head) = repo_with_claim();
    let receipt = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../engine/receipts/bench-2b-4t-i2s-threads1.json");
    // A band whose lower edge falls inside the receipt's median interval (for
    // 3 to 5 samples, min..max): the verdict cannot be decided from them.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&receipt).unwrap()).unwrap();
    let samples: Vec<f64> = doc["measurement"]["samples_tokens_per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (lo, hi) = samples
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    assert!(lo < hi && samples.len() <= 5, "{samples:?}");
    std::fs::write(
        dir.path().join("ci/receipt-policy.toml"),
        format!(
            r#"version = 1
[receipt]
max_age = "none"
[[envelope]]
id = "edge"
when = {{ backend = "cpu", "model.preset" = "2b-4t", "model.format" = "i2s" }}
tokens_per_second = {{ min = {}, max = 1000.0 }}
tolerance = "0%"
deterministic = true
"#,
            (lo + hi) / 2.0
        ),
    )
    .unwrap();
    let count = dir.path().join("bench-count");
    let bench = format!(
        "cp '{}' \"$RECEIPT_PATH\" && echo run >> '{}'",
        receipt.display(),
        count.display()
    );
    let fake = Fake::start();
    let run = action(
        dir.path(),
        &fake,
        &pr_event(6, &base, &head, fake::REPO),
        &[
            ("engine", "command"),
            ("bench-command", &bench),
            ("confirm-runs", "2"),
            ("claims", "false"),
            ("comment", "false"),
            ("check-run", "false"),
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let runs = std::fs::read_to_string(&count).unwrap().lines().count();
    assert_eq!(runs, 3, "one measurement and two confirmations");
    assert_eq!(output(&run, "verdict"), "insufficient-evidence");
    assert!(
        run.summary.contains("re-measured 2 time(s)"),
        "{}",
        run.summary
    );
}

#[test]
fn release_mode_runs_the_gate_and_puts_its_checklist_in_the_report() {
    let (dir, _base, _head) = repo_with_claim();
    let fake = Fake::start();
    let event = example("release", "published");
    let run = action(
        dir.path(),
        &fake,
        &event,
        &[("mode", "release"), ("tag", "1.2")],
    );
    // No baseline yet, a tag that is not semver and the README's bare claim:
    // three items fail; the fresh measurement passes.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.summary.contains("### Release gate: fail"),
        "{}",
        run.summary
    );
    for item in [
        "| ✅ | fresh-measurement |",
        "| ❌ | claims |",
        "| ❌ | baseline |",
        "| ❌ | tag |",
    ] {
        assert!(run.summary.contains(item), "{item} in {}", run.summary);
    }
    assert_eq!(output(&run, "verdict"), "fail");
    let receipt = dir.path().join(output(&run, "receipt-path"));
    assert!(
        receipt.is_file(),
        "the receipt to attest: {}",
        receipt.display()
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(output(&run, "report-path"))).unwrap(),
    )
    .unwrap();
    assert_eq!(report["release_gate"]["status"], "fail");
    assert_eq!(fake.state().log.len(), 0, "the gate posts nothing");
}

#[test]
fn a_shallow_checkout_without_the_base_says_fetch_depth_in_the_summary_with_exit_2() {
    let (dir, _base, head) = repo_with_claim();
    let fake = Fake::start();
    let missing = "2".repeat(40);
    let run = action(
        dir.path(),
        &fake,
        &pr_event(8, &missing, &head, fake::REPO),
        &[("engine", "command"), ("bench-command", "true")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.summary.contains("could not judge"), "{}", run.summary);
    assert!(run.summary.contains("fetch-depth: 0"), "{}", run.summary);
    assert_eq!(fake.state().log.len(), 0);
}
