//! Writes a schema 1.1.0 receipt (DESIGN §3) from what a bench run measured. Every
//! value is read from the run, the process, the build or the host; nothing here is a
//! constant standing in for a measurement. `kernels` is the ids of `kernel_stats`.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bench::{BenchOptions, BenchResult, Calibration, cv, median, percentile};
use crate::kernels::{KernelStat, SimdLevel};
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
    pub gpu: Option<Gpu>,
    /// How `calibration` measured the bandwidth (CPU threads or a GPU kernel).
    pub calibration_method: &'static str,
    /// The command line that ran, from `recorded_command`.
    pub command: String,
}

/// `calibration.method` of a CPU run.
pub const CPU_CALIBRATION_METHOD: &str = "stream-read of the model's weight bytes on the run's thread pool (plain and F16C-paced reads, 8 KiB L2 prefetch); best of the passes taken before the warm-up, after each timed run and after the last";

// The receipt as written, field for field in the schema's order. An unknown value is
// left out rather than written as null (the schema types optional fields strictly):
// `Option`s that are `None`, and a measured float that is not finite (JSON has no
// NaN), are skipped.

/// A schema 1.1.0 receipt.
#[derive(Debug, Serialize)]
pub struct Receipt {
    pub schema_version: &'static str,
    pub timestamp: String,
    pub compute_path: &'static str,
    pub backend: &'static str,
    pub deterministic: bool,
    pub kernels: Vec<&'static str>,
    pub environment: Environment,
    pub model: ModelInfo,
    pub tokens_requested: usize,
    pub tokens_generated: usize,
    #[serde(skip_serializing_if = "not_finite")]
    pub tokens_per_second: f64,
    pub measurement: Measurement,
    pub kernel_stats: Vec<KernelStat>,
    pub build: Build,
    pub host: Host,
    pub calibration: CalibrationInfo,
    pub run: Run,
}

/// The variables that shape a run, as the process saw them.
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct Environment {
    pub BITNET_VERSION: &'static str,
    pub OS: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub RAYON_NUM_THREADS: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub BITNET_DETERMINISTIC: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub BITNET_SEED: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub BITNET_STRICT_MODE: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ModelInfo {
    pub path: String,
    pub sha256: String,
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub format: &'static str,
    pub embedding_type: &'static str,
    pub params: u64,
    pub layers: usize,
    pub hidden: usize,
    pub ffn: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub context: usize,
    pub activation: &'static str,
    pub weight_bytes: u64,
    pub bytes_per_token: u64,
    pub kv_cache_bytes: u64,
    #[serde(skip_serializing_if = "not_finite")]
    pub load_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Measurement {
    pub warmup_runs: usize,
    pub timed_runs: usize,
    pub samples_tokens_per_second: Vec<f64>,
    #[serde(skip_serializing_if = "not_finite")]
    pub median: f64,
    #[serde(skip_serializing_if = "not_finite")]
    pub min: f64,
    #[serde(skip_serializing_if = "not_finite")]
    pub max: f64,
    #[serde(skip_serializing_if = "not_finite")]
    pub cv: f64,
    pub prompt_tokens: usize,
    pub decode_tokens: usize,
    #[serde(skip_serializing_if = "not_finite")]
    pub wall_ms: f64,
    #[serde(skip_serializing_if = "none_or_not_finite")]
    pub prefill_tokens_per_second: Option<f64>,
    #[serde(skip_serializing_if = "not_finite")]
    pub first_token_ms: f64,
    pub token_latency_ms: Latency,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    #[serde(skip_serializing_if = "not_finite")]
    pub p50: f64,
    #[serde(skip_serializing_if = "not_finite")]
    pub p95: f64,
}

/// What built the binary that ran, and the binary itself.
#[derive(Debug, Serialize)]
pub struct Build {
    pub engine: &'static str,
    pub engine_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
    pub rustc: &'static str,
    pub profile: &'static str,
    pub target: &'static str,
    pub features: Vec<&'static str>,
    pub target_features: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_sha256: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Host {
    pub os: &'static str,
    pub arch: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<usize>,
    pub threads: usize,
    pub simd: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<Gpu>,
    pub runner: Runner,
}

/// `host.gpu`: the device a GPU run used, as its driver reports it.
#[derive(Clone, Debug, Serialize)]
pub struct Gpu {
    pub name: String,
    /// `major.minor`, e.g. "9.0".
    pub compute_capability: String,
    /// The driver's CUDA version, e.g. "13.0".
    pub driver: String,
    pub memory_mb: u64,
}

#[derive(Debug, Serialize)]
pub struct Runner {
    pub kind: &'static str,
    pub labels: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CalibrationInfo {
    #[serde(skip_serializing_if = "not_finite")]
    pub mem_bw_gbps: f64,
    pub method: &'static str,
    pub bytes_per_pass: u64,
    pub passes: usize,
    pub samples_gbps: Vec<f64>,
    #[serde(skip_serializing_if = "not_finite")]
    pub roofline_tokens_per_second: f64,
    #[serde(skip_serializing_if = "not_finite")]
    pub roofline_fraction: f64,
}

#[derive(Debug, Serialize)]
pub struct Run {
    pub seed: u64,
    pub strict: bool,
    pub output_sha256: String,
    pub outputs_identical: bool,
    /// The command line that wrote this receipt (see `recorded_command`).
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<Ci>,
}

/// The GitHub Actions run that produced the receipt.
#[derive(Debug, Serialize)]
pub struct Ci {
    pub provider: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_attempt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr: Option<u64>,
}

fn not_finite(x: &f64) -> bool {
    !x.is_finite()
}

fn none_or_not_finite(x: &Option<f64>) -> bool {
    !x.is_some_and(f64::is_finite)
}

pub fn build(r: &ReceiptInputs<'_>) -> Receipt {
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
    Receipt {
        schema_version: SCHEMA_VERSION,
        timestamp: rfc3339_utc(SystemTime::now()),
        compute_path: "real",
        backend: r.backend,
        deterministic: r.deterministic,
        kernels: b.kernel_stats.iter().map(|k| k.id).collect(),
        environment: environment(),
        model: ModelInfo {
            path: r.model_path.clone(),
            sha256: r.model_sha256.clone(),
            source,
            preset,
            seed,
            format: m.format.name(),
            embedding_type: m.embedding.dtype.name(),
            params: m.params(),
            layers: c.layers,
            hidden: c.hidden,
            ffn: c.ffn,
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: c.head_dim,
            vocab: c.vocab,
            context: c.context,
            activation: c.activation.name(),
            weight_bytes: m.weight_bytes(),
            bytes_per_token,
            kv_cache_bytes: b.kv_cache_bytes,
            load_ms: round3(r.model_load_ms),
        },
        tokens_requested: r.opts.tokens,
        tokens_generated: b.samples[0].output.len(),
        tokens_per_second: tps,
        measurement: Measurement {
            warmup_runs: b.warmup_runs,
            timed_runs: b.samples.len(),
            median: tps,
            min: rates.iter().cloned().fold(f64::INFINITY, f64::min),
            max: rates.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            cv: cv(&rates),
            samples_tokens_per_second: rates,
            prompt_tokens: r.opts.prompt.len(),
            decode_tokens: b.samples[0].output.len(),
            wall_ms: round3(b.wall_ms),
            prefill_tokens_per_second: (prefill_tokens > 0)
                .then(|| prefill_tokens as f64 / (prefill_ms / 1e3)),
            first_token_ms: round3(median(&first_token)),
            token_latency_ms: Latency {
                p50: round3(percentile(&latencies, 50.0)),
                p95: round3(percentile(&latencies, 95.0)),
            },
            peak_rss_bytes: r.peak_rss_bytes,
        },
        kernel_stats: b.kernel_stats.clone(),
        build: Build {
            engine: "bitnet-engine",
            engine_version: env!("CARGO_PKG_VERSION"),
            git_sha: git_sha(),
            git_dirty: git_dirty(),
            rustc: env!("BITNET_RUSTC_VERSION"),
            profile: env!("BITNET_PROFILE"),
            target: env!("BITNET_TARGET"),
            features: cargo_features(),
            target_features: env!("BITNET_TARGET_FEATURES")
                .split(',')
                .filter(|s| !s.is_empty())
                .collect(),
            binary_sha256: binary_sha256(),
        },
        host: Host {
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            cpu_model: cpu_model(),
            cores: std::thread::available_parallelism().map(|n| n.get()).ok(),
            threads: r.threads,
            simd: r.simd.name(),
            gpu: r.gpu.clone(),
            runner: runner(),
        },
        calibration: CalibrationInfo {
            mem_bw_gbps: r.calibration.mem_bw_gbps,
            method: r.calibration_method,
            bytes_per_pass: r.calibration.bytes_per_pass,
            passes: r.calibration.passes,
            samples_gbps: r.calibration.samples_gbps.clone(),
            roofline_tokens_per_second: roofline,
            roofline_fraction: tps / roofline,
        },
        run: Run {
            seed: r.seed,
            strict: r.strict,
            output_sha256: b.output_sha256.clone(),
            outputs_identical: b.outputs_identical,
            command: r.command.clone(),
            ci: ci(),
        },
    }
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn environment() -> Environment {
    let var = |k: &str| std::env::var(k).ok();
    Environment {
        BITNET_VERSION: env!("CARGO_PKG_VERSION"),
        OS: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        RAYON_NUM_THREADS: var("RAYON_NUM_THREADS"),
        BITNET_DETERMINISTIC: var("BITNET_DETERMINISTIC"),
        BITNET_SEED: var("BITNET_SEED"),
        BITNET_STRICT_MODE: var("BITNET_STRICT_MODE"),
    }
}

/// The command line as a shell takes it, so that a reader can paste it: the
/// engine variables of `environment()` that were set, the program's file name
/// (not the path it ran from, which is this machine's) and the arguments, each
/// quoted where a shell would split or expand it. The receipt's own path is
/// written `{receipt}`: whoever reruns it chooses where the new receipt goes.
pub fn recorded_command(args: &[String]) -> String {
    let mut words: Vec<String> = ENGINE_VARIABLES
        .iter()
        .filter_map(|k| {
            std::env::var(k)
                .ok()
                .map(|v| format!("{k}={}", shell_word(&v)))
        })
        .collect();
    let mut args = args.iter();
    if let Some(program) = args.next() {
        let name = std::path::Path::new(program)
            .file_name()
            .map_or_else(|| program.clone(), |n| n.to_string_lossy().into_owned());
        words.push(shell_word(&name));
    }
    let mut receipt_value = false;
    for a in args {
        if receipt_value {
            words.push("{receipt}".into());
        } else if a.starts_with("--receipt=") {
            words.push("--receipt={receipt}".into());
        } else {
            words.push(shell_word(a));
        }
        receipt_value = a == "--receipt";
    }
    words.join(" ")
}

/// The variables the engine reads, in the order a command line sets them.
const ENGINE_VARIABLES: [&str; 4] = [
    "BITNET_DETERMINISTIC",
    "BITNET_SEED",
    "BITNET_STRICT_MODE",
    "RAYON_NUM_THREADS",
];

/// `word` as one shell word: as is when every character is plain, else in
/// single quotes (a quote inside written '\'').
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
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

fn runner() -> Runner {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return Runner {
            kind: "local",
            labels: Vec::new(),
        };
    }
    let kind = match std::env::var("RUNNER_ENVIRONMENT").as_deref() {
        Ok("self-hosted") => "self-hosted",
        _ => "hosted",
    };
    let labels: Vec<String> = ["RUNNER_OS", "RUNNER_ARCH", "RUNNER_NAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .collect();
    Runner { kind, labels }
}

fn ci() -> Option<Ci> {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return None;
    }
    let var = |k: &str| std::env::var(k).ok();
    let pr = var("GITHUB_REF").and_then(|r| {
        r.strip_prefix("refs/pull/")
            .and_then(|r| r.split('/').next())
            .and_then(|n| n.parse::<u64>().ok())
    });
    Some(Ci {
        provider: "github",
        repository: var("GITHUB_REPOSITORY"),
        run_id: var("GITHUB_RUN_ID"),
        run_attempt: var("GITHUB_RUN_ATTEMPT"),
        workflow: var("GITHUB_WORKFLOW"),
        git_ref: var("GITHUB_REF"),
        sha: var("GITHUB_SHA"),
        pr,
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

    /// A value the run could not measure is left out, never written as null: a
    /// decode that took no time (an infinite rate), no prefill, no peak RSS, no GPU.
    #[test]
    fn unknown_values_are_left_out() {
        use crate::bench::RunSample;
        use crate::formats::{EmbeddingType, Format};
        use crate::model::Activation;
        let m = crate::synthetic::build_spec(
            "synthetic:tiny",
            1,
            Format::I2s,
            EmbeddingType::F16,
            Activation::Relu2,
        )
        .unwrap();
        let bench = BenchResult {
            samples: vec![RunSample {
                prefill_ms: 0.0,
                prefill_tokens: 0,
                first_token_ms: 0.5,
                decode_ms: 0.0,
                token_latency_ms: vec![0.5],
                output: vec![7],
                wall_ms: 1.0,
            }],
            warmup_runs: 0,
            kernel_stats: Vec::new(),
            output_sha256: "00".into(),
            outputs_identical: true,
            wall_ms: 1.0,
            kv_cache_bytes: 0,
        };
        let calibration = Calibration {
            mem_bw_gbps: 10.0,
            bytes_per_pass: 1,
            passes: 1,
            samples_gbps: vec![10.0],
        };
        let opts = BenchOptions {
            prompt: vec![1],
            tokens: 1,
            runs: 1,
            warmup: 0,
        };
        let r = build(&ReceiptInputs {
            model: &m,
            model_path: "synthetic:tiny".into(),
            model_sha256: "00".into(),
            model_load_ms: 1.0,
            opts: &opts,
            bench: &bench,
            calibration: &calibration,
            simd: SimdLevel::Scalar,
            threads: 1,
            seed: 1,
            deterministic: false,
            strict: false,
            peak_rss_bytes: None,
            backend: "cpu",
            gpu: None,
            calibration_method: CPU_CALIBRATION_METHOD,
            command: "bitnet-engine bench --receipt {receipt}".into(),
        });
        let v = serde_json::to_value(&r).unwrap();
        fn no_null(v: &serde_json::Value, at: &str) {
            match v {
                serde_json::Value::Null => panic!("null at {at}"),
                serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| no_null(v, k)),
                _ => {}
            }
        }
        no_null(&v, "");
        for absent in [
            "/tokens_per_second",
            "/measurement/median",
            "/measurement/max",
        ] {
            assert!(v.pointer(absent).is_none(), "{absent}");
        }
        let present = ["/measurement/first_token_ms", "/calibration/mem_bw_gbps"];
        for p in present {
            assert!(v.pointer(p).is_some_and(|x| x.is_f64()), "{p}");
        }
        for absent in [
            "/measurement/prefill_tokens_per_second",
            "/measurement/peak_rss_bytes",
            "/host/gpu",
        ] {
            assert!(v.pointer(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn the_command_line_pastes_into_a_shell() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let line = recorded_command(&args(&[
            "/home/me/target/release/bitnet-engine",
            "bench",
            "--model",
            "models/my model's.gguf",
            "--receipt",
            "/tmp/r.json",
            "--tokens",
            "16",
        ]));
        assert!(
            line.ends_with(
                "bitnet-engine bench --model 'models/my model'\\''s.gguf' --receipt {receipt} --tokens 16"
            ),
            "{line}"
        );
        assert!(!line.contains("/home/me"), "{line}");
        let line = recorded_command(&args(&[
            "e",
            "bench",
            "--receipt=x.json",
            "--kernels",
            "$(id)",
        ]));
        assert!(
            line.ends_with("e bench --receipt={receipt} --kernels '$(id)'"),
            "{line}"
        );
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29T12:34:56Z
        assert_eq!(rfc3339_utc(t), "2024-02-29T12:34:56Z");
    }
}
