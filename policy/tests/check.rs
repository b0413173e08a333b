//! End-to-end runs of `policy-check check` and `policy-check policy`: the
//! issue's hand-computed band edges, median intervals, MVP labelling, kernel
//! rules, every kind of bad policy (exit 2, file:line:column, a fix), and the
//! published policy schema.

mod common;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

struct Dir(TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(TempDir::new().unwrap())
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn json(&self, name: &str, v: &Value) -> String {
        self.write(name, serde_json::to_vec_pretty(v).unwrap())
            .to_str()
            .unwrap()
            .to_string()
    }
    /// Run policy-check in this directory (so no ci/receipt-policy.toml is picked up by accident).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        common::policy_check_in(self.path(), args)
    }
    /// `check --format json` on receipts; returns the exit code and the document.
    fn check(&self, receipts: &[String], policy: Option<&str>) -> (i32, Value) {
        let mut args = vec!["check", "--format", "json"];
        if let Some(p) = policy {
            args.extend(["--policy", p]);
        }
        args.extend(receipts.iter().map(String::as_str));
        let (code, out, err) = self.run(&args);
        let doc = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
        (code, doc)
    }
}

fn recent() -> String {
    (OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&Rfc3339)
        .unwrap()
}

/// A v1.1 receipt that passes every gate: the rate is the median of `samples`
/// (or one sample of `rate` when `samples` is empty), wall time and cv consistent.
fn receipt(backend: &str, format: &str, kernels: &[&str], rate: f64, samples: &[f64]) -> Value {
    let mut r = json!({
        "schema_version": "1.1.0",
        "timestamp": recent(),
        "compute_path": "real",
        "backend": backend,
        "deterministic": backend == "cpu",
        "kernels": kernels,
        "kernel_stats": kernels.iter().map(|k| json!({"id": k, "calls": 10, "total_ns": 1000})).collect::<Vec<_>>(),
        "environment": {"BITNET_SEED": "42"},
        "tokens_requested": 16,
        "tokens_generated": 16,
        "tokens_per_second": rate,
        "model": {"source": "synthetic", "preset": "2b-4t", "format": format},
        "build": {"engine": "bitnet-engine", "engine_version": "0.1.0"},
        "host": {"os": "linux", "arch": "x86_64", "threads": 2, "simd": "avx2"},
        "run": {"seed": 42, "strict": true}
    });
    let single = [rate];
    let samples = if samples.is_empty() {
        &single[..]
    } else {
        samples
    };
    {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let mean = samples.iter().sum::<f64>() / n as f64;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let wall_ms: f64 = samples.iter().map(|s| 16.0 / s * 1000.0).sum::<f64>() * 1.001;
        r["tokens_per_second"] = median.into();
        r["measurement"] = json!({
            "warmup_runs": 1, "timed_runs": n, "samples_tokens_per_second": samples,
            "median": median, "min": sorted[0], "max": sorted[n - 1], "cv": var.sqrt() / mean,
            "prompt_tokens": 4, "decode_tokens": 16, "wall_ms": wall_ms
        });
    }
    r
}

/// The same receipt with `n` decoded tokens per run (wall time to match).
fn with_tokens(mut r: Value, n: u64) -> Value {
    let old = r["measurement"]["decode_tokens"].as_f64().unwrap();
    r["tokens_requested"] = n.into();
    r["tokens_generated"] = n.into();
    r["measurement"]["decode_tokens"] = n.into();
    let wall = r["measurement"]["wall_ms"].as_f64().unwrap() * n as f64 / old;
    r["measurement"]["wall_ms"] = wall.into();
    r
}

const CPU_KERNELS: &[&str] = &["i2s_gemv_avx2", "attention_cpu", "rmsnorm", "rope_neox"];
const GPU_KERNELS: &[&str] = &["i2s_gpu_gemv", "cuda_attention", "cuda_rmsnorm"];
const QK256_KERNELS: &[&str] = &["qk256_scalar_gemv", "attention_cpu", "rmsnorm"];

fn statuses(doc: &Value) -> Vec<String> {
    doc["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap().to_string())
        .collect()
}

fn codes(verdict: &Value) -> Vec<String> {
    verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn cpu_band_edges_are_inclusive_to_the_hundredth() {
    let dir = Dir::new();
    let paths: Vec<String> = [8.5, 23.0, 8.49, 23.01]
        .iter()
        .enumerate()
        .map(|(i, &r)| {
            dir.json(
                &format!("r{i}.json"),
                &receipt("cpu", "i2s", CPU_KERNELS, r, &[]),
            )
        })
        .collect();
    let (code, doc) = dir.check(&paths, None);
    assert_eq!(statuses(&doc), ["pass", "pass", "fail", "fail"], "{doc:#}");
    assert_eq!(code, 1);
    assert_eq!(doc["status"], "fail");
    assert_eq!(doc["verdicts"][0]["rate"]["band"], json!([8.5, 23.0]));
    assert_eq!(codes(&doc["verdicts"][2]), ["rate-below-envelope"]);
    assert_eq!(codes(&doc["verdicts"][3]), ["rate-above-envelope"]);
    assert_eq!(doc["verdicts"][0]["envelope"]["id"], "cpu-i2s");
}

/// `receipt` with calibration: `bandwidth` GB/s measured, 1.18 GB read per
/// token, so the roofline is bandwidth / 1.18 tok/s.
fn calibrated(rate: f64, samples: &[f64], bandwidth: f64) -> Value {
    let mut r = receipt("cpu", "i2s", CPU_KERNELS, rate, samples);
    let bytes_per_token = 1_180_000_000u64;
    let roofline = bandwidth * 1e9 / bytes_per_token as f64;
    let rate = r["tokens_per_second"].as_f64().unwrap();
    r["model"]["bytes_per_token"] = bytes_per_token.into();
    r["calibration"] = json!({
        "mem_bw_gbps": bandwidth,
        "roofline_tokens_per_second": roofline,
        "roofline_fraction": rate / roofline,
    });
    r
}

#[test]
fn calibrated_receipts_are_judged_by_their_roofline_fraction_and_the_band_is_a_reference() {
    let dir = Dir::new();
    let paths = [
        // A fast machine: 25 tok/s, above the 23 tok/s band edge, 0.82 of its roofline.
        calibrated(25.0, &[24.8, 24.9, 25.0, 25.1, 25.2], 36.0),
        // A slow machine: 7 tok/s, below the band, 0.83 of its roofline.
        calibrated(7.0, &[6.9, 6.95, 7.0, 7.05, 7.1], 10.0),
        // A slow code path on a fast machine: 0.09 of the roofline, inside the band.
        calibrated(9.0, &[8.9, 8.95, 9.0, 9.05, 9.1], 118.0),
        // Samples that straddle the 0.3 floor (roofline 10 tok/s).
        calibrated(3.0, &[2.8, 2.9, 3.0, 3.1, 3.2], 11.8),
    ]
    .iter()
    .enumerate()
    .map(|(i, r)| dir.json(&format!("c{i}.json"), r))
    .collect::<Vec<_>>();
    let (code, doc) = dir.check(&paths, None);
    assert_eq!(
        statuses(&doc),
        ["pass", "pass", "fail", "insufficient-evidence"],
        "{doc:#}"
    );
    assert_eq!(code, 1);
    let fast = &doc["verdicts"][0];
    assert_eq!(fast["rate"]["outcome"], "above");
    assert_eq!(fast["rate"]["reference"], true);
    assert_eq!(fast["roofline"]["outcome"], "inside");
    assert_eq!(fast["roofline"]["min"], 0.3);
    assert!((fast["roofline"]["value"].as_f64().unwrap() - 25.0 / (36.0 / 1.18)).abs() < 1e-9);
    assert_eq!(codes(fast), Vec::<String>::new());
    assert_eq!(doc["verdicts"][1]["rate"]["outcome"], "below");
    assert_eq!(codes(&doc["verdicts"][2]), ["roofline-below-envelope"]);
    assert_eq!(codes(&doc["verdicts"][3]), ["roofline-inconclusive"]);
    // The text names both: the judged fraction and the band for reference.
    let (_, out, _) = dir.run(&["check", &paths[0]]);
    assert!(
        out.contains("reference only: judged by the roofline fraction"),
        "{out}"
    );
    assert!(out.contains("roofline fraction: median 0.8"), "{out}");
}

#[test]
fn a_written_in_fraction_does_not_move_the_judgement_and_uncalibrated_receipts_keep_the_band() {
    let dir = Dir::new();
    // The fraction is derived from bandwidth and bytes per token: a receipt that
    // writes a healthy roofline_fraction over a scalar-speed rate still fails
    // (and the consistency gate names the written number).
    let mut lying = calibrated(9.0, &[], 118.0);
    lying["calibration"]["roofline_fraction"] = 0.9.into();
    // Without bandwidth the band judges, edges included, as for schema 1.0.
    let mut fast = calibrated(23.01, &[], 36.0);
    fast["calibration"] = json!({});
    let paths = [dir.json("lying.json", &lying), dir.json("fast.json", &fast)];
    let (_, doc) = dir.check(&paths, None);
    assert_eq!(statuses(&doc), ["fail", "fail"], "{doc:#}");
    assert!(codes(&doc["verdicts"][0]).contains(&"roofline-below-envelope".to_string()));
    assert!(codes(&doc["verdicts"][0]).contains(&"calibration-inconsistent".to_string()));
    assert_eq!(codes(&doc["verdicts"][1]), ["rate-above-envelope"]);
    assert!(doc["verdicts"][1].get("roofline").is_none());
}

#[test]
fn cuda_band_is_37_5_to_125_and_gpu_kernels_are_required() {
    let dir = Dir::new();
    let mut paths: Vec<String> = [37.5, 125.0, 37.49, 125.01]
        .iter()
        .enumerate()
        .map(|(i, &r)| {
            dir.json(
                &format!("r{i}.json"),
                &receipt("cuda", "i2s", GPU_KERNELS, r, &[]),
            )
        })
        .collect();
    // Non-deterministic is allowed on CUDA (receipt() writes deterministic = false for it).
    let mut no_gpu = receipt("cuda", "i2s", GPU_KERNELS, 80.0, &[]);
    no_gpu["kernels"] = json!(["gemm_fallback_cpu"]);
    no_gpu["kernel_stats"] = json!([{"id": "gemm_fallback_cpu", "calls": 1, "total_ns": 1}]);
    paths.push(dir.json("nogpu.json", &no_gpu));
    let (code, doc) = dir.check(&paths, None);
    let s = statuses(&doc);
    assert_eq!(&s[..4], ["pass", "pass", "fail", "fail"], "{doc:#}");
    assert_eq!(doc["verdicts"][0]["rate"]["band"], json!([37.5, 125.0]));
    assert_eq!(doc["verdicts"][0]["envelope"]["id"], "cuda");
    assert_eq!(code, 1);
    // gemm_ is a GPU prefix, so this one passes the gate and the envelope's require glob.
    assert_eq!(s[4], "pass", "{:#}", doc["verdicts"][4]);
}

#[test]
fn five_samples_straddling_the_edge_are_insufficient_evidence_and_shifted_down_pass() {
    let dir = Dir::new();
    let straddle = [22.6, 22.8, 22.9, 23.1, 23.4];
    let p = dir.json(
        "s.json",
        &receipt("cpu", "i2s", CPU_KERNELS, 0.0, &straddle),
    );
    let (code, doc) = dir.check(std::slice::from_ref(&p), None);
    assert_eq!(code, 3, "{doc:#}");
    let v = &doc["verdicts"][0];
    assert_eq!(v["status"], "insufficient-evidence");
    assert_eq!(codes(v), ["rate-inconclusive"]);
    assert_eq!(v["rate"]["interval"], json!([22.6, 23.4]));
    assert_eq!(v["rate"]["confidence"], json!(0.9375));
    assert_eq!(v["rate"]["outcome"], "straddles");

    let shifted: Vec<f64> = straddle.iter().map(|x| x - 5.0).collect();
    let q = dir.json("t.json", &receipt("cpu", "i2s", CPU_KERNELS, 0.0, &shifted));
    let (code, doc) = dir.check(std::slice::from_ref(&q), None);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["verdicts"][0]["status"], "pass");

    // Together the worst wins: insufficient evidence (3); with a failure, fail (1).
    let (code, doc) = dir.check(&[q.clone(), p.clone()], None);
    assert_eq!(
        (code, doc["status"].as_str()),
        (3, Some("insufficient-evidence"))
    );
    let f = dir.json("f.json", &receipt("cpu", "i2s", CPU_KERNELS, 5.0, &[]));
    let (code, _) = dir.check(&[q, p, f], None);
    assert_eq!(code, 1);
}

#[test]
fn qk256_mvp_warns_with_label_and_caps_tokens() {
    let dir = Dir::new();
    let q = with_tokens(receipt("cpu", "qk256", QK256_KERNELS, 0.1, &[]), 8);
    let p = dir.json("q.json", &q);
    let (code, doc) = dir.check(std::slice::from_ref(&p), None);
    assert_eq!(code, 0, "{doc:#}");
    let v = &doc["verdicts"][0];
    assert_eq!(v["status"], "warn");
    assert_eq!(v["envelope"]["id"], "qk256");
    assert_eq!(v["envelope"]["label"], "MVP — not for production");
    assert_eq!(codes(v), ["mvp-envelope"]);
    let (code, text, _) = dir.run(&["check", &p]);
    assert_eq!(code, 0);
    assert!(text.contains("[MVP — not for production]"), "{text}");

    let long = with_tokens(receipt("cpu", "qk256", QK256_KERNELS, 0.1, &[]), 64);
    let p = dir.json("long.json", &long);
    let (code, doc) = dir.check(&[p], None);
    assert_eq!(code, 0, "{doc:#}");
    let v = &doc["verdicts"][0];
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "tokens-over-cap")
        .expect("token cap finding");
    assert_eq!(f["level"], "warn");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("MVP runs are capped"),
        "{f}"
    );
    assert!(f["message"].as_str().unwrap().contains("64 tokens"), "{f}");

    // Far off its band an MVP receipt still only warns, but honesty gates still fail it.
    let mut mock = receipt(
        "cpu",
        "qk256",
        &["qk256_scalar_gemv", "mock_gemv"],
        0.1,
        &[],
    );
    mock["kernel_stats"] = json!([]);
    let p = dir.json("mock.json", &mock);
    let (code, _) = dir.check(&[p], None);
    assert_eq!(code, 1);
}

const KERNEL_POLICY: &str = r#"version = 1
use_defaults = false

[[envelope]]
id = "cpu"
when = { backend = "cpu" }
kernels = { require = ["i2s_gemv*"], forbid = ["fallback_*"] }
tokens_per_second = { min = 10, max = 20 }
"#;

#[test]
fn cpu_kernel_rules_fail_naming_the_rule_and_its_line() {
    let dir = Dir::new();
    let policy = dir.write("policy.toml", KERNEL_POLICY);
    let policy = policy.to_str().unwrap();
    let missing = dir.json(
        "m.json",
        &receipt("cpu", "i2s", &["tq2_gemv_avx2", "attention_cpu"], 15.0, &[]),
    );
    let forbidden = dir.json(
        "f.json",
        &receipt(
            "cpu",
            "i2s",
            &["i2s_gemv_avx2", "fallback_matmul"],
            15.0,
            &[],
        ),
    );
    let (code, doc) = dir.check(&[missing.clone(), forbidden.clone()], Some(policy));
    assert_eq!(code, 1, "{doc:#}");
    let m = &doc["verdicts"][0]["findings"][0];
    assert_eq!(m["code"], "missing-required-kernel");
    assert!(
        m["message"].as_str().unwrap().contains("\"i2s_gemv*\""),
        "{m}"
    );
    assert_eq!(m["rule"], format!("{policy}:7:24"));
    let f = &doc["verdicts"][1]["findings"][0];
    assert_eq!(f["code"], "forbidden-kernel");
    assert_eq!(f["place"]["pointer"], "/kernels/1");
    assert!(
        f["message"].as_str().unwrap().contains("fallback_matmul"),
        "{f}"
    );
    assert_eq!(f["rule"], format!("{policy}:7:48"));
    let (_, text, _) = dir.run(&["check", "--policy", policy, &missing]);
    assert!(text.contains(&format!("rule: {policy}:7:24")), "{text}");
}

#[test]
fn no_match_is_incomparable_unless_the_policy_says_fail() {
    let dir = Dir::new();
    let p = dir.json(
        "r.json",
        &receipt("cpu", "ggml-f16", CPU_KERNELS, 15.0, &[]),
    );
    let (code, doc) = dir.check(std::slice::from_ref(&p), None);
    assert_eq!(
        (code, doc["status"].as_str()),
        (3, Some("incomparable")),
        "{doc:#}"
    );
    assert_eq!(codes(&doc["verdicts"][0]), ["no-matching-envelope"]);
    let policy = dir.write(
        "p.toml",
        "version = 1\n[receipt]\nlevels = { no-matching-envelope = \"deny\" }\n",
    );
    let (code, doc) = dir.check(&[p], Some(policy.to_str().unwrap()));
    assert_eq!((code, doc["status"].as_str()), (1, Some("fail")), "{doc:#}");
}

#[test]
fn every_verdict_records_the_policy_sha256_and_gates_use_policy_settings() {
    let dir = Dir::new();
    let text =
        "version = 1\n[receipt]\nmax_age = \"90d\"\nlevels = { duplicate-kernel = \"deny\" }\n";
    let policy = dir.write("p.toml", text);
    let sha: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut old = receipt("cpu", "i2s", CPU_KERNELS, 15.0, &[]);
    old["timestamp"] = (OffsetDateTime::now_utc() - time::Duration::days(45))
        .format(&Rfc3339)
        .unwrap()
        .into();
    let mut dup = receipt("cpu", "i2s", CPU_KERNELS, 15.0, &[]);
    dup["kernels"] = json!([
        "i2s_gemv_avx2",
        "attention_cpu",
        "rmsnorm",
        "rope_neox",
        "rmsnorm"
    ]);
    let paths = [dir.json("old.json", &old), dir.json("dup.json", &dup)];
    // Default policy: 45 days is stale (30d), the duplicate only warns.
    let (_, doc) = dir.check(&paths, None);
    assert!(
        codes(&doc["verdicts"][0]).contains(&"stale-receipt".to_string()),
        "{doc:#}"
    );
    // The policy's max_age and levels reach the gates.
    let (code, doc) = dir.check(&paths, Some(policy.to_str().unwrap()));
    assert_eq!(statuses(&doc), ["pass", "fail"], "{doc:#}");
    assert_eq!(code, 1);
    assert_eq!(doc["policy"]["sha256"], sha);
    for v in doc["verdicts"].as_array().unwrap() {
        assert_eq!(v["policy_sha256"], sha);
    }
    assert!(doc["policy"]["defaults_sha256"].is_string());
}

#[test]
fn unreadable_inputs_and_bad_receipts_are_reported_beside_the_others() {
    let dir = Dir::new();
    let good = dir.json("g.json", &receipt("cpu", "i2s", CPU_KERNELS, 15.0, &[]));
    let bad = dir
        .write("b.json", "{not json")
        .to_str()
        .unwrap()
        .to_string();
    let (code, doc) = dir.check(&[good, bad, "missing.json".into()], None);
    assert_eq!(statuses(&doc), ["pass", "fail", "error"], "{doc:#}");
    assert_eq!(code, 2);
}

#[test]
fn policy_init_writes_a_starter_and_refuses_to_overwrite() {
    let dir = Dir::new();
    let (code, _, _) = dir.run(&["policy", "init"]);
    assert_eq!(code, 0);
    let written = std::fs::read_to_string(dir.path().join("ci/receipt-policy.toml")).unwrap();
    assert!(written.contains("version = 1") && written.contains("# "));
    std::fs::write(
        dir.path().join("ci/receipt-policy.toml"),
        "version = 1\n# mine\n",
    )
    .unwrap();
    let (code, _, err) = dir.run(&["policy", "init"]);
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
    assert!(
        std::fs::read_to_string(dir.path().join("ci/receipt-policy.toml"))
            .unwrap()
            .contains("# mine")
    );
    let (code, _, _) = dir.run(&["policy", "init", "--force"]);
    assert_eq!(code, 0);
    // `check` and `show` pick up ci/receipt-policy.toml by themselves.
    let (code, show, _) = dir.run(&["policy", "show"]);
    assert_eq!(code, 0);
    assert!(show.contains("from: ci/receipt-policy.toml"), "{show}");
    for id in ["cpu-i2s", "cuda", "qk256"] {
        assert!(show.contains(&format!("id = \"{id}\"")), "{show}");
    }
}

/// `policy init` looks at the repository: archives, vendored code, agent notes
/// and changelogs are excluded from the claim scan (each with why), a commented
/// `[commands]` section is there, and `--from-receipt` starts an envelope that
/// passes the receipt it was made from.
#[test]
fn policy_init_scopes_the_claim_scan_and_starts_an_envelope_from_a_receipt() {
    let dir = Dir::new();
    for (path, text) in [
        ("README.md", "Decodes 12 tok/s.\n"),
        ("CHANGELOG.md", "## 0.1\n- 3 tok/s then.\n"),
        ("docs/archive/old.md", "Was 2 tok/s.\n"),
        ("vendor/lib/README.md", "Their 99 tok/s.\n"),
        (".claude/notes.md", "Tried 7 tok/s.\n"),
    ] {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        dir.write(path, text);
    }
    let r = dir.json("here.json", &receipt("cpu", "i2s", CPU_KERNELS, 12.0, &[]));
    let (code, _, err) = dir.run(&["policy", "init", "--from-receipt", &r]);
    assert_eq!(code, 0, "{err}");
    for why in [
        "excluding CHANGELOG.md from the claim scan: a changelog",
        "excluding docs/archive/** from the claim scan: archived docs",
        "excluding vendor/** from the claim scan: vendored code",
        "excluding .claude/** from the claim scan: agent notes",
    ] {
        assert!(err.contains(why), "{why}: {err}");
    }
    let written = std::fs::read_to_string(dir.path().join("ci/receipt-policy.toml")).unwrap();
    assert!(written.contains("# [[commands.rule]]"), "{written}");
    assert!(written.contains("# [baselines]"), "{written}");
    assert!(
        written.contains("id = \"cpu-i2s-this-machine\""),
        "{written}"
    );
    assert!(written.contains("\"host.simd\" = \"avx2\""), "{written}");
    assert!(
        written.contains("tokens_per_second = { expected = 12.00 }"),
        "{written}"
    );
    let (code, show, err) = dir.run(&["policy", "show"]);
    assert_eq!(code, 0, "{err}");
    assert!(show.contains("cpu-i2s-this-machine"), "{show}");
    // The envelope passes the receipt it came from; the scan skips what init excluded.
    let (code, out, err) = dir.run(&["check", &r]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cpu-i2s-this-machine"), "{out}");
    let (code, out, err) = dir.run(&["claims", "--filter", "all"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("README.md:1:"), "{out}");
    for skipped in ["CHANGELOG", "archive", "vendor", ".claude"] {
        assert!(!out.contains(skipped), "{skipped}: {out}");
    }
    // A receipt that fails its gates starts nothing.
    let bad = dir.json("bad.json", &json!({"backend": "cpu"}));
    let (code, _, err) = dir.run(&["policy", "init", "--force", "--from-receipt", &bad]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not pass the receipt gates"), "{err}");
    // A baselines/ folder of the project's own: ours go elsewhere, and the
    // baseline commands follow the policy there.
    std::fs::create_dir_all(dir.path().join("baselines")).unwrap();
    dir.write("baselines/cpu-main.json", "{}");
    let (code, _, err) = dir.run(&["policy", "init", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("dated baselines go to ci/baselines"), "{err}");
    let (_, out, err) = dir.run(&["baseline", "list"]);
    assert!(
        format!("{out}{err}").contains("no baselines folder at ci/baselines"),
        "{out}{err}"
    );
}

#[test]
fn policy_show_merges_over_defaults_or_stands_alone_and_reloads() {
    let dir = Dir::new();
    let merged = dir.write(
        "m.toml",
        "version = 1\n[[envelope]]\nid = \"cuda\"\nwhen = { backend = \"cuda\" }\ntokens_per_second = { min = 60.0, max = 90.0 }\n\n[[envelope]]\nid = \"arm\"\nwhen = { \"host.arch\" = \"aarch64\", backend = \"cpu\", \"model.format\" = \"i2s\" }\ntokens_per_second = { min = 5.0 }\n",
    );
    let (code, show, err) = dir.run(&["policy", "show", "--policy", merged.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(show.contains("id = \"cpu-i2s\"") && show.contains("id = \"qk256\""));
    assert!(show.contains("min = 60.0, max = 90.0"), "{show}");
    assert!(
        !show.contains("min = 50.0"),
        "the file's cuda replaces the built-in one: {show}"
    );
    assert!(show.contains("id = \"arm\""));
    // What show prints is a policy that loads back to the same rules.
    let again = dir.write("again.toml", &show);
    let (code, show2, err) = dir.run(&["policy", "show", "--policy", again.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let body = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split("  #").next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(body(&show), body(&show2));

    let alone = dir.write("a.toml", "version = 1\nuse_defaults = false\n");
    let (code, show, _) = dir.run(&["policy", "show", "--policy", alone.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(!show.contains("[[envelope]]"), "{show}");
}

/// Load a bad policy through `policy show`; expect exit 2 and return stderr.
fn bad_policy(text: &str) -> (String, String) {
    let dir = Dir::new();
    let p = dir.write("bad.toml", text);
    let name = p.to_str().unwrap().to_string();
    let (code, out, err) = dir.run(&["policy", "show", "--policy", &name]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("help:"),
        "every error says how to fix it: {err}"
    );
    // `check` refuses the same policy with the same exit code.
    let r = dir.json("r.json", &receipt("cpu", "i2s", CPU_KERNELS, 15.0, &[]));
    let (code, _, err2) = dir.run(&["check", "--policy", &name, &r]);
    assert_eq!(code, 2);
    assert_eq!(err, err2);
    (err, name)
}

const ENVELOPE_HEAD: &str = "version = 1\nuse_defaults = false\n\n[[envelope]]\nid = \"cpu\"\nwhen = { backend = \"cpu\" }\n";

#[test]
fn bad_unknown_key_names_line_column_and_nearest_key() {
    let (err, name) = bad_policy(&format!("{ENVELOPE_HEAD}tolerence = \"15%\"\n"));
    assert!(
        err.contains("error[unknown-key]: unknown key `tolerence` in [[envelope]]"),
        "{err}"
    );
    assert!(err.contains(&format!("--> {name}:7:1")), "{err}");
    assert!(err.contains("did you mean `tolerance`?"), "{err}");
    assert!(
        err.contains("7 | tolerence = \"15%\"\n  | ^^^^^^^^^"),
        "{err}"
    );
}

#[test]
fn bad_wrong_type() {
    let (err, name) = bad_policy(&format!(
        "{ENVELOPE_HEAD}tokens_per_second = {{ min = \"ten\", max = 20 }}\n"
    ));
    assert!(
        err.contains("error[wrong-type]: `min` is a string, but it must be a number"),
        "{err}"
    );
    assert!(err.contains(&format!("{name}:7:29")), "{err}");
}

#[test]
fn bad_tolerances() {
    for (t, says) in [
        ("15", "has no % sign"),
        ("150%", "100% or more"),
        ("-5%", "negative"),
    ] {
        let (err, name) = bad_policy(&format!("{ENVELOPE_HEAD}tolerance = \"{t}\"\n"));
        assert!(err.contains("error[invalid-tolerance]"), "{err}");
        assert!(err.contains(says), "{t}: {err}");
        assert!(err.contains(&format!("{name}:7:13")), "{err}");
    }
    let (err, _) = bad_policy(&format!("{ENVELOPE_HEAD}tolerance = \"15\"\n"));
    assert!(
        err.contains("\"15%\""),
        "the fix shows the right spelling: {err}"
    );
}

#[test]
fn bad_min_above_max() {
    let (err, name) = bad_policy(&format!(
        "{ENVELOPE_HEAD}tokens_per_second = {{ min = 20.0, max = 10.0 }}\n"
    ));
    assert!(
        err.contains("error[min-above-max]: tokens_per_second min 20 is above max 10"),
        "{err}"
    );
    assert!(err.contains(&format!("{name}:7:29")), "{err}");
}

#[test]
fn bad_glob() {
    let (err, name) = bad_policy(&format!(
        "{ENVELOPE_HEAD}kernels = {{ require = [\"i2s_[gemv\"] }}\n"
    ));
    assert!(err.contains("error[invalid-glob]"), "{err}");
    assert!(err.contains("\"i2s_[gemv\""), "{err}");
    assert!(err.contains(&format!("{name}:7:24")), "{err}");
    let (err, _) =
        bad_policy("version = 1\n[[envelope]]\nid = \"x\"\nwhen = { backend = \"{cpu\" }\n");
    assert!(
        err.contains("error[invalid-glob]") && err.contains(":4:20"),
        "{err}"
    );
}

#[test]
fn bad_duplicate_id() {
    let (err, name) = bad_policy(&format!(
        "{ENVELOPE_HEAD}\n[[envelope]]\nid = \"cpu\"\nwhen = {{ backend = \"cuda\" }}\n"
    ));
    assert!(
        err.contains("error[duplicate-envelope]: envelope id \"cpu\" is used twice"),
        "{err}"
    );
    assert!(err.contains(&format!("{name}:9:6")), "{err}");
    assert!(err.contains(&format!("first used at {name}:5:6")), "{err}");
}

#[test]
fn bad_equally_specific_overlap() {
    let (err, name) = bad_policy(&format!(
        "{ENVELOPE_HEAD}\n[[envelope]]\nid = \"fast\"\nwhen = {{ backend = \"c*\" }}\n"
    ));
    assert!(err.contains("error[ambiguous-envelopes]"), "{err}");
    assert!(err.contains(&format!("{name}:9:6")), "{err}");
    assert!(err.contains(&format!("\"cpu\" is at {name}:5:6")), "{err}");
    // Disjoint values, or a more specific envelope, are fine.
    let dir = Dir::new();
    let ok = dir.write(
        "ok.toml",
        format!("{ENVELOPE_HEAD}\n[[envelope]]\nid = \"gpu\"\nwhen = {{ backend = \"cuda\" }}\n\n[[envelope]]\nid = \"cpu-avx512\"\nwhen = {{ backend = \"cpu\", \"host.simd\" = \"avx512*\" }}\n"),
    );
    let (code, _, err) = dir.run(&["policy", "show", "--policy", ok.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn bad_empty_file() {
    for text in ["", "\n  \n# only a comment\n"] {
        let (err, name) = bad_policy(text);
        assert!(err.contains("error[policy-empty]"), "{err}");
        assert!(err.contains(&format!("--> {name}\n")), "{err}");
        assert!(err.contains("policy init"), "{err}");
    }
}

/// A policy file that is not there is unreadable, not a syntax error at 1:1.
#[test]
fn a_missing_policy_file_is_unreadable_and_names_no_line() {
    let dir = Dir::new();
    let (code, _, err) = dir.run(&["policy", "show", "--policy", "nope.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error[policy-unreadable]: the policy file does not exist"),
        "{err}"
    );
    assert!(err.contains("--> nope.toml\n"), "{err}");
    assert!(!err.contains("policy-syntax"), "{err}");
}

#[test]
fn bad_newer_version() {
    let (err, name) = bad_policy("version = 2\n");
    assert!(
        err.contains("error[policy-version]: this policy is version 2"),
        "{err}"
    );
    assert!(err.contains(&format!("{name}:1:11")), "{err}");
    assert!(err.contains("upgrade policy-check"), "{err}");
}

#[test]
fn bad_odds_and_ends_each_point_into_the_file() {
    for (text, code, at) in [
        ("version = 1\nenvelopes = []\n", "unknown-key", ":2:1"),
        (
            "version = 1\n[envelope]\nid = \"x\"\n",
            "wrong-type",
            ":2:1",
        ),
        (
            "version = 1\n[[envelope]]\nwhen = { backend = \"cpu\" }\n",
            "missing-key",
            ":2:1",
        ),
        (
            "version = 1\n[[envelope]]\nid = \"x\"\nstatus = \"prod\"\n",
            "invalid-value",
            ":4:10",
        ),
        (
            "version = 1\n[[envelope]]\nid = \"x\"\nwhen = { \"model.fromat\" = \"i2s\" }\n",
            "unknown-path",
            ":4:10",
        ),
        (
            "version = 1\n[receipt]\nlevels = { mock-kernal = \"warn\" }\n",
            "unknown-code",
            ":3:12",
        ),
        (
            "version = 1\n[receipt]\nmax_age = \"30 days\"\n",
            "invalid-value",
            ":3:11",
        ),
        (
            "version = 1\n[[envelope]]\nid = \"x\"\nmax_tokens = 0\n",
            "invalid-value",
            ":4:14",
        ),
        ("version = 1\nfoo = = 2\n", "policy-syntax", ":2:7"),
        ("[[envelope]]\nid = \"x\"\n", "policy-version", ":1:1"),
    ] {
        let (err, _) = bad_policy(text);
        assert!(err.contains(&format!("error[{code}]")), "{text}: {err}");
        assert!(err.contains(at), "{text}: {err}");
    }
    let (err, _) = bad_policy(
        "version = 1\n[[envelope]]\nid = \"x\"\nwhen = { \"model.fromat\" = \"i2s\" }\n",
    );
    assert!(err.contains("did you mean \"model.format\""), "{err}");
    let (err, _) = bad_policy("version = 1\n[receipt]\nlevels = { mock-kernal = \"warn\" }\n");
    assert!(err.contains("did you mean `mock-kernel`"), "{err}");
    // Several errors are reported together.
    let (err, _) = bad_policy(&format!(
        "{ENVELOPE_HEAD}tolerance = \"15\"\nmax_tokens = -1\n"
    ));
    assert!(err.contains("policy not loaded: 2 errors"), "{err}");
}

#[test]
fn explain_knows_envelope_codes() {
    let dir = Dir::new();
    let (code, out, _) = dir.run(&["explain", "rate-inconclusive"]);
    assert_eq!(code, 0);
    assert!(out.contains("insufficient-evidence"), "{out}");
    let (_, list, _) = dir.run(&["explain"]);
    assert!(list.contains("forbidden-kernel") && list.contains("mock-kernel"));
}

#[test]
fn policy_schema_is_valid_and_accepts_the_shipped_policies() {
    let schema: Value =
        serde_json::from_str(include_str!("../schema/policy-v1.schema.json")).unwrap();
    jsonschema::meta::validate(&schema).expect("a valid JSON Schema");
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (name, text) in [
        (
            "default-policy.toml",
            include_str!("../default-policy.toml"),
        ),
        (
            "starter-policy.toml",
            include_str!("../starter-policy.toml"),
        ),
        ("kernel policy", KERNEL_POLICY),
    ] {
        let doc: Value = toml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    for bad in [
        "version = 2\n",
        "version = 1\n[[envelope]]\nid = \"x\"\ntolerance = \"150%\"\n",
        "version = 1\n[[envelope]]\nid = \"x\"\ntolerence = \"15%\"\n",
        "version = 1\n[[envelope]]\nid = \"x\"\ntokens_per_second = { expected = 1.0, min = 0.5 }\n",
    ] {
        let doc: Value = toml::from_str(bad).unwrap();
        assert!(!validator.is_valid(&doc), "{bad}");
    }
}

/// Found by the `policy` fuzz target: `policy show` printed strings with Rust's
/// escapes (`\u{8}`) and regexes in '…' whatever they held, so a policy whose id,
/// glob or regex held a control character, a quote or DEL did not load back.
#[test]
fn policy_show_reloads_strings_with_quotes_and_control_characters() {
    use receipt_policy::config::Policy;
    use receipt_policy::config::render_errors;
    let load = |name: &str, text: &str| {
        Policy::from_text(name, text).unwrap_or_else(|e| panic!("{}\n{text}", render_errors(&e)))
    };
    let body = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split("  # ").next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let text = r#"version = 1
use_defaults = false

[[envelope]]
id = "cpu"
description = "a\b\"\u007F' tab\there"
when = { backend = "cpu\u0001" }
kernels = { require = ["i2s_\u0008*"] }

[claims]
include = ["docs/\"q\"\u0007.md"]
patterns = [{ regex = "it's \\d+ fps\n", kind = "throughput" }]

[[commands.rule]]
id = "r\b"
match = "^cargo 'x'\u007F"
unless = "a'b"
require = ["--x\u0002"]
forbid = ["^y'$"]
"#;
    let found = include_str!("../../fuzz/seeds/policy/regression-show-escapes.toml");
    for text in [text, found] {
        let shown = load("p.toml", text).to_toml();
        let again = load("shown.toml", &shown).to_toml();
        assert_eq!(body(&shown), body(&again));
    }
}
