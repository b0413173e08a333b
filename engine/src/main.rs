//! `bitnet-engine`: bench (writes a receipt), crosscheck (a backend against the CPU
//! engine), generate (greedy token ids), inspect (a GGUF's metadata and tensors) and
//! export (a synthetic model as GGUF). A thin layer: clap parses the flags (exit 2 on
//! any usage error), the rest wires the library.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bitnet_engine::bench::{self, BenchOptions};
use bitnet_engine::formats::{EmbeddingType, Format};
use bitnet_engine::kernels::ActQuant;
use bitnet_engine::model::{Activation, Model, ModelSource};
use bitnet_engine::{Dispatcher, EngineError, SimdLevel, crosscheck, gguf, receipt, synthetic};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

mod cli_device;
use cli_device::Backend;

/// The variables every subcommand reads; clap shows them under each help page.
const ENVIRONMENT: &str = "environment: BITNET_SEED (default 42), BITNET_DETERMINISTIC, BITNET_STRICT_MODE, RAYON_NUM_THREADS";

#[derive(Parser, Debug)]
#[command(
    name = "bitnet-engine",
    version,
    about = "Reference BitNet b1.58 inference engine that writes honest receipts",
    after_help = ENVIRONMENT,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Warm-up, timed runs and calibration, then a receipt.
    #[command(after_help = ENVIRONMENT)]
    Bench(BenchArgs),
    /// Per-step logits of the backend against the CPU engine (teacher-forced).
    #[command(after_help = ENVIRONMENT)]
    Crosscheck(CrosscheckArgs),
    /// Greedy generation: prints the new token ids, comma-separated.
    #[command(after_help = ENVIRONMENT)]
    Generate(GenerateArgs),
    /// A GGUF's metadata, tensors and the model config read from them.
    Inspect {
        /// The GGUF file.
        #[arg(value_name = "FILE.gguf")]
        file: PathBuf,
    },
    /// Write a synthetic model as a GGUF file.
    #[command(after_help = ENVIRONMENT)]
    Export(ExportArgs),
}

/// Which model, and how a synthetic one is built.
#[derive(Args, Debug)]
struct ModelArgs {
    /// synthetic:tiny, synthetic:2b-4t or the path of a .gguf file.
    #[arg(long, value_name = "MODEL")]
    model: String,
    /// Weight format of a synthetic model [default: i2s] (a GGUF says its own).
    #[arg(long, value_parser = one_of(&Format::ALL, Format::name))]
    format: Option<Format>,
    /// Element type of a synthetic model's embedding.
    #[arg(long, default_value = "f16", value_parser = one_of(&[EmbeddingType::F16, EmbeddingType::F32], EmbeddingType::name))]
    embedding: EmbeddingType,
    /// Seed of the synthetic weights and the prompt [default: BITNET_SEED, else 42].
    #[arg(long)]
    seed: Option<u64>,
}

/// Where the kernels run on the CPU.
#[derive(Args, Debug)]
struct CpuArgs {
    /// Threads of the pool [default: RAYON_NUM_THREADS, else every core].
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    threads: Option<usize>,
    /// Kernel set: auto, scalar, avx2 or avx512.
    #[arg(long, value_name = "K", default_value = "auto")]
    kernels: String,
}

#[derive(Args, Debug)]
struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    cpu: CpuArgs,
    /// Where to write the receipt.
    #[arg(long, value_name = "PATH")]
    receipt: PathBuf,
    /// Tokens decoded per timed run.
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = at_least_one)]
    tokens: usize,
    /// Timed runs (the receipt's rate is their median).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = at_least_one)]
    runs: usize,
    /// Untimed runs before the timed ones.
    #[arg(long, value_name = "N", default_value_t = 1)]
    warmup: usize,
    /// Length of the seeded prompt.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = at_least_one)]
    prompt: usize,
    /// The prompt as token ids instead of a seeded one.
    #[arg(long, value_name = "IDS", value_parser = token_ids)]
    prompt_ids: Option<TokenIds>,
    /// Bandwidth passes before the warm-up and after the last run.
    #[arg(long, value_name = "N", default_value_t = 3)]
    calibration_passes: usize,
    /// Where the decoder runs.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct CrosscheckArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    cpu: CpuArgs,
    /// FFN activation of a synthetic model.
    #[arg(long, default_value = "relu2", value_parser = activation())]
    activation: Activation,
    /// The candidate compared with the CPU engine.
    #[arg(long, value_enum, default_value_t = Backend::Cuda)]
    backend: Backend,
    /// Greedy steps compared.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = at_least_one)]
    steps: usize,
    /// Length of the seeded prompt.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = at_least_one)]
    prompt: usize,
    /// The prompt as token ids instead of a seeded one.
    #[arg(long, value_name = "IDS", value_parser = token_ids)]
    prompt_ids: Option<TokenIds>,
    /// The lowest cosine between the two logit vectors any step may have.
    #[arg(long, value_name = "C", default_value_t = 0.999)]
    min_cosine: f64,
    /// A different token where the reference's top two logits are within the engines'
    /// difference: a failure, or allowed.
    #[arg(long, action = clap::ArgAction::Set, default_value = "fail", value_parser = PossibleValuesParser::new(["fail", "allow"]).map(|s| s == "allow"))]
    near_ties: bool,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct GenerateArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    cpu: CpuArgs,
    /// FFN activation of a synthetic model.
    #[arg(long, default_value = "relu2", value_parser = activation())]
    activation: Activation,
    /// The prompt's token ids, e.g. 1,2,3.
    #[arg(long, value_name = "IDS", value_parser = token_ids)]
    prompt_ids: TokenIds,
    /// Tokens to generate.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = at_least_one)]
    tokens: usize,
    /// Write the logits of every step (f32 little-endian, vocab each) to FILE.
    #[arg(long, value_name = "FILE")]
    dump_logits: Option<PathBuf>,
    /// Activation quantisation: per-token, or q8_k (llama.cpp's per-256-block, tq2_0 models only).
    #[arg(long, default_value = "per-token", value_parser = |s: &str| ActQuant::parse(s).map_err(|e| e.to_string()))]
    act_quant: ActQuant,
}

#[derive(Args, Debug)]
struct ExportArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// FFN activation of the model.
    #[arg(long, default_value = "relu2", value_parser = activation())]
    activation: Activation,
    /// GGUF architecture: bitnet-b1.58 (what this engine reads) or bitnet (llama.cpp's).
    #[arg(long, default_value = "bitnet-b1.58", value_parser = ["bitnet-b1.58", "bitnet"])]
    arch: String,
    /// The GGUF file to write.
    #[arg(long, value_name = "FILE.gguf")]
    out: PathBuf,
}

/// A parser that accepts exactly the names of `all` (listed in the help, with
/// suggestions for a misspelling) and returns the value it names.
fn one_of<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    name: fn(T) -> &'static str,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(all.iter().map(|&v| name(v))).map(move |s| {
        *all.iter()
            .find(|&&v| name(v) == s)
            .expect("the parser accepted one of the names")
    })
}

fn activation() -> impl TypedValueParser<Value = Activation> {
    one_of(&[Activation::Relu2, Activation::Silu], Activation::name)
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A non-empty prompt of token ids.
#[derive(Clone, Debug)]
struct TokenIds(Vec<u32>);

fn token_ids(s: &str) -> Result<TokenIds, String> {
    let ids = s
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("'{t}' is not a token id (expected e.g. 1,2,3)"))
        })
        .collect::<Result<Vec<u32>, String>>()?;
    if ids.is_empty() {
        return Err("needs at least one id".into());
    }
    Ok(TokenIds(ids))
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        // A usage error, or a backend that cannot run here: exit 2, never a CPU run.
        let unavailable = matches!(
            e.downcast_ref::<EngineError>(),
            Some(EngineError::DeviceUnavailable(_))
        );
        std::process::exit(if e.downcast_ref::<UsageError>().is_some() || unavailable {
            2
        } else {
            1
        });
    }
}

/// A combination of arguments clap cannot check alone (it depends on the model).
#[derive(Debug)]
struct UsageError(String);
impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n\nFor more information, try '--help'.", self.0)
    }
}
impl std::error::Error for UsageError {}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

fn env_flag(key: &str) -> bool {
    matches!(
        std::env::var(key)
            .map(|v| v.to_ascii_lowercase())
            .as_deref(),
        Ok("1" | "true" | "yes" | "on")
    )
}

fn seed(args: &ModelArgs) -> Result<u64> {
    if let Some(s) = args.seed {
        return Ok(s);
    }
    match std::env::var("BITNET_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .with_context(|| format!("BITNET_SEED='{s}' is not an unsigned integer")),
        Err(_) => Ok(42),
    }
}

fn setup_threads(args: &CpuArgs) -> Result<usize> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("configuring the thread pool")?;
    }
    Ok(rayon::current_num_threads())
}

struct Loaded {
    model: Model,
    path: String,
    load_ms: f64,
}

impl Loaded {
    /// The file's sha256 for a GGUF; the weight-manifest hash for a synthetic model.
    fn sha256(&self) -> Result<String> {
        Ok(match &self.model.source {
            ModelSource::Gguf { path } => gguf::file_sha256(path)?,
            ModelSource::Synthetic { .. } => synthetic::weights_sha256(&self.model),
        })
    }
}

fn load(args: &ModelArgs, activation: Activation, seed: u64) -> Result<Loaded> {
    let spec = args.model.as_str();
    let t0 = Instant::now();
    if spec.starts_with("synthetic:") {
        let format = args.format.unwrap_or(Format::I2s);
        let model = synthetic::build_spec(spec, seed, format, args.embedding, activation)?;
        let load_ms = t0.elapsed().as_secs_f64() * 1e3;
        eprintln!(
            "[bitnet-engine] built {spec} ({}) in {load_ms:.0} ms",
            format.name()
        );
        Ok(Loaded {
            model,
            path: spec.to_string(),
            load_ms,
        })
    } else {
        if args.format.is_some() {
            return Err(usage(
                "--format applies to synthetic models; a GGUF says its own format",
            ));
        }
        let path = PathBuf::from(spec);
        let model = gguf::load_model(&path)?;
        let load_ms = t0.elapsed().as_secs_f64() * 1e3;
        eprintln!("[bitnet-engine] mapped {spec} in {load_ms:.0} ms");
        Ok(Loaded {
            model,
            path: spec.to_string(),
            load_ms,
        })
    }
}

fn dispatcher(args: &CpuArgs) -> Result<Dispatcher> {
    Ok(Dispatcher::new(SimdLevel::choose(&args.kernels)?))
}

/// Text on stdout, ending in a newline; a closed pipe (`| head`) ends the output
/// quietly instead of panicking as `println!` does. Every stdout write goes here.
fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    match write!(std::io::stdout().lock(), "{text}{newline}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Bench(args) => cmd_bench(args),
        Command::Crosscheck(args) => cmd_crosscheck(args),
        Command::Generate(args) => cmd_generate(args),
        Command::Inspect { file } => print_stdout(&gguf::inspect(&file)?),
        Command::Export(args) => cmd_export(args),
    }
}

fn cmd_bench(args: BenchArgs) -> Result<()> {
    let seed = seed(&args.model)?;
    let strict = env_flag("BITNET_STRICT_MODE");
    let deterministic = env_flag("BITNET_DETERMINISTIC");
    let threads = setup_threads(&args.cpu)?;
    let k = dispatcher(&args.cpu)?;
    // The device first: a missing driver, NVRTC or GPU fails before the model is built.
    let device = match args.backend {
        Backend::Cuda => Some(cli_device::open()?),
        Backend::Cpu => None,
    };
    // `bench` builds synthetic models with BitNet b1.58's activation.
    let loaded = load(&args.model, Activation::Relu2, seed)?;
    let m = &loaded.model;
    eprintln!("[bitnet-engine] hashing the weights");
    let model_sha256 = loaded.sha256()?;
    let prompt = match args.prompt_ids {
        Some(TokenIds(ids)) => ids,
        None => bench::seeded_prompt(args.prompt, m.config.vocab, seed),
    };
    let runs = args.runs;
    let opts = BenchOptions {
        prompt,
        tokens: args.tokens,
        runs,
        warmup: args.warmup,
    };
    let passes = args.calibration_passes;
    let (result, calibration, gpu, calibration_method, backend_name) = match device {
        Some(dev) => {
            let (result, calibration, gpu) = cli_device::bench(dev, m, &opts, passes)?;
            let method = cli_device::CUDA_CALIBRATION_METHOD;
            (result, calibration, Some(gpu), method, Backend::Cuda.name())
        }
        None => {
            let (result, calibration) = bench_cpu(m, &k, &opts, passes, threads)?;
            let method = receipt::CPU_CALIBRATION_METHOD;
            (result, calibration, None, method, Backend::Cpu.name())
        }
    };
    if strict {
        bench::check_strict(&result.kernel_stats)?;
    }
    if deterministic && !result.outputs_identical {
        bail!("BITNET_DETERMINISTIC is set but the timed runs generated different tokens");
    }
    let receipt = receipt::build(&receipt::ReceiptInputs {
        model: m,
        model_path: loaded.path.clone(),
        model_sha256,
        model_load_ms: loaded.load_ms,
        opts: &opts,
        bench: &result,
        calibration: &calibration,
        simd: k.simd(),
        threads,
        seed,
        deterministic,
        strict,
        peak_rss_bytes: bench::peak_rss_bytes(),
        backend: backend_name,
        gpu,
        calibration_method,
        command: receipt::recorded_command(
            &std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
        ),
    });
    let receipt_path = args.receipt;
    if let Some(dir) = receipt_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&receipt)? + "\n";
    write_replacing(&receipt_path, text.as_bytes())
        .with_context(|| format!("writing {}", receipt_path.display()))?;
    eprintln!(
        "[bitnet-engine] {:.2} tok/s (median of {runs}), roofline fraction {:.3}, receipt {}",
        receipt.tokens_per_second,
        receipt.calibration.roofline_fraction,
        receipt_path.display()
    );
    Ok(())
}

/// The CPU bench: calibration on the thread pool around warm-up and timed runs.
fn bench_cpu(
    m: &Model,
    k: &Dispatcher,
    opts: &BenchOptions,
    passes: usize,
    threads: usize,
) -> Result<(bench::BenchResult, bench::Calibration)> {
    eprintln!(
        "[bitnet-engine] calibrating: streaming {:.0} MB of weights on {threads} threads",
        m.weight_bytes_per_token() as f64 / 1e6
    );
    let calibration = bench::measure_bandwidth(m, k, passes);
    eprintln!(
        "[bitnet-engine] memory bandwidth {:.2} GB/s -> roofline {:.2} tok/s; {} kernels; {} warm-up + {} runs of {} prompt + {} tokens",
        calibration.mem_bw_gbps,
        calibration
            .roofline_tokens_per_second(m.decode_bytes_per_token(opts.prompt.len(), opts.tokens)),
        k.simd().name(),
        opts.warmup,
        opts.runs,
        opts.prompt.len(),
        opts.tokens,
    );
    // One more calibration pass after each timed run, and `passes` at the end: on a
    // shared machine the ceiling is the best the memory gave at any point of the run.
    let mut between = Vec::new();
    let result = bench::run(
        m,
        k,
        opts,
        |line| eprintln!("[bitnet-engine] {line}"),
        || between.push(bench::measure_bandwidth(m, k, 1)),
    )?;
    let mut calibration = calibration;
    for c in between {
        calibration = calibration.merge(c);
    }
    let calibration = calibration.merge(bench::measure_bandwidth(m, k, passes));
    Ok((result, calibration))
}

fn cmd_generate(args: GenerateArgs) -> Result<()> {
    let TokenIds(ids) = args.prompt_ids;
    let seed = seed(&args.model)?;
    setup_threads(&args.cpu)?;
    let k = dispatcher(&args.cpu)?.with_act_quant(args.act_quant);
    let loaded = load(&args.model, args.activation, seed)?;
    k.check_model(loaded.model.format)?;
    let out = match &args.dump_logits {
        None => bitnet_engine::generate(&loaded.model, &k, &ids, args.tokens)?,
        Some(path) => {
            // Logits of every step (prompt positions too), f32 little-endian, vocab each:
            // the llama.cpp cross-check compares them.
            let (out, logits) =
                bitnet_engine::model::generate_with_logits(&loaded.model, &k, &ids, args.tokens)?;
            let bytes: Vec<u8> = logits.iter().flat_map(|x| x.to_le_bytes()).collect();
            std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
            out
        }
    };
    let text: Vec<String> = out.iter().map(|t| t.to_string()).collect();
    print_stdout(&text.join(","))?;
    if env_flag("BITNET_STRICT_MODE") {
        bench::check_strict(&k.stats())?;
    }
    Ok(())
}

fn cmd_export(args: ExportArgs) -> Result<()> {
    let loaded = load(&args.model, args.activation, seed(&args.model)?)?;
    gguf::write_model(&loaded.model, &args.out, &args.arch)?;
    eprintln!(
        "[bitnet-engine] wrote {} ({}, {})",
        args.out.display(),
        args.arch,
        loaded.model.format.name()
    );
    Ok(())
}

fn cmd_crosscheck(args: CrosscheckArgs) -> Result<()> {
    let (steps, min_cosine, near_ties) = (args.steps, args.min_cosine, args.near_ties);
    let seed = seed(&args.model)?;
    setup_threads(&args.cpu)?;
    let device = match args.backend {
        Backend::Cuda => Some(cli_device::open()?),
        Backend::Cpu => None,
    };
    let loaded = load(&args.model, args.activation, seed)?;
    let m = &loaded.model;
    let prompt = match args.prompt_ids {
        Some(TokenIds(ids)) => ids,
        None => bench::seeded_prompt(args.prompt, m.config.vocab, seed),
    };
    // The reference is always the CPU engine with its best kernels; `--kernels` picks
    // the candidate's level when the candidate is the CPU too (a self-check).
    let reference_k = Dispatcher::new(SimdLevel::detect());
    let mut reference = bench::CpuDecoder::new(m, &reference_k);
    let check = match device {
        Some(dev) => {
            let mut candidate = cli_device::decoder(dev, m)?;
            crosscheck::run(&mut reference, &mut candidate, &prompt, steps)?
        }
        None => {
            let k = dispatcher(&args.cpu)?;
            let mut candidate = bench::CpuDecoder::new(m, &k);
            crosscheck::run(&mut reference, &mut candidate, &prompt, steps)?
        }
    };
    let report = CrosscheckReport {
        check: check.report(min_cosine, near_ties),
        model: &loaded.path,
        format: m.format.name(),
        backend: args.backend.name(),
        prompt: &prompt,
    };
    let text = serde_json::to_string_pretty(&report)? + "\n";
    if let Some(path) = &args.report {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "[bitnet-engine] crosscheck {} ({}) over {steps} steps: min cosine {:.6} (need {min_cosine}), tokens identical: {}",
        loaded.path,
        m.format.name(),
        check.min_cosine(),
        check.tokens_identical()
    );
    if !check.passes(min_cosine, near_ties) {
        bail!(
            "crosscheck failed: min cosine {:.6} (need {min_cosine}), tokens identical: {}",
            check.min_cosine(),
            check.tokens_identical()
        );
    }
    print_stdout(&text)
}

/// The cross-check's report, then what was compared.
#[derive(serde::Serialize)]
struct CrosscheckReport<'a> {
    #[serde(flatten)]
    check: crosscheck::Report,
    model: &'a str,
    format: &'static str,
    backend: &'static str,
    prompt: &'a [u32],
}

/// Write a file whole or not at all: a new temporary file beside it, then a
/// rename over the old one. A symlink at the path is replaced, never followed, and
/// a run killed mid-write leaves the previous receipt, not half of a new one.
fn write_replacing(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command line the repository documents or runs must still parse: docs/
    /// (engine, release-gating, claims, the adopting example), engine/cuda/
    /// device-check.sh, engine/scripts/llama_cpp_crosscheck.py and the command
    /// policy-check's `run` builds (policy/src/action/measure.rs).
    #[test]
    fn documented_command_lines_parse() {
        let lines = [
            "bench --model synthetic:2b-4t --tokens 128 --runs 5 --receipt ci/inference.json",
            "generate --model synthetic:tiny --prompt-ids 1,2,3 --tokens 8",
            "inspect model.gguf",
            "export --model synthetic:tiny --format tq2_0 --out tiny.gguf",
            "bench --backend cuda --model synthetic:2b-4t --tokens 128 --runs 5 --receipt gpu.json",
            "crosscheck --backend cuda --model synthetic:tiny --steps 32",
            "export --model synthetic:2b-4t --format tq2_0 --activation silu --arch bitnet --out m.gguf",
            "bench --model synthetic:2b-4t --prompt 1 --tokens 64 --runs 3 --threads 2 --receipt r.json",
            "bench --model synthetic:2b-4t --tokens 128 --runs 5 --threads 1 --receipt /tmp/cpu-i2s.json",
            "bench --model synthetic:2b-4t --tokens 128 --threads 1 --seed 42 --receipt ci/inference.json",
            "bench --model models/bitnet-2b.gguf --tokens 128 --threads 1 --seed 42 --receipt ci/inference.json",
            "bench --kernels scalar --prompt 2 --tokens 16 --runs 2 --threads 2 --model synthetic:2b-4t --receipt r.json",
            "crosscheck --backend cuda --min-cosine 0.999 --report out/c.json --model synthetic:tiny --steps 32",
            "crosscheck --backend cuda --min-cosine 0.999 --report out/c.json --model synthetic:tiny --embedding f32 --activation silu --steps 32",
            "crosscheck --backend cuda --min-cosine 0.999 --report out/c.json --model synthetic:2b-4t --format tq2_0 --steps 8 --near-ties allow",
            "export --model synthetic:tiny --format tq2_0 --activation silu --arch bitnet --out /tmp/model.gguf",
            "generate --model /tmp/model.gguf --prompt-ids 1,2,3 --tokens 32 --dump-logits /tmp/ours.f32 --act-quant q8_k",
            "bench --model synthetic:2b-4t --tokens 16 --runs 3 --threads 2 --prompt 8 --kernels avx2 --receipt r.json --backend cpu",
        ];
        for line in lines {
            let argv = std::iter::once("bitnet-engine").chain(line.split_whitespace());
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!("`bitnet-engine {line}` no longer parses:\n{e}");
            }
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let Cli {
            command: Command::Bench(b),
        } = Cli::try_parse_from(["e", "bench", "--model", "m", "--receipt", "r"]).unwrap()
        else {
            panic!("not bench")
        };
        assert_eq!((b.tokens, b.runs, b.warmup, b.prompt), (128, 5, 1, 32));
        assert_eq!(b.calibration_passes, 3);
        assert_eq!(b.backend, Backend::Cpu);
        assert_eq!(b.cpu.kernels, "auto");
        assert_eq!(b.model.embedding, EmbeddingType::F16);
        assert!(b.model.format.is_none() && b.model.seed.is_none() && b.cpu.threads.is_none());
        let Cli {
            command: Command::Crosscheck(c),
        } = Cli::try_parse_from(["e", "crosscheck", "--model", "m"]).unwrap()
        else {
            panic!("not crosscheck")
        };
        assert_eq!((c.steps, c.prompt, c.min_cosine), (32, 4, 0.999));
        assert_eq!((c.backend, c.near_ties), (Backend::Cuda, false));
        assert_eq!(c.activation, Activation::Relu2);
        let Cli {
            command: Command::Generate(g),
        } = Cli::try_parse_from(["e", "generate", "--model", "m", "--prompt-ids", "1"]).unwrap()
        else {
            panic!("not generate")
        };
        assert_eq!(g.tokens, 16);
        assert_eq!(g.act_quant, ActQuant::PerToken);
        let Cli {
            command: Command::Export(x),
        } = Cli::try_parse_from(["e", "export", "--model", "m", "--out", "o"]).unwrap()
        else {
            panic!("not export")
        };
        assert_eq!(x.arch, "bitnet-b1.58");
        // `gpu` still names the CUDA backend.
        let Cli {
            command: Command::Bench(b),
        } = Cli::try_parse_from([
            "e",
            "bench",
            "--model",
            "m",
            "--receipt",
            "r",
            "--backend",
            "gpu",
        ])
        .unwrap()
        else {
            panic!("not bench")
        };
        assert_eq!(b.backend, Backend::Cuda);
    }
}
