//! Running the engine, outside the pure core (this module starts processes): the
//! built-in bitnet-engine, or the user's build and bench commands, as a typed
//! `Spec` says. Used by the action, `policy-check run` and the release gate. Output streams through to the log as it comes (it is the progress
//! display of the long step) and its last lines are kept for the error message
//! when no valid receipt comes out.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Which engine measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    /// bitnet-engine on a model (synthetic by default).
    Builtin,
    /// The user's engine: an optional build command, then a bench command that
    /// writes its receipt to `$RECEIPT_PATH`.
    Command {
        build: Option<String>,
        bench: String,
    },
}

/// What to measure and how: the engine, and the built-in engine's flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub engine: Engine,
    /// The built-in engine's `--model` (synthetic:tiny, synthetic:2b-4t or a GGUF).
    pub model: String,
    /// `cpu` or `cuda`.
    pub backend: String,
    /// The built-in engine's kernel choice (`--kernels`); None: its own detection.
    pub kernels: Option<String>,
    pub tokens: u32,
    pub runs: u32,
    pub threads: u32,
    pub seed: u64,
    pub deterministic: bool,
    pub strict: bool,
}

/// The built-in engine's `--kernels` choices; `auto` is `None` (its own detection).
pub fn parse_kernels(text: &str) -> Result<Option<String>, String> {
    match text {
        "auto" => Ok(None),
        k @ ("scalar" | "avx2" | "avx512") => Ok(Some(k.to_string())),
        other => Err(format!(
            "`kernels` is \"{other}\"; use auto, scalar, avx2 or avx512 (the built-in engine's --kernels)"
        )),
    }
}

impl Spec {
    /// The environment the engine runs in: the seed plan's deterministic CPU
    /// settings unless the spec turns them off.
    pub fn engine_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if self.deterministic {
            env.push(("BITNET_DETERMINISTIC", "1".to_string()));
            env.push(("BITNET_SEED", self.seed.to_string()));
            env.push(("RAYON_NUM_THREADS", self.threads.to_string()));
        }
        if self.strict {
            env.push(("BITNET_STRICT_MODE", "1".to_string()));
        }
        env
    }
}

/// Lines of a failed command's output quoted in its error.
const TAIL_LINES: usize = 20;

/// Why no receipt came out of a measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureError {
    pub message: String,
    /// The failing command's last output lines.
    pub tail: Vec<String>,
}

impl MeasureError {
    pub fn render(&self) -> String {
        if self.tail.is_empty() {
            return self.message.clone();
        }
        format!(
            "{}\nits last {} output lines:\n{}",
            self.message,
            self.tail.len(),
            self.tail.join("\n")
        )
    }
}

/// How big one run of the built-in engine is: its `--tokens`, `--runs` and
/// `--prompt` (None: the engine's default prompt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchSize {
    pub tokens: u32,
    pub runs: u32,
    pub prompt: Option<u32>,
}

impl BenchSize {
    pub fn of(spec: &Spec) -> BenchSize {
        BenchSize {
            tokens: spec.tokens,
            runs: spec.runs,
            prompt: None,
        }
    }
}

/// One side's engine, built and ready to benchmark.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// A bitnet-engine binary.
    Builtin(PathBuf),
    /// The user's bench command, run in `dir` (the checkout it measures).
    Command { bench: String, dir: PathBuf },
}

/// Measure once, writing the receipt to `receipt`. `root` is the repository the
/// commands run in.
pub fn measure(spec: &Spec, root: &Path, receipt: &Path) -> Result<(), MeasureError> {
    let prepared = build_in(spec, root, None)?;
    bench(spec, &prepared, BenchSize::of(spec), root, receipt)
}

/// Build the engine of the checkout at `dir`: bitnet-engine from its sources
/// into `target_dir` (a release build, like `policy-check run`'s), or the user's
/// build command run there. `target_dir` None: the engine `measure` would use.
pub fn build_in(
    spec: &Spec,
    dir: &Path,
    target_dir: Option<&Path>,
) -> Result<Prepared, MeasureError> {
    match (&spec.engine, target_dir) {
        (Engine::Builtin, None) => Ok(Prepared::Builtin(engine_binary(dir)?)),
        (Engine::Builtin, Some(target)) => {
            let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
            cmd.args([
                "build",
                "--release",
                "-p",
                "bitnet-engine",
                "--manifest-path",
            ])
            .arg(dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target)
            .current_dir(dir);
            run(
                cmd,
                &format!("cargo build -p bitnet-engine in {}", dir.display()),
            )?;
            let binary = target
                .join("release")
                .join(format!("bitnet-engine{}", std::env::consts::EXE_SUFFIX));
            if binary.is_file() {
                Ok(Prepared::Builtin(binary))
            } else {
                Err(MeasureError {
                    message: format!("cargo build finished but {} is missing", binary.display()),
                    tail: Vec::new(),
                })
            }
        }
        (Engine::Command { build, bench }, _) => {
            if let Some(build) = build {
                let mut cmd = shell(build);
                cmd.current_dir(dir).envs(spec.engine_env());
                run(cmd, "build-command")?;
            }
            Ok(Prepared::Command {
                bench: bench.clone(),
                dir: dir.to_path_buf(),
            })
        }
    }
}

/// Run one benchmark of a prepared engine; its receipt goes to `receipt`. The
/// built-in engine runs in `root` (where a relative model path points).
pub fn bench(
    spec: &Spec,
    prepared: &Prepared,
    size: BenchSize,
    root: &Path,
    receipt: &Path,
) -> Result<(), MeasureError> {
    if let Some(dir) = receipt.parent() {
        std::fs::create_dir_all(dir).map_err(|e| MeasureError {
            message: format!("cannot create {}: {e}", dir.display()),
            tail: Vec::new(),
        })?;
    }
    // A receipt left from an earlier attempt must not pass for this one.
    let _ = std::fs::remove_file(receipt);
    let env = spec.engine_env();
    match prepared {
        Prepared::Builtin(engine) => {
            let mut cmd = Command::new(engine);
            cmd.args(["bench", "--model", &spec.model])
                .args(["--tokens", &size.tokens.to_string()])
                .args(["--runs", &size.runs.to_string()])
                .args(["--threads", &spec.threads.to_string()]);
            if let Some(prompt) = size.prompt {
                cmd.args(["--prompt", &prompt.to_string()]);
            }
            if let Some(kernels) = &spec.kernels {
                cmd.args(["--kernels", kernels]);
            }
            cmd.arg("--receipt").arg(receipt);
            if spec.backend != "cpu" {
                cmd.args(["--backend", &spec.backend]);
            }
            cmd.current_dir(root).envs(env);
            run(cmd, &format!("{} bench", engine.display()))?;
        }
        Prepared::Command { bench, dir } => {
            let mut cmd = shell(bench);
            cmd.current_dir(dir).envs(env).env("RECEIPT_PATH", receipt);
            run(cmd, "bench-command")?;
        }
    }
    if !receipt.is_file() {
        return Err(MeasureError {
            message: format!(
                "the benchmark finished but wrote no receipt at {} ($RECEIPT_PATH); make the bench command write its receipt there",
                receipt.display()
            ),
            tail: Vec::new(),
        });
    }
    Ok(())
}

fn shell(command: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", command]);
    cmd
}

/// Run a command, streaming its output to our stderr, keeping the last lines.
fn run(mut cmd: Command, what: &str) -> Result<(), MeasureError> {
    eprintln!("[receipt-action] running {what}");
    // stdout and stderr go through one pipe so their lines keep their order.
    let (reader, writer) = std::io::pipe().map_err(|e| MeasureError {
        message: format!("cannot start {what}: {e}"),
        tail: Vec::new(),
    })?;
    let writer2 = writer.try_clone().map_err(|e| MeasureError {
        message: format!("cannot start {what}: {e}"),
        tail: Vec::new(),
    })?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .spawn()
        .map_err(|e| MeasureError {
            message: format!("cannot start {what}: {e}"),
            tail: Vec::new(),
        })?;
    // The command holds our copies of the pipe's write end: drop it so the
    // read ends when the child exits.
    drop(cmd);
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    for line in BufReader::new(reader).split(b'\n').map_while(Result::ok) {
        let line = String::from_utf8_lossy(&line).into_owned();
        eprintln!("  {}", crate::report::escape::plain(&line));
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    let status = child.wait().map_err(|e| MeasureError {
        message: format!("{what}: {e}"),
        tail: Vec::new(),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(MeasureError {
            message: format!("{what} failed ({status})"),
            tail: tail.into(),
        })
    }
}

/// bitnet-engine: `$BITNET_ENGINE`, else next to this executable, else on PATH;
/// when none exists and this is a source checkout, build it with cargo.
fn engine_binary(root: &Path) -> Result<PathBuf, MeasureError> {
    if let Some(p) = std::env::var_os("BITNET_ENGINE") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok();
    let sibling = exe
        .as_deref()
        .and_then(Path::parent)
        .map(|d| d.join("bitnet-engine"));
    if let Some(s) = sibling.as_ref().filter(|s| s.is_file()) {
        return Ok(s.clone());
    }
    if let Some(on_path) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("bitnet-engine"))
            .find(|p| p.is_file())
    }) {
        return Ok(on_path);
    }
    // A checkout of this repository (policy-check run from `cargo run`): build
    // the engine with the same profile, into the same target directory.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if let (Some(sibling), true) = (sibling, workspace.join("engine/Cargo.toml").is_file()) {
        let release = sibling.parent().is_some_and(|d| d.ends_with("release"));
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
        cmd.args(["build", "-p", "bitnet-engine", "--manifest-path"])
            .arg(workspace.join("Cargo.toml"))
            .current_dir(root);
        if release {
            cmd.arg("--release");
        }
        run(cmd, "cargo build -p bitnet-engine")?;
        if sibling.is_file() {
            return Ok(sibling);
        }
    }
    Err(MeasureError {
        message: "bitnet-engine not found: not in $BITNET_ENGINE, next to policy-check, or on PATH; install it (cargo install --path engine) or set BITNET_ENGINE".into(),
        tail: Vec::new(),
    })
}
