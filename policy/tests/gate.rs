//! End-to-end runs of `policy-check gate --release` in temporary git
//! repositories: every item passing, each item failing alone (a stale claim
//! receipt, a claim the fresh run contradicts, no baseline, a tag that is not
//! semver, a tag not later than the last release, a failing fresh receipt),
//! `--record-baseline`, usage errors, and one fresh run of the built-in engine.

mod common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

const KERNELS: &[&str] = &["i2s_gemv_avx2", "attention_cpu", "rmsnorm", "rope_neox"];
const CPU: &str = "AMD EPYC 7763";
const SHA: &str = "61527edbf8dbb50b55dfd57ffcc73958ebe455765ca1e592b3d3739292a9ff39";

/// A receipt of `rate` tok/s measured `days_ago` days ago (an hour ago for 0).
fn receipt(rate: f64, days_ago: i64, threads: u64) -> Value {
    // Earlier on the same UTC day (an hour, or half the time since midnight), so a
    // test run just after midnight still measures "today".
    let now = OffsetDateTime::now_utc();
    let since_midnight: time::Duration = now - now.replace_time(time::Time::MIDNIGHT);
    let back = (since_midnight / 2_i32).min(time::Duration::hours(1));
    let ts = now - Duration::days(days_ago) - back;
    json!({
        "schema_version": "1.1.0",
        "timestamp": ts.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "compute_path": "real",
        "backend": "cpu",
        "deterministic": true,
        "kernels": KERNELS,
        "kernel_stats": KERNELS.iter().map(|k| json!({"id": k, "calls": 10, "total_ns": 1000})).collect::<Vec<_>>(),
        "environment": {"BITNET_SEED": "42"},
        "tokens_requested": 16,
        "tokens_generated": 16,
        "tokens_per_second": rate,
        "measurement": {"timed_runs": 1, "samples_tokens_per_second": [rate], "decode_tokens": 16},
        "model": {"path": "synthetic:2b-4t", "sha256": SHA, "source": "synthetic", "preset": "2b-4t", "format": "i2s"},
        "build": {"engine": "bitnet-engine", "engine_version": "0.1.0"},
        "host": {"os": "linux", "arch": "x86_64", "cpu_model": CPU, "threads": threads, "simd": "avx2"},
        "run": {"seed": 42, "strict": true}
    })
}

fn day(offset: i64) -> String {
    let d = OffsetDateTime::now_utc().date() + Duration::days(offset);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

struct Repo(TempDir);

impl Repo {
    /// A repository whose policy makes stale claims a warning on pull requests
    /// (as this project's own does), a README claim backed by `claim.json`,
    /// a baseline recorded three days ago, and a released tag v0.1.0.
    fn releasable(claim_rate: f64, claim_days_ago: i64) -> Repo {
        let repo = Repo(TempDir::new().unwrap());
        common::git(repo.path(), &["init", "-q"]);
        repo.write(
            "ci/receipt-policy.toml",
            "version = 1\n[claims]\nlevels = { stale = \"warn\" }\n",
        );
        repo.receipt(
            "receipts/claim.json",
            &receipt(claim_rate, claim_days_ago, 16),
        );
        repo.write(
            "README.md",
            "# demo\n\nCPU decode: about 14 tok/s <!-- receipt: receipts/claim.json -->\n",
        );
        repo.receipt("receipts/base.json", &receipt(14.1, 3, 16));
        let (code, out, err) = repo.run(&[
            "baseline",
            "record",
            "receipts/base.json",
            "--date",
            &day(-3),
        ]);
        assert_eq!(code, 0, "{out}{err}");
        repo.commit("release candidate");
        common::git(repo.path(), &["tag", "v0.1.0"]);
        repo
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn receipt(&self, name: &str, v: &Value) {
        self.write(name, serde_json::to_vec_pretty(v).unwrap());
    }

    fn commit(&self, message: &str) {
        common::git(self.path(), &["add", "-A"]);
        common::git(self.path(), &["commit", "-q", "-m", message]);
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        common::policy_check_in(self.path(), args)
    }

    /// `gate --release --format json` with the fresh receipt `fresh.json`.
    fn gate(&self, fresh_rate: f64, extra: &[&str]) -> (i32, Value, String) {
        self.receipt("fresh.json", &receipt(fresh_rate, 0, 16));
        let mut args = vec![
            "gate",
            "--release",
            "--format",
            "json",
            "--receipts",
            "fresh.json",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = self.run(&args);
        let doc: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
        (code, doc, err)
    }
}

/// The status of each item, by name.
fn statuses(doc: &Value) -> Vec<(String, String)> {
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn item<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no item {name}: {doc}"))
}

fn detail(doc: &Value, name: &str) -> String {
    item(doc, name)["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Assert that exactly `failing` fails and every other item passes.
fn only_fails(doc: &Value, failing: &str) {
    for (name, status) in statuses(doc) {
        let want = if name == failing { "fail" } else { "pass" };
        assert_eq!(status, want, "item {name}: {doc:#}");
    }
    assert_eq!(doc["status"], "fail");
    assert_eq!(doc["exit_code"], 1);
    assert!(
        item(doc, failing)["fix"]
            .as_str()
            .is_some_and(|f| !f.is_empty()),
        "a failing item says how to fix it: {doc:#}"
    );
}

#[test]
fn the_gate_reads_baselines_where_the_policy_keeps_them() {
    let repo = Repo::releasable(14.0, 2);
    std::fs::create_dir_all(repo.path().join("perf")).unwrap();
    std::fs::rename(
        repo.path().join("baselines"),
        repo.path().join("perf/baselines"),
    )
    .unwrap();
    let (code, doc, err) = repo.gate(14.2, &["--tag", "v0.2.0"]);
    assert_eq!(code, 1, "{doc:#}{err}");
    only_fails(&doc, "baseline");
    repo.write(
        "ci/receipt-policy.toml",
        "version = 1\n[claims]\nlevels = { stale = \"warn\" }\n[baselines]\ndir = \"perf/baselines\"\n",
    );
    let (code, doc, err) = repo.gate(14.2, &["--tag", "v0.2.0"]);
    assert_eq!(code, 0, "{doc:#}{err}");
    assert!(detail(&doc, "baseline").contains(&day(-3)), "{doc:#}");
}

#[test]
fn every_item_passes_on_a_releasable_repository() {
    let repo = Repo::releasable(14.0, 2);
    let (code, doc, err) = repo.gate(14.2, &["--tag", "v0.2.0"]);
    assert_eq!(code, 0, "{doc:#}{err}");
    assert_eq!(doc["format"], "policy-check/gate/1");
    assert_eq!(doc["status"], "pass");
    assert_eq!(
        statuses(&doc),
        [
            ("fresh-measurement".into(), "pass".into()),
            ("claims".into(), "pass".into()),
            ("baseline".into(), "pass".into()),
            ("tag".into(), "pass".into())
        ]
    );
    assert!(
        detail(&doc, "claims").contains("1 backed (1 agree with the fresh run"),
        "{doc:#}"
    );
    assert!(detail(&doc, "baseline").contains(&day(-3)), "{doc:#}");
    assert!(
        detail(&doc, "tag").contains("later than the last released tag v0.1.0"),
        "{doc:#}"
    );
    assert_eq!(doc["measurements"][0]["envelope"], "cpu-i2s");
    assert_eq!(doc["commit"].as_str().unwrap().len(), 40);

    // The text checklist says the same, one block per item.
    let (code, out, _) = repo.run(&[
        "gate",
        "--release",
        "--receipts",
        "fresh.json",
        "--tag",
        "v0.2.0",
    ]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "[pass] fresh-measurement",
        "[pass] claims",
        "[pass] baseline",
        "[pass] tag",
    ] {
        assert!(out.contains(line), "{line:?} missing: {out}");
    }
    assert!(
        out.contains("release gate: pass (4 of 4 items pass) → exit 0"),
        "{out}"
    );
}

#[test]
fn without_a_tag_the_tag_item_is_skipped_and_the_gate_passes() {
    let repo = Repo::releasable(14.0, 2);
    let (code, doc, _) = repo.gate(14.2, &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(item(&doc, "tag")["status"], "skip");
    assert!(detail(&doc, "tag").contains("no --tag given"), "{doc:#}");
}

#[test]
fn a_stale_claim_receipt_fails_even_where_the_policy_lets_prs_warn() {
    let repo = Repo::releasable(14.0, 40);
    // On a pull request this project's policy only warns about it ...
    let (code, out, _) = repo.run(&["claims", "--filter", "all"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("stale"), "{out}");
    // ... at a release it fails.
    let (code, doc, _) = repo.gate(14.2, &["--tag", "v0.2.0"]);
    assert_eq!(code, 1);
    only_fails(&doc, "claims");
    let d = detail(&doc, "claims");
    assert!(d.contains("README.md:3:"), "{d}");
    assert!(d.contains("stale"), "{d}");
    assert!(d.contains("older than the policy's max_age 30d"), "{d}");
    assert!(
        d.contains("fix: measure again and cite the new receipt"),
        "{d}"
    );
}

#[test]
fn a_claim_the_fresh_run_no_longer_reproduces_fails_naming_both_numbers() {
    let repo = Repo::releasable(14.0, 2);
    // 10 tok/s is inside cpu-i2s's band, so the fresh receipt itself passes.
    let (code, doc, _) = repo.gate(10.0, &["--tag", "v0.2.0"]);
    assert_eq!(code, 1);
    only_fails(&doc, "claims");
    let d = detail(&doc, "claims");
    for needed in [
        "README.md:3:",
        "contradicted by the fresh run",
        "receipts/claim.json measured 14 tok/s",
        "fresh.json) measured 10 tok/s",
        "28.6% apart",
        "15%",
    ] {
        assert!(d.contains(needed), "{needed:?} missing: {d}");
    }
    // Within the tolerance (14 → 12.5 is 10.7%) it passes.
    let (code, doc, _) = repo.gate(12.5, &["--tag", "v0.2.0"]);
    assert_eq!(code, 0, "{doc:#}");
}

#[test]
fn a_claim_from_another_configuration_is_backed_but_not_compared() {
    let repo = Repo::releasable(14.0, 2);
    // A fresh run on 4 threads is another host class: nothing to compare with.
    repo.receipt("fresh4.json", &receipt(20.0, 0, 4));
    let (code, out, err) = repo.run(&[
        "gate",
        "--release",
        "--format",
        "json",
        "--receipts",
        "fresh4.json",
    ]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(code, 0, "{doc:#}{err}");
    assert!(
        detail(&doc, "claims")
            .contains("0 agree with the fresh run, 1 ran a configuration the fresh run did not"),
        "{doc:#}"
    );
    // The only baseline is from the 16-thread host class; it still counts, with a note.
    assert!(
        detail(&doc, "baseline").contains("another host class"),
        "{doc:#}"
    );
}

#[test]
fn a_bare_number_added_to_the_docs_fails_the_gate() {
    let repo = Repo::releasable(14.0, 2);
    repo.write("docs/speed.md", "Decode runs at 30 tok/s.\n");
    repo.commit("docs");
    let (code, doc, _) = repo.gate(14.2, &["--tag", "v0.2.0"]);
    assert_eq!(code, 1);
    only_fails(&doc, "claims");
    let d = detail(&doc, "claims");
    assert!(
        d.contains("docs/speed.md:1:16: 30 tok/s: unbacked — no receipt cited"),
        "{d}"
    );
}

#[test]
fn no_baseline_fails_alone_and_record_baseline_records_one() {
    let repo = Repo::releasable(14.0, 2);
    std::fs::remove_dir_all(repo.path().join("baselines")).unwrap();
    repo.commit("no baselines");
    let (code, doc, _) = repo.gate(14.2, &["--tag", "v0.2.0"]);
    assert_eq!(code, 1);
    only_fails(&doc, "baseline");
    assert!(
        detail(&doc, "baseline").contains("there is no cpu-i2s baseline at all"),
        "{doc:#}"
    );
    assert!(
        item(&doc, "baseline")["fix"]
            .as_str()
            .unwrap()
            .contains("--record-baseline")
    );

    let (code, doc, _) = repo.gate(14.2, &["--tag", "v0.2.0", "--record-baseline"]);
    assert_eq!(code, 0, "{doc:#}");
    let recorded = repo
        .path()
        .join(format!("baselines/{}/cpu-i2s.json", day(0)));
    assert!(recorded.is_file());
    assert_eq!(
        std::fs::read(&recorded).unwrap(),
        std::fs::read(repo.path().join("fresh.json")).unwrap(),
        "the baseline is the fresh receipt, byte for byte"
    );
    assert!(
        detail(&doc, "baseline").contains("recorded baselines/"),
        "{doc:#}"
    );

    // Run again the same day: nothing new is recorded, and nothing is refused.
    let (code, doc, _) = repo.gate(14.2, &["--tag", "v0.2.0", "--record-baseline"]);
    assert_eq!(code, 0, "{doc:#}");
    assert!(
        detail(&doc, "baseline").contains("already recorded today"),
        "{doc:#}"
    );
}

#[test]
fn a_baseline_older_than_max_age_does_not_count() {
    let repo = Repo::releasable(14.0, 2);
    repo.write(
        "ci/receipt-policy.toml",
        "version = 1\n[receipt]\nmax_age = \"2d\"\n",
    );
    repo.commit("a 2-day max_age");
    let (code, doc, _) = repo.gate(14.2, &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(item(&doc, "baseline")["status"], "fail");
    let d = detail(&doc, "baseline");
    assert!(
        d.contains(&format!("dated {} or later (max_age 2d)", day(-2))),
        "{d}"
    );
    assert!(
        d.contains(&format!("the latest is baselines/{}/cpu-i2s.json", day(-3))),
        "{d}"
    );
}

#[test]
fn a_failing_release_records_no_baseline() {
    let repo = Repo::releasable(14.0, 2);
    std::fs::remove_dir_all(repo.path().join("baselines")).unwrap();
    let (code, doc, _) = repo.gate(14.2, &["--tag", "1.2", "--record-baseline"]);
    assert_eq!(code, 1);
    assert!(
        detail(&doc, "baseline").contains("not recorded: tag failed"),
        "{doc:#}"
    );
    assert!(!repo.path().join("baselines").exists());
}

#[test]
fn a_tag_that_is_not_semver_fails_alone() {
    let repo = Repo::releasable(14.0, 2);
    let (code, doc, _) = repo.gate(14.2, &["--tag", "1.2"]);
    assert_eq!(code, 1);
    only_fails(&doc, "tag");
    assert!(
        detail(&doc, "tag").contains("\"1.2\" is not a semantic version"),
        "{doc:#}"
    );
    assert!(
        item(&doc, "tag")["fix"]
            .as_str()
            .unwrap()
            .contains("v1.2.0")
    );
}

#[test]
fn a_tag_not_later_than_the_last_release_fails_alone() {
    let repo = Repo::releasable(14.0, 2);
    common::git(repo.path(), &["tag", "v0.3.0"]);
    common::git(repo.path(), &["tag", "vnext"]);
    repo.write("CHANGELOG.md", "next\n");
    repo.commit("after 0.3.0");
    let (code, doc, _) = repo.gate(14.2, &["--tag", "v0.2.9"]);
    assert_eq!(code, 1);
    only_fails(&doc, "tag");
    let d = detail(&doc, "tag");
    assert!(
        d.contains("v0.2.9 is not later than the last released tag v0.3.0"),
        "{d}"
    );
    assert!(d.contains("1 v* tag(s) that are not semver ignored"), "{d}");
    assert_eq!(item(&doc, "tag")["fix"], "tag v0.3.1 or later");

    // The release's own tag at HEAD (a tag push) is not "an earlier release".
    common::git(repo.path(), &["tag", "v0.4.0"]);
    let (code, doc, _) = repo.gate(14.2, &["--tag", "v0.4.0"]);
    assert_eq!(code, 0, "{doc:#}");
    // The same tag on another commit is.
    let (code, doc, _) = repo.gate(14.2, &["--tag", "v0.1.0"]);
    assert_eq!(code, 1);
    assert!(
        detail(&doc, "tag").contains("v0.1.0 already exists at"),
        "{doc:#}"
    );
}

#[test]
fn a_fresh_receipt_that_fails_its_envelope_fails_alone() {
    let repo = Repo::releasable(14.0, 2);
    let (code, doc, _) = repo.gate(5.0, &["--tag", "v0.2.0"]);
    assert_eq!(code, 1);
    let s = statuses(&doc);
    assert_eq!(s[0], ("fresh-measurement".into(), "fail".into()), "{doc:#}");
    // Nothing passed, so there is no envelope to find a baseline for.
    assert_eq!(s[2], ("baseline".into(), "skip".into()), "{doc:#}");
    assert_eq!(s[1].1, "pass");
    assert_eq!(s[3].1, "pass");
    let d = detail(&doc, "fresh-measurement");
    assert!(d.contains("fresh.json: fail"), "{d}");
    assert!(d.contains("rate-below-envelope"), "{d}");
}

#[test]
fn usage_and_input_errors_exit_2() {
    let repo = Repo::releasable(14.0, 2);
    // `gate` is the release gate with or without --release.
    let (code, out, _) = repo.run(&["gate", "--receipts", "missing.json"]);
    assert_eq!(code, 2, "{out}");

    let (code, out, _) = repo.run(&["gate", "--release", "--receipts", "missing.json"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("[ERROR] fresh-measurement"), "{out}");
    assert!(out.contains("missing.json"), "{out}");

    repo.write("bad.toml", "version = 1\n[receipt]\nmax_age = \"soon\"\n");
    let (code, out, _) = repo.run(&[
        "gate",
        "--release",
        "--receipts",
        "fresh.json",
        "--policy",
        "bad.toml",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("bad.toml:3:"),
        "the error names file and line: {out}"
    );

    let (code, out, _) = repo.run(&[
        "gate",
        "--release",
        "--receipts",
        "fresh.json",
        "--name",
        "../x",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("is not a baseline name"), "{out}");
}

#[test]
fn a_fresh_run_of_the_builtin_engine_on_synthetic_tiny() {
    let engine = common::bitnet_engine();
    let repo = Repo(TempDir::new().unwrap());
    common::git(repo.path(), &["init", "-q"]);
    // synthetic:tiny is far faster than a 2B model: give it its own envelope.
    repo.write(
        "ci/receipt-policy.toml",
        r#"version = 1
[[envelope]]
id = "cpu-tiny"
when = { backend = "cpu", "model.format" = "i2s", "model.preset" = "tiny" }
tokens_per_second = { min = 1.0 }
deterministic = true
"#,
    );
    repo.write("README.md", "# tiny\n\nNo numbers here.\n");
    repo.commit("init");
    let out = Command::new(env!("CARGO_BIN_EXE_policy-check"))
        .args([
            "gate",
            "--release",
            "--model",
            "synthetic:tiny",
            "--tokens",
            "16",
            "--runs",
            "2",
        ])
        .args(["--record-baseline", "--tag", "v1.0.0", "--format", "json"])
        .current_dir(repo.path())
        .env("BITNET_ENGINE", &engine)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let doc: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{stderr}");
    let d = detail(&doc, "fresh-measurement");
    assert!(d.contains("measured now: bitnet-engine bench --model synthetic:tiny --tokens 16 --runs 2 --threads 1"), "{d}");
    assert!(
        d.contains("receipt-action/receipt.json: pass — cpu-tiny"),
        "{d}"
    );
    assert!(repo.path().join("receipt-action/receipt.json").is_file());
    assert!(
        repo.path()
            .join(format!("baselines/{}/cpu-tiny.json", day(0)))
            .is_file(),
        "{doc:#}"
    );
    assert_eq!(item(&doc, "tag")["status"], "pass");
}

/// Thousands of failing claims stay readable: grouped by file, a few per file,
/// and each distinct fix once with its count.
#[test]
fn many_failing_claims_are_grouped_by_file_with_each_fix_once() {
    let repo = Repo::releasable(14.0, 2);
    for f in 0..40 {
        let body: String = (0..15)
            .map(|i| format!("Run {i} decodes {} tok/s.\n\n", 20 + i))
            .collect();
        repo.write(&format!("docs/run-{f:02}.md"), &body);
    }
    repo.commit("many bare claims");
    let (code, doc, _) = repo.gate(14.2, &["--tag", "v0.2.0"]);
    assert_eq!(code, 1);
    let d = detail(&doc, "claims");
    assert!(d.contains("600 failing"), "{d}");
    assert!(
        d.contains("docs/run-00.md: … and 5 more failing claims in this file"),
        "{d}"
    );
    assert!(
        d.contains("… and 150 more failing claims in 10 more files"),
        "{d}"
    );
    assert_eq!(
        d.matches("fix: measure it and cite the receipt").count(),
        1,
        "{d}"
    );
    assert!(d.contains("(600 claims)"), "{d}");
}
