//! The diff reader against real git repositories made in a temp dir.

mod common;
use common::git;

use receipt_policy::diff::{Diff, DiffError, Range, added_lines};
use std::path::Path;
use tempfile::TempDir;

fn repo() -> TempDir {
    let dir = TempDir::new().unwrap();
    git(dir.path(), &["init", "-q"]);
    dir
}

fn write(dir: &Path, path: &str, bytes: &[u8]) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

fn lines_of<'a>(d: &'a Diff, path: &str) -> Vec<(u32, &'a str)> {
    let f = d.files.iter().find(|f| f.path == path).unwrap_or_else(|| {
        panic!(
            "{path} not in {:?}",
            d.files.iter().map(|f| &f.path).collect::<Vec<_>>()
        )
    });
    f.added.iter().map(|a| (a.line, a.text.as_str())).collect()
}

#[test]
fn added_lines_across_every_kind_of_change() {
    let r = repo();
    let d = r.path();
    let body: String = (1..=30)
        .map(|i| format!("line {i} of a long enough file\n"))
        .collect();
    write(d, "README.md", b"# Title\n\nintro\n");
    write(d, "docs/old name.md", body.as_bytes());
    write(d, "gone.md", b"bye\n");
    write(d, "logo.png", &[0x89, b'P', b'N', b'G', 0, 1, 2, 3]);
    let base = commit(d, "base");

    write(d, "README.md", b"# Title\n\nCPU: 10-20 tok/s\nintro\n");
    git(d, &["mv", "docs/old name.md", "docs/new näme.md"]);
    write(
        d,
        "docs/new näme.md",
        format!("{body}added after rename\n").as_bytes(),
    );
    std::fs::remove_file(d.join("gone.md")).unwrap();
    write(d, "logo.png", &[0x89, b'P', b'N', b'G', 0, 9, 9, 9]);
    write(d, "crlf.md", b"first\r\nsecond 3x faster\r\n");
    write(d, "no-eol.md", b"last line without newline");
    write(d, "latin1.md", b"caf\xe9 50 tok/s\n");
    write(d, "tab\tname.md", b"tabbed\n");
    let head = commit(d, "head");

    let diff = added_lines(d, &Range::Commits { base, head }).unwrap();
    assert_eq!(lines_of(&diff, "README.md"), vec![(3, "CPU: 10-20 tok/s")]);
    let renamed = diff
        .files
        .iter()
        .find(|f| f.path == "docs/new näme.md")
        .unwrap();
    assert_eq!(renamed.renamed_from.as_deref(), Some("docs/old name.md"));
    assert_eq!(
        lines_of(&diff, "docs/new näme.md"),
        vec![(31, "added after rename")]
    );
    let gone = diff.files.iter().find(|f| f.path == "gone.md").unwrap();
    assert!(gone.deleted && gone.added.is_empty());
    let logo = diff.files.iter().find(|f| f.path == "logo.png").unwrap();
    assert!(logo.binary && logo.added.is_empty());
    assert_eq!(
        lines_of(&diff, "crlf.md"),
        vec![(1, "first"), (2, "second 3x faster")]
    );
    assert_eq!(
        lines_of(&diff, "no-eol.md"),
        vec![(1, "last line without newline")]
    );
    assert_eq!(
        lines_of(&diff, "latin1.md"),
        vec![(1, "caf\u{fffd} 50 tok/s")]
    );
    assert!(
        diff.warnings.iter().any(|w| w.starts_with("latin1.md:1:")),
        "{:?}",
        diff.warnings
    );
    assert_eq!(lines_of(&diff, "tab\tname.md"), vec![(1, "tabbed")]);
}

#[test]
fn three_dot_range_ignores_what_the_base_branch_added_since() {
    let r = repo();
    let d = r.path();
    write(d, "a.md", b"one\n");
    commit(d, "root");
    git(d, &["checkout", "-q", "-b", "feature"]);
    write(d, "a.md", b"one\nfeature line\n");
    commit(d, "feature");
    git(d, &["checkout", "-q", "main"]);
    write(d, "b.md", b"main moved on\n");
    commit(d, "main");
    let diff = added_lines(
        d,
        &Range::Commits {
            base: "main".into(),
            head: "feature".into(),
        },
    )
    .unwrap();
    assert_eq!(diff.files.len(), 1);
    assert_eq!(lines_of(&diff, "a.md"), vec![(2, "feature line")]);
}

#[test]
fn working_tree_against_a_base() {
    let r = repo();
    let d = r.path();
    write(d, "a.md", b"one\n");
    commit(d, "root");
    write(d, "a.md", b"one\nuncommitted 2x speedup\n");
    let diff = added_lines(
        d,
        &Range::WorkingTree {
            base: "main".into(),
        },
    )
    .unwrap();
    assert_eq!(lines_of(&diff, "a.md"), vec![(2, "uncommitted 2x speedup")]);
}

#[test]
fn submodule_pointer_has_no_lines() {
    let sub = repo();
    write(sub.path(), "x.md", b"x\n");
    commit(sub.path(), "sub");
    let r = repo();
    let d = r.path();
    write(d, "a.md", b"a\n");
    let base = commit(d, "root");
    git(
        d,
        &[
            "submodule",
            "add",
            "-q",
            sub.path().to_str().unwrap(),
            "vendor/sub",
        ],
    );
    let head = commit(d, "add submodule");
    let diff = added_lines(d, &Range::Commits { base, head }).unwrap();
    let f = diff.files.iter().find(|f| f.path == "vendor/sub").unwrap();
    assert!(f.submodule && f.added.is_empty(), "{f:?}");
}

#[test]
fn unrelated_histories_and_unknown_revisions_say_fetch_depth_0() {
    let r = repo();
    let d = r.path();
    write(d, "a.md", b"a\n");
    commit(d, "root");
    git(d, &["checkout", "-q", "--orphan", "other"]);
    write(d, "b.md", b"b\n");
    commit(d, "unrelated");
    let err = added_lines(
        d,
        &Range::Commits {
            base: "main".into(),
            head: "other".into(),
        },
    )
    .unwrap_err();
    assert!(matches!(err, DiffError::NoMergeBase { .. }), "{err}");
    assert!(err.to_string().contains("fetch-depth: 0"));
    let err = added_lines(
        d,
        &Range::Commits {
            base: "origin/nowhere".into(),
            head: "HEAD".into(),
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("origin/nowhere") && err.to_string().contains("fetch-depth: 0")
    );
    let plain = TempDir::new().unwrap();
    let err = added_lines(
        plain.path(),
        &Range::WorkingTree {
            base: "main".into(),
        },
    )
    .unwrap_err();
    assert!(matches!(err, DiffError::NotARepo { .. }), "{err}");
}
