//! `policy-check verify`: expand the inputs (files, directories, globs), read
//! each receipt under a size cap, run the gates in parallel, and give one result
//! per receipt in input order. An input that cannot be read is reported and the
//! others are still checked.

use crate::gates::GateFinding;
use crate::gates::{self, GateConfig, structure};
use crate::input::{self, ReadError};
use crate::receipt::parse::DEFAULT_MAX_BYTES;
use crate::verdict::{Finding, Status};
use rayon::prelude::*;
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Options of one verify run.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub gates: GateConfig,
    /// Files above this many bytes are refused unread.
    pub max_bytes: u64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            gates: GateConfig::default(),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// An input that names no readable receipt (exit code 2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputError {
    pub message: String,
    pub fix: String,
}

/// The outcome for one receipt file.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptResult {
    pub path: String,
    pub status: Status,
    /// As written in the receipt, when it could be read.
    pub schema_version: Option<String>,
    pub backend: Option<String>,
    pub tokens_per_second: Option<f64>,
    pub findings: Vec<Finding>,
    /// Set when the input could not be read at all.
    pub error: Option<InputError>,
}

impl ReceiptResult {
    fn input_error(path: String, message: String, fix: &str) -> ReceiptResult {
        ReceiptResult {
            path,
            status: Status::Error,
            schema_version: None,
            backend: None,
            tokens_per_second: None,
            findings: Vec::new(),
            error: Some(InputError {
                message,
                fix: fix.to_string(),
            }),
        }
    }
}

/// An input after expansion: a path to read, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    File(PathBuf),
    Unmatched { pattern: String, why: String },
}

/// Expand command-line inputs: a glob matches files, a directory contributes its
/// `*.json` files (recursively, sorted), anything else is taken as a file path.
pub fn expand(args: &[String]) -> Vec<Input> {
    let mut inputs = Vec::new();
    for arg in args {
        if arg.contains(['*', '?', '[', '{']) {
            match expand_glob(arg) {
                Err(why) => inputs.push(Input::Unmatched {
                    pattern: arg.clone(),
                    why,
                }),
                Ok(matched) => {
                    if matched.is_empty() {
                        inputs.push(Input::Unmatched {
                            pattern: arg.clone(),
                            why: "no file matches this pattern".into(),
                        });
                    }
                    inputs.extend(matched.into_iter().map(Input::File));
                }
            }
        } else if Path::new(arg).is_dir() {
            // Loop-safe: each directory and receipt once, however many links reach it.
            let found = input::walk_files(Path::new(arg), usize::MAX, |p| {
                p.extension().is_some_and(|e| e == "json")
            });
            if found.is_empty() {
                inputs.push(Input::Unmatched {
                    pattern: arg.clone(),
                    why: "the directory holds no .json files".into(),
                });
            }
            inputs.extend(found.into_iter().map(Input::File));
        } else {
            inputs.push(Input::File(PathBuf::from(arg)));
        }
    }
    inputs
}

/// The files a glob matches: the directory before its first wildcard is walked
/// (loop-safe, no deeper than the pattern can reach without `**`) and each path
/// is matched with `*` and `?` stopping at `/`, as in a shell.
fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let matcher = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid glob pattern: {e}"))?
        .compile_matcher();
    let parts: Vec<&str> = pattern.split('/').collect();
    let fixed = parts
        .iter()
        .take_while(|p| !p.contains(['*', '?', '[', '{']))
        .count();
    let base = parts[..fixed].join("/");
    let depth = if pattern.contains("**") {
        usize::MAX
    } else {
        parts.len() - fixed
    };
    let (dir, strip) = match base.as_str() {
        "" if pattern.starts_with('/') => ("/".to_string(), false),
        "" => (".".to_string(), true),
        _ => (base, false),
    };
    let found = input::walk_files(Path::new(&dir), depth, |p| {
        let shown = if strip {
            p.strip_prefix(".").unwrap_or(p)
        } else {
            p
        };
        matcher.is_match(shown)
    });
    Ok(found
        .into_iter()
        .map(|p| match strip {
            true => p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p),
            false => p,
        })
        .collect())
}

/// Verify every input in parallel; results keep the input order.
pub fn verify(inputs: &[Input], options: &VerifyOptions) -> Vec<ReceiptResult> {
    inputs
        .par_iter()
        .map(|input| match input {
            Input::File(path) => verify_file(path, options),
            Input::Unmatched { pattern, why } => ReceiptResult::input_error(
                pattern.clone(),
                why.clone(),
                "check the path or pattern (quote globs so policy-check expands them)",
            ),
        })
        .collect()
}

/// Verify one receipt file.
pub fn verify_file(path: &Path, options: &VerifyOptions) -> ReceiptResult {
    let display = path.display().to_string();
    let bytes = match read_capped(path, options.max_bytes) {
        Ok(Loaded::Bytes(bytes)) => bytes,
        Ok(Loaded::TooLarge(size)) => {
            let findings = vec![structure::too_large(size, options.max_bytes)];
            return finish(display, None, findings);
        }
        Err((message, fix)) => return ReceiptResult::input_error(display, message, fix),
    };
    let gated = gates::check_bytes(&bytes, &options.gates);
    finish(display, gated.receipt, gated.findings)
}

fn finish(
    path: String,
    receipt: Option<crate::receipt::Receipt>,
    findings: Vec<GateFinding>,
) -> ReceiptResult {
    ReceiptResult {
        status: Status::from_levels(findings.iter().map(|f| f.level)),
        schema_version: receipt.as_ref().map(|r| r.schema_version.clone()),
        backend: receipt.as_ref().map(|r| r.backend.clone()),
        tokens_per_second: receipt.as_ref().map(|r| r.tokens_per_second),
        findings: findings
            .into_iter()
            .map(|f| f.into_finding(&path))
            .collect(),
        path,
        error: None,
    }
}

pub enum Loaded {
    Bytes(Vec<u8>),
    TooLarge(u64),
}

pub fn read_capped(path: &Path, cap: u64) -> Result<Loaded, (String, &'static str)> {
    // Regular files only: a FIFO or device would block or never end.
    let file = input::open_regular(path).map_err(|e| match e {
        ReadError::NotFound => (
            "file not found".to_string(),
            "check the path; receipts are written by the benchmark step",
        ),
        ReadError::Directory => (
            "is a directory, not a receipt file".into(),
            "pass the directory itself without a trailing pattern to check every .json in it",
        ),
        other => (other.to_string(), other.fix()),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| (format!("cannot stat: {e}"), "check the path"))?;
    if meta.len() > cap {
        return Ok(Loaded::TooLarge(meta.len()));
    }
    // The size can change between stat and read (or be unknown, as in /proc):
    // read at most one byte past the cap to tell.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| (format!("cannot read: {e}"), "check the file"))?;
    if bytes.len() as u64 > cap {
        return Ok(Loaded::TooLarge(bytes.len() as u64));
    }
    Ok(Loaded::Bytes(bytes))
}

/// The overall status of a run: the worst of its receipts.
pub fn overall(results: &[ReceiptResult]) -> Status {
    results
        .iter()
        .map(|r| r.status)
        .max()
        .unwrap_or(Status::Error)
}
