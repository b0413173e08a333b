//! Helpers shared by the end-to-end tests.
// Each test crate uses a different subset of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Run git in `dir` with a fixed identity and default branch; panics with git's
/// message when it fails, and returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run policy-check in `dir` (so only that directory's ci/receipt-policy.toml can
/// be picked up); returns the exit code, stdout and stderr, and fails on a panic.
pub fn policy_check_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_policy-check"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("policy-check runs");
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().expect("exited normally"), stdout, stderr)
}
