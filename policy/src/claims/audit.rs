//! `policy-check claims`: pick the files and lines to look at (a diff, or a whole
//! tree), read them (from git at the head revision, or from disk), scan them in
//! parallel, and judge every claim found.

use super::Claim;
use super::backing::{Backer, ClaimVerdict};
use super::scan::{self, ScanConfig};
use crate::diff::Filter;
use crate::diff::{self, Range};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to scan.
#[derive(Debug, Clone)]
pub struct Request {
    /// The repository (or directory) the paths are relative to.
    pub root: PathBuf,
    pub filter: Filter,
    /// For every filter but `all`: the change to look at.
    pub range: Range,
    /// For `all`: files or directories to audit; empty means the whole repository.
    pub paths: Vec<String>,
}

/// What was found (claims, or documented commands), and what was odd on the
/// way (non-UTF-8 files and lines).
#[derive(Debug)]
pub struct ScanResult<T = Claim> {
    pub items: Vec<T>,
    pub warnings: Vec<String>,
    pub files_scanned: usize,
    pub bytes_scanned: u64,
}

impl<T> Default for ScanResult<T> {
    fn default() -> Self {
        ScanResult {
            items: Vec::new(),
            warnings: Vec::new(),
            files_scanned: 0,
            bytes_scanned: 0,
        }
    }
}

/// The claims in the requested files and lines.
pub fn find(request: &Request, config: &ScanConfig) -> Result<ScanResult, String> {
    find_with(
        request,
        config,
        |path, text| scan::scan_text(path, text, config),
        |c: &Claim| (c.line, c.line),
    )
}

/// What `scan` finds in the requested files; on a diff, only the items one of
/// whose lines (`lines`: first and last, 1-based) the filter keeps.
pub fn find_with<T, S, L>(
    request: &Request,
    config: &ScanConfig,
    scan: S,
    lines: L,
) -> Result<ScanResult<T>, String>
where
    T: Send,
    S: Fn(&str, &str) -> Vec<T> + Sync,
    L: Fn(&T) -> (u32, u32) + Sync,
{
    if request.filter == Filter::All {
        return find_all(request, config, &scan);
    }
    let change = diff::added_lines(&request.root, &request.range).map_err(|e| e.to_string())?;
    let files = scan::candidate_files(&change, config);
    let contents: Vec<Result<Vec<u8>, String>> = match &request.range {
        Range::Commits { head, .. } => diff::read_new(&request.root, head, &files)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|b| b.ok_or_else(|| "could not be read".to_string()))
            .collect(),
        Range::WorkingTree { .. } => files
            .par_iter()
            .map(|f| read_doc(&request.root, &f.path))
            .collect(),
    };
    let scanned: Vec<Scanned<T>> = files
        .par_iter()
        .zip(contents.into_par_iter())
        .map(|(file, bytes)| match bytes {
            Err(e) => Scanned::skipped(format!("{}: {e}; skipped", file.path)),
            Ok(bytes) => {
                let mut s = Scanned::of(&file.path, bytes, &scan);
                s.items.retain(|item| {
                    let (first, last) = lines(item);
                    (first..=last).any(|line| crate::diff::keeps(request.filter, file, line))
                });
                s
            }
        })
        .collect();
    Ok(tally(change.warnings, scanned))
}

/// One file's items, its warning, and its size.
struct Scanned<T> {
    items: Vec<T>,
    warning: Option<String>,
    bytes: u64,
}

impl<T> Scanned<T> {
    fn of(path: &str, bytes: Vec<u8>, scan: &impl Fn(&str, &str) -> Vec<T>) -> Scanned<T> {
        let size = bytes.len() as u64;
        // A binary file (an image under docs/) holds no prose: git's own test,
        // a NUL byte in the first 8000 bytes, and no warning for it.
        if bytes.iter().take(8000).any(|&b| b == 0) {
            return Scanned {
                items: Vec::new(),
                warning: None,
                bytes: size,
            };
        }
        let (text, warning) = decode(path, bytes);
        Scanned {
            items: scan(path, &text),
            warning,
            bytes: size,
        }
    }

    fn skipped(warning: String) -> Scanned<T> {
        Scanned {
            items: Vec::new(),
            warning: Some(warning),
            bytes: 0,
        }
    }
}

fn tally<T>(warnings: Vec<String>, scanned: Vec<Scanned<T>>) -> ScanResult<T> {
    let mut found = ScanResult {
        warnings,
        ..ScanResult::default()
    };
    for s in scanned {
        found.items.extend(s.items);
        found.warnings.extend(s.warning);
        found.bytes_scanned += s.bytes;
        found.files_scanned += 1;
    }
    found
}

fn find_all<T: Send>(
    request: &Request,
    config: &ScanConfig,
    scan: &(impl Fn(&str, &str) -> Vec<T> + Sync),
) -> Result<ScanResult<T>, String> {
    let files = if request.paths.is_empty() {
        tracked_files(&request.root).unwrap_or_else(|| walk(&request.root, &request.root))
    } else {
        let mut files = Vec::new();
        for p in &request.paths {
            let full = request.root.join(p);
            if full.is_dir() {
                files.extend(walk(&request.root, &full));
            } else if full.is_file() {
                files.push(p.trim_start_matches("./").to_string());
            } else {
                return Err(format!("{p}: no such file or directory"));
            }
        }
        files
    };
    let files: Vec<String> = files.into_iter().filter(|f| config.includes(f)).collect();
    let scanned: Vec<Scanned<T>> = files
        .par_iter()
        .map(|path| match read_doc(&request.root, path) {
            Err(e) => Scanned::skipped(format!("{path}: {e}; skipped")),
            Ok(bytes) => Scanned::of(path, bytes, scan),
        })
        .collect();
    Ok(tally(Vec::new(), scanned))
}

/// A doc in the working tree: a regular file inside the repository (a committed
/// link to `/dev/zero` or out of the repository is skipped with why), capped.
fn read_doc(root: &Path, path: &str) -> Result<Vec<u8>, String> {
    crate::input::read_within(root, Path::new(path), crate::input::MAX_DOC_BYTES)
        .map_err(|e| format!("{e} ({})", e.fix()))
}

/// UTF-8 text, or the lossy reading of it with a warning.
fn decode(path: &str, bytes: Vec<u8>) -> (String, Option<String>) {
    match String::from_utf8(bytes) {
        Ok(s) => (s, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let warning = format!("{path}: byte {at} is not UTF-8; the file was read lossily");
            (text, Some(warning))
        }
    }
}

/// `git ls-files`, when the root is a git work tree.
fn tracked_files(root: &Path) -> Option<Vec<String>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["-c", "core.quotepath=off", "ls-files", "-z"])
        .output()
        .ok()?;
    out.status.success().then(|| {
        out.stdout
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    })
}

/// Every file under `dir`, as paths relative to `root`, skipping `.git`,
/// `target` and `node_modules`; symlinks are not followed (as `git ls-files`
/// lists a link, not what it points to).
fn walk(root: &Path, dir: &Path) -> Vec<String> {
    const SKIPPED: &[&str] = &[".git", "target", "node_modules"];
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && e.file_name().to_str().is_some_and(|n| SKIPPED.contains(&n)))
        })
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e.path().strip_prefix(root).ok()?;
            Some(rel.to_string_lossy().into_owned())
        })
        .collect();
    out.sort();
    out
}

/// Judge every claim (in parallel; each cited receipt is checked once).
pub fn judge(claims: Vec<Claim>, backer: &Backer) -> Vec<ClaimVerdict> {
    claims.into_par_iter().map(|c| backer.judge(c)).collect()
}
