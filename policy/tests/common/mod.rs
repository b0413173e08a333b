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

/// The engine binary: `$BITNET_ENGINE`, else the one built next to policy-check.
///
/// Test binaries cannot see another crate's `CARGO_BIN_EXE_*`, but
/// `bitnet-engine` builds into the same target directory and profile as
/// `policy-check`, so its path is known. Cargo is asked to build it once per test
/// binary (a no-op when it is up to date), so a test never runs a stale engine.
pub fn bitnet_engine() -> std::path::PathBuf {
    static ENGINE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    ENGINE
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("BITNET_ENGINE") {
                return p.into();
            }
            let policy_check = Path::new(env!("CARGO_BIN_EXE_policy-check"));
            let engine = policy_check
                .with_file_name(format!("bitnet-engine{}", std::env::consts::EXE_SUFFIX));
            let release = policy_check
                .parent()
                .is_some_and(|d| d.ends_with("release"));
            let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
            cmd.args(["build", "-q", "-p", "bitnet-engine", "--manifest-path"])
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"));
            if release {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("cargo runs");
            assert!(status.success(), "cargo build -p bitnet-engine failed");
            assert!(engine.is_file(), "{} was not built", engine.display());
            engine
        })
        .clone()
}

/// A file from the npm packages the tests read fixtures from (policy/tests/npm:
/// GitHub's example webhook payloads, the official SARIF schema). The first test
/// that needs one installs them with `npm ci` (exact versions from the lock
/// file), one process at a time, so `cargo test --workspace` needs no setup step.
/// Without npm it fails and says what to install: a missing fixture is never a pass.
pub fn npm_fixture(rel: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/npm");
    let path = dir.join("node_modules").join(rel);
    if path.is_file() {
        return path;
    }
    // Test binaries run in parallel: one installs, the others wait for it.
    let lock = std::fs::File::create(Path::new(env!("CARGO_TARGET_TMPDIR")).join("npm-ci.lock"))
        .expect("the lock file in the target directory can be created");
    lock.lock().expect("the npm install lock");
    if !path.is_file() {
        eprintln!("installing the npm test fixtures (policy/tests/npm-fixtures.sh)");
        let status = Command::new("bash")
            .arg(dir.join("../npm-fixtures.sh"))
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "policy/tests/npm-fixtures.sh failed ({status:?}): the tests read GitHub's example payloads and the SARIF schema from npm; install Node.js and npm, then run it"
        );
    }
    assert!(path.is_file(), "{} is missing after npm ci", path.display());
    path
}
