//! The bad-input catalogue (issue 18): every hostile input the adversarial pass
//! found, and more, each run through the real `policy-check` binary with its
//! expected error class and exit code. Each run has a deadline, so an input that
//! hangs the tool fails here instead of hanging CI; no run may panic.

mod common;

use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const DEADLINE: Duration = Duration::from_secs(60);

/// Run a command to its end; fails the test if it runs past the deadline (a
/// hang). Returns its exit code and stdout followed by stderr.
fn bounded(mut command: Command) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("{command:?} hung for {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status.code(), out)
}

/// Run policy-check in `dir`; fails the test on a hang, a panic, or a leak of
/// the environment.
fn run_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_policy-check"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RECEIPT_CANARY", "canary-4f1d9a");
    let (code, out) = bounded(command);
    assert!(!out.contains("panicked"), "{args:?}: {out}");
    assert!(
        !out.contains("canary-4f1d9a"),
        "{args:?} printed the environment: {out}"
    );
    (code.expect("exited, not killed"), out)
}

fn recent() -> String {
    (OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&Rfc3339)
        .unwrap()
}

/// A v1.1 receipt that passes every gate and the built-in cpu envelope.
fn honest() -> Value {
    let samples = [15.1, 15.3, 15.2, 15.4, 15.0];
    json!({
        "schema_version": "1.1.0",
        "timestamp": recent(),
        "compute_path": "real",
        "backend": "cpu",
        "deterministic": true,
        "kernels": ["i2s_gemv_avx2", "attention_cpu", "rmsnorm", "rope_neox", "lm_head_f16"],
        "kernel_stats": [
            {"id": "i2s_gemv_avx2", "calls": 26880, "total_ns": 40_000_000_000u64},
            {"id": "attention_cpu", "calls": 3840, "total_ns": 100_000_000},
            {"id": "rmsnorm", "calls": 15488, "total_ns": 50_000_000},
            {"id": "rope_neox", "calls": 3840, "total_ns": 10_000_000},
            {"id": "lm_head_f16", "calls": 128, "total_ns": 2_000_000_000u64}
        ],
        "environment": {"BITNET_SEED": "42"},
        "tokens_requested": 128,
        "tokens_generated": 128,
        "tokens_per_second": 15.2,
        "measurement": {
            "warmup_runs": 1, "timed_runs": 5, "samples_tokens_per_second": samples,
            "median": 15.2, "min": 15.0, "max": 15.4, "cv": 0.0093,
            "prompt_tokens": 32, "decode_tokens": 128, "wall_ms": 45000.0
        },
        "model": {"source": "synthetic", "preset": "2b-4t", "format": "i2s",
                  "hidden": 2560, "vocab": 128256, "params": 2412820480u64,
                  "bytes_per_token": 1_179_449_920u64},
        "build": {"engine": "bitnet-engine", "engine_version": "0.1.0"},
        "host": {"os": "linux", "arch": "x86_64", "cpu_model": "Test CPU", "threads": 2, "simd": "avx2"},
        "run": {"seed": 42, "strict": true}
    })
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
    name.to_string()
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
}

/// The codes `check --format json` found on one receipt.
fn check_codes(dir: &Path, receipt: &Value) -> (i32, Vec<String>) {
    let name = write(dir, "r.json", receipt);
    let (code, out) = run_in(dir, &["check", "--format", "json", &name]);
    let json_start = out.find('{').unwrap_or_else(|| panic!("no JSON: {out}"));
    let doc: Value = serde_json::Deserializer::from_str(&out[json_start..])
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let codes = doc["verdicts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    (code, codes)
}

#[test]
fn the_honest_receipt_passes_so_each_case_below_fails_for_its_own_reason() {
    let dir = TempDir::new().unwrap();
    let (code, codes) = check_codes(dir.path(), &honest());
    assert_eq!((code, codes), (0, Vec::<String>::new()));
}

/// Lies that passed `check` at production level before: each is now a deny
/// finding with its own code, and `check` exits 1.
#[test]
fn lies_that_passed_check_now_fail_with_their_own_code() {
    type Edit = fn(&mut Value);
    let cases: &[(&str, Edit, &[&str])] = &[
        (
            "Cyrillic о in mock",
            |r| r["kernels"][0] = "mоck_gemv".into(),
            &["mock-kernel", "kernel-id-invalid"],
        ),
        (
            "full-width mock",
            |r| r["kernels"][0] = "ｍｏｃｋ_gemv".into(),
            &["mock-kernel", "kernel-id-invalid"],
        ),
        (
            "zero-width in an id",
            |r| r["kernels"][1] = "attention\u{200b}_cpu".into(),
            &["kernel-id-invalid"],
        ),
        (
            "trailing space in an id",
            |r| r["kernels"][1] = "attention_cpu ".into(),
            &["kernel-id-invalid"],
        ),
        (
            "newline in an id",
            |r| r["kernels"][1] = "attention_cpu\n::error::x".into(),
            &["kernel-id-invalid"],
        ),
        (
            "made-up fake kernel",
            |r| r["kernels"][1] = "i2s_gemv_fake_simulated".into(),
            &["mock-kernel"],
        ),
        (
            "stub kernel",
            |r| r["kernels"][1] = "StubAttention".into(),
            &["mock-kernel"],
        ),
        (
            "look-alike backend",
            |r| r["backend"] = "сpu".into(),
            &["backend-unknown"],
        ),
        (
            "backend with a trailing space",
            |r| r["backend"] = "cpu ".into(),
            &["backend-unknown"],
        ),
        (
            "mock switch in the environment",
            |r| r["environment"]["BITNET_MOCK"] = "1".into(),
            &["mock-environment"],
        ),
        (
            "bytes_per_token = 1",
            |r| r["model"]["bytes_per_token"] = 1.into(),
            &["bytes-per-token-implausible"],
        ),
        (
            "wall_ms = 1e300",
            |r| r["measurement"]["wall_ms"] = 1e300.into(),
            &["wall-time-implausible"],
        ),
        (
            "a 1-token run",
            |r| {
                r["tokens_requested"] = 1.into();
                r["tokens_generated"] = 1.into();
                r["measurement"]["decode_tokens"] = 1.into();
                r["measurement"]["wall_ms"] = 400.0.into();
            },
            &["too-few-tokens"],
        ),
        (
            "a hollow v1.1",
            |r| {
                let o = r.as_object_mut().unwrap();
                o.insert("build".into(), json!({}));
                o.insert("host".into(), json!({}));
                o.remove("measurement");
                o.remove("kernel_stats");
            },
            &["evidence-missing"],
        ),
    ];
    let dir = TempDir::new().unwrap();
    for (name, edit, expected) in cases {
        let mut r = honest();
        edit(&mut r);
        let (code, codes) = check_codes(dir.path(), &r);
        assert_eq!(code, 1, "{name}: {codes:?}");
        for e in *expected {
            assert!(
                codes.iter().any(|c| c == e),
                "{name}: expected {e} in {codes:?}"
            );
        }
    }
}

/// Inputs that hung the tool (FIFOs, devices, link loops) or were read without
/// bound: each is refused or walked past in well under the deadline.
#[test]
fn pipes_devices_and_link_loops_never_hang() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    mkfifo(&d.join("pipe.json"));
    mkfifo(&d.join("pipe.toml"));
    let cases: &[(&[&str], i32, &str)] = &[
        (&["verify", "pipe.json"], 2, "FIFO"),
        (&["check", "--policy", "pipe.toml", "x.json"], 2, "FIFO"),
        (&["report", "--report", "pipe.json"], 2, "FIFO"),
        (&["verify", "--model", "pipe.json", "x.json"], 2, "FIFO"),
        (&["check", "--policy", "/dev/zero", "x.json"], 2, "device"),
        (&["verify", "--model", "/dev/zero", "x.json"], 2, "device"),
    ];
    write(d, "x.json", &honest());
    for (args, code, says) in cases {
        let (got, out) = run_in(d, args);
        assert_eq!(got, *code, "{args:?}: {out}");
        assert!(out.contains(says), "{args:?}: {out}");
    }

    // A verified directory holding a FIFO and two `ln -s . x` loops: the walk
    // ends, the FIFO is passed over, the one receipt is checked once.
    let tree = d.join("tree");
    std::fs::create_dir(&tree).unwrap();
    write(&tree, "r.json", &honest());
    mkfifo(&tree.join("p.json"));
    std::os::unix::fs::symlink(".", tree.join("x")).unwrap();
    std::os::unix::fs::symlink(".", tree.join("y")).unwrap();
    let (code, out) = run_in(d, &["verify", "--format", "json", "tree"]);
    assert_eq!(code, 0, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["receipts"].as_array().unwrap().len(), 1, "{out}");
    let (code, out) = run_in(d, &["verify", "--format", "json", "tree/**/*.json"]);
    assert_eq!(code, 0, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["receipts"].as_array().unwrap().len(), 1, "{out}");
}

/// The implicit ci/receipt-policy.toml: only a missing file means "built-in";
/// a dangling link, a directory or a link out of the repository is an error,
/// and the file a link points at outside is never printed.
#[test]
fn the_implicit_policy_is_never_silently_replaced_or_read_from_outside() {
    let cases: &[(&str, &str)] = &[
        ("dangling", "file not found"),
        ("directory", "directory"),
        ("outside", "resolves outside"),
    ];
    for (kind, says) in cases {
        let dir = TempDir::new().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("ci")).unwrap();
        let policy = d.join("ci/receipt-policy.toml");
        match *kind {
            "dangling" => std::os::unix::fs::symlink("missing.toml", &policy).unwrap(),
            "directory" => std::fs::create_dir(&policy).unwrap(),
            _ => std::os::unix::fs::symlink("/proc/self/environ", &policy).unwrap(),
        }
        write(d, "x.json", &honest());
        let (code, out) = run_in(d, &["check", "x.json"]);
        assert_eq!(code, 2, "{kind}: {out}");
        assert!(
            out.contains(says) && out.contains("ci/receipt-policy.toml"),
            "{kind}: {out}"
        );
    }
}

/// In the action, the `policy` input names a file in the checked-out code: a
/// link from there to the runner's files is refused before it is read.
#[test]
fn the_action_never_reads_a_policy_linked_out_of_the_workspace() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("ci")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", d.join("ci/p.toml")).unwrap();
    write(d, "x.json", &honest());
    let mut child = Command::new(env!("CARGO_BIN_EXE_policy-check"));
    child
        .arg("action")
        .current_dir(d)
        .env("RECEIPT_CANARY", "canary-4f1d9a")
        .env("INPUT_MODE", "verify")
        .env("INPUT_RECEIPTS", "x.json")
        .env("INPUT_POLICY", "ci/p.toml");
    let out = child.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("resolves outside"), "{text}");
    assert!(!text.contains("canary-4f1d9a"), "{text}");
}

/// A policy line echoed under a syntax error never carries an escape sequence.
#[test]
fn a_policy_error_echoes_its_line_without_control_characters() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("p.toml"),
        "version = 1
max_age = \"\u{1b}]8;;http://evil\u{7}x\"\nbad = \u{1b}[2J\n",
    )
    .unwrap();
    write(d, "x.json", &honest());
    let (code, out) = run_in(d, &["check", "--policy", "p.toml", "x.json"]);
    assert_eq!(code, 2, "{out}");
    assert!(!out.contains('\u{1b}'), "{out:?}");
}

/// Numbers a user types are parsed with checked arithmetic: too large is a usage
/// error, never an overflow panic.
#[test]
fn huge_ages_are_usage_errors() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    write(d, "x.json", &honest());
    let (code, out) = run_in(d, &["verify", "--max-age", "20000000000000w", "x.json"]);
    assert_eq!(code, 2, "{out}");
    std::fs::write(
        d.join("p.toml"),
        "version = 1\nmax_age = \"200000000000000d\"\n",
    )
    .unwrap();
    let (code, out) = run_in(d, &["check", "--policy", "p.toml", "x.json"]);
    assert_eq!(code, 2, "{out}");
}

/// Writes never clobber or follow a link: `baseline chart --out` keeps an
/// existing file unless --force; `policy init` never writes through a symlink.
#[test]
fn writes_refuse_existing_files_and_symlinks() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    write(d, "x.json", &honest());
    let (code, out) = run_in(d, &["baseline", "record", "x.json"]);
    assert_eq!(code, 0, "{out}");
    std::fs::write(d.join("keep.svg"), "mine").unwrap();
    let (code, out) = run_in(d, &["baseline", "chart", "--out", "keep.svg"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("already exists") && out.contains("--force"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(d.join("keep.svg")).unwrap(), "mine");
    let (code, out) = run_in(d, &["baseline", "chart", "--out", "keep.svg", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        std::fs::read_to_string(d.join("keep.svg"))
            .unwrap()
            .starts_with("<svg")
    );

    let outside = TempDir::new().unwrap();
    let target = outside.path().join("victim.toml");
    std::fs::write(&target, "victim").unwrap();
    std::fs::create_dir(d.join("ci")).unwrap();
    std::os::unix::fs::symlink(&target, d.join("ci/receipt-policy.toml")).unwrap();
    let (code, out) = run_in(d, &["policy", "init", "--force"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("symbolic link"), "{out}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "victim");
}

/// A report.json from an artifact is judged again: a forged `"verdict": "pass"`
/// beside a receipt that fails renders as the failure it is, and a receipt the
/// artifact does not carry cannot pass.
#[test]
fn a_forged_report_verdict_is_not_trusted() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let mut lying = honest();
    lying["kernels"][0] = "mock_gemv".into();
    lying["kernel_stats"][0]["id"] = "mock_gemv".into();
    write(d, "receipt.json", &lying);
    let (_, out) = run_in(d, &["check", "--format", "json", "receipt.json"]);
    assert!(out.contains("mock-kernel"), "{out}");
    // A report that says pass, with the findings removed.
    let report = json!({
        "format": "receipt-action/report/2",
        "verdict": "pass",
        "exit_code": 0,
        "generated_at": recent(),
        "tool": {"name": "policy-check", "version": "0.1.0"},
        "policy": {"path": "<built-in>", "sha256": "0".repeat(64)},
        "receipts": [{"path": "receipt-action/receipt.json", "status": "pass", "findings": []}],
        "claims": [],
        "notes": []
    });
    write(d, "report.json", &report);
    let (code, out) = run_in(d, &["report", "--report", "report.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("mock-kernel"), "{out}");

    std::fs::remove_file(d.join("receipt.json")).unwrap();
    let (code, out) = run_in(d, &["report", "--report", "report.json"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("does not carry this receipt"), "{out}");
}

/// A report the tool writes is one it reads back: a 1,100-character model path
/// is cut to the schema's cap with a marker, not written whole and then refused.
#[test]
fn an_overlong_receipt_string_still_makes_a_readable_report() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let mut long = honest();
    long["model"]["path"] = "m/".repeat(550).into();
    write(d, "long.json", &long);
    let out = Command::new(env!("CARGO_BIN_EXE_policy-check"))
        .args([
            "run",
            "--model",
            "synthetic:tiny",
            "--tokens",
            "16",
            "--runs",
            "1",
        ])
        .args([
            "--receipts",
            "long.json",
            "--no-claims",
            "--output-dir",
            "out",
        ])
        .current_dir(d)
        .env("BITNET_ENGINE", common::bitnet_engine())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(d.join("out/report.json").is_file(), "{text}");
    let (code, out) = run_in(
        d,
        &["report", "--report", "out/report.json", "--format", "json"],
    );
    assert_ne!(code, 2, "{out}");
    assert!(out.contains("… [truncated]"), "{out}");
}

/// Committed docs that are links to a device or out of the repository are
/// skipped with why, never read (a link to /dev/zero read whole never ends).
#[test]
fn docs_linked_to_a_device_or_out_of_the_repository_are_skipped_not_read() {
    let outside = TempDir::new().unwrap();
    let secret = outside.path().join("notes.md");
    std::fs::write(&secret, "canary-4f1d9a runs at 99 tok/s\n").unwrap();
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    common::git(d, &["init", "-q"]);
    std::fs::create_dir(d.join("docs")).unwrap();
    std::fs::write(d.join("README.md"), "# Demo\n").unwrap();
    std::os::unix::fs::symlink("/dev/zero", d.join("docs/zero.md")).unwrap();
    std::os::unix::fs::symlink(&secret, d.join("docs/leak.md")).unwrap();
    common::git(d, &["add", "-A"]);
    common::git(d, &["commit", "-qm", "docs"]);
    let (code, out) = run_in(d, &["claims", "--filter", "all"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("docs/zero.md") && out.contains("docs/leak.md"),
        "{out}"
    );
    assert!(out.contains("skipped"), "{out}");
    assert!(!out.contains("99 tok/s"), "{out}");
}

/// The engine refuses a pipe or a device as its model instead of blocking on it.
#[test]
fn the_engine_refuses_a_fifo_or_device_model() {
    let dir = TempDir::new().unwrap();
    let fifo = dir.path().join("model.gguf");
    mkfifo(&fifo);
    for model in [fifo.to_str().unwrap(), "/dev/zero"] {
        let mut command = Command::new(common::bitnet_engine());
        command
            .args(["bench", "--model", model, "--tokens", "16", "--receipt"])
            .arg(dir.path().join("r.json"));
        let (code, err) = bounded(command);
        assert_eq!(code, Some(1), "{model}: {err}"); // a bad model (docs/engine.md)
        assert!(err.contains("not a regular file"), "{model}: {err}");
    }
}
