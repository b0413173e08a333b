//! End-to-end runs of the `bitnet-engine` binary on synthetic:tiny: the receipt is
//! complete and consistent, its kernels are the ones that ran, determinism holds
//! across thread counts, and bad arguments fail with a clear message and exit code.

mod common;

use std::process::{Command, Output};

use serde_json::Value;

fn engine(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bitnet-engine"));
    c.args(args);
    for k in [
        "BITNET_DETERMINISTIC",
        "BITNET_SEED",
        "BITNET_STRICT_MODE",
        "RAYON_NUM_THREADS",
    ] {
        c.env_remove(k);
    }
    c.envs(envs.iter().cloned());
    c.output().unwrap()
}

fn bench(name: &str, extra: &[&str], envs: &[(&str, &str)]) -> Value {
    let path = common::temp_path(&format!("{name}.json"));
    let p = path.to_str().unwrap();
    let mut args = vec![
        "bench",
        "--model",
        "synthetic:tiny",
        "--tokens",
        "6",
        "--runs",
        "3",
        "--prompt",
        "4",
        "--receipt",
        p,
    ];
    args.extend_from_slice(extra);
    let out = engine(&args, envs);
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run 3/3"),
        "no progress line"
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn kernels(r: &Value) -> Vec<String> {
    r["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bench_receipt_is_complete_and_consistent() {
    let r = bench(
        "receipt",
        &[],
        &[("BITNET_DETERMINISTIC", "1"), ("BITNET_SEED", "7")],
    );
    assert_eq!(r["schema_version"], "1.1.0");
    assert_eq!(r["compute_path"], "real");
    assert_eq!(r["backend"], "cpu");
    assert_eq!(r["deterministic"], true);
    assert_eq!(r["environment"]["BITNET_SEED"], "7");
    assert_eq!(r["run"]["seed"], 7);
    // The command that wrote it, as it ran: the variables set, the program's
    // name, every argument, the receipt's own path as {receipt}.
    assert_eq!(
        r["run"]["command"],
        "BITNET_DETERMINISTIC=1 BITNET_SEED=7 bitnet-engine bench --model synthetic:tiny --tokens 6 --runs 3 --prompt 4 --receipt {receipt}"
    );
    assert!(r["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r["tokens_requested"], 6);
    assert_eq!(r["tokens_generated"], 6);

    let samples: Vec<f64> = r["measurement"]["samples_tokens_per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(samples.len(), 3);
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(
        r["tokens_per_second"].as_f64().unwrap(),
        sorted[1],
        "tokens_per_second is the median"
    );
    assert!(samples.iter().all(|s| s.is_finite() && *s > 0.0));

    // kernels are exactly the ids the dispatcher counted, each with calls.
    let stats = r["kernel_stats"].as_array().unwrap();
    let ids: Vec<String> = stats
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, kernels(&r));
    assert!(stats.iter().all(|k| k["calls"].as_u64().unwrap() > 0));
    assert!(ids.iter().any(|k| k.starts_with("i2s_gemv_")), "{ids:?}");
    let lm = stats
        .iter()
        .find(|k| k["id"].as_str().unwrap().starts_with("lm_head_"))
        .unwrap();
    assert_eq!(
        lm["calls"],
        3 * 6,
        "one lm_head per decoded token in the timed runs"
    );

    // bytes_per_token: the weights, one f16 embedding row, and the mean K and V rows a
    // decode step reads: steps at positions 3..=8 read 4..=9 rows, 6.5 on average.
    let md = &r["model"];
    let n = |k: &str| md[k].as_u64().unwrap();
    let kv_row_pair = 2 * n("layers") * n("kv_heads") * n("head_dim") * 4;
    assert_eq!(md["embedding_type"], "f16");
    assert_eq!(
        n("bytes_per_token"),
        n("weight_bytes") + 2 * n("hidden") + kv_row_pair * 13 / 2,
        "{md}"
    );

    let cal = &r["calibration"];
    let bw = cal["mem_bw_gbps"].as_f64().unwrap();
    let bpt = r["model"]["bytes_per_token"].as_f64().unwrap();
    let roof = cal["roofline_tokens_per_second"].as_f64().unwrap();
    assert!((roof - bw * 1e9 / bpt).abs() < 1e-6 * roof);
    let frac = cal["roofline_fraction"].as_f64().unwrap();
    assert!((frac - r["tokens_per_second"].as_f64().unwrap() / roof).abs() < 1e-9);

    assert_eq!(r["model"]["source"], "synthetic");
    assert_eq!(r["model"]["format"], "i2s");
    assert_eq!(r["model"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(r["build"]["binary_sha256"].as_str().unwrap().len(), 64);
    assert!(r["build"]["rustc"].as_str().unwrap().starts_with("rustc "));
    assert_eq!(r["run"]["output_sha256"].as_str().unwrap().len(), 64);
    assert!(r["host"]["threads"].as_u64().unwrap() >= 1);
}

#[test]
fn kernels_follow_what_ran() {
    let auto = bench("auto", &[], &[]);
    let scalar = bench("scalar", &["--kernels", "scalar"], &[]);
    let ks = kernels(&scalar);
    assert!(
        ks.contains(&"i2s_gemv_scalar".to_string())
            && ks.contains(&"lm_head_f16_scalar".to_string()),
        "{ks:?}"
    );
    assert_eq!(scalar["host"]["simd"], "scalar");
    if auto["host"]["simd"] != "scalar" {
        assert_ne!(kernels(&auto), ks);
    }
    let tq2 = bench("tq2", &["--format", "tq2_0", "--kernels", "scalar"], &[]);
    assert!(kernels(&tq2).contains(&"tq2_gemv_scalar".to_string()));
    let qk = bench("qk256", &["--format", "qk256"], &[]);
    assert!(kernels(&qk).contains(&"qk256_scalar_gemv".to_string()));
    assert_eq!(qk["model"]["format"], "qk256");
}

#[test]
fn deterministic_output_across_runs_and_threads() {
    let env = [("BITNET_DETERMINISTIC", "1"), ("BITNET_SEED", "42")];
    let one = bench("det1", &["--threads", "1"], &env);
    let two = bench("det2", &["--threads", "2"], &env);
    let scalar = bench(
        "det-scalar",
        &["--threads", "2", "--kernels", "scalar"],
        &env,
    );
    assert_eq!(one["run"]["output_sha256"], two["run"]["output_sha256"]);
    assert_eq!(one["run"]["output_sha256"], scalar["run"]["output_sha256"]);
    assert_eq!(one["host"]["threads"], 1);
    assert_eq!(two["host"]["threads"], 2);
    let other_seed = bench(
        "det-seed",
        &[],
        &[("BITNET_DETERMINISTIC", "1"), ("BITNET_SEED", "43")],
    );
    assert_ne!(one["model"]["sha256"], other_seed["model"]["sha256"]);
}

#[test]
fn generate_prints_token_ids() {
    let out = engine(
        &[
            "generate",
            "--model",
            "synthetic:tiny",
            "--prompt-ids",
            "1,2,3",
            "--tokens",
            "5",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<u32> = text.trim().split(',').map(|t| t.parse().unwrap()).collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.iter().all(|&t| t < 512));
}

fn fails_with(args: &[&str], code: i32, needle: &str) {
    let out = engine(args, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected '{needle}' in: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    let r = common::temp_path("never.json");
    let r = r.to_str().unwrap();
    fails_with(
        &[
            "bench",
            "--model",
            "synthetic:tiny",
            "--tokens",
            "0",
            "--receipt",
            r,
        ],
        2,
        "invalid value '0' for '--tokens <N>': must be at least 1",
    );
    fails_with(
        &["bench", "--model", "synthetic:nonexistent", "--receipt", r],
        1,
        "synthetic:nonexistent",
    );
    fails_with(
        &[
            "bench",
            "--model",
            "synthetic:tiny",
            "--receipt",
            r,
            "--bogus",
            "1",
        ],
        2,
        "unexpected argument '--bogus'",
    );
    fails_with(
        &[
            "bench",
            "--model",
            "synthetic:tiny",
            "--receipt",
            r,
            "--kernels",
            "neon",
        ],
        1,
        "unknown kernel set",
    );
    fails_with(
        &["bench", "--model", "/nonexistent.gguf", "--receipt", r],
        1,
        "/nonexistent.gguf",
    );
    fails_with(
        &[
            "generate",
            "--model",
            "synthetic:tiny",
            "--prompt-ids",
            "1",
            "--tokens",
            "300",
        ],
        1,
        "context overflow",
    );
    fails_with(
        &[
            "generate",
            "--model",
            "synthetic:tiny",
            "--prompt-ids",
            "1,x",
        ],
        2,
        "'x' is not a token id",
    );
    fails_with(
        &[
            "generate",
            "--model",
            "synthetic:tiny",
            "--prompt-ids",
            "9999",
        ],
        1,
        "outside the vocabulary",
    );
    fails_with(&["inspect"], 2, "<FILE.gguf>");
    fails_with(
        &["inspect", "a.gguf", "b.gguf"],
        2,
        "unexpected argument 'b.gguf'",
    );
    fails_with(&["frobnicate"], 2, "unrecognized subcommand 'frobnicate'");
    assert!(!std::path::Path::new(r).exists());
}

/// A flag given twice is an error, not a silent "the last one wins": a script that
/// appends `--tokens 16` to a command that already has `--tokens 128` finds out.
#[test]
fn a_repeated_flag_is_a_usage_error() {
    let r = common::temp_path("repeated.json");
    let r = r.to_str().unwrap();
    fails_with(
        &[
            "bench",
            "--model",
            "synthetic:tiny",
            "--tokens",
            "2",
            "--tokens",
            "3",
            "--receipt",
            r,
        ],
        2,
        "'--tokens <N>' cannot be used multiple times",
    );
    fails_with(
        &[
            "generate",
            "--model",
            "synthetic:tiny",
            "--model=synthetic:tiny",
            "--prompt-ids",
            "1",
        ],
        2,
        "cannot be used multiple times",
    );
    assert!(!std::path::Path::new(r).exists());
}

#[test]
fn version_prints_the_package_version() {
    let version = env!("CARGO_PKG_VERSION");
    for (args, name) in [
        (&["--version"][..], "bitnet-engine"),
        (&["-V"], "bitnet-engine"),
        (&["bench", "--version"], "bitnet-engine-bench"),
    ] {
        let out = engine(args, &[]);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{name} {version}")
        );
    }
}

#[test]
fn a_misspelt_flag_or_value_gets_a_suggestion() {
    fails_with(
        &["bench", "--modle", "synthetic:tiny"],
        2,
        "a similar argument exists: '--model'",
    );
    fails_with(
        &[
            "generate",
            "--model",
            "synthetic:tiny",
            "--prompt-ids",
            "1",
            "--format",
            "tq2",
        ],
        2,
        "a similar value exists: 'tq2_0'",
    );
    fails_with(&["bnech"], 2, "a similar subcommand exists: 'bench'");
}

/// Help goes to stdout with exit 0 and keeps the environment-variable notes.
#[test]
fn help_names_the_environment() {
    for args in [&["--help"][..], &["help", "bench"], &["bench", "-h"]] {
        let out = engine(args, &[]);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for var in [
            "BITNET_SEED",
            "BITNET_DETERMINISTIC",
            "BITNET_STRICT_MODE",
            "RAYON_NUM_THREADS",
        ] {
            assert!(text.contains(var), "{args:?}: {text}");
        }
    }
}

/// `--backend cuda` where no GPU can run it (this machine, CI) is exit 2 with a message
/// that names what is missing, and never a CPU run or a receipt. Where a GPU can
/// run it, the receipt must say so: backend cuda, GPU kernels only, a real rate.
#[test]
fn cuda_backend_runs_on_a_gpu_or_is_a_clear_exit_2() {
    let path = common::temp_path("cuda-unavailable.json");
    let p = path.to_str().unwrap();
    let out = engine(
        &[
            "bench",
            "--model",
            "synthetic:tiny",
            "--tokens",
            "2",
            "--runs",
            "1",
            "--backend",
            "cuda",
            "--receipt",
            p,
        ],
        &[],
    );
    if out.status.success() {
        let receipt: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("a CUDA run writes its receipt"))
                .unwrap();
        assert_eq!(receipt["backend"], "cuda", "{receipt}");
        let kernels = receipt["kernels"].as_array().unwrap();
        assert!(!kernels.is_empty(), "{receipt}");
        for k in kernels {
            let id = k.as_str().unwrap();
            assert!(
                receipt_policy::gates::honesty::is_gpu_kernel(id),
                "{id} is not a GPU kernel"
            );
        }
        assert!(
            receipt["tokens_per_second"].as_f64().unwrap() > 0.0,
            "{receipt}"
        );
        return;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--backend cuda cannot run here"), "{err}");
    let names_cause = ["gpu` feature", "libcuda", "NVRTC", "device"];
    assert!(names_cause.iter().any(|c| err.contains(c)), "{err}");
    assert!(!err.contains("tok/s"), "a CPU run happened: {err}");
    assert!(!path.exists(), "a receipt was written");
}

/// The cross-check tool itself, CPU against CPU scalar: it passes, and it reports
/// every step.
#[test]
fn crosscheck_cpu_scalar_against_cpu_passes() {
    let out = engine(
        &[
            "crosscheck",
            "--model",
            "synthetic:tiny",
            "--backend",
            "cpu",
            "--kernels",
            "scalar",
            "--steps",
            "6",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["pass"], true);
    assert_eq!(r["tokens_identical"], true);
    assert_eq!(r["per_step"].as_array().unwrap().len(), 6);
    assert!(r["min_cosine"].as_f64().unwrap() > 0.99999);
}
