//! Writes a schema 1.1.0 receipt (DESIGN §3) from what a bench run measured. Every
//! value is read from the run, the process, the build or the host; nothing here is a
//! constant standing in for a measurement. `kernels` is the ids of `kernel_stats`.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::bench::{BenchOptions, BenchResult, Calibration, cv, median, percentile};
use crate::kernels::SimdLevel;
use crate::model::{Model, ModelSource};
use crate::synthetic::hex;

pub const SCHEMA_VERSION: &str = "1.1.0";

/// What the receipt is built from, all of it observed during the run.
pub struct ReceiptInputs<'a> {
    pub model: &'a Model,
    pub model_path: String,
    pub model_sha256: String,
    pub model_load_ms: f64,
    pub opts: &'a BenchOptions,
    pub bench: &'a BenchResult,
    pub calibration: &'a Calibration,
    pub simd: SimdLevel,
    pub threads: usize,
    pub seed: u64,
    pub deterministic: bool,
    pub strict: bool,
    pub peak_rss_bytes: Option<u64>,
    /// `cpu` or `cuda`: the backend whose kernels `bench.kernel_stats` counted.
    pub backend: &'static str,
    /// `host.gpu` (name, compute capability, driver, memory) for a GPU run.
    pub gpu: Option<Value>,
    /// How `calibration` measured the bandwidth (CPU threads or a GPU kernel).
    pub calibration_method: &'static str,
}

/// `calibration.method` of a CPU run.
pub const CPU_CALIBRATION_METHOD: &str = "stream-read of the model's weight bytes on the run's thread pool (plain and F16C-paced reads, 8 KiB L2 prefetch); best of the passes taken before the warm-up, after each timed run and after the last";

pub fn build(r: &ReceiptInputs<'_>) -> Value {
    let mut v = build_raw(r);
    drop_nulls(&mut v);
    v
}

/// Absent beats null for optional fields the schema types strictly: an unknown
/// value (no GPU, a CI variable the runner did not set) is left out, at any depth.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.retain(|_, field| !field.is_null());
            obj.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn build_raw(r: &ReceiptInputs<'_>) -> Value {
    let m = r.model;
    let c = &m.config;
    let b = r.bench;
    let rates: Vec<f64> = b
        .samples
        .iter()
        .map(|s| s.decode_tokens_per_second())
        .collect();
    let tps = median(&rates);
    // The run's shape as it happened: the prefill steps plus the prompt token the
    // first decode step reads, and the tokens it generated.
    let run = &b.samples[0];
    let bytes_per_token = m.decode_bytes_per_token(run.prefill_tokens + 1, run.output.len());
    let roofline = r.calibration.roofline_tokens_per_second(bytes_per_token);
    let latencies: Vec<f64> = b
        .samples
        .iter()
        .flat_map(|s| s.token_latency_ms.iter().cloned())
        .collect();
    let prefill_ms: f64 = b.samples.iter().map(|s| s.prefill_ms).sum();
    let prefill_tokens: usize = b.samples.iter().map(|s| s.prefill_tokens).sum();
    let first_token: Vec<f64> = b.samples.iter().map(|s| s.first_token_ms).collect();
    let (source, preset, seed) = match &m.source {
        ModelSource::Synthetic { preset, seed } => ("synthetic", Some(preset.clone()), Some(*seed)),
        ModelSource::Gguf { .. } => ("gguf", None, None),
    };
    let kernels: Vec<&str> = b.kernel_stats.iter().map(|k| k.id).collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "timestamp": rfc3339_utc(SystemTime::now()),
        "compute_path": "real",
        "backend": r.backend,
        "deterministic": r.deterministic,
        "kernels": kernels,
        "environment": environment(),
        "model": {
            "path": r.model_path,
            "sha256": r.model_sha256,
            "source": source,
            "preset": preset,
            "seed": seed,
            "format": m.format.name(),
            "embedding_type": m.embedding.dtype.name(),
            "params": m.params(),
            "layers": c.layers,
            "hidden": c.hidden,
            "ffn": c.ffn,
            "heads": c.heads,
            "kv_heads": c.kv_heads,
            "head_dim": c.head_dim,
            "vocab": c.vocab,
            "context": c.context,
            "activation": c.activation.name(),
            "weight_bytes": m.weight_bytes(),
            "bytes_per_token": bytes_per_token,
            "kv_cache_bytes": b.kv_cache_bytes,
            "load_ms": round3(r.model_load_ms),
        },
        "tokens_requested": r.opts.tokens,
        "tokens_generated": b.samples[0].output.len(),
        "tokens_per_second": tps,
        "measurement": {
            "warmup_runs": b.warmup_runs,
            "timed_runs": b.samples.len(),
            "samples_tokens_per_second": rates,
            "median": tps,
            "min": rates.iter().cloned().fold(f64::INFINITY, f64::min),
            "max": rates.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            "cv": cv(&rates),
            "prompt_tokens": r.opts.prompt.len(),
            "decode_tokens": b.samples[0].output.len(),
            "wall_ms": round3(b.wall_ms),
            "prefill_tokens_per_second": (prefill_tokens > 0).then(|| prefill_tokens as f64 / (prefill_ms / 1e3)),
            "first_token_ms": round3(median(&first_token)),
            "token_latency_ms": {
                "p50": round3(percentile(&latencies, 50.0)),
                "p95": round3(percentile(&latencies, 95.0)),
            },
            "peak_rss_bytes": r.peak_rss_bytes,
        },
        "kernel_stats": b.kernel_stats.iter().map(|k| json!({
            "id": k.id, "calls": k.calls, "total_ns": k.total_ns,
        })).collect::<Vec<_>>(),
        "build": {
            "engine": "bitnet-engine",
            "engine_version": env!("CARGO_PKG_VERSION"),
            "git_sha": git_sha(),
            "git_dirty": git_dirty(),
            "rustc": env!("BITNET_RUSTC_VERSION"),
            "profile": env!("BITNET_PROFILE"),
            "target": env!("BITNET_TARGET"),
            "features": cargo_features(),
            "target_features": env!("BITNET_TARGET_FEATURES").split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
            "binary_sha256": binary_sha256(),
        },
        "host": {
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
            "cpu_model": cpu_model(),
            "cores": std::thread::available_parallelism().map(|n| n.get()).ok(),
            "threads": r.threads,
            "simd": r.simd.name(),
            "gpu": r.gpu,
            "runner": runner(),
        },
        "calibration": {
            "mem_bw_gbps": r.calibration.mem_bw_gbps,
            "method": r.calibration_method,
            "bytes_per_pass": r.calibration.bytes_per_pass,
            "passes": r.calibration.passes,
            "samples_gbps": r.calibration.samples_gbps,
            "roofline_tokens_per_second": roofline,
            "roofline_fraction": tps / roofline,
        },
        "run": {
            "seed": r.seed,
            "strict": r.strict,
            "output_sha256": b.output_sha256,
            "outputs_identical": b.outputs_identical,
            "ci": ci(),
        },
    })
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn environment() -> Value {
    let mut env = serde_json::Map::new();
    env.insert("BITNET_VERSION".into(), json!(env!("CARGO_PKG_VERSION")));
    env.insert(
        "OS".into(),
        json!(format!(
            "{}-{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        )),
    );
    for key in [
        "RAYON_NUM_THREADS",
        "BITNET_DETERMINISTIC",
        "BITNET_SEED",
        "BITNET_STRICT_MODE",
    ] {
        if let Ok(v) = std::env::var(key) {
            env.insert(key.into(), json!(v));
        }
    }
    Value::Object(env)
}

fn cargo_features() -> Vec<&'static str> {
    let mut f = Vec::new();
    if cfg!(feature = "cpu") {
        f.push("cpu");
    }
    if cfg!(feature = "gpu") {
        f.push("gpu");
    }
    f
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit checked out where the bench runs, or null outside a git work tree.
pub fn git_sha() -> Option<String> {
    git(&["rev-parse", "HEAD"]).filter(|s| !s.is_empty())
}

/// Whether tracked files differ from that commit; null when git is unavailable.
pub fn git_dirty() -> Option<bool> {
    git_sha()?;
    git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty())
}

pub fn binary_sha256() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let bytes = std::fs::read(exe).ok()?;
    Some(hex(&Sha256::digest(&bytes)))
}

pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn runner() -> Value {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return json!({ "kind": "local", "labels": [] });
    }
    let kind = match std::env::var("RUNNER_ENVIRONMENT").as_deref() {
        Ok("self-hosted") => "self-hosted",
        _ => "hosted",
    };
    let labels: Vec<String> = ["RUNNER_OS", "RUNNER_ARCH", "RUNNER_NAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .collect();
    json!({ "kind": kind, "labels": labels })
}

fn ci() -> Value {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return Value::Null;
    }
    let var = |k: &str| std::env::var(k).ok();
    let pr = var("GITHUB_REF").and_then(|r| {
        r.strip_prefix("refs/pull/")
            .and_then(|r| r.split('/').next())
            .and_then(|n| n.parse::<u64>().ok())
    });
    json!({
        "provider": "github",
        "repository": var("GITHUB_REPOSITORY"),
        "run_id": var("GITHUB_RUN_ID"),
        "run_attempt": var("GITHUB_RUN_ATTEMPT"),
        "workflow": var("GITHUB_WORKFLOW"),
        "ref": var("GITHUB_REF"),
        "sha": var("GITHUB_SHA"),
        "pr": pr,
    })
}

/// RFC 3339 UTC with seconds, e.g. `2026-05-01T12:34:56Z`.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29T12:34:56Z
        assert_eq!(rfc3339_utc(t), "2024-02-29T12:34:56Z");
    }
}
