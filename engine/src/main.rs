//! `bitnet-engine`: bench (writes a receipt), generate (greedy token ids) and inspect
//! (a GGUF's metadata and tensors). A thin layer: parsing flags and wiring the library.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bitnet_engine::bench::{self, BenchOptions};
use bitnet_engine::formats::{EmbeddingType, Format};
use bitnet_engine::kernels::ActQuant;
use bitnet_engine::model::{Activation, Model, ModelSource};
use bitnet_engine::{Dispatcher, EngineError, SimdLevel, crosscheck, gguf, receipt, synthetic};

mod cli_device;
use cli_device::Backend;

const USAGE: &str = "usage:
  bitnet-engine bench --model <synthetic:tiny|synthetic:2b-4t|file.gguf> [--tokens 128] [--runs 5]
                      [--warmup 1] [--prompt 32] [--threads N] [--kernels auto|scalar|avx2|avx512]
                      [--format i2s|tq2_0|bitnet32f16|qk256] [--embedding f16|f32] [--seed S]
                      [--calibration-passes 3] [--backend cpu|cuda] --receipt PATH
  bitnet-engine crosscheck --model M [--backend cuda] [--steps 32] [--prompt-ids 1,2,3 | --prompt 4]
                           [--min-cosine 0.999] [--near-ties fail|allow] [--format F] [--embedding E] [--activation A]
                           [--report FILE]    (per-step logits of the backend vs the CPU engine)
  bitnet-engine generate --model M --prompt-ids 1,2,3 --tokens N [--threads N] [--kernels K]
                         [--dump-logits FILE] [--act-quant per-token|q8_k]
                         (q8_k: llama.cpp's per-256-block activations, tq2_0 models only)
  bitnet-engine inspect FILE.gguf
  bitnet-engine export --model synthetic:PRESET [--format F] [--activation relu2|silu]
                       [--arch bitnet-b1.58|bitnet] --out FILE.gguf

environment: BITNET_SEED (default 42), BITNET_DETERMINISTIC, BITNET_STRICT_MODE, RAYON_NUM_THREADS";

fn main() {
    if let Err(e) = run() {
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

#[derive(Debug)]
struct UsageError(String);
impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n\n{USAGE}", self.0)
    }
}
impl std::error::Error for UsageError {}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// `--key value` flags after the subcommand, plus positional arguments.
struct Args {
    flags: HashMap<String, String>,
    positional: Vec<String>,
}

impl Args {
    fn parse(raw: &[String], known: &[&str]) -> Result<Self> {
        let mut flags = HashMap::new();
        let mut positional = Vec::new();
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let (name, value) = match name.split_once('=') {
                    Some((n, v)) => (n.to_string(), v.to_string()),
                    None => {
                        let v = it
                            .next()
                            .ok_or_else(|| usage(format!("--{name} needs a value")))?;
                        (name.to_string(), v.clone())
                    }
                };
                if !known.contains(&name.as_str()) {
                    return Err(usage(format!("unknown flag --{name}")));
                }
                flags.insert(name, value);
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Args { flags, positional })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(|s| s.as_str())
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| usage(format!("--{name} expects a number, got '{v}'"))),
        }
    }
}

fn env_flag(key: &str) -> bool {
    matches!(
        std::env::var(key)
            .map(|v| v.to_ascii_lowercase())
            .as_deref(),
        Ok("1" | "true" | "yes" | "on")
    )
}

fn seed(args: &Args) -> Result<u64> {
    if let Some(s) = args.get("seed") {
        return s
            .parse()
            .map_err(|_| usage(format!("--seed expects an integer, got '{s}'")));
    }
    match std::env::var("BITNET_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .with_context(|| format!("BITNET_SEED='{s}' is not an unsigned integer")),
        Err(_) => Ok(42),
    }
}

fn setup_threads(args: &Args) -> Result<usize> {
    if let Some(t) = args.get("threads") {
        let n: usize = t
            .parse()
            .map_err(|_| usage(format!("--threads expects a number, got '{t}'")))?;
        if n == 0 {
            return Err(usage("--threads must be at least 1"));
        }
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

fn load(args: &Args, seed: u64) -> Result<Loaded> {
    let spec = args
        .get("model")
        .ok_or_else(|| usage("--model is required"))?;
    let t0 = Instant::now();
    if spec.starts_with("synthetic:") {
        let format = match args.get("format") {
            None => Format::I2s,
            Some(f) => Format::parse(f).ok_or_else(|| usage(format!("unknown --format '{f}'")))?,
        };
        let dtype = match args.get("embedding").unwrap_or("f16") {
            "f16" => EmbeddingType::F16,
            "f32" => EmbeddingType::F32,
            other => {
                return Err(usage(format!(
                    "--embedding must be f16 or f32, got '{other}'"
                )));
            }
        };
        let activation = match args.get("activation").unwrap_or("relu2") {
            "relu2" => Activation::Relu2,
            "silu" => Activation::Silu,
            other => {
                return Err(usage(format!(
                    "--activation must be relu2 or silu, got '{other}'"
                )));
            }
        };
        let model = synthetic::build_spec(spec, seed, format, dtype, activation)?;
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
        if args.get("format").is_some() {
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

fn dispatcher(args: &Args) -> Result<Dispatcher> {
    Ok(Dispatcher::new(SimdLevel::choose(
        args.get("kernels").unwrap_or("auto"),
    )?))
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

fn run() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = argv.split_first() else {
        return Err(usage("missing command"));
    };
    // `bench --help` and the like print the usage too.
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        return print_stdout(USAGE);
    }
    match cmd.as_str() {
        "bench" => cmd_bench(rest),
        "generate" => cmd_generate(rest),
        "inspect" => cmd_inspect(rest),
        "export" => cmd_export(rest),
        "crosscheck" => cmd_crosscheck(rest),
        "-h" | "--help" | "help" => print_stdout(USAGE),
        other => Err(usage(format!("unknown command '{other}'"))),
    }
}

fn cmd_bench(raw: &[String]) -> Result<()> {
    let args = Args::parse(
        raw,
        &[
            "model",
            "tokens",
            "runs",
            "warmup",
            "prompt",
            "prompt-ids",
            "threads",
            "kernels",
            "receipt",
            "format",
            "embedding",
            "seed",
            "calibration-passes",
            "backend",
        ],
    )?;
    let backend = backend(&args)?;
    let receipt_path = PathBuf::from(
        args.get("receipt")
            .ok_or_else(|| usage("--receipt PATH is required"))?,
    );
    let tokens: usize = args.num("tokens", 128)?;
    if tokens == 0 {
        return Err(usage("--tokens must be at least 1"));
    }
    let runs: usize = args.num("runs", 5)?;
    if runs == 0 {
        return Err(usage("--runs must be at least 1"));
    }
    let warmup: usize = args.num("warmup", 1)?;
    let passes: usize = args.num("calibration-passes", 3)?;
    let seed = seed(&args)?;
    let strict = env_flag("BITNET_STRICT_MODE");
    let deterministic = env_flag("BITNET_DETERMINISTIC");
    let threads = setup_threads(&args)?;
    let k = dispatcher(&args)?;
    // The device first: a missing driver, NVRTC or GPU fails before the model is built.
    let device = match backend {
        Backend::Cuda => Some(cli_device::open()?),
        Backend::Cpu => None,
    };
    let loaded = load(&args, seed)?;
    let m = &loaded.model;
    eprintln!("[bitnet-engine] hashing the weights");
    let model_sha256 = loaded.sha256()?;
    let prompt = match args.get("prompt-ids") {
        Some(ids) => parse_ids(ids)?,
        None => bench::seeded_prompt(args.num("prompt", 32)?, m.config.vocab, seed),
    };
    if prompt.is_empty() {
        return Err(usage("--prompt must be at least 1"));
    }
    let opts = BenchOptions {
        prompt,
        tokens,
        runs,
        warmup,
    };
    let (result, calibration, gpu, calibration_method, backend_name) = match device {
        Some(dev) => {
            let (result, calibration, gpu) = cli_device::bench(dev, m, &opts, passes)?;
            let method = cli_device::CUDA_CALIBRATION_METHOD;
            (result, calibration, Some(gpu), method, "cuda")
        }
        None => {
            let (result, calibration) = bench_cpu(m, &k, &opts, passes, threads)?;
            let method = receipt::CPU_CALIBRATION_METHOD;
            (result, calibration, None, method, "cpu")
        }
    };
    if strict {
        bench::check_strict(&result.kernel_stats)?;
    }
    if deterministic && !result.outputs_identical {
        bail!("BITNET_DETERMINISTIC is set but the timed runs generated different tokens");
    }
    let value = receipt::build(&receipt::ReceiptInputs {
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
    });
    if let Some(dir) = receipt_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&value)? + "\n";
    write_replacing(&receipt_path, text.as_bytes())
        .with_context(|| format!("writing {}", receipt_path.display()))?;
    eprintln!(
        "[bitnet-engine] {:.2} tok/s (median of {runs}), roofline fraction {:.3}, receipt {}",
        value["tokens_per_second"].as_f64().unwrap_or(f64::NAN),
        value["calibration"]["roofline_fraction"]
            .as_f64()
            .unwrap_or(f64::NAN),
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

fn backend(args: &Args) -> Result<Backend> {
    Backend::parse(args.get("backend")).ok_or_else(|| {
        usage(format!(
            "--backend must be cpu or cuda, got '{}'",
            args.get("backend").unwrap_or("")
        ))
    })
}

fn parse_ids(s: &str) -> Result<Vec<u32>> {
    s.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim().parse::<u32>().map_err(|_| {
                usage(format!(
                    "--prompt-ids: '{t}' is not a token id (expected e.g. 1,2,3)"
                ))
            })
        })
        .collect()
}

fn cmd_generate(raw: &[String]) -> Result<()> {
    let args = Args::parse(
        raw,
        &[
            "model",
            "prompt-ids",
            "tokens",
            "threads",
            "kernels",
            "format",
            "embedding",
            "activation",
            "seed",
            "dump-logits",
            "act-quant",
        ],
    )?;
    let ids = parse_ids(
        args.get("prompt-ids")
            .ok_or_else(|| usage("--prompt-ids is required"))?,
    )?;
    if ids.is_empty() {
        return Err(usage("--prompt-ids needs at least one id"));
    }
    let tokens: usize = args.num("tokens", 16)?;
    if tokens == 0 {
        return Err(usage("--tokens must be at least 1"));
    }
    let seed = seed(&args)?;
    setup_threads(&args)?;
    let aq = ActQuant::parse(args.get("act-quant").unwrap_or("per-token"))
        .map_err(|e| usage(e.to_string()))?;
    let k = dispatcher(&args)?.with_act_quant(aq);
    let loaded = load(&args, seed)?;
    k.check_model(loaded.model.format)?;
    let out = match args.get("dump-logits") {
        None => bitnet_engine::generate(&loaded.model, &k, &ids, tokens)?,
        Some(path) => {
            // Logits of every step (prompt positions too), f32 little-endian, vocab each:
            // the llama.cpp cross-check compares them.
            let (out, logits) =
                bitnet_engine::model::generate_with_logits(&loaded.model, &k, &ids, tokens)?;
            let bytes: Vec<u8> = logits.iter().flat_map(|x| x.to_le_bytes()).collect();
            std::fs::write(path, bytes).with_context(|| format!("writing {path}"))?;
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

fn cmd_inspect(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &[])?;
    let [path] = args.positional.as_slice() else {
        return Err(usage("inspect takes one GGUF file"));
    };
    print_stdout(&gguf::inspect(&PathBuf::from(path))?)
}

fn cmd_export(raw: &[String]) -> Result<()> {
    let args = Args::parse(
        raw,
        &[
            "model",
            "format",
            "embedding",
            "activation",
            "seed",
            "arch",
            "out",
        ],
    )?;
    let out = PathBuf::from(
        args.get("out")
            .ok_or_else(|| usage("--out FILE.gguf is required"))?,
    );
    let arch = args.get("arch").unwrap_or("bitnet-b1.58");
    if !matches!(arch, "bitnet-b1.58" | "bitnet") {
        return Err(usage(format!(
            "--arch must be bitnet-b1.58 or bitnet, got '{arch}'"
        )));
    }
    let loaded = load(&args, seed(&args)?)?;
    gguf::write_model(&loaded.model, &out, arch)?;
    eprintln!(
        "[bitnet-engine] wrote {} ({arch}, {})",
        out.display(),
        loaded.model.format.name()
    );
    Ok(())
}

fn cmd_crosscheck(raw: &[String]) -> Result<()> {
    let args = Args::parse(
        raw,
        &[
            "model",
            "backend",
            "steps",
            "prompt",
            "prompt-ids",
            "min-cosine",
            "near-ties",
            "threads",
            "kernels",
            "format",
            "embedding",
            "activation",
            "seed",
            "report",
        ],
    )?;
    let backend = Backend::parse(Some(args.get("backend").unwrap_or("cuda")))
        .ok_or_else(|| usage("--backend must be cpu or cuda"))?;
    let steps: usize = args.num("steps", 32)?;
    if steps == 0 {
        return Err(usage("--steps must be at least 1"));
    }
    let min_cosine: f64 = args.num("min-cosine", 0.999)?;
    let near_ties = match args.get("near-ties").unwrap_or("fail") {
        "fail" => false,
        "allow" => true,
        other => {
            return Err(usage(format!(
                "--near-ties must be fail or allow, got '{other}'"
            )));
        }
    };
    let seed = seed(&args)?;
    setup_threads(&args)?;
    let device = match backend {
        Backend::Cuda => Some(cli_device::open()?),
        Backend::Cpu => None,
    };
    let loaded = load(&args, seed)?;
    let m = &loaded.model;
    let prompt = match args.get("prompt-ids") {
        Some(ids) => parse_ids(ids)?,
        None => bench::seeded_prompt(args.num("prompt", 4)?, m.config.vocab, seed),
    };
    if prompt.is_empty() {
        return Err(usage("the prompt needs at least one token"));
    }
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
            let k = dispatcher(&args)?;
            let mut candidate = bench::CpuDecoder::new(m, &k);
            crosscheck::run(&mut reference, &mut candidate, &prompt, steps)?
        }
    };
    let mut report = check.to_json(min_cosine, near_ties);
    report["model"] = serde_json::json!(loaded.path);
    report["format"] = serde_json::json!(m.format.name());
    report["backend"] = serde_json::json!(match backend {
        Backend::Cpu => "cpu",
        Backend::Cuda => "cuda",
    });
    report["prompt"] = serde_json::json!(prompt);
    let text = serde_json::to_string_pretty(&report)? + "\n";
    if let Some(path) = args.get("report") {
        std::fs::write(path, &text).with_context(|| format!("writing {path}"))?;
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
