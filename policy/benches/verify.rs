//! Verify 10,000 v1.1 receipts (about 2 KB each) from disk.
//!
//! `cargo bench -p receipt-policy --bench verify` reports criterion's time for the
//! library call, then — side by side in the same run, on the same files and the
//! same schema — the wall time of the `policy-check verify` binary and of PyPI's
//! `check-jsonschema` (skipped with a note when it is not installed).

use criterion::{Criterion, Throughput};
use receipt_policy::verify::{self, VerifyOptions};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use time::format_description::well_known::Rfc3339;

const RECEIPTS: usize = 10_000;

/// A consistent v1.1 receipt; `i` varies the numbers so no two files are alike.
fn receipt(i: usize) -> serde_json::Value {
    let base = 14.0 + (i % 100) as f64 / 50.0;
    let samples: Vec<f64> = (0..5).map(|k| base + k as f64 * 0.05).collect();
    let median = samples[2];
    let bytes_per_token: u64 = 1_179_449_920;
    let bw = 20.0 + (i % 7) as f64;
    let roofline = bw * 1e9 / bytes_per_token as f64;
    let kernels = [
        "i2s_gemv_avx2",
        "attention_cpu",
        "rmsnorm",
        "rope_neox",
        "lm_head_f16",
        "quantize_act_i8",
        "relu2_gate",
    ];
    json!({
        "schema_version": "1.1.0",
        "timestamp": time::OffsetDateTime::now_utc().format(&Rfc3339).unwrap(),
        "compute_path": "real",
        "backend": "cpu",
        "deterministic": true,
        "kernels": kernels,
        "kernel_stats": kernels.iter().enumerate().map(|(k, id)| json!({"id": id, "calls": 3840 * (k + 1), "total_ns": 1_000_000 * (k + 1)})).collect::<Vec<_>>(),
        "environment": {"BITNET_VERSION": "0.1.0", "OS": "linux", "BITNET_SEED": "42", "RAYON_NUM_THREADS": "1", "BITNET_DETERMINISTIC": "1", "BITNET_STRICT_MODE": "1"},
        "tokens_requested": 128,
        "tokens_generated": 128,
        "tokens_per_second": median,
        "measurement": {
            "warmup_runs": 1, "timed_runs": 5, "samples_tokens_per_second": samples,
            "median": median, "min": samples[0], "max": samples[4],
            "cv": 0.0049, "prompt_tokens": 32, "decode_tokens": 128, "wall_ms": 60000.0,
            "prefill_tokens_per_second": 40.0, "first_token_ms": 70.5,
            "token_latency_ms": {"p50": 1000.0 / median, "p95": 1100.0 / median}
        },
        "model": {"path": "synthetic:2b-4t", "source": "synthetic", "preset": "2b-4t", "seed": 42,
                  "format": "i2s", "embedding_type": "f16", "params": 2_412_820_480u64, "layers": 30,
                  "hidden": 2560, "heads": 20, "kv_heads": 5, "vocab": 128256, "bytes_per_token": bytes_per_token,
                  "sha256": format!("{:064x}", i)},
        "build": {"engine": "bitnet-engine", "engine_version": "0.1.0", "git_sha": "0123456789abcdef0123456789abcdef01234567",
                  "git_dirty": false, "rustc": "rustc 1.95.0", "features": ["cpu"], "target_features": ["avx2", "fma", "f16c"],
                  "binary_sha256": format!("{:064x}", i + 1)},
        "host": {"os": "linux", "arch": "x86_64", "cpu_model": "AMD EPYC", "cores": 2, "threads": 1, "simd": "avx2",
                 "runner": {"kind": "hosted", "labels": ["ubuntu-latest"]}},
        "calibration": {"mem_bw_gbps": bw, "roofline_tokens_per_second": roofline, "roofline_fraction": median / roofline},
        "run": {"seed": 42, "strict": true, "output_sha256": format!("{:064x}", i + 2),
                "ci": {"provider": "github", "repository": "bitnet/receipt-action", "run_id": "1", "run_attempt": "1",
                       "workflow": "ci", "ref": "refs/heads/main", "sha": "0123456", "pr": null}}
    })
}

fn write_corpus(dir: &Path) -> Vec<PathBuf> {
    (0..RECEIPTS)
        .map(|i| {
            let p = dir.join(format!("receipt-{i:05}.json"));
            std::fs::write(&p, serde_json::to_vec(&receipt(i)).unwrap()).unwrap();
            p
        })
        .collect()
}

fn bench_verify(c: &mut Criterion, paths: &[PathBuf]) {
    let inputs: Vec<verify::Input> = paths.iter().cloned().map(verify::Input::File).collect();
    let options = VerifyOptions::default();
    let results = verify::verify(&inputs, &options);
    assert!(
        results.iter().all(|r| r.findings.is_empty()),
        "the corpus must be clean: {:?}",
        results.iter().find(|r| !r.findings.is_empty())
    );
    let mut group = c.benchmark_group("verify");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RECEIPTS as u64));
    group.bench_function("10k_v1.1_receipts_from_disk", |b| {
        b.iter(|| verify::verify(&inputs, &options))
    });
    group.finish();
}

/// Wall time of one command over the corpus, or why it could not run.
fn time_command(program: &str, args: &[&str], paths: &[PathBuf]) -> Result<f64, String> {
    let start = Instant::now();
    let out = Command::new(program)
        .args(args)
        .args(paths)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{program} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(secs)
}

fn side_by_side(dir: &Path, paths: &[PathBuf]) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/receipt-v1.1.schema.json");
    let ours = time_command(
        env!("CARGO_BIN_EXE_policy-check"),
        &["verify", "--format", "json"],
        paths,
    );
    let theirs = time_command(
        "check-jsonschema",
        &["--schemafile", schema.to_str().unwrap()],
        paths,
    );
    let bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    println!(
        "\nside by side, {RECEIPTS} receipts of {} bytes on average in {}:",
        bytes / RECEIPTS as u64,
        dir.display()
    );
    let rate = |secs: f64| RECEIPTS as f64 / secs;
    match &ours {
        Ok(s) => println!(
            "  policy-check verify (binary, schema + all gates): {s:.3} s = {:.0} receipts/s",
            rate(*s)
        ),
        Err(e) => println!("  policy-check verify failed: {e}"),
    }
    match &theirs {
        Ok(s) => println!(
            "  check-jsonschema (schema only):                    {s:.3} s = {:.0} receipts/s",
            rate(*s)
        ),
        Err(e) => {
            println!("  check-jsonschema not run ({e}); `pip install check-jsonschema` to compare")
        }
    }
    if let (Ok(a), Ok(b)) = (ours, theirs) {
        println!("  policy-check is {:.1}x faster", b / a);
    }
}

fn main() {
    let dir = tempfile::TempDir::new().unwrap();
    let paths = write_corpus(dir.path());
    let mut c = Criterion::default().configure_from_args();
    bench_verify(&mut c, &paths);
    c.final_summary();
    side_by_side(dir.path(), &paths);
}
