//! End-to-end runs of `policy-check baseline`: record (atomic, never
//! overwriting, --replace archives), list, compare (the must-show:
//! three dated baselines, 12% slower fails naming both rates and dates, 5%
//! slower passes), chart, and every kind of bad input in baselines/.

mod common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

const CPU_KERNELS: &[&str] = &["i2s_gemv_avx2", "attention_cpu", "rmsnorm", "rope_neox"];
const CPU: &str = "AMD EPYC 7763";

struct Repo(TempDir);

impl Repo {
    fn new() -> Repo {
        let dir = TempDir::new().unwrap();
        common::git(dir.path(), &["init", "-q"]);
        Repo(dir)
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
    fn receipt(&self, name: &str, v: &Value) -> String {
        self.write(name, serde_json::to_vec_pretty(v).unwrap());
        name.to_string()
    }
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        common::policy_check_in(self.path(), args)
    }
    fn files(&self, dir: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn day(offset: i64) -> String {
    let d = OffsetDateTime::now_utc().date() + Duration::days(offset);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A CPU i2s receipt measured `days_ago` days ago (an hour ago for 0).
fn receipt(rate: f64, days_ago: i64, cpu: &str, threads: u64) -> Value {
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
        "kernels": CPU_KERNELS,
        "kernel_stats": CPU_KERNELS.iter().map(|k| json!({"id": k, "calls": 10, "total_ns": 1000})).collect::<Vec<_>>(),
        "environment": {"BITNET_SEED": "42"},
        "tokens_requested": 16,
        "tokens_generated": 16,
        "tokens_per_second": rate,
        "measurement": {"timed_runs": 1, "samples_tokens_per_second": [rate], "decode_tokens": 16},
        "model": {"source": "synthetic", "preset": "2b-4t", "format": "i2s"},
        "build": {"engine": "bitnet-engine", "engine_version": "0.1.0"},
        "host": {"os": "linux", "arch": "x86_64", "cpu_model": cpu, "threads": threads, "simd": "avx2"},
        "run": {"seed": 42, "strict": true}
    })
}

/// Three dated baselines (20, 10 and 5 days ago) of cpu-i2s on one host.
fn three_baselines(repo: &Repo) {
    for (i, (rate, ago)) in [(14.0, 20), (14.5, 10), (15.0, 5)].iter().enumerate() {
        let r = repo.receipt(&format!("b{i}.json"), &receipt(*rate, *ago, CPU, 16));
        let (code, out, err) = repo.run(&["baseline", "record", &r, "--date", &day(-ago)]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("recorded baselines/"), "{out}");
    }
}

#[test]
fn must_show_twelve_percent_slower_fails_naming_both_five_percent_passes() {
    let repo = Repo::new();
    three_baselines(&repo);
    let latest = day(-5);
    assert_eq!(repo.files(&format!("baselines/{latest}")), ["cpu-i2s.json"]);

    let slow = repo.receipt("slow.json", &receipt(15.0 * 0.88, 0, CPU, 16));
    let (code, out, err) = repo.run(&["baseline", "compare", &slow]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("fail: "), "{out}");
    for needed in [
        "13.2 tok/s",
        "15 tok/s",
        &day(0),
        &latest,
        "12.0% below",
        "10%",
    ] {
        assert!(out.contains(needed), "{needed:?} missing: {out}");
    }

    let ok = repo.receipt("ok.json", &receipt(15.0 * 0.95, 0, CPU, 16));
    let (code, out, err) = repo.run(&["baseline", "compare", &ok]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("pass: "), "{out}");
    assert!(
        out.contains("14.25 tok/s") && out.contains("5.0% below"),
        "{out}"
    );

    // JSON has both numbers and both dates too.
    let (code, out, _) = repo.run(&["baseline", "compare", &slow, "--format", "json"]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["status"], "fail");
    assert_eq!(doc["baseline"]["date"], latest.as_str());
    assert_eq!(doc["baseline"]["tokens_per_second"], json!(15.0));
    assert_eq!(doc["measured_on"], day(0).as_str());
    assert_eq!(doc["max_drop_percent"], json!(10.0));
}

#[test]
fn the_policy_sets_max_drop() {
    let repo = Repo::new();
    three_baselines(&repo);
    repo.write(
        "strict.toml",
        "version = 1\n[receipt]\nregression = { max_drop = \"3%\" }\n",
    );
    let ok = repo.receipt("ok.json", &receipt(15.0 * 0.95, 0, CPU, 16));
    let (code, out, _) = repo.run(&["baseline", "compare", &ok, "--policy", "strict.toml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("at most 3%"), "{out}");

    repo.write(
        "bad.toml",
        "version = 1\n[receipt]\nregression = { max_drop = \"0.1\", typo = 1 }\n",
    );
    let (code, _, err) = repo.run(&["baseline", "compare", &ok, "--policy", "bad.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml:3:"), "{err}");
    assert!(err.contains("max_drop \"0.1\" has no % sign"), "{err}");
    assert!(err.contains("unknown key `typo`"), "{err}");

    let (code, out, _) = repo.run(&["policy", "show", "--policy", "strict.toml"]);
    assert_eq!(code, 0);
    assert!(out.contains("regression = { max_drop = \"3%\" }"), "{out}");
}

#[test]
fn record_never_overwrites_and_replace_keeps_the_old_one() {
    let repo = Repo::new();
    let r = repo.receipt("r.json", &receipt(15.0, 0, CPU, 16));
    let (code, _, err) = repo.run(&["baseline", "record", &r]);
    assert_eq!(code, 0, "{err}");
    let today = format!("baselines/{}", day(0));
    let (code, _, err) = repo.run(&["baseline", "record", &r]);
    assert_eq!(code, 2);
    assert!(
        err.contains("already exists") && err.contains("--replace"),
        "{err}"
    );
    // Another name, same envelope and host, same day: also refused.
    let (code, _, err) = repo.run(&["baseline", "record", &r, "--name", "other"]);
    assert_eq!(code, 2);
    assert!(err.contains("--name cpu-i2s --replace"), "{err}");

    let faster = repo.receipt("f.json", &receipt(16.0, 0, CPU, 16));
    let (code, out, err) = repo.run(&["baseline", "record", &faster, "--replace"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kept the replaced baseline as"), "{out}");
    let files = repo.files(&today);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0], "cpu-i2s.json");
    assert!(
        files[1].starts_with("cpu-i2s.replaced-") && files[1].ends_with("Z.json"),
        "{files:?}"
    );
    // The recorded bytes are the receipt's, and no temp file is left behind.
    assert_eq!(
        std::fs::read(repo.path().join(&today).join("cpu-i2s.json")).unwrap(),
        std::fs::read(repo.path().join("f.json")).unwrap()
    );
    let (code, out, _) = repo.run(&["baseline", "list"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().count(),
        2,
        "archived ones are not listed: {out}"
    );
    assert!(out.contains(" 16 "), "{out}");
}

#[test]
fn record_refuses_failing_receipts_bad_dates_and_bad_names() {
    let repo = Repo::new();
    let slow = repo.receipt("slow.json", &receipt(2.0, 0, CPU, 16));
    let (code, _, err) = repo.run(&["baseline", "record", &slow]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("rate-below-envelope"), "{err}");
    let mut mock = receipt(15.0, 0, CPU, 16);
    mock["compute_path"] = json!("mock");
    let mock = repo.receipt("mock.json", &mock);
    assert_eq!(repo.run(&["baseline", "record", &mock]).0, 1);

    let r = repo.receipt("r.json", &receipt(15.0, 3, CPU, 16));
    let (code, _, err) = repo.run(&["baseline", "record", &r, "--date", &day(1)]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot come from the future"), "{err}");
    let (code, _, err) = repo.run(&["baseline", "record", &r, "--date", &day(-5)]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot predate its measurement"), "{err}");
    let (code, _, err) = repo.run(&["baseline", "record", &r, "--date", "2026-13-01"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a date"), "{err}");
    let (code, _, err) = repo.run(&["baseline", "record", &r, "--name", "../x"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a baseline name"), "{err}");

    let mut hostless = receipt(15.0, 0, CPU, 16);
    hostless["host"] = json!({"os": "linux"});
    let hostless = repo.receipt("h.json", &hostless);
    let (code, _, err) = repo.run(&["baseline", "record", &hostless]);
    assert_eq!(code, 2);
    assert!(err.contains("host.cpu_model"), "{err}");
    assert!(!repo.path().join("baselines").join(day(0)).exists());
}

#[test]
fn list_prints_a_table_and_json() {
    let repo = Repo::new();
    three_baselines(&repo);
    let (code, out, err) = repo.run(&["baseline", "list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for h in ["date", "name", "envelope", "tok/s", "host class", "verdict"] {
        assert!(lines[0].contains(h), "{out}");
    }
    assert!(lines[1].starts_with(&day(-20)), "oldest first: {out}");
    assert!(
        lines[3].contains("cpu-i2s") && lines[3].contains("15") && lines[3].contains("pass"),
        "{out}"
    );
    assert!(lines[3].contains("cpu: AMD EPYC 7763, 16 threads"), "{out}");
    let (code, out, _) = repo.run(&["baseline", "list", "--format", "json"]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["baselines"].as_array().unwrap().len(), 3);
    assert_eq!(doc["baselines"][2]["date"], day(-5).as_str());
    assert_eq!(doc["baselines"][2]["envelope"], "cpu-i2s");
    assert_eq!(doc["baselines"][2]["verdict"], "pass");
    assert_eq!(doc["problems"], json!([]));
}

/// Run `list` and `compare` on a damaged store: both exit 2 and name the file.
fn broken(repo: &Repo, kind: &str, path_part: &str) {
    let (code, out, err) = repo.run(&["baseline", "list", "--format", "json"]);
    assert_eq!(code, 2, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let problems = doc["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["kind"] == kind && p["path"].as_str().unwrap().contains(path_part)),
        "{kind} at {path_part}: {doc:#}"
    );
    assert!(err.contains(path_part) && err.contains("fix: "), "{err}");
    let r = repo.receipt("new.json", &receipt(15.0, 0, CPU, 16));
    let (code, _, err) = repo.run(&["baseline", "compare", &r]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(path_part), "{err}");
}

#[test]
fn bad_input_garbage_json() {
    let repo = Repo::new();
    three_baselines(&repo);
    let p = format!("baselines/{}/garbage.json", day(-3));
    repo.write(&p, "{\"schema_version\": \"1.1.0\",\n  oops");
    broken(&repo, "not-json", &format!("{p}:2:"));
    // JSON that is not a receipt is also named.
    let repo = Repo::new();
    repo.write(&format!("baselines/{}/x.json", day(-3)), "[1, 2]");
    broken(&repo, "not-a-receipt", "x.json");
}

/// The project's own files under baselines/ are skipped with a warning: `list`,
/// `compare` and the gate go on, and nothing says to delete them.
fn skipped(repo: &Repo, path_part: &str) {
    let (code, out, err) = repo.run(&["baseline", "list", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert!(doc["problems"].as_array().unwrap().is_empty(), "{doc:#}");
    let skipped = doc["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|p| p["kind"] == "foreign" && p["path"].as_str().unwrap().contains(path_part)),
        "{path_part}: {doc:#}"
    );
    assert!(
        err.contains("warning: ") && err.contains(path_part),
        "{err}"
    );
    assert!(!err.contains("delete"), "{err}");
    let r = repo.receipt("new.json", &receipt(15.0, 0, CPU, 16));
    let (code, out, err) = repo.run(&["baseline", "compare", &r]);
    assert_ne!(code, 2, "{out}{err}");
    assert!(
        err.contains("warning: ") && err.contains(path_part),
        "{err}"
    );
}

#[test]
fn foreign_files_in_the_baselines_folder_are_skipped_with_a_warning() {
    let repo = Repo::new();
    three_baselines(&repo);
    let r = serde_json::to_vec(&receipt(15.0, 1, CPU, 16)).unwrap();
    repo.write("baselines/cpu-main.json", &r);
    skipped(&repo, "baselines/cpu-main.json");
    let repo = Repo::new();
    three_baselines(&repo);
    repo.write(&format!("baselines/{}/deeper/cpu-i2s.json", day(-5)), &r);
    repo.write(&format!("baselines/{}/notes.txt", day(-5)), "ours");
    skipped(&repo, "deeper");
    skipped(&repo, "notes.txt");
}

#[test]
fn the_policy_moves_the_baselines_folder() {
    let repo = Repo::new();
    repo.write(
        "ci/receipt-policy.toml",
        "version = 1\n[baselines]\ndir = \"perf/baselines\"\n",
    );
    // The project's own file where the default folder would be: left alone.
    let own = serde_json::to_vec(&receipt(15.0, 1, CPU, 16)).unwrap();
    repo.write("baselines/cpu-main.json", &own);
    let r = repo.receipt("b.json", &receipt(14.0, 2, CPU, 16));
    let (code, out, err) = repo.run(&["baseline", "record", &r, "--date", &day(-2)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("recorded perf/baselines/"), "{out}");
    assert_eq!(
        repo.files(&format!("perf/baselines/{}", day(-2))),
        ["cpu-i2s.json"]
    );
    assert_eq!(repo.files("baselines"), ["cpu-main.json"]);
    let (code, out, err) = repo.run(&["baseline", "list", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["baselines"].as_array().unwrap().len(), 1, "{doc:#}");
    assert!(err.is_empty(), "nothing foreign in perf/baselines: {err}");
    // --dir still wins over the policy.
    let (code, out, _) = repo.run(&["baseline", "list", "--dir", "baselines"]);
    assert_eq!(code, 0);
    assert!(!out.contains("cpu-i2s"), "{out}");
    let (code, out, _) = repo.run(&["policy", "show"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("[baselines]\ndir = \"perf/baselines\""),
        "{out}"
    );

    for bad in [
        "../elsewhere",
        "/abs",
        "perf/./baselines",
        "",
        "perf\\u001b[31m",
    ] {
        repo.write(
            "bad.toml",
            format!("version = 1\n[baselines]\ndir = \"{bad}\"\n"),
        );
        let (code, _, err) = repo.run(&["baseline", "list", "--policy", "bad.toml"]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("bad.toml:3:"), "{bad}: {err}");
        assert!(
            err.contains("is not a folder inside the repository"),
            "{err}"
        );
        assert!(!err.contains('\u{1b}'), "escaped: {err}");
    }
}

#[test]
fn bad_input_folder_name_not_a_date() {
    let repo = Repo::new();
    three_baselines(&repo);
    let r = serde_json::to_vec(&receipt(15.0, 1, CPU, 16)).unwrap();
    repo.write("baselines/2026-02-30/cpu-i2s.json", &r);
    broken(&repo, "not-a-date", "2026-02-30");
    // A folder not shaped like a date is the project's own.
    let repo = Repo::new();
    three_baselines(&repo);
    repo.write("baselines/latest/cpu-i2s.json", &r);
    skipped(&repo, "latest");
}

#[test]
fn bad_input_two_baselines_for_one_envelope_on_one_day() {
    let repo = Repo::new();
    three_baselines(&repo);
    let d = day(-5);
    let r = serde_json::to_vec(&receipt(14.9, 5, CPU, 16)).unwrap();
    repo.write(&format!("baselines/{d}/cpu-i2s-again.json"), &r);
    broken(&repo, "duplicate-day", &d);
    // The same envelope on another host class the same day is fine.
    let repo = Repo::new();
    three_baselines(&repo);
    let r = serde_json::to_vec(&receipt(9.5, 5, "Intel Xeon 8375C", 4)).unwrap();
    repo.write(&format!("baselines/{d}/cpu-i2s-xeon.json"), &r);
    let (code, out, err) = repo.run(&["baseline", "list"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.lines().count(), 5);
}

#[test]
fn bad_input_baseline_from_the_future() {
    let repo = Repo::new();
    three_baselines(&repo);
    let d = day(2);
    let r = serde_json::to_vec(&receipt(15.0, 0, CPU, 16)).unwrap();
    repo.write(&format!("baselines/{d}/cpu-i2s.json"), &r);
    broken(&repo, "future-date", &d);
}

#[test]
fn bad_input_baseline_dated_before_its_measurement() {
    let repo = Repo::new();
    three_baselines(&repo);
    let d = day(-15);
    let r = serde_json::to_vec(&receipt(15.0, 2, CPU, 4)).unwrap();
    repo.write(&format!("baselines/{d}/early.json"), &r);
    broken(&repo, "predates-measurement", "early.json");
}

#[test]
fn the_policy_schema_takes_the_regression_key() {
    let schema: Value =
        serde_json::from_str(include_str!("../schema/policy-v1.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc = |toml_text: &str| -> Value {
        let t: toml::Table = toml::from_str(toml_text).unwrap();
        serde_json::to_value(t).unwrap()
    };
    assert!(validator.is_valid(&doc(
        "version = 1\n[receipt]\nregression = { max_drop = \"12.5%\" }\n"
    )));
    assert!(!validator.is_valid(&doc(
        "version = 1\n[receipt]\nregression = { max_drop = 0.1 }\n"
    )));
    assert!(!validator.is_valid(&doc(
        "version = 1\n[receipt]\nregression = { drop = \"5%\" }\n"
    )));
    assert!(validator.is_valid(&doc("version = 1\n[baselines]\ndir = \"perf/baselines\"\n")));
    for bad in ["../x", "/abs", "a/./b", "a\\\\b"] {
        let text = format!("version = 1\n[baselines]\ndir = \"{bad}\"\n");
        assert!(!validator.is_valid(&doc(&text)), "{bad}");
    }
}

#[test]
fn bad_input_receipt_from_another_host_class_is_incomparable() {
    let repo = Repo::new();
    three_baselines(&repo);
    let r = repo.receipt("xeon.json", &receipt(9.0, 0, "Intel Xeon 8375C", 16));
    let (code, out, _) = repo.run(&["baseline", "compare", &r]);
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("incomparable: "), "{out}");
    assert!(
        out.contains("another host class") && out.contains("cpu: AMD EPYC 7763, 16 threads"),
        "{out}"
    );
    // Same CPU, other thread count: another class too.
    let r = repo.receipt("t8.json", &receipt(9.0, 0, CPU, 8));
    assert_eq!(repo.run(&["baseline", "compare", &r]).0, 3);
    // A GPU's name is its class.
    let mut gpu = receipt(15.0, 0, CPU, 16);
    gpu["host"]["gpu"] = json!({"name": "NVIDIA H100"});
    let gpu = repo.receipt("g.json", &gpu);
    let (code, out, _) = repo.run(&["baseline", "compare", &gpu]);
    assert_eq!(code, 3);
    assert!(out.contains("gpu: NVIDIA H100"), "{out}");
}

#[test]
fn bad_input_empty_or_missing_baselines() {
    let repo = Repo::new();
    let r = repo.receipt("new.json", &receipt(15.0, 0, CPU, 16));
    let (code, out, _) = repo.run(&["baseline", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("no baselines folder"), "{out}");
    std::fs::create_dir(repo.path().join("baselines")).unwrap();
    let (code, out, _) = repo.run(&["baseline", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("no baselines in baselines"), "{out}");
    let (code, out, _) = repo.run(&["baseline", "compare", &r]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("no baselines in baselines yet") && out.contains("baseline record"),
        "{out}"
    );
    let (code, _, err) = repo.run(&["baseline", "chart", "--out", "c.svg"]);
    assert_eq!(code, 2);
    assert!(err.contains("no baselines"), "{err}");
    // Dot files and a README do not count as problems.
    repo.write("baselines/.gitkeep", "");
    repo.write("baselines/README.md", "# baselines\n");
    assert_eq!(repo.run(&["baseline", "list"]).0, 0);
}

#[test]
fn chart_is_a_self_contained_svg_with_band_lines_and_dates() {
    let repo = Repo::new();
    three_baselines(&repo);
    let r = serde_json::to_vec(&receipt(9.5, 10, "Intel Xeon 8375C", 4)).unwrap();
    repo.write(&format!("baselines/{}/cpu-i2s-xeon.json", day(-10)), &r);
    let (code, out, err) = repo.run(&["baseline", "chart", "--out", "docs/baselines.svg"]);
    assert_eq!(code, 0, "{out}{err}");
    let svg = std::fs::read_to_string(repo.path().join("docs/baselines.svg")).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(!svg.contains("<script") && !svg.contains("href") && !svg.contains("url("));
    assert_eq!(
        svg.matches("<polyline").count(),
        2,
        "one line per host class"
    );
    assert!(svg.contains("band 8.5–23 tok/s"), "the band is labelled");
    assert!(svg.contains("tokens/s") && svg.contains(&day(-20)) && svg.contains(&day(-5)));
    assert!(svg.contains("cpu: Intel Xeon 8375C, 4 threads"));
    let (code, _, err) = repo.run(&["baseline", "chart", "--envelope", "cuda", "--out", "x.svg"]);
    assert_eq!(code, 2);
    assert!(err.contains("of envelope cuda"), "{err}");
}
