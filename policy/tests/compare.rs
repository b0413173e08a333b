//! The paired comparison with the base, end to end in real git repositories:
//! `policy-check action` in measure mode with `compare: base` and a command
//! engine whose rate each checkout states in `rate.txt`, so the outcome is known
//! in advance; and each bad input the issue lists (unknown ref, shallow clone,
//! a base that does not build, a base without the engine, a worktree a crashed
//! run left dirty), each with its exit code and the working tree untouched.

mod common;

use common::git;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Writes a schema 1.0 receipt whose rate is the checkout's `rate.txt`.
const BENCH: &str = r#"cat > "$RECEIPT_PATH" <<EOF
{"schema_version": "1.0.0", "timestamp": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "compute_path": "real",
 "backend": "cpu", "deterministic": true, "kernels": ["i2s_gemv_avx2", "attention_cpu"],
 "environment": {"BITNET_VERSION": "0.1.0", "OS": "linux", "BITNET_SEED": "42"},
 "model": {"path": "m.gguf"},
 "tokens_requested": 16, "tokens_generated": 16, "tokens_per_second": $(cat rate.txt)}
EOF"#;

/// Judges any CPU receipt by a wide band: these tests are about the comparison.
const POLICY: &str = r#"version = 1
use_defaults = false
[[envelope]]
id = "any-cpu"
when = { backend = "cpu" }
tokens_per_second = { min = 0.001, max = 1000000.0 }
tolerance = "0%"
"#;

/// A repository with `rate.txt` = `base_rate` at its first commit and
/// `head_rate` at its second; returns it and the base sha.
fn repo(base_rate: &str, head_rate: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    std::fs::write(root.join(".gitignore"), "receipt-action/\n").unwrap();
    std::fs::write(root.join("rate.txt"), base_rate).unwrap();
    std::fs::write(root.join("build.sh"), "echo building\n").unwrap();
    std::fs::create_dir_all(root.join("ci")).unwrap();
    std::fs::write(root.join("ci/receipt-policy.toml"), POLICY).unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-qm", "base"]);
    let base = git(root, &["rev-parse", "HEAD"]);
    std::fs::write(root.join("rate.txt"), head_rate).unwrap();
    git(root, &["commit", "-qam", "head"]);
    (dir, base)
}

struct Run {
    code: i32,
    stderr: String,
    report: Option<Value>,
}

/// `policy-check action` in measure mode, comparing with `base`.
fn compare(repo: &Path, base: &str, extra: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_policy-check"));
    cmd.arg("action")
        .current_dir(repo)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("INPUT_MODE", "measure")
        .env("INPUT_ENGINE", "command")
        .env("INPUT_BUILD-COMMAND", "sh build.sh")
        .env("INPUT_BENCH-COMMAND", BENCH)
        .env("INPUT_COMPARE", "base")
        .env("INPUT_BASE", base)
        .env("INPUT_CLAIMS", "false");
    for (k, v) in extra {
        cmd.env(format!("INPUT_{}", k.to_ascii_uppercase()), v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report = std::fs::read_to_string(repo.join("receipt-action/report.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    Run {
        code: out.status.code().expect("exited"),
        stderr,
        report,
    }
}

fn comparison(run: &Run) -> &Value {
    &run.report.as_ref().expect("a report")["comparison"]
}

fn status(repo: &Path) -> String {
    git(repo, &["status", "--porcelain"])
}

#[test]
fn a_ten_percent_drop_is_a_regression_measured_in_abba_pairs() {
    let (dir, base) = repo("10.0", "9.0");
    let before = status(dir.path());
    let run = compare(dir.path(), &base, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let c = comparison(&run);
    assert_eq!(c["status"], "fail", "{c:#}");
    assert_eq!(c["outcome"], "regression");
    assert_eq!(c["stopped"], "decided");
    assert!((c["change"].as_f64().unwrap() + 0.1).abs() < 1e-9, "{c:#}");
    let pairs = c["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 6, "the first pair count a 95% interval needs");
    let order: Vec<bool> = pairs
        .iter()
        .map(|p| p["head_first"].as_bool().unwrap())
        .collect();
    assert_eq!(order, [false, true, false, true, false, true]);
    assert!(c["message"].as_str().unwrap().contains("-10.0%"), "{c:#}");
    // Every run's receipt is kept; the working tree is as it was.
    assert!(
        dir.path()
            .join("receipt-action/compare/base-06.json")
            .is_file()
    );
    assert!(
        dir.path()
            .join("receipt-action/compare/head-06.json")
            .is_file()
    );
    assert_eq!(status(dir.path()), before);
    assert_eq!(run.report.as_ref().unwrap()["verdict"], "fail");
    // The comment leads with the answer: the verdict, then the change with its
    // interval, then the receipts; the pairs are kept, folded.
    let (code, markdown, err) = common::policy_check_in(
        dir.path(),
        &[
            "report",
            "--report",
            "receipt-action/report.json",
            "--format",
            "markdown",
        ],
    );
    assert_eq!(code, 1, "{err}");
    // The headline (and the check run's title) name it first.
    assert!(
        markdown.contains("**decode -10.0% vs base: regression · "),
        "{markdown}"
    );
    let against = markdown.find("Against the base").expect(&markdown);
    assert!(
        against < markdown.find("### Receipts").unwrap(),
        "{markdown}"
    );
    assert!(
        // The message is prose: its brackets are escaped, so they link nothing.
        markdown.contains(r"decode -10.0% \[-10.0%, -10.0%\] vs base"),
        "{markdown}"
    );
    assert!(
        markdown.contains("6 pairs, base and head interleaved (ABBA)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| 2 | head, base | 10 | 9 | -10.0% |"),
        "{markdown}"
    );
}

#[test]
fn the_same_rate_is_no_change_and_passes() {
    let (dir, base) = repo("10.0", "10.00");
    let run = compare(dir.path(), &base, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(comparison(&run)["outcome"], "no-change");
}

#[test]
fn an_unknown_ref_is_a_usage_error() {
    let (dir, _) = repo("10.0", "9.0");
    let run = compare(dir.path(), "no-such-branch", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("`no-such-branch`"), "{}", run.stderr);
    assert!(run.stderr.contains("fetch"), "{}", run.stderr);
}

#[test]
fn a_shallow_clone_without_the_base_says_fetch_depth() {
    let (dir, base) = repo("10.0", "9.0");
    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    git(
        clone.path(),
        &["clone", "-q", "--depth", "1", &url, "shallow"],
    );
    let shallow = clone.path().join("shallow");
    let run = compare(&shallow, &base, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("shallow"), "{}", run.stderr);
    assert!(run.stderr.contains("fetch-depth: 0"), "{}", run.stderr);
}

#[test]
fn a_base_that_does_not_build_is_incomparable_and_says_why() {
    let (dir, _) = repo("10.0", "9.0");
    let root = dir.path();
    // The base of this comparison breaks the build; the head mends it.
    std::fs::write(
        root.join("build.sh"),
        "echo 'error: missing header' >&2; exit 1\n",
    )
    .unwrap();
    git(root, &["commit", "-qam", "broken build"]);
    let broken = git(root, &["rev-parse", "HEAD"]);
    std::fs::write(root.join("build.sh"), "echo building\n").unwrap();
    git(root, &["commit", "-qam", "fixed build"]);
    let before = status(root);
    let run = compare(root, &broken, &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let c = comparison(&run);
    assert_eq!(c["status"], "incomparable");
    let message = c["message"].as_str().unwrap();
    assert!(message.contains("did not build"), "{message}");
    assert!(message.contains("missing header"), "{message}");
    assert_eq!(status(root), before);
}

#[test]
fn a_base_without_the_builtin_engine_is_incomparable_before_any_build() {
    let (dir, base) = repo("10.0", "9.0");
    let root = dir.path();
    std::fs::create_dir_all(root.join("engine")).unwrap();
    std::fs::write(
        root.join("engine/Cargo.toml"),
        "[package]\nname = \"bitnet-engine\"\n",
    )
    .unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-qm", "add the engine"]);
    // The built-in engine for the main measurement: the one this crate built.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_policy-check"));
    let out = cmd
        .args([
            "run",
            "--no-claims",
            "--model",
            "synthetic:tiny",
            "--tokens",
            "16",
            "--runs",
            "1",
        ])
        .args(["--compare", &base])
        .current_dir(root)
        .env("BITNET_ENGINE", common::bitnet_engine())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("receipt-action/report.json")).unwrap(),
    )
    .unwrap();
    let message = report["comparison"]["message"].as_str().unwrap();
    assert!(
        message.contains("has no engine/ (this change adds it)"),
        "{message}"
    );
    assert!(!stderr.contains("cargo build"), "{stderr}");
}

#[test]
fn a_worktree_a_crashed_run_left_dirty_is_reset_to_the_base() {
    let (dir, base) = repo("10.0", "9.0");
    let root = dir.path();
    // What a run killed mid-way leaves: the worktree, with a change in it.
    let git_dir = root.join(".git/receipt-action/base");
    std::fs::create_dir_all(git_dir.parent().unwrap()).unwrap();
    git(
        root,
        &[
            "worktree",
            "add",
            "-q",
            "--detach",
            git_dir.to_str().unwrap(),
            "HEAD",
        ],
    );
    std::fs::write(git_dir.join("rate.txt"), "1.0").unwrap();
    std::fs::write(git_dir.join("stray.txt"), "left behind").unwrap();
    let run = compare(root, &base, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let c = comparison(&run);
    assert_eq!(c["outcome"], "regression", "{c:#}");
    assert_eq!(c["pairs"][0]["base"], 10.0);
    assert!(!git_dir.join("stray.txt").exists());
}
