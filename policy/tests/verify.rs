//! End-to-end runs of `policy-check verify` on receipts written to a temp dir:
//! the seed plan's lies each caught by their own code, every kind of bad input a
//! clear finding or error (never a panic), and the documented exit codes.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn policy_check(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_policy-check"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("policy-check runs");
    (
        out.status.code().expect("exited, not killed by a signal"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn recent() -> String {
    (OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&Rfc3339)
        .unwrap()
}

/// The seed plan's `ci/inference.json`, dated an hour ago.
fn plan_receipt() -> Value {
    let mut v: Value =
        serde_json::from_str(include_str!("fixtures/plan-v1.0.json")).expect("fixture is JSON");
    v["timestamp"] = recent().into();
    v
}

/// A consistent v1.1 receipt: rate = median of samples, roofline from bandwidth.
fn v11_receipt() -> Value {
    let samples = [15.1, 15.3, 15.2, 15.4, 15.0];
    let bytes_per_token: u64 = 1_179_449_920;
    let bw = 25.0;
    let roofline = bw * 1e9 / bytes_per_token as f64;
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
        "model": {"source": "synthetic", "preset": "2b-4t", "format": "i2s", "bytes_per_token": bytes_per_token},
        "build": {"engine": "bitnet-engine", "engine_version": "0.1.0"},
        "host": {"os": "linux", "arch": "x86_64", "threads": 2, "simd": "avx2"},
        "calibration": {"mem_bw_gbps": bw, "roofline_tokens_per_second": roofline, "roofline_fraction": 15.2 / roofline},
        "run": {"seed": 42, "strict": true}
    })
}

struct Dir(TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(TempDir::new().unwrap())
    }
    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn json(&self, name: &str, v: &Value) -> PathBuf {
        self.write(name, serde_json::to_vec_pretty(v).unwrap())
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Verify one receipt as JSON output; returns the exit code and its findings' codes.
fn verify_value(v: &Value) -> (i32, Vec<String>, Value) {
    let dir = Dir::new();
    let p = dir.json("receipt.json", v);
    verify_paths(&[s(&p)])
}

fn verify_paths(paths: &[&str]) -> (i32, Vec<String>, Value) {
    let mut args = vec!["verify", "--format", "json"];
    args.extend_from_slice(paths);
    let (code, out, err) = policy_check(&args);
    assert!(!err.contains("panicked"), "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let codes = doc["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap().clone())
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    (code, codes, doc)
}

#[test]
fn plan_shaped_v1_0_receipt_passes_with_no_findings() {
    let (code, codes, doc) = verify_value(&plan_receipt());
    assert_eq!((code, codes), (0, vec![]));
    assert_eq!(doc["status"], "pass");
    assert_eq!(doc["format"], "policy-check/verify/1");
}

#[test]
fn consistent_v1_1_receipt_passes_and_round_trips() {
    let (code, codes, _) = verify_value(&v11_receipt());
    assert_eq!((code, codes), (0, vec![]));
}

#[test]
fn zero_rate_stamped_real_fails_with_the_consistency_code() {
    let mut r = plan_receipt();
    r["tokens_per_second"] = json!(0.0);
    assert_eq!(verify_value(&r).0, 1);
    assert_eq!(verify_value(&r).1, vec!["nonpositive-rate"]);
}

#[test]
fn mock_kernel_fails_with_the_mock_code() {
    let mut r = plan_receipt();
    r["kernels"] = json!(["mock_inference"]);
    let (code, codes, doc) = verify_value(&r);
    assert_eq!(code, 1);
    assert!(codes.contains(&"mock-kernel".to_string()), "{codes:?}");
    let f = &doc["receipts"][0]["findings"][0];
    assert_eq!(f["place"]["pointer"], "/kernels/0");
    assert!(f["fix"].as_str().unwrap().len() > 10);
}

#[test]
fn cuda_backend_with_only_cpu_kernels_fails_with_the_gpu_kernel_code() {
    let mut r = plan_receipt();
    r["backend"] = json!("cuda");
    let (code, codes, _) = verify_value(&r);
    assert_eq!((code, codes), (1, vec!["missing-gpu-kernel".to_string()]));
}

#[test]
fn gpu_kernel_on_a_cpu_receipt_without_quantized_kernel_fails() {
    let mut r = plan_receipt();
    r["kernels"] = json!(["gemm_fp16", "attention_real"]);
    let (code, codes, _) = verify_value(&r);
    assert_eq!(code, 1);
    assert_eq!(
        codes,
        vec!["gpu-kernel-on-cpu", "missing-quantized-cpu-kernel"]
    );
}

#[test]
fn require_gpu_kernels_flag_applies_to_any_backend() {
    let dir = Dir::new();
    let p = dir.json("r.json", &plan_receipt());
    let (code, out, _) = policy_check(&["verify", "--require-gpu-kernels", s(&p)]);
    assert_eq!(code, 1);
    assert!(out.contains("missing-gpu-kernel"), "{out}");
}

#[test]
fn fallback_only_kernels_fail() {
    let mut r = plan_receipt();
    r["kernels"] = json!(["dequant_i2s", "matmul_f32", "attention_real"]);
    assert_eq!(verify_value(&r).1, vec!["fallback-only"]);
}

#[test]
fn v1_1_rate_that_is_not_the_median_of_its_samples_fails() {
    let mut r = v11_receipt();
    r["tokens_per_second"] = json!(30.0);
    let roofline = 60.0e9 / 1_179_449_920.0;
    r["calibration"] = json!({"mem_bw_gbps": 60.0, "roofline_tokens_per_second": roofline,
        "roofline_fraction": 30.0 / roofline});
    let (code, codes, _) = verify_value(&r);
    assert_eq!(
        (code, codes),
        (1, vec!["rate-disagrees-with-samples".into()])
    );
}

#[test]
fn v1_1_roofline_fraction_above_1_05_fails() {
    let mut r = v11_receipt();
    r["calibration"]["mem_bw_gbps"] = json!(10.0);
    let roofline = 10.0e9 / 1_179_449_920.0;
    r["calibration"]["roofline_tokens_per_second"] = json!(roofline);
    r["calibration"]["roofline_fraction"] = json!(15.2 / roofline);
    let (code, codes, _) = verify_value(&r);
    assert_eq!((code, codes), (1, vec!["roofline-exceeded".into()]));
}

#[test]
fn v1_1_summary_statistics_wall_time_and_kernel_stats_are_cross_checked() {
    let mut r = v11_receipt();
    r["measurement"]["max"] = json!(99.0);
    r["measurement"]["wall_ms"] = json!(1000.0);
    r["kernel_stats"][4]["id"] = json!("lm_head_f32");
    r["calibration"]["roofline_tokens_per_second"] = json!(500.0);
    let (_, codes, _) = verify_value(&r);
    assert_eq!(
        codes,
        vec![
            "measurement-inconsistent",
            "rate-exceeds-wall-time",
            "kernel-stats-mismatch",
            "calibration-inconsistent",
            "calibration-inconsistent"
        ]
    );
}

#[test]
fn deterministic_without_a_seed_fails_and_duplicate_kernels_warn() {
    let mut r = plan_receipt();
    r["environment"]
        .as_object_mut()
        .unwrap()
        .remove("BITNET_SEED");
    r["kernels"] = json!(["i2s_gemv", "i2s_gemv"]);
    let (code, codes, _) = verify_value(&r);
    assert_eq!(code, 1);
    assert_eq!(
        codes,
        vec!["duplicate-kernel", "deterministic-without-seed"]
    );
    let mut r = plan_receipt();
    r["kernels"] = json!(["i2s_gemv", "i2s_gemv"]);
    let (code, codes, doc) = verify_value(&r);
    assert_eq!((code, codes), (0, vec!["duplicate-kernel".to_string()]));
    assert_eq!(doc["status"], "warn");
}

#[test]
fn tokens_short_and_implausible_rates_fail() {
    let mut r = plan_receipt();
    r["tokens_generated"] = json!(4);
    assert_eq!(verify_value(&r).1, vec!["tokens-short"]);
    let mut r = plan_receipt();
    r["tokens_per_second"] = json!(1e300);
    assert_eq!(verify_value(&r).1, vec!["rate-implausible"]);
    let mut r = plan_receipt();
    r["tokens_per_second"] = json!(-3.5);
    assert_eq!(verify_value(&r).1, vec!["nonpositive-rate"]);
}

#[test]
fn kernel_list_abuse_is_caught() {
    let mut r = plan_receipt();
    r["kernels"] = json!([]);
    assert_eq!(verify_value(&r).1, vec!["kernels-empty"]);
    let mut r = plan_receipt();
    r["kernels"] = json!(["i2s_gemv", " ", "x".repeat(129)]);
    assert_eq!(
        verify_value(&r).1,
        vec!["kernel-id-empty", "kernel-id-too-long"]
    );
    let mut r = plan_receipt();
    let many: Vec<String> = (0..10_001).map(|i| format!("i2s_k{i}")).collect();
    r["kernels"] = json!(many);
    assert_eq!(verify_value(&r).1, vec!["too-many-kernels"]);
}

#[test]
fn missing_environment_keys_are_named() {
    let mut r = plan_receipt();
    r["environment"] = json!({"BITNET_SEED": "1"});
    let (_, codes, doc) = verify_value(&r);
    assert_eq!(
        codes,
        vec!["missing-environment-key", "missing-environment-key"]
    );
    let text = doc.to_string();
    assert!(text.contains("BITNET_VERSION") && text.contains("environment.OS"));
    let mut r = v11_receipt();
    r.as_object_mut().unwrap().remove("host");
    assert_eq!(verify_value(&r).1, vec!["missing-environment-key"]);
}

#[test]
fn timestamps_in_the_future_without_zone_unparseable_or_stale() {
    let cases = [
        ("2999-01-01T00:00:00Z", "timestamp-in-future"),
        ("2025-10-23T00:39:09", "timestamp-invalid"),
        ("yesterday", "timestamp-invalid"),
        ("2020-01-01T00:00:00Z", "stale-receipt"),
    ];
    for (ts, expected) in cases {
        let mut r = plan_receipt();
        r["timestamp"] = json!(ts);
        let (code, codes, _) = verify_value(&r);
        assert_eq!(codes, vec![expected], "{ts}");
        let want = if expected == "stale-receipt" { 0 } else { 1 };
        assert_eq!(code, want, "{ts}");
    }
    let dir = Dir::new();
    let mut r = plan_receipt();
    r["timestamp"] = json!("2020-01-01T00:00:00Z");
    let p = dir.json("old.json", &r);
    assert_eq!(policy_check(&["verify", "--max-age", "none", s(&p)]).0, 0);
    let (code, _, err) = policy_check(&["verify", "--max-age", "soon", s(&p)]);
    assert_eq!(code, 2);
    assert!(err.contains("--max-age"), "{err}");
}

#[test]
fn wrong_types_for_every_field_are_schema_violations_at_their_pointer() {
    let wrong: &[(&str, Value)] = &[
        ("/timestamp", json!(1761179949)),
        ("/compute_path", json!(true)),
        ("/backend", json!(["cpu"])),
        ("/deterministic", json!("yes")),
        ("/kernels", json!("i2s_gemv")),
        ("/environment", json!(["OS=linux"])),
        ("/model", json!("m.gguf")),
        ("/tokens_requested", json!(12.5)),
        ("/tokens_generated", json!("128")),
        ("/tokens_per_second", json!("15.3")),
        ("/measurement", json!([15.3])),
        ("/kernel_stats", json!({"i2s_gemv": 1})),
        ("/build", json!("abc")),
        ("/host", json!(2)),
        ("/calibration", json!("fast")),
        ("/run", json!(null)),
    ];
    for (pointer, value) in wrong {
        let mut r = v11_receipt();
        r[&pointer[1..]] = value.clone();
        let (code, codes, doc) = verify_value(&r);
        assert_eq!(code, 1, "{pointer}");
        assert!(!codes.is_empty(), "{pointer}");
        let findings = doc["receipts"][0]["findings"].as_array().unwrap();
        assert!(
            findings.iter().all(|f| f["place"]["pointer"] == *pointer),
            "{pointer}: {findings:?}"
        );
    }
}

#[test]
fn negative_and_huge_counts_are_schema_violations() {
    for value in [json!(-1), json!(1e30), json!(18446744073709551615u64)] {
        let mut r = plan_receipt();
        r["tokens_requested"] = value.clone();
        let (code, codes, _) = verify_value(&r);
        assert_eq!(
            (code, codes),
            (1, vec!["schema-violation".into()]),
            "{value}"
        );
    }
}

#[test]
fn unknown_or_missing_schema_version() {
    let mut r = plan_receipt();
    r["schema_version"] = json!("2.0");
    assert_eq!(verify_value(&r).1, vec!["unknown-schema-version"]);
    r.as_object_mut().unwrap().remove("schema_version");
    assert_eq!(verify_value(&r).1, vec!["unknown-schema-version"]);
    r["schema_version"] = json!(1.0);
    assert_eq!(verify_value(&r).1, vec!["unknown-schema-version"]);
    // "1.0" is the flat shape too
    let mut r = plan_receipt();
    r["schema_version"] = json!("1.0");
    assert_eq!(verify_value(&r).0, 0);
}

#[test]
fn malformed_files_get_structure_findings_never_a_panic() {
    let dir = Dir::new();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let dup =
        br#"{"schema_version": "1.0.0", "tokens_per_second": 1.0, "tokens_per_second": 150.0}"#;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.json", vec![], "empty-file"),
        ("text.json", b"tokens: 15".to_vec(), "invalid-json"),
        ("array.json", b"[{}]".to_vec(), "not-an-object"),
        ("string.json", b"\"receipt\"".to_vec(), "not-an-object"),
        (
            "binary.json",
            (0u8..=255).cycle().take(2048).collect(),
            "invalid-utf8",
        ),
        ("gguf.json", b"GGUF\x03\0\0\0\0\0".to_vec(), "invalid-json"),
        (
            "latin1.json",
            b"{\"os\": \"caf\xe9\"}".to_vec(),
            "invalid-utf8",
        ),
        ("deep.json", deep.into_bytes(), "nesting-too-deep"),
        (
            "nan.json",
            br#"{"tokens_per_second": NaN}"#.to_vec(),
            "invalid-json",
        ),
        (
            "inf.json",
            br#"{"tokens_per_second": Infinity}"#.to_vec(),
            "invalid-json",
        ),
    ];
    for (name, bytes, expected) in cases {
        let p = dir.write(name, &bytes);
        let (code, codes, doc) = verify_paths(&[s(&p)]);
        assert_eq!((code, codes), (1, vec![expected.to_string()]), "{name}");
        let message = doc["receipts"][0]["findings"][0]["message"]
            .as_str()
            .unwrap();
        assert!(!message.is_empty(), "{name}");
    }
    // duplicate keys are reported, and the gates still run on the rest
    let mut r = plan_receipt();
    r["tokens_per_second"] = json!(1.0);
    let text =
        serde_json::to_string(&r)
            .unwrap()
            .replacen('{', r#"{"tokens_per_second": 150.0,"#, 1);
    let p = dir.write("dup.json", text);
    let (code, codes, doc) = verify_paths(&[s(&p)]);
    assert_eq!((code, codes), (1, vec!["duplicate-key".to_string()]));
    assert_eq!(
        doc["receipts"][0]["findings"][0]["place"]["pointer"],
        "/tokens_per_second"
    );
    let p = dir.write("dup2.json", dup);
    assert!(
        verify_paths(&[s(&p)])
            .1
            .contains(&"schema-violation".to_string())
    );
}

#[test]
fn a_100_mb_file_is_refused_unread() {
    let dir = Dir::new();
    let p = dir.0.path().join("huge.json");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap(); // sparse: no 100 MB written
    let (code, codes, doc) = verify_paths(&[s(&p)]);
    assert_eq!((code, codes), (1, vec!["file-too-large".to_string()]));
    assert!(doc.to_string().contains("16777216"));
}

#[test]
fn unreadable_inputs_among_valid_ones_exit_2_and_the_valid_ones_are_still_checked() {
    let dir = Dir::new();
    let good = dir.json("good.json", &plan_receipt());
    let sub = dir.0.path().join("sub.json");
    std::fs::create_dir(&sub).unwrap();
    let missing = dir.0.path().join("missing.json");
    let under_file = good.join("x.json"); // ENOTDIR: a path that can never be read
    let glob_none = format!("{}/*.nomatch", dir.0.path().display());
    let (code, _, doc) =
        verify_paths(&[s(&good), s(&missing), s(&under_file), &glob_none, s(&good)]);
    assert_eq!(code, 2);
    let statuses: Vec<&str> = doc["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["pass", "error", "error", "error", "pass"]);
    assert_eq!(doc["receipts"][1]["error"]["message"], "file not found");
    // a directory expands to the receipts inside it
    std::fs::write(
        sub.join("inner.json"),
        serde_json::to_vec(&plan_receipt()).unwrap(),
    )
    .unwrap();
    let (code, _, doc) = verify_paths(&[s(&sub)]);
    assert_eq!(code, 0);
    assert!(
        doc["receipts"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("inner.json")
    );
}

#[test]
fn globs_expand_and_results_keep_input_order() {
    let dir = Dir::new();
    let mut bad = plan_receipt();
    bad["compute_path"] = json!("mock");
    dir.json("a.json", &plan_receipt());
    dir.json("b.json", &bad);
    let pattern = format!("{}/*.json", dir.0.path().display());
    let (code, codes, doc) = verify_paths(&[&pattern]);
    assert_eq!(code, 1);
    assert_eq!(codes, vec!["compute-path-not-real"]);
    assert!(
        doc["receipts"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("a.json")
    );
    assert_eq!(doc["counts"]["pass"], 1);
    assert_eq!(doc["counts"]["fail"], 1);
}

#[test]
fn model_hash_is_checked_against_the_model_file() {
    let dir = Dir::new();
    let model = dir.write("model.gguf", b"GGUF not really a model");
    let sha = "c2b96b8e5c3e6a84ab7a5e20aa0dfa7e4d6ba1b9fb7caa2f2d2a3b5d8a4c1e01";
    let mut r = v11_receipt();
    r["model"]["sha256"] = json!(sha);
    let p = dir.json("r.json", &r);
    let (code, out, _) = policy_check(&["verify", "--model", s(&model), s(&p)]);
    assert_eq!(code, 1);
    assert!(out.contains("model-hash-mismatch"), "{out}");
    let (code, _, err) = policy_check(&["verify", "--model", "/no/such/model", s(&p)]);
    assert_eq!(code, 2);
    assert!(err.contains("/no/such/model"), "{err}");
}

#[test]
fn text_output_reads_at_a_glance() {
    let dir = Dir::new();
    let mut bad = plan_receipt();
    bad["kernels"] = json!(["mock_inference"]);
    let good = dir.json("good.json", &plan_receipt());
    let badp = dir.json("bad.json", &bad);
    let (code, out, _) = policy_check(&["verify", s(&good), s(&badp)]);
    assert_eq!(code, 1);
    assert!(out.starts_with("PASS "), "{out}");
    assert!(out.contains("FAIL  "), "{out}");
    assert!(out.contains("deny mock-kernel at /kernels/0"), "{out}");
    assert!(out.contains("fix: "), "{out}");
    assert!(out.contains("2 receipts: 1 pass, 1 fail"), "{out}");
    assert!(!out.contains('\x1b'), "no colour when not a terminal");
}

#[test]
fn explain_and_schema_commands() {
    let (code, out, _) = policy_check(&["explain", "mock-kernel"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("mock-kernel (honesty gate, default level deny)"),
        "{out}"
    );
    assert!(out.contains("mock_inference"));
    let (code, _, err) = policy_check(&["explain", "mock-kernal"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `mock-kernel`"), "{err}");
    let (code, out, _) = policy_check(&["explain"]);
    assert_eq!(code, 0);
    assert!(out.lines().count() >= 30);
    // Every code the list names is explained: gate, envelope, claim outcome,
    // unreadable receipt and policy-file codes.
    for listed in out.lines() {
        let name = listed.split_whitespace().next().unwrap();
        let (code, text, err) = policy_check(&["explain", name]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(text.starts_with(name), "{name}: {text}");
    }
    for name in [
        "policy-syntax",
        "unreadable-receipt",
        "unbacked",
        "accepted",
    ] {
        assert!(out.lines().any(|l| l.starts_with(name)), "{name}: {out}");
    }
    for version in ["1.0", "1.1"] {
        let (code, out, _) = policy_check(&["schema", "receipt", "--version", version]);
        assert_eq!(code, 0);
        let schema: Value = serde_json::from_str(&out).unwrap();
        assert!(
            schema["$id"]
                .as_str()
                .unwrap()
                .contains(&format!("v{version}"))
        );
    }
    assert_eq!(policy_check(&["schema", "receipt", "--version", "9"]).0, 2);
    assert_eq!(policy_check(&["verify"]).0, 2);
    assert_eq!(policy_check(&["no-such-command"]).0, 2);
}

#[test]
fn shipped_example_receipt_verifies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan-v1.0.json");
    let (code, out, _) = policy_check(&["verify", "--max-age", "none", s(&root)]);
    assert_eq!(code, 0, "{out}");
}
