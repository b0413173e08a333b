//! The `policy-check` command line: parses arguments, wires the library
//! together, prints, and returns the documented exit code. No checking logic here.

use crate::gates::{self, Code, GateConfig, ModelHash};
use crate::receipt::{SchemaVersion, schema};
use crate::report::{self, Style};
use crate::verify::{self, VerifyOptions};
use clap::{Parser, Subcommand, ValueEnum};
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

/// Exit code for usage and configuration errors (DESIGN §5).
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "policy-check",
    version,
    about = "Verify inference benchmark receipts and keep performance claims honest",
    after_help = "Exit codes: 0 pass or warn, 1 fail, 2 usage error or unreadable input, 3 incomparable or insufficient evidence."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check receipts: schema, honesty, environment and consistency gates.
    Verify(VerifyArgs),
    /// Print a published JSON Schema.
    Schema {
        #[command(subcommand)]
        which: SchemaKind,
    },
    /// Explain a finding code: what it catches, why, how to fix it, an example.
    Explain {
        /// A code such as `mock-kernel`; without one, list every code.
        code: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SchemaKind {
    /// The receipt schema.
    Receipt {
        /// Schema version: 1.0 or 1.1.
        #[arg(long, default_value = "1.1")]
        version: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Parser, Debug)]
pub struct VerifyArgs {
    /// Receipt files, directories (every *.json inside) or quoted globs.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Receipts older than this get `stale-receipt` (e.g. 30d, 12h, 2w); `none` skips the check.
    #[arg(long, default_value = "30d")]
    pub max_age: String,
    /// Require GPU kernel ids whatever the backend says.
    #[arg(long)]
    pub require_gpu_kernels: bool,
    /// The model file the receipts claim to have run; its sha256 must match model.sha256.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Refuse receipt files larger than this many bytes.
    #[arg(long, default_value_t = crate::receipt::parse::DEFAULT_MAX_BYTES)]
    pub max_size: u64,
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Verify(args) => match verify_command(args) {
            Ok(code) => code,
            Err(message) => usage_error(&message),
        },
        Command::Schema {
            which: SchemaKind::Receipt { version },
        } => match SchemaVersion::from_cli(&version) {
            Some(v) => {
                print!("{}", schema::text(v));
                0
            }
            None => usage_error(&format!(
                "unknown receipt schema version \"{version}\"; known: 1.0, 1.1"
            )),
        },
        Command::Explain { code: None } => {
            for &code in Code::ALL {
                println!(
                    "{:<30} {:<5} {}",
                    code.as_str(),
                    code.default_level().as_str(),
                    code.summary()
                );
            }
            0
        }
        Command::Explain { code: Some(name) } => match Code::parse(&name) {
            Some(code) => {
                print!("{}", gates::explain(code));
                0
            }
            None => usage_error(&format!(
                "no code named \"{name}\"{}; run `policy-check explain` to list every code",
                nearest(&name)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default()
            )),
        },
    }
}

fn usage_error(message: &str) -> i32 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

fn verify_command(args: VerifyArgs) -> Result<i32, String> {
    let max_age = match args.max_age.as_str() {
        "none" => None,
        s => Some(gates::environment::parse_age(s).ok_or_else(|| {
            format!("--max-age \"{s}\" is not an age; write e.g. 30d, 12h, 2w, or none")
        })?),
    };
    let model_sha256 = args
        .model
        .as_deref()
        .map(|path| {
            sha256_file(path)
                .map(|sha256| ModelHash {
                    path: path.display().to_string(),
                    sha256,
                })
                .map_err(|e| format!("--model {}: {e}", path.display()))
        })
        .transpose()?;
    let options = VerifyOptions {
        gates: GateConfig {
            max_age,
            require_gpu_kernels: args.require_gpu_kernels,
            model_sha256,
            ..GateConfig::default()
        },
        max_bytes: args.max_size,
    };
    let results = verify::verify(&verify::expand(&args.inputs), &options);
    let text = match args.format {
        Format::Json => report::verify_json(&results),
        Format::Text => report::verify_text(
            &results,
            Style {
                color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            },
        ),
    };
    print!("{text}");
    Ok(verify::overall(&results).exit_code())
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The known code closest to a mistyped one, if any is close.
fn nearest(name: &str) -> Option<&'static str> {
    Code::ALL
        .iter()
        .map(|c| (edit_distance(name, c.as_str()), c.as_str()))
        .filter(|&(d, _)| d <= 3)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_code_for_typos() {
        assert_eq!(nearest("mock-kernal"), Some("mock-kernel"));
        assert_eq!(nearest("completely-different"), None);
    }
}
