//! Adopting receipts in an existing project (issue 9), end to end on real git
//! repositories in temp dirs: the markdown audit, receipt snippets, and the
//! dated-baselines-only policy.

mod common;
use common::{git, policy_check_in};

use serde_json::{Value, json};
use std::path::Path;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A v1.1 CPU receipt of the engine's benchmark that passes the built-in cpu-i2s envelope.
fn receipt(rate: f64, tokens: u64, age: time::Duration) -> Value {
    let samples = [rate * 0.99, rate, rate * 1.01];
    json!({
        "schema_version": "1.1.0",
        "timestamp": (OffsetDateTime::now_utc() - age).format(&Rfc3339).unwrap(),
        "compute_path": "real",
        "backend": "cpu",
        "deterministic": true,
        "kernels": ["i2s_gemv_avx2", "attention_cpu"],
        "kernel_stats": [{"id": "i2s_gemv_avx2", "calls": 10}, {"id": "attention_cpu", "calls": 10}],
        "environment": {"RAYON_NUM_THREADS": "1", "BITNET_DETERMINISTIC": "1", "BITNET_SEED": "42"},
        "tokens_requested": tokens,
        "tokens_generated": tokens,
        "tokens_per_second": rate,
        "measurement": {"timed_runs": 3, "samples_tokens_per_second": samples},
        "model": {"format": "i2s", "path": "models/bitnet-2b.gguf"},
        "build": {"engine": "bitnet-engine", "features": ["cpu"]},
        "host": {"os": "linux", "cpu_model": "AMD EPYC 7763", "threads": 1},
        "run": {"seed": 42, "strict": true}
    })
}

fn today() -> String {
    let d = OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn write(dir: &Path, path: &str, content: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, content).unwrap();
}

fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

/// The table rows of the audit (skipping the header and its rule), split into cells.
fn audit_rows(markdown: &str) -> Vec<Vec<String>> {
    let table: Vec<&str> = markdown
        .lines()
        .skip_while(|l| !l.starts_with("| File | Line |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    table
        .iter()
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn markdown_audit_lists_every_claim_with_the_receipt_that_would_back_it() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    let baseline = format!("baselines/{}/cpu-i2s.json", today());
    write(
        d,
        &baseline,
        &receipt(15.2, 128, time::Duration::hours(1)).to_string(),
    );
    write(
        d,
        "ci/inference.json",
        &receipt(15.0, 128, time::Duration::hours(2)).to_string(),
    );
    write(
        d,
        "README.md",
        "# Engine\n\nCPU: about 15 tok/s.\n\nBacked: 15 tok/s <!-- receipt: ci/inference.json -->\n\nGPU: 50-100 tok/s.\n",
    );
    write(
        d,
        "docs/quickstart.md",
        "# Quickstart\n\nExpect 10-20 tok/s on a laptop.\n\nQuoted: 900 tok/s <!-- receipt-ignore: a vendor's number -->\n",
    );
    commit_all(d, "docs");

    let (code, out, err) =
        policy_check_in(d, &["claims", "--filter", "all", "--format", "markdown"]);
    assert_eq!(code, 1, "{out}{err}");
    let rows = audit_rows(&out);
    let summary: Vec<(&str, &str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (&*r[0], &*r[1], &*r[2], &*r[3], &*r[4]))
        .collect();
    let b = format!("`{baseline}`");
    assert_eq!(
        summary,
        vec![
            ("`README.md`", "3", "`about 15 tok/s`", "unbacked", &*b),
            (
                "`README.md`",
                "5",
                "`15 tok/s`",
                "backed",
                "`ci/inference.json`"
            ),
            ("`README.md`", "7", "`50-100 tok/s`", "unbacked", "–"),
            (
                "`docs/quickstart.md`",
                "3",
                "`10-20 tok/s`",
                "unbacked",
                &*b
            ),
            ("`docs/quickstart.md`", "5", "`900 tok/s`", "ignored", "–"),
        ],
        "{out}"
    );
    assert!(rows[0][5].contains("no receipt cited"), "{out}");
    assert!(
        out.contains("5 claims in 2 files → **fail** (exit 1)"),
        "{out}"
    );
    // Per file: backed, ignored, accepted, stale, unbacked, contradicted, total.
    assert!(
        out.contains("| `README.md` | 1 | 0 | 0 | 0 | 2 | 0 | 3 |"),
        "{out}"
    );
    assert!(
        out.contains("| `docs/quickstart.md` | 0 | 1 | 0 | 0 | 1 | 0 | 2 |"),
        "{out}"
    );
    assert!(out.contains("| unbacked | 3 |"), "{out}");
    assert!(out.contains("| backed | 1 |"), "{out}");
}

#[test]
fn markdown_audit_escapes_cells_and_passes_with_no_claims() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(d, "docs/a|b.md", "Decode: 12 tok/s.\n");
    write(d, "README.md", "# Nothing measured here\n");
    commit_all(d, "docs");
    let (code, out, _) = policy_check_in(d, &["claims", "--filter", "all", "--format", "markdown"]);
    assert_eq!(code, 1);
    // A pipe in a path would split the row; it is escaped inside the code span.
    assert!(
        out.contains("| `docs/a\\|b.md` | 1 | `12 tok/s` | unbacked | – |"),
        "{out}"
    );

    let (code, out, _) = policy_check_in(
        d,
        &[
            "claims",
            "--filter",
            "all",
            "--format",
            "markdown",
            "README.md",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("0 claims in 0 files → **pass** (exit 0)"),
        "{out}"
    );
    assert!(!out.contains("| File | Line |"), "{out}");
}

/// A repository with one receipt at `path`, committed.
fn repo_with_receipt(path: &str, receipt: &Value) -> TempDir {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(d, path, &receipt.to_string());
    write(d, "README.md", "# Engine\n");
    commit_all(d, "receipt");
    repo
}

fn claims_json(d: &Path) -> (i32, Value) {
    let (code, out, err) = policy_check_in(d, &["claims", "--filter", "all", "--format", "json"]);
    let doc = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, doc)
}

#[test]
fn snippets_take_the_command_and_numbers_from_the_receipt_and_pass_claims_when_pasted() {
    let baseline = format!("baselines/{}/cpu-i2s.json", today());
    let cases = [
        ("quick", "ci/quick.json", 16, 2, 14.1),
        ("benchmark", "ci/inference.json", 128, 1, 15.2),
        ("baseline", baseline.as_str(), 256, 1, 16.4),
    ];
    for (style, path, tokens, threads, rate) in cases {
        let mut r = receipt(rate, tokens, time::Duration::hours(1));
        r["host"]["threads"] = json!(threads);
        let repo = repo_with_receipt(path, &r);
        let d = repo.path();
        let (code, snippet, err) =
            policy_check_in(d, &["receipt", "snippet", path, "--style", style]);
        assert_eq!(code, 0, "{style}: {snippet}{err}");
        let env = format!(
            "BITNET_STRICT_MODE=1 BITNET_DETERMINISTIC=1 BITNET_SEED=42 RAYON_NUM_THREADS={threads} \\\n"
        );
        assert!(snippet.contains(&env), "{style}: {snippet}");
        assert!(
            snippet.contains(
                "cargo run --release -p bitnet-engine --no-default-features --features cpu -- \\\n"
            ),
            "{style}: {snippet}"
        );
        let args = format!(
            "bench --model models/bitnet-2b.gguf --tokens {tokens} --threads {threads} --seed 42 --receipt "
        );
        assert!(snippet.contains(&args), "{style}: {snippet}");
        // A rerun writes where the receipt is, but never over a dated baseline.
        let out = if path.starts_with("baselines/") {
            "ci/inference.json"
        } else {
            path
        };
        assert!(
            snippet.contains(&format!("{args}{out}\n")),
            "{style}: {snippet}"
        );
        let measured = format!("Measured {rate} tok/s over {tokens} tokens");
        assert!(snippet.contains(&measured), "{style}: {snippet}");
        assert!(
            snippet.contains("the `cpu-i2s` envelope's band is 8.5–23 tok/s (±15%)"),
            "{style}: {snippet}"
        );
        assert!(
            snippet.contains(&format!("([receipt](/{path}))")),
            "{style}: {snippet}"
        );

        // Pasted into a doc in a subdirectory, every claim in it is backed.
        write(
            d,
            "docs/performance.md",
            &format!("# Performance\n\n{snippet}"),
        );
        commit_all(d, "paste the snippet");
        let (code, doc) = claims_json(d);
        assert_eq!(code, 0, "{style}: {doc}");
        let claims = doc["claims"].as_array().unwrap();
        assert_eq!(claims.len(), 2, "{style}: the rate and the band: {doc}");
        assert!(
            claims.iter().all(|c| c["outcome"] == "backed"),
            "{style}: {doc}"
        );
    }
}

/// A project whose engine is not bitnet-engine gives its own command template.
#[test]
fn a_snippet_takes_your_engines_command() {
    let repo = repo_with_receipt(
        "ci/inference.json",
        &receipt(15.2, 128, time::Duration::hours(1)),
    );
    let d = repo.path();
    let (code, snippet, err) = policy_check_in(
        d,
        &[
            "receipt",
            "snippet",
            "ci/inference.json",
            "--command",
            "make bench TOKENS={tokens} OUT={receipt}",
        ],
    );
    assert_eq!(code, 0, "{snippet}{err}");
    assert!(
        snippet.contains("make bench TOKENS=128 OUT=ci/inference.json\n"),
        "{snippet}"
    );
    assert!(!snippet.contains("bitnet-engine"), "{snippet}");
    let (code, _, err) = policy_check_in(
        d,
        &[
            "receipt",
            "snippet",
            "ci/inference.json",
            "--command",
            "make bench",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("{receipt}"), "{err}");

    // The policy's template, for every snippet of the project.
    write(
        d,
        "ci/receipt-policy.toml",
        "version = 1\n[claims]\nsnippet_command = \"just bench {tokens} {receipt}\"\n",
    );
    let (code, snippet, err) = policy_check_in(d, &["receipt", "snippet", "ci/inference.json"]);
    assert_eq!(code, 0, "{snippet}{err}");
    assert!(
        snippet.contains("just bench 128 ci/inference.json\n"),
        "{snippet}"
    );
    write(
        d,
        "ci/receipt-policy.toml",
        "version = 1\n[claims]\nsnippet_command = \"just bench\"\n",
    );
    let (code, _, err) = policy_check_in(d, &["receipt", "snippet", "ci/inference.json"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("receipt-policy.toml:3:") && err.contains("{receipt}"),
        "{err}"
    );
    std::fs::remove_file(d.join("ci/receipt-policy.toml")).unwrap();
}

/// A receipt that records the command line that wrote it (bitnet-engine does)
/// gets that command back, with the new receipt's path; a hostile one is refused.
#[test]
fn a_snippet_takes_the_command_the_receipt_records() {
    let mut r = receipt(15.2, 128, time::Duration::hours(1));
    r["run"]["command"] =
        json!("BITNET_SEED=42 my-engine bench --tokens 128 --out {receipt} --model 'a b.gguf'");
    let repo = repo_with_receipt("ci/inference.json", &r);
    let d = repo.path();
    let (code, snippet, err) = policy_check_in(d, &["receipt", "snippet", "ci/inference.json"]);
    assert_eq!(code, 0, "{snippet}{err}");
    assert!(
        snippet.contains(
            "BITNET_SEED=42 my-engine bench --tokens 128 --out ci/inference.json --model 'a b.gguf'\n"
        ),
        "{snippet}"
    );
    assert!(!snippet.contains("cargo run"), "{snippet}");
    for hostile in [
        "x --out {receipt}\n```\n# owned",
        "x `id` {receipt}",
        "x --out y.json",
    ] {
        r["run"]["command"] = json!(hostile);
        write(d, "ci/inference.json", &r.to_string());
        let (code, out, err) = policy_check_in(d, &["receipt", "snippet", "ci/inference.json"]);
        assert_eq!(code, 2, "{hostile:?}: {out}{err}");
        assert!(err.contains("the receipt's run.command"), "{err}");
        assert!(!err.contains("# owned\n"), "{err}");
    }
}

#[test]
fn snippet_problems_name_the_receipt_and_the_fix() {
    // A baseline snippet needs a dated baseline.
    let repo = repo_with_receipt(
        "ci/inference.json",
        &receipt(15.2, 128, time::Duration::hours(1)),
    );
    let (code, out, err) = policy_check_in(
        repo.path(),
        &[
            "receipt",
            "snippet",
            "ci/inference.json",
            "--style",
            "baseline",
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("ci/inference.json: a baseline snippet cites a dated baseline")
            && err.contains("policy-check baseline record ci/inference.json"),
        "{err}"
    );

    // No model in the receipt: no command can be written.
    let mut r = receipt(15.2, 128, time::Duration::hours(1));
    r["model"].as_object_mut().unwrap().remove("path");
    let repo = repo_with_receipt("ci/inference.json", &r);
    let (code, _, err) = policy_check_in(repo.path(), &["receipt", "snippet", "ci/inference.json"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("ci/inference.json: the receipt has no model.path"),
        "{err}"
    );

    // A receipt outside its envelope's band makes no example.
    let repo = repo_with_receipt(
        "ci/inference.json",
        &receipt(40.0, 128, time::Duration::hours(1)),
    );
    let (code, _, err) = policy_check_in(repo.path(), &["receipt", "snippet", "ci/inference.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("`policy-check check` says fail"), "{err}");

    // An old receipt: the snippet is printed, but it would be stale once pasted.
    let repo = repo_with_receipt(
        "ci/inference.json",
        &receipt(15.2, 128, time::Duration::days(90)),
    );
    let (code, out, err) =
        policy_check_in(repo.path(), &["receipt", "snippet", "ci/inference.json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("([receipt](/ci/inference.json))"), "{out}");
    assert!(err.contains("would be stale when pasted"), "{err}");
}

#[test]
fn require_dated_baselines_backs_claims_only_with_dated_baselines() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    let baseline = format!("baselines/{}/cpu-i2s.json", today());
    let fresh = receipt(15.2, 128, time::Duration::hours(1)).to_string();
    write(d, &baseline, &fresh);
    write(d, "ci/inference.json", &fresh);
    write(
        d,
        "README.md",
        &format!(
            "# Engine\n\nDated: 15 tok/s <!-- receipt: {baseline} -->\n\nUndated: 15 tok/s <!-- receipt: ci/inference.json -->\n"
        ),
    );
    write(
        d,
        "docs/perf.md",
        &format!("From docs/: 15 tok/s ([receipt](../{baseline}))\n"),
    );
    commit_all(d, "docs");

    // Without the option, both receipts back their claims.
    let (code, doc) = claims_json(d);
    assert_eq!(code, 0, "{doc}");

    write(
        d,
        "ci/receipt-policy.toml",
        "version = 1\n\n[claims]\nrequire_dated_baselines = true\n",
    );
    let (code, doc) = claims_json(d);
    assert_eq!(code, 1, "{doc}");
    let claims = doc["claims"].as_array().unwrap();
    let by_line: Vec<(&str, u64, &str)> = claims
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap(),
                c["line"].as_u64().unwrap(),
                c["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_line,
        vec![
            ("README.md", 3, "backed"),
            ("README.md", 5, "unbacked"),
            ("docs/perf.md", 1, "backed"),
        ]
    );
    let undated = &claims[1];
    assert_eq!(
        undated["message"],
        "ci/inference.json is not a dated baseline: the policy sets [claims] require_dated_baselines = true, so only receipts under baselines/YYYY-MM-DD/ back a claim"
    );
    assert!(
        undated["suggestion"]
            .as_str()
            .unwrap()
            .contains("policy-check baseline record"),
        "{undated}"
    );

    // The audit's last column names the dated baseline that would back it.
    let (_, out, _) = policy_check_in(d, &["claims", "--filter", "all", "--format", "markdown"]);
    let rows = audit_rows(&out);
    assert_eq!(rows[1][4], format!("`{baseline}`"), "{out}");

    // `policy show` prints the key back.
    let (code, shown, _) = policy_check_in(d, &["policy", "show"]);
    assert_eq!(code, 0);
    assert!(shown.contains("require_dated_baselines = true"), "{shown}");
}

#[test]
fn require_dated_baselines_errors_name_file_line_and_fix() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(d, "README.md", "# Engine\n");
    write(
        d,
        "ci/receipt-policy.toml",
        "version = 1\n\n[claims]\nrequire_dated_baselines = \"yes\"\n",
    );
    commit_all(d, "policy");
    let (code, out, err) = policy_check_in(d, &["claims", "--filter", "all"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("ci/receipt-policy.toml:4:"), "{err}");
    assert!(err.contains("require_dated_baselines"), "{err}");
    assert!(err.contains("true"), "{err}");
}

#[test]
fn the_policy_schema_takes_require_dated_baselines_and_command_rules() {
    let schema: Value =
        serde_json::from_str(include_str!("../schema/policy-v1.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc = |toml_text: &str| -> Value {
        let t: toml::Table = toml::from_str(toml_text).unwrap();
        serde_json::to_value(t).unwrap()
    };
    assert!(validator.is_valid(&doc(
        "version = 1\n[claims]\nrequire_dated_baselines = true\n"
    )));
    assert!(!validator.is_valid(&doc(
        "version = 1\n[claims]\nrequire_dated_baselines = \"yes\"\n"
    )));
    assert!(validator.is_valid(&doc(PLAN_COMMANDS)));
    assert!(!validator.is_valid(&doc(
        "version = 1\n[[commands.rule]]\nid = \"x\"\nmatch = 'cargo'\nrequire_env = [\"SEED\"]\n"
    )));
    assert!(!validator.is_valid(&doc("version = 1\n[[commands.rule]]\nid = \"x\"\n")));
}

/// The plan's conventions as a policy: explicit features for cargo commands
/// (xtask has none), and the deterministic, strict environment for benchmarks.
const PLAN_COMMANDS: &str = r#"version = 1

[[commands.rule]]
id = "explicit-features"
match = '^cargo (build|run|test|bench)\b'
unless = '-p xtask'
require = ["--no-default-features", "--features cpu|--features gpu"]
forbid = ['^cargo (build|run)$']

[[commands.rule]]
id = "deterministic-benchmark"
match = '\bbenchmark\b'
require = ["--tokens"]
require_env = ["BITNET_DETERMINISTIC=1", "BITNET_SEED=42", "BITNET_STRICT_MODE=1"]
"#;

/// The plan's "Production Benchmark" template, as written there.
const PRODUCTION_BENCHMARK: &str = "```bash
# CPU performance baseline with strict validation
BITNET_STRICT_MODE=1 BITNET_DETERMINISTIC=1 BITNET_SEED=42 \\
cargo run -p xtask -- benchmark --model <model> --tokens 128

# Verify receipt shows real computation
cat ci/inference.json | jq '{compute_path, backend, tokens_per_second, kernels}'
```
";

fn commands_json(d: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["commands"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let (code, out, err) = policy_check_in(d, &all);
    let doc = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, doc)
}

fn findings(doc: &Value) -> Vec<(String, u64, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["command"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn command_conventions_flag_the_bare_benchmark_and_accept_the_plans_template() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(d, "ci/receipt-policy.toml", PLAN_COMMANDS);
    write(d, "README.md", "# Engine\n\n```sh\ncargo build\n```\n");
    commit_all(d, "base");

    let doc_text = format!(
        "# Benchmarking\n\n{PRODUCTION_BENCHMARK}\nThe short form:\n\n```bash\ncargo run -p xtask -- benchmark --model m.gguf\n```\n\n\
         Build with `cargo build --no-default-features --features cpu`, never `cargo run`.\n\n\
         <!-- commands-ignore: the wrong way, shown on purpose -->\n```bash\ncargo build\n```\n"
    );
    write(d, "docs/bench.md", &doc_text);
    commit_all(d, "docs");

    // Diff-aware: only the new doc's commands; the old bare `cargo build` in README.md is not new.
    let (code, doc) = commands_json(d, &["--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(
        findings(&doc),
        vec![
            (
                "docs/bench.md".to_string(),
                15,
                "cargo run -p xtask -- benchmark --model m.gguf".to_string()
            ),
            ("docs/bench.md".to_string(), 18, "cargo run".to_string()),
        ],
        "{doc}"
    );
    let bare = &doc["findings"][0];
    assert_eq!(bare["rules"], json!(["deterministic-benchmark"]));
    assert_eq!(
        bare["problems"],
        json!([
            "lacks `--tokens`",
            "lacks BITNET_DETERMINISTIC=1 before the command",
            "lacks BITNET_SEED=42 before the command",
            "lacks BITNET_STRICT_MODE=1 before the command"
        ])
    );
    assert_eq!(
        bare["expected"],
        "BITNET_DETERMINISTIC=1 BITNET_SEED=42 BITNET_STRICT_MODE=1 cargo run -p xtask -- benchmark --model m.gguf --tokens"
    );
    let inline = &doc["findings"][1];
    assert_eq!(inline["rules"], json!(["explicit-features"]));
    assert_eq!(
        inline["expected"],
        "cargo run --no-default-features --features cpu"
    );

    // --filter all sees the old one too; the text form names file, line, rule and the expected form.
    let (code, out, _) = policy_check_in(d, &["commands", "--filter", "all"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("README.md:4: explicit-features: cargo build\n"),
        "{out}"
    );
    assert!(
        out.contains("    expected: cargo build --no-default-features --features cpu\n"),
        "{out}"
    );
    assert!(
        out.contains("3 breaking the conventions → fail (exit 1)"),
        "{out}"
    );

    // `policy show` prints the rules back, and they load again.
    let (code, shown, err) = policy_check_in(d, &["policy", "show"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        shown.contains("[[commands.rule]]\nid = \"explicit-features\"\nmatch = '^cargo (build|run|test|bench)\\b'\nunless = '-p xtask'\nrequire = [\"--no-default-features\", \"--features cpu|--features gpu\"]\nforbid = ['^cargo (build|run)$']\n"),
        "{shown}"
    );
    write(d, "shown.toml", &shown);
    let (code, _, err) = policy_check_in(d, &["policy", "show", "--policy", "shown.toml"]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_file(d.join("shown.toml")).unwrap();

    // Fixed as suggested, the change passes.
    let fixed = doc_text
        .replace(
            "cargo run -p xtask -- benchmark --model m.gguf",
            "BITNET_DETERMINISTIC=1 BITNET_SEED=42 BITNET_STRICT_MODE=1 \\\n  cargo run -p xtask -- benchmark --model m.gguf --tokens 4",
        )
        .replace("never `cargo run`", "never bare");
    write(d, "docs/bench.md", &fixed);
    commit_all(d, "fix");
    let (code, doc) = commands_json(d, &["--base", "HEAD~2", "--head", "HEAD"]);
    assert_eq!(code, 0, "{doc}");
    assert!(doc["commands"].as_u64().unwrap() >= 4, "{doc}");
}

#[test]
fn command_rule_errors_name_file_line_and_fix() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(d, "README.md", "# Engine\n");
    write(
        d,
        "ci/receipt-policy.toml",
        "version = 1\n\n[[commands.rule]]\nid = \"x\"\nmatch = '(cargo'\nrequire_env = [\"SEED\"]\n",
    );
    commit_all(d, "policy");
    let (code, out, err) = policy_check_in(d, &["commands", "--filter", "all"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("ci/receipt-policy.toml:5:"), "{err}");
    assert!(err.contains("`match` does not compile"), "{err}");
    assert!(err.contains("ci/receipt-policy.toml:6:"), "{err}");
    assert!(
        err.contains("`SEED` in `require_env` is not an assignment NAME=value"),
        "{err}"
    );
}

#[test]
fn fix_cites_the_receipt_on_added_bare_claims_it_backs_and_nothing_else() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(
        d,
        "ci/inference.json",
        &receipt(15.2, 128, time::Duration::hours(1)).to_string(),
    );
    // An old bare claim the receipt would back: not in the diff, never touched.
    write(d, "README.md", "# Engine\n\nOld: 15 tok/s.\n");
    write(d, "docs/crlf.md", "# Perf\r\n\r\nIntro.\r\n");
    commit_all(d, "base");

    let readme = "# Engine\n\nOld: 15 tok/s.\n\nNew: about 15 tok/s.\n\nWrong: 50 tok/s.\n\n\
        Contradicted: 50 tok/s <!-- receipt: ci/inference.json -->\n\n\
        | backend | rate |\n|---|---|\n| cpu | 15.0 tok/s |\n";
    write(d, "README.md", readme);
    let crlf = "# Perf\r\n\r\nIntro.\r\n\r\nDecode: ~15 tok/s\r\n";
    write(d, "docs/crlf.md", crlf);

    let fix = [
        "claims",
        "--base",
        "HEAD",
        "--fix",
        "--receipt",
        "ci/inference.json",
    ];
    let (code, patch, err) = policy_check_in(d, &fix);
    assert_eq!(code, 1, "two claims are left: {patch}{err}");
    assert_eq!(
        patch,
        "--- a/README.md\n+++ b/README.md\n\
         @@ -5,1 +5,1 @@\n-New: about 15 tok/s.\n+New: about 15 tok/s. <!-- receipt: ci/inference.json -->\n\
         @@ -13,1 +13,1 @@\n-| cpu | 15.0 tok/s |\n+| cpu | 15.0 tok/s <!-- receipt: ci/inference.json --> |\n\
         --- a/docs/crlf.md\n+++ b/docs/crlf.md\n\
         @@ -5,1 +5,1 @@\n-Decode: ~15 tok/s\r\n+Decode: ~15 tok/s <!-- receipt: ci/inference.json -->\r\n"
    );
    assert!(
        err.contains("README.md:7:8: 50 tok/s: ci/inference.json does not back it (contradicted"),
        "{err}"
    );
    assert!(
        err.contains("README.md:9:15: 50 tok/s: contradicted"),
        "{err}"
    );
    assert!(
        err.contains("3 lines would cite ci/inference.json; 2 claims left as they were"),
        "{err}"
    );
    // Without --write nothing changes.
    assert_eq!(
        std::fs::read_to_string(d.join("README.md")).unwrap(),
        readme
    );

    let mut write_args = fix.to_vec();
    write_args.push("--write");
    let (code, out, err) = policy_check_in(d, &write_args);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        out,
        "README.md:5: cited ci/inference.json\nREADME.md:13: cited ci/inference.json\ndocs/crlf.md:5: cited ci/inference.json\n"
    );
    let fixed = std::fs::read_to_string(d.join("README.md")).unwrap();
    let expected = readme
        .replace(
            "New: about 15 tok/s.",
            "New: about 15 tok/s. <!-- receipt: ci/inference.json -->",
        )
        .replace(
            "| cpu | 15.0 tok/s |",
            "| cpu | 15.0 tok/s <!-- receipt: ci/inference.json --> |",
        );
    assert_eq!(fixed, expected);
    assert!(
        fixed.starts_with("# Engine\n\nOld: 15 tok/s.\n\n"),
        "the old line is outside the diff"
    );
    let crlf_fixed = std::fs::read(d.join("docs/crlf.md")).unwrap();
    assert_eq!(
        crlf_fixed,
        b"# Perf\r\n\r\nIntro.\r\n\r\nDecode: ~15 tok/s <!-- receipt: ci/inference.json -->\r\n"
    );

    // Idempotent: a second run finds nothing to cite and changes no byte.
    let (code, out, err) = policy_check_in(d, &write_args);
    assert_eq!(code, 1, "the two it cannot fix remain: {err}");
    assert_eq!(out, "");
    assert!(err.contains("0 lines now cite"), "{err}");
    assert_eq!(std::fs::read_to_string(d.join("README.md")).unwrap(), fixed);
    assert_eq!(std::fs::read(d.join("docs/crlf.md")).unwrap(), crlf_fixed);

    // The fixed claims are backed now.
    let (_, out, _) = policy_check_in(d, &["claims", "--base", "HEAD", "--format", "json"]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let backed: Vec<(String, u64)> = doc["claims"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "backed")
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_string(),
                c["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        backed,
        vec![
            ("README.md".to_string(), 5),
            ("README.md".to_string(), 13),
            ("docs/crlf.md".to_string(), 5)
        ]
    );
}

#[test]
fn fix_refuses_what_it_cannot_do_safely() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(d, "README.md", "# Engine\n");
    commit_all(d, "base");
    let (code, _, err) = policy_check_in(
        d,
        &[
            "claims",
            "--filter",
            "all",
            "--fix",
            "--receipt",
            "ci/inference.json",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--fix edits the lines your working tree adds"),
        "{err}"
    );
    let (code, _, err) = policy_check_in(
        d,
        &[
            "claims",
            "--base",
            "HEAD",
            "--fix",
            "--receipt",
            "ci/missing.json",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--receipt ci/missing.json: no such file"),
        "{err}"
    );
    let (code, _, _) = policy_check_in(d, &["claims", "--base", "HEAD", "--fix"]);
    assert_eq!(code, 2, "--fix needs --receipt");
}

/// Copy a directory tree (the example project's state) into `to`.
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn replace_in(d: &Path, path: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(d.join(path)).unwrap();
    assert!(text.contains(from), "{path} has no {from:?}");
    std::fs::write(d.join(path), text.replace(from, to)).unwrap();
}

/// docs/adopting.md, step by step, on docs/examples/adopting/before: the audit
/// lists every claim, the snippet, the edits, --fix and a baseline take it to
/// docs/examples/adopting/after, and the release gate passes there.
#[test]
fn adoption_guide_takes_the_example_from_before_to_after_and_the_release_gate_passes() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/adopting");
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    copy_tree(&example.join("before"), d);
    git(d, &["init", "-q"]);
    commit_all(d, "before");

    // 1. The audit lists every claim, none backed.
    let (code, audit, _) =
        policy_check_in(d, &["claims", "--filter", "all", "--format", "markdown"]);
    assert_eq!(code, 1);
    let rows: Vec<(String, String, String, String)> = audit_rows(&audit)
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()))
        .collect();
    let row = |f: &str, l: &str, c: &str| {
        (
            f.to_string(),
            l.to_string(),
            c.to_string(),
            "unbacked".to_string(),
        )
    };
    assert_eq!(
        rows,
        vec![
            row("`README.md`", "7", "`~10-20 tok/s`"),
            row("`README.md`", "7", "`50-100 tok/s`"),
            row(
                "`docs/quickstart.md`",
                "13",
                "`12 (column \"decode (tok/s)\")`"
            ),
        ],
        "{audit}"
    );
    // ...and the command check flags both documented commands.
    let (code, doc) = commands_json(d, &["--filter", "all"]);
    assert_eq!(code, 1);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 2, "{doc}");

    // Measure (here: the receipt a run of the engine writes).
    write(
        d,
        "ci/inference.json",
        &receipt(15.2, 128, time::Duration::hours(1)).to_string(),
    );

    // 2. The snippet replaces the bare CPU claim; the GPU number, which nothing
    // here can measure, goes.
    let (code, snippet, err) = policy_check_in(d, &["receipt", "snippet", "ci/inference.json"]);
    assert_eq!(code, 0, "{err}");
    replace_in(
        d,
        "README.md",
        "CPU decode runs at ~10-20 tok/s on a laptop; GPU decode at 50-100 tok/s.\n",
        &snippet,
    );
    // 3. The table gets the measured number, and --fix cites the receipt on it.
    replace_in(d, "docs/quickstart.md", "| cpu | 12 |", "| cpu | 15.2 |");
    let (code, out, err) = policy_check_in(
        d,
        &[
            "claims",
            "--fix",
            "--receipt",
            "ci/inference.json",
            "--write",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "docs/quickstart.md:13: cited ci/inference.json\n");
    // 4. The commands take the expected forms the command check printed.
    replace_in(
        d,
        "README.md",
        "cargo build --release\n",
        "cargo build --release --no-default-features --features cpu\n",
    );
    replace_in(
        d,
        "docs/quickstart.md",
        "cargo run -p xtask -- benchmark --model m.gguf",
        "BITNET_DETERMINISTIC=1 BITNET_SEED=42 BITNET_STRICT_MODE=1 \\\n  cargo run -p xtask -- benchmark --model m.gguf",
    );
    let (code, doc) = commands_json(d, &[]);
    assert_eq!(code, 0, "{doc}");
    // 5. A dated baseline.
    let (code, out, err) = policy_check_in(d, &["baseline", "record", "ci/inference.json"]);
    assert_eq!(code, 0, "{out}{err}");
    commit_all(d, "receipts");

    // The docs are now the "after" state, byte for byte...
    for doc in ["README.md", "docs/quickstart.md"] {
        assert_eq!(
            std::fs::read_to_string(d.join(doc)).unwrap(),
            std::fs::read_to_string(example.join("after").join(doc)).unwrap(),
            "{doc} differs from docs/examples/adopting/after/{doc}"
        );
    }
    // ...and 6. the release gate passes.
    let (code, out, err) =
        policy_check_in(d, &["gate", "--release", "--receipts", "ci/inference.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("[pass] claims\n    3 claims in 2 files: 3 backed"),
        "{out}"
    );
    assert!(out.contains("[pass] baseline"), "{out}");
}

/// `run` measures the adopter's own engine (`--bench-command`, the action's
/// `engine: command`) and writes the receipt where the docs cite it (`--receipt`).
#[test]
fn run_measures_your_own_engine_and_writes_the_receipt_where_you_say() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(d, "README.md", "# Engine\n");
    commit_all(d, "base");
    write(
        d,
        "bench-out.json",
        &receipt(15.2, 128, time::Duration::hours(1)).to_string(),
    );
    let (code, out, err) = policy_check_in(
        d,
        &[
            "run",
            "--bench-command",
            "cp bench-out.json \"$RECEIPT_PATH\"",
            "--receipt",
            "ci/inference.json",
            "--no-claims",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("running bench-command"), "{err}");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("ci/inference.json")).unwrap())
            .unwrap();
    assert_eq!(written["tokens_per_second"], 15.2);
    assert!(out.contains("ci/inference.json"), "{out}");
    assert!(!d.join("receipt-action/receipt.json").exists());
    assert!(d.join("receipt-action/report.json").exists());
    // --build-command needs --bench-command.
    let (code, _, err) = policy_check_in(d, &["run", "--build-command", "make"]);
    assert_eq!(code, 2, "{err}");
}

/// The commands of docs/adopting.md's "From zero to a green release gate", as
/// the doc prints them, in a repository with bare claims, a changelog and a
/// `baselines/` folder of its own: each exits 0 and the gate passes. The one
/// measurement (`policy-check run`) is stood in by a receipt of a CPU run. Then a
/// change that adds a bare number fails, and so does one that edits an accepted
/// number.
#[test]
fn the_adoption_path_reaches_a_green_gate_in_the_docs_commands() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/adopting.md"))
            .unwrap();
    let commands: Vec<&str> = guide
        .lines()
        .skip_while(|l| !l.starts_with("<!-- adoption-path:"))
        .skip(2)
        .take_while(|l| *l != "```")
        .collect();
    assert_eq!(commands.len(), 7, "seven commands: {commands:?}");

    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    write(
        d,
        "README.md",
        "# Engine\n\nOn a laptop it decodes 12 tok/s.\n\n| model | decode |\n|---|---|\n| 2B | 15.5 tok/s |\n",
    );
    write(d, "CHANGELOG.md", "## 0.1\n- 3 tok/s then.\n");
    write(d, "baselines/cpu-main.json", "{\"ours\": true}\n");
    commit_all(d, "a project with bare claims");
    let start = git(d, &["rev-parse", "HEAD"]);

    let bin = Path::new(env!("CARGO_BIN_EXE_policy-check"))
        .parent()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    for command in &commands {
        if command.starts_with("policy-check run ") {
            assert!(command.contains("--receipt ci/inference.json"), "{command}");
            write(
                d,
                "ci/inference.json",
                &receipt(15.2, 128, time::Duration::minutes(5)).to_string(),
            );
            continue;
        }
        let out = std::process::Command::new("sh")
            .args(["-c", command])
            .current_dir(d)
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .envs([
                ("GIT_AUTHOR_NAME", "t"),
                ("GIT_AUTHOR_EMAIL", "t@example.com"),
                ("GIT_COMMITTER_NAME", "t"),
                ("GIT_COMMITTER_EMAIL", "t@example.com"),
            ])
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{command}: {stdout}{stderr}");
        if command.starts_with("policy-check gate ") {
            assert!(
                stdout.contains("release gate: pass (4 of 4 items pass)"),
                "{stdout}"
            );
            assert!(
                stdout.contains("2 accepted in the claims ledger"),
                "{stdout}"
            );
        }
    }
    // The project's own file stayed where it was; ours went elsewhere.
    assert_eq!(
        std::fs::read_to_string(d.join("baselines/cpu-main.json")).unwrap(),
        "{\"ours\": true}\n"
    );
    assert!(
        d.join(format!("ci/baselines/{}/cpu-i2s.json", today()))
            .is_file()
    );
    let adopted = git(d, &["rev-parse", "HEAD"]);
    assert_ne!(adopted, start, "the path committed");

    // A new bare number fails; so does an accepted claim whose number changed.
    let readme = std::fs::read_to_string(d.join("README.md")).unwrap();
    for changed in [
        format!("{readme}\nWith two threads: 21 tok/s.\n"),
        readme.replace("12 tok/s", "14 tok/s"),
    ] {
        write(d, "README.md", &changed);
        commit_all(d, "a change");
        let (code, out, err) = policy_check_in(d, &["claims", "--base", &adopted]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("unbacked"), "{out}");
        git(d, &["reset", "-q", "--hard", &adopted]);
    }
}
