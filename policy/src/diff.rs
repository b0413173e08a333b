//! git diff → the lines a change adds, with their path and new line number, and
//! the new-side ranges of each hunk. Knows nothing about claims (reviewdog's
//! `filter` split): the claim scanner decides what to do with the lines.

use serde::Serialize;
use std::ops::RangeInclusive;
use std::path::Path;
use std::process::Command;

/// One added line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedLine {
    /// 1-based line number in the new file.
    pub line: u32,
    /// The line without its newline (and without a CR before it).
    pub text: String,
}

/// What one file's diff contributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDiff {
    /// Path in the new tree (for a deleted file, the old path).
    pub path: String,
    /// The old path when the file was renamed or copied.
    pub renamed_from: Option<String>,
    pub added: Vec<AddedLine>,
    /// New-side line ranges of the hunks (for `diff-context` filtering).
    pub hunks: Vec<RangeInclusive<u32>>,
    pub binary: bool,
    pub deleted: bool,
    /// A submodule pointer changed; it has no lines of its own.
    pub submodule: bool,
    /// The new blob's object id (from `index a..b`), when git printed one.
    pub blob: Option<String>,
}

/// A parsed diff and what was odd about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub files: Vec<FileDiff>,
    /// e.g. lines that were not UTF-8 and were read lossily.
    pub warnings: Vec<String>,
}

/// Which two trees to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Range {
    /// `base...head`: what head adds since it left base, like GitHub's PR view.
    Commits { base: String, head: String },
    /// The working tree (tracked files) against the merge base of `base` and HEAD.
    WorkingTree { base: String },
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("cannot run git: {0}; install git and make sure it is on PATH")]
    GitMissing(std::io::Error),
    #[error(
        "{repo} is not a git repository, so there is no change to scan; run policy-check inside the checkout (in a container, add it to git's safe.directory), or pass --filter all to audit every doc without git"
    )]
    NotARepo { repo: String },
    #[error(
        "git does not know {what} `{rev}`; fetch it first (in GitHub Actions: actions/checkout with `fetch-depth: 0`)"
    )]
    UnknownRevision { what: &'static str, rev: String },
    #[error(
        "this clone is shallow and does not have {what} `{rev}`; fetch the history (in GitHub Actions: actions/checkout with `fetch-depth: 0`, or `git fetch --deepen`)"
    )]
    ShallowClone { what: &'static str, rev: String },
    #[error(
        "`{base}` and `{head}` have no common ancestor in this clone, so the change cannot be computed; the clone is probably shallow: use actions/checkout with `fetch-depth: 0` (or `git fetch --unshallow`)"
    )]
    NoMergeBase { base: String, head: String },
    #[error("git diff failed: {0}")]
    Git(String),
}

/// Run git in `repo` and parse what the range adds.
pub fn added_lines(repo: &Path, range: &Range) -> Result<Diff, DiffError> {
    let (base, head) = match range {
        Range::Commits { base, head } => (base.as_str(), head.as_str()),
        Range::WorkingTree { base } => (base.as_str(), "HEAD"),
    };
    let inside = git(repo, &["rev-parse", "--is-inside-work-tree"])?;
    if !inside.status.success() {
        return Err(DiffError::NotARepo {
            repo: repo.display().to_string(),
        });
    }
    for (what, rev) in [("base", base), ("head", head)] {
        let spec = format!("{rev}^{{commit}}");
        if !git(repo, &["rev-parse", "--verify", "--quiet", &spec])?
            .status
            .success()
        {
            return Err(DiffError::UnknownRevision {
                what,
                rev: rev.to_string(),
            });
        }
    }
    let merge_base = git(repo, &["merge-base", base, head])?;
    if !merge_base.status.success() {
        return Err(DiffError::NoMergeBase {
            base: base.to_string(),
            head: head.to_string(),
        });
    }
    let mut args = vec![
        "-c",
        "core.quotepath=off",
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--unified=0",
        "--full-index",
        "-M",
    ];
    let spec;
    match range {
        Range::Commits { .. } => {
            spec = format!("{base}...{head}");
            args.push(&spec);
        }
        Range::WorkingTree { .. } => {
            spec = String::from_utf8_lossy(&merge_base.stdout)
                .trim()
                .to_string();
            args.push(&spec);
        }
    }
    let out = git(repo, &args)?;
    if !out.status.success() {
        return Err(DiffError::Git(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(parse(&out.stdout))
}

pub(crate) fn git(repo: &Path, args: &[&str]) -> Result<std::process::Output, DiffError> {
    Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(DiffError::GitMissing)
}

/// Whether `repo` is inside a git work tree (false when git is missing too).
pub fn is_work_tree(repo: &Path) -> bool {
    git(repo, &["rev-parse", "--is-inside-work-tree"]).is_ok_and(|o| o.status.success())
}

/// `git rev-parse HEAD` in `repo`: the checked-out commit, when it is a git repository.
pub fn head_sha(repo: &Path) -> Option<String> {
    let out = git(repo, &["rev-parse", "HEAD"]).ok()?;
    let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && sha.len() >= 40).then_some(sha)
}

/// The branch a change is compared with when none is named: origin/HEAD, else
/// main, else master.
pub fn default_base(repo: &Path) -> Option<String> {
    let out = git(repo, &["rev-parse", "--abbrev-ref", "origin/HEAD"]).ok()?;
    if out.status.success() {
        return Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    ["main", "master"].into_iter().map(String::from).find(|b| {
        git(
            repo,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{b}^{{commit}}"),
            ],
        )
        .is_ok_and(|o| o.status.success())
    })
}

/// The full sha of the commit `rev` names in `repo`. An unknown name says how
/// to fetch it, and whether the clone is shallow (the usual reason in CI).
pub fn resolve_commit(repo: &Path, what: &'static str, rev: &str) -> Result<String, DiffError> {
    let inside = git(repo, &["rev-parse", "--is-inside-work-tree"])?;
    if !inside.status.success() {
        return Err(DiffError::NotARepo {
            repo: repo.display().to_string(),
        });
    }
    let spec = format!("{rev}^{{commit}}");
    // `--end-of-options` keeps a ref that starts with '-' from reading as a flag.
    let out = git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ],
    )?;
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !sha.is_empty() {
        return Ok(sha);
    }
    let shallow = git(repo, &["rev-parse", "--is-shallow-repository"])
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "true");
    Err(if shallow {
        DiffError::ShallowClone {
            what,
            rev: rev.to_string(),
        }
    } else {
        DiffError::UnknownRevision {
            what,
            rev: rev.to_string(),
        }
    })
}

/// The paths a change touches: `base...head`, or the working tree's tracked
/// files against the merge base of `base` and HEAD (renames count both paths).
pub fn changed_paths(repo: &Path, range: &Range) -> Result<Vec<String>, DiffError> {
    let spec = match range {
        Range::Commits { base, head } => format!("{base}...{head}"),
        Range::WorkingTree { base } => {
            let out = git(repo, &["merge-base", base, "HEAD"])?;
            if !out.status.success() {
                return Err(DiffError::NoMergeBase {
                    base: base.clone(),
                    head: "HEAD".into(),
                });
            }
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    let out = git(
        repo,
        &[
            "-c",
            "core.quotepath=off",
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            &spec,
        ],
    )?;
    if !out.status.success() {
        return Err(DiffError::Git(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// The new contents of changed files at revision `rev`, read in one
/// `git cat-file --batch`: by blob id when the diff gave one (no tree walk:
/// 50,000 files take a fraction of a second), else as `rev:path`. An object git
/// cannot find gives `None`.
pub fn read_new(
    repo: &Path,
    rev: &str,
    files: &[&FileDiff],
) -> Result<Vec<Option<Vec<u8>>>, DiffError> {
    let specs: Vec<String> = files
        .iter()
        .map(|f| match &f.blob {
            Some(id) => id.clone(),
            // cat-file reads one spec per line: such a path cannot be asked for.
            None if f.path.contains('\n') => String::new(),
            None => format!("{rev}:{}", f.path),
        })
        .collect();
    read_objects(repo, specs)
}

/// `git cat-file --batch` over object specs, in order (an empty spec gives `None`).
fn read_objects(repo: &Path, specs: Vec<String>) -> Result<Vec<Option<Vec<u8>>>, DiffError> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["cat-file", "--batch"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(DiffError::GitMissing)?;
    let stdin = child.stdin.take().expect("piped stdin");
    let count = specs.len();
    // Write from a thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut stdin = std::io::BufWriter::new(stdin);
        for spec in specs {
            stdin.write_all(spec.as_bytes())?;
            stdin.write_all(b"\n")?;
        }
        stdin.flush()
    });
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut results = Vec::with_capacity(count);
    let mut header = String::new();
    for _ in 0..count {
        header.clear();
        if out
            .read_line(&mut header)
            .map_err(|e| DiffError::Git(e.to_string()))?
            == 0
        {
            break;
        }
        let size = header
            .trim_end()
            .rsplit_once(' ')
            .filter(|_| header.contains(" blob "))
            .and_then(|(_, n)| n.parse::<usize>().ok());
        match size {
            Some(n) => {
                let mut body = vec![0u8; n + 1]; // content and its trailing newline
                out.read_exact(&mut body)
                    .map_err(|e| DiffError::Git(e.to_string()))?;
                body.pop();
                results.push(Some(body));
            }
            None => results.push(None),
        }
    }
    let _ = writer.join();
    let _ = child.wait();
    results.resize(count, None);
    Ok(results)
}

/// Parse `git diff --unified=0` output.
pub fn parse(patch: &[u8]) -> Diff {
    let mut diff = Diff::default();
    let mut file: Option<FileDiff> = None;
    // Next new-side line number inside the current hunk.
    let mut next_line = 0u32;
    for raw in patch.split(|&b| b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix(b"diff --git ") {
            diff.files.extend(file.take());
            file = Some(FileDiff {
                path: git_header_new_path(&String::from_utf8_lossy(rest)),
                ..FileDiff::default()
            });
            continue;
        }
        let Some(f) = file.as_mut() else { continue };
        if let Some(text) = raw.strip_prefix(b"+") {
            if raw.starts_with(b"+++ ") && f.hunks.is_empty() {
                let name = String::from_utf8_lossy(&raw[4..]);
                if name == "/dev/null" {
                    f.deleted = true;
                } else {
                    f.path = strip_side(&unquote(&name), "b/");
                }
                continue;
            }
            let text = match std::str::from_utf8(text) {
                Ok(s) => s.to_string(),
                Err(_) => {
                    diff.warnings.push(format!(
                        "{}:{next_line}: the line is not UTF-8; it was read lossily",
                        f.path
                    ));
                    String::from_utf8_lossy(text).into_owned()
                }
            };
            if f.submodule {
                // A submodule pointer shows as "+Subproject commit <sha>": not a line of text.
                continue;
            }
            f.added.push(AddedLine {
                line: next_line,
                text,
            });
            next_line += 1;
        } else if let Some(rest) = raw.strip_prefix(b"@@ ") {
            if let Some(range) = hunk_new_range(&String::from_utf8_lossy(rest)) {
                next_line = *range.start();
                f.hunks.push(range);
            }
        } else if raw.starts_with(b"--- ") && f.hunks.is_empty() {
            let name = String::from_utf8_lossy(&raw[4..]);
            if name != "/dev/null" && f.renamed_from.is_none() {
                // kept only to name a deleted file
                f.path = strip_side(&unquote(&name), "a/");
            }
        } else if raw.starts_with(b"deleted file mode") {
            f.deleted = true;
        } else if let Some(ids) = raw.strip_prefix(b"index ") {
            f.submodule |= is_submodule_mode(raw);
            let ids = String::from_utf8_lossy(ids);
            let new_id = ids
                .split(' ')
                .next()
                .and_then(|r| r.split_once(".."))
                .map(|(_, b)| b);
            f.blob = new_id
                .filter(|id| id.bytes().any(|b| b != b'0'))
                .map(str::to_string);
        } else if is_submodule_mode(raw) {
            f.submodule = true;
        } else if let Some(from) = raw.strip_prefix(b"rename from ") {
            f.renamed_from = Some(unquote(&String::from_utf8_lossy(from)));
        } else if let Some(to) = raw.strip_prefix(b"rename to ") {
            f.path = unquote(&String::from_utf8_lossy(to));
        } else if raw.starts_with(b"Binary files ") || raw == b"GIT binary patch" {
            f.binary = true;
        }
    }
    diff.files.extend(file);
    diff
}

/// Header lines that give a file mode of 160000: a gitlink (submodule).
fn is_submodule_mode(raw: &[u8]) -> bool {
    let line = String::from_utf8_lossy(raw);
    (line.starts_with("index ") || line.contains(" file mode "))
        && line.split(' ').any(|w| w == "160000")
}

/// `@@ -a,b +c,d @@ ...` → the new-side range (empty hunks, pure deletions, have none).
fn hunk_new_range(rest: &str) -> Option<RangeInclusive<u32>> {
    let new = rest.split(' ').find(|s| s.starts_with('+'))?;
    let mut parts = new[1..].splitn(2, ',');
    let start: u32 = parts.next()?.parse().ok()?;
    let count: u32 = parts.next().map_or(Some(1), |c| c.parse().ok())?;
    (count > 0).then(|| start..=start + count - 1)
}

/// The new path from `diff --git a/X b/Y`, used until `+++` or `rename to` says
/// better (they are unambiguous; this header is not when paths contain " b/").
fn git_header_new_path(rest: &str) -> String {
    let rest = rest.trim_end();
    if let Some(i) = rest.strip_suffix('"').and_then(|r| r.rfind(" \"")) {
        return strip_side(&unquote(&rest[i + 1..]), "b/");
    }
    match rest.rfind(" b/") {
        Some(i) => rest[i + 3..].to_string(),
        None => rest.to_string(),
    }
}

fn strip_side(path: &str, side: &str) -> String {
    // git appends a TAB to names that contain a space, for GNU patch's sake.
    let path = path.strip_suffix('\t').unwrap_or(path);
    path.strip_prefix(side).unwrap_or(path).to_string()
}

/// Undo git's C-style quoting of unusual paths ("a/t\tab", octal UTF-8 bytes).
fn unquote(name: &str) -> String {
    let name = name.strip_suffix('\t').unwrap_or(name);
    let Some(inner) = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) else {
        return name.to_string();
    };
    let mut bytes = Vec::with_capacity(inner.len());
    let mut chars = inner.bytes().peekable();
    while let Some(b) = chars.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match chars.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(b'r') => bytes.push(b'\r'),
            Some(b'a') => bytes.push(7),
            Some(b'b') => bytes.push(8),
            Some(b'f') => bytes.push(12),
            Some(b'v') => bytes.push(11),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    if let Some(&n @ b'0'..=b'7') = chars.peek() {
                        v = v * 8 + u32::from(n - b'0');
                        chars.next();
                    }
                }
                bytes.push(v as u8);
            }
            Some(other) => bytes.push(other),
            None => bytes.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Which claims to report, reviewdog's filter modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filter {
    /// Claims on added lines only (the default for PRs).
    Added,
    /// Claims on any line inside a diff hunk.
    DiffContext,
    /// Every claim in a changed file.
    File,
    /// Every claim in every included file (an audit of the whole tree).
    All,
}

impl Filter {
    pub fn parse(s: &str) -> Option<Filter> {
        match s {
            "added" => Some(Filter::Added),
            "diff-context" => Some(Filter::DiffContext),
            "file" => Some(Filter::File),
            "all" => Some(Filter::All),
            _ => None,
        }
    }
}

/// Does the filter keep a claim at `line` of this changed file?
pub fn keeps(filter: Filter, file: &FileDiff, line: u32) -> bool {
    match filter {
        Filter::Added => file.added.binary_search_by_key(&line, |a| a.line).is_ok(),
        Filter::DiffContext => file.hunks.iter().any(|h| h.contains(&line)),
        Filter::File | Filter::All => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_get_new_line_numbers_across_hunks() {
        let patch = b"diff --git a/README.md b/README.md\nindex 1..2 100644\n--- a/README.md\n+++ b/README.md\n@@ -3,0 +4,2 @@ intro\n+CPU: 10-20 tok/s\n+GPU: 50-100 tok/s\n@@ -10 +12 @@\n-old\n+new line\r\n\\ No newline at end of file\n";
        let d = parse(patch);
        assert_eq!(d.files.len(), 1);
        let f = &d.files[0];
        assert_eq!(f.path, "README.md");
        let got: Vec<(u32, &str)> = f.added.iter().map(|a| (a.line, a.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (4, "CPU: 10-20 tok/s"),
                (5, "GPU: 50-100 tok/s"),
                (12, "new line")
            ]
        );
        assert_eq!(f.hunks, vec![4..=5, 12..=12]);
    }

    #[test]
    fn quoted_paths_unquote() {
        assert_eq!(unquote("\"b/t\\tab \\303\\251.md\""), "b/t\tab é.md");
        assert_eq!(unquote("b/plain name.md\t"), "b/plain name.md");
        assert_eq!(git_header_new_path("a/x y.md b/x y.md"), "x y.md");
        assert_eq!(git_header_new_path("\"a/q\\\"x\" \"b/q\\\"x\""), "q\"x");
    }

    #[test]
    fn pure_deletion_hunks_add_nothing() {
        assert_eq!(hunk_new_range("-3,2 +2,0 @@"), None);
        assert_eq!(hunk_new_range("-3 +3 @@"), Some(3..=3));
    }
}
