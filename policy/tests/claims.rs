//! `policy-check claims` end to end: a real git repository in a temp dir, a base
//! commit with an old bare claim, a head commit that adds a bare, a backed, a
//! contradicted and a stale claim; plus the labelled corpus's precision and recall.

mod common;
use common::git;

use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn policy_check(dir: &Path, args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_policy-check"))
        .current_dir(dir)
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("policy-check runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), doc)
}

/// A v1.1 CPU receipt that passes the default policy's cpu-i2s envelope.
fn receipt(rate: f64, age: time::Duration) -> Value {
    let samples = [rate * 0.99, rate, rate * 1.01];
    json!({
        "schema_version": "1.1.0",
        "timestamp": (OffsetDateTime::now_utc() - age).format(&Rfc3339).unwrap(),
        "compute_path": "real",
        "backend": "cpu",
        "deterministic": true,
        "kernels": ["i2s_gemv_avx2", "attention_cpu"],
        "kernel_stats": [{"id": "i2s_gemv_avx2", "calls": 10}, {"id": "attention_cpu", "calls": 10}],
        "tokens_requested": 128,
        "tokens_generated": 128,
        "tokens_per_second": rate,
        "measurement": {"timed_runs": 3, "samples_tokens_per_second": samples},
        "model": {"format": "i2s"},
        "build": {"engine": "test"},
        "host": {"os": "linux"},
        "run": {"seed": 42}
    })
}

fn outcomes(doc: &Value) -> Vec<(u64, String)> {
    doc["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["line"].as_u64().unwrap(),
                c["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn added_filter_reports_exactly_the_new_claims_and_all_audits_the_old_one_too() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    std::fs::write(
        d.join("README.md"),
        "# Engine\n\nOld bare claim: 40 tok/s.\n",
    )
    .unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "base"]);

    std::fs::create_dir_all(d.join("ci")).unwrap();
    let fresh = receipt(15.2, time::Duration::hours(1));
    let old = receipt(15.2, time::Duration::days(90));
    std::fs::write(d.join("ci/inference.json"), fresh.to_string()).unwrap();
    std::fs::write(d.join("ci/old.json"), old.to_string()).unwrap();
    let readme = "# Engine\n\nOld bare claim: 40 tok/s.\n\n\
        New bare claim: CPU 10-20 tok/s.\n\n\
        Backed: ~15 tok/s on this runner <!-- receipt: ci/inference.json -->\n\n\
        Contradicted: 50 tok/s ([receipt](ci/inference.json)).\n\n\
        Stale: 15 tok/s <!-- receipt: ci/old.json -->\n";
    std::fs::write(d.join("README.md"), readme).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "head"]);

    let (code, doc) = policy_check(d, &["claims", "--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(code, 1);
    assert_eq!(
        outcomes(&doc),
        vec![
            (5, "unbacked".to_string()),
            (7, "backed".to_string()),
            (9, "contradicted".to_string()),
            (11, "stale".to_string()),
        ]
    );
    let contradicted = &doc["claims"][2];
    assert_eq!(contradicted["measured"], 15.2);
    assert!(
        contradicted["message"]
            .as_str()
            .unwrap()
            .contains("50 tok/s")
    );
    assert!(
        contradicted["message"]
            .as_str()
            .unwrap()
            .contains("15.2 tok/s")
    );
    assert!(
        doc["claims"][0]["suggestion"]
            .as_str()
            .unwrap()
            .contains("<!-- receipt:")
    );

    let (code, doc) = policy_check(d, &["claims", "--filter", "all"]);
    assert_eq!(code, 1);
    let got = outcomes(&doc);
    assert_eq!(got.len(), 5);
    assert_eq!(got[0], (3, "unbacked".to_string()));

    // the working tree against a base: an uncommitted claim is found too
    std::fs::write(d.join("docs.md"), "Uncommitted: 3x faster decode.\n").unwrap();
    git(d, &["add", "docs.md"]);
    let (_, doc) = policy_check(d, &["claims", "--base", "HEAD"]);
    assert_eq!(outcomes(&doc), vec![(1, "unbacked".to_string())]);
}

#[test]
fn ignore_needs_a_reason_and_missing_receipts_do_not_back() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    std::fs::write(
        d.join("a.md"),
        "Paper: 2.37x faster <!-- receipt-ignore: quoted from arXiv 2410.16144 -->\n\n\
         Lazy: 9 tok/s <!-- receipt-ignore -->\n\n\
         Broken: 9 tok/s <!-- receipt: ci/missing.json -->\n",
    )
    .unwrap();
    let (code, doc) = policy_check(d, &["claims", "--filter", "all", "a.md"]);
    assert_eq!(code, 1);
    assert_eq!(
        outcomes(&doc),
        vec![
            (1, "ignored".to_string()),
            (3, "unbacked".to_string()),
            (5, "unbacked".to_string())
        ]
    );
    assert!(
        doc["claims"][0]["message"]
            .as_str()
            .unwrap()
            .contains("arXiv")
    );
    assert!(
        doc["claims"][1]["message"]
            .as_str()
            .unwrap()
            .contains("needs a reason")
    );
    assert!(
        doc["claims"][2]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
}

#[test]
fn shallow_history_says_fetch_depth_0_with_exit_2() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    std::fs::write(d.join("a.md"), "x\n").unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "one"]);
    let out = Command::new(env!("CARGO_BIN_EXE_policy-check"))
        .current_dir(d)
        .args(["claims", "--base", "origin/main"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fetch-depth: 0"));
}

/// Precision and recall of `policy-check claims` on a labelled corpus in
/// policy/tests/claims/, by (line, kind), several claims on a line counted apart.
fn precision_recall(corpus: &str, labels: &str) -> (f64, f64, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/claims");
    let labels = std::fs::read_to_string(dir.join(labels)).unwrap();
    let mut expected: HashMap<(u64, String), usize> = HashMap::new();
    for l in labels.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = l.split('\t').collect();
        *expected
            .entry((cols[0].parse().unwrap(), cols[1].to_string()))
            .or_default() += 1;
    }
    let (_, doc) = policy_check(&dir, &["claims", "--filter", "all", corpus]);
    let mut found: HashMap<(u64, String), usize> = HashMap::new();
    for c in doc["claims"].as_array().unwrap() {
        let kind = c["quantity"]["kind"].as_str().unwrap().to_string();
        *found
            .entry((c["line"].as_u64().unwrap(), kind))
            .or_default() += 1;
    }
    let total = |m: &HashMap<(u64, String), usize>| m.values().sum::<usize>() as f64;
    let true_positives: usize = expected
        .iter()
        .map(|(k, n)| (*n).min(found.get(k).copied().unwrap_or(0)))
        .sum();
    let precision = true_positives as f64 / total(&found);
    let recall = true_positives as f64 / total(&expected);
    let diff = |a: &HashMap<(u64, String), usize>, b: &HashMap<(u64, String), usize>| {
        let mut d: Vec<_> = a
            .iter()
            .filter(|(k, n)| b.get(*k).copied().unwrap_or(0) < **n)
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        d.sort();
        d
    };
    let report = format!(
        "{corpus}: {} labelled claims, {} found; precision {precision:.3}, recall {recall:.3}; missed {:?}; spurious {:?}",
        total(&expected),
        total(&found),
        diff(&expected, &found),
        diff(&found, &expected)
    );
    println!("{report}");
    (precision, recall, report)
}

#[test]
fn labelled_corpus_precision_and_recall() {
    let (precision, recall, report) = precision_recall("corpus.md", "labels.tsv");
    assert!(precision >= 0.95 && recall >= 0.95, "{report}");
}

/// A second corpus, written later in other styles (changelogs, threads, FAQs,
/// terminal output) by someone who had not seen the scanner or the first corpus.
#[test]
fn held_out_corpus_precision_and_recall() {
    let (precision, recall, report) = precision_recall("heldout.md", "heldout.tsv");
    assert!(precision >= 0.95 && recall >= 0.95, "{report}");
}

#[test]
fn claims_settings_from_the_policy_file() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    std::fs::create_dir_all(d.join("ci")).unwrap();
    std::fs::write(
        d.join("ci/receipt-policy.toml"),
        r#"version = 1

[claims]
include = ["docs/**"]
exclude = ["docs/changelog.md"]
kinds = { memory = false }
patterns = [{ regex = '(?P<value>[0-9]+)\s*req/s', kind = "throughput" }]
levels = { unbacked = "warn" }
"#,
    )
    .unwrap();
    std::fs::create_dir_all(d.join("docs")).unwrap();
    std::fs::write(d.join("README.md"), "Not scanned: 10 tok/s.\n").unwrap();
    std::fs::write(d.join("docs/changelog.md"), "Excluded: 10 tok/s.\n").unwrap();
    std::fs::write(
        d.join("docs/perf.md"),
        "Serves 900 req/s.\n\nPeak memory 1.8 GB.\n\nDecodes 12 tok/s.\n",
    )
    .unwrap();
    let (code, doc) = policy_check(d, &["claims", "--filter", "all"]);
    // unbacked is only a warning under this policy
    assert_eq!(code, 0);
    let claims: Vec<(u64, &str, &str)> = doc["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["line"].as_u64().unwrap(),
                c["text"].as_str().unwrap(),
                c["level"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        claims,
        vec![(1, "900 req/s", "warn"), (5, "12 tok/s", "warn")]
    );
}

#[test]
fn bad_claims_settings_name_line_and_column() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    std::fs::write(
        d.join("p.toml"),
        "version = 1\n[claims]\nincluded = [\"docs/**\"]\npatterns = [{ regex = '(unclosed' }]\nkinds = { memroy = false }\nlevels = { stale = \"loud\" }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_policy-check"))
        .current_dir(d)
        .args(["claims", "--filter", "all", "--policy", "p.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "p.toml:3:1",
        "did you mean `include`",
        "p.toml:4:23",
        "does not compile",
        "p.toml:5:11",
        "did you mean `memory`",
        "p.toml:6:20",
        "\"loud\"",
    ] {
        assert!(err.contains(expected), "{expected} not in:\n{err}");
    }
}

#[test]
fn binary_files_under_docs_are_skipped_quietly_and_bad_utf8_text_is_warned() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    std::fs::create_dir_all(d.join("docs/img")).unwrap();
    // A PNG header (it has NUL bytes) with a claim-shaped string after it.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(b" 99 tok/s ");
    std::fs::write(d.join("docs/img/chart.png"), png).unwrap();
    std::fs::write(d.join("docs/latin1.md"), b"caf\xe9: 7 tok/s\n").unwrap();
    let (code, doc) = policy_check(d, &["claims", "--filter", "all", "docs"]);
    assert_eq!(code, 1);
    assert_eq!(outcomes(&doc), vec![(1, "unbacked".to_string())]);
    assert_eq!(doc["claims"][0]["path"], "docs/latin1.md");
    let warnings = doc["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("latin1.md: byte 3 is not UTF-8")
    );
}

/// (line, column, text, low) of each claim in the JSON output.
fn placed(doc: &Value) -> Vec<(u64, u64, String, f64)> {
    doc["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["line"].as_u64().unwrap(),
                c["column"].as_u64().unwrap(),
                c["text"].as_str().unwrap().to_string(),
                c["quantity"]["low"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn invisible_characters_no_break_spaces_emphasis_and_inline_html_are_read_as_rendered() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    std::fs::create_dir_all(d.join("ci")).unwrap();
    std::fs::write(
        d.join("ci/r.json"),
        receipt(15.2, time::Duration::hours(1)).to_string(),
    )
    .unwrap();
    let doc = "Glued: 1\u{200B}15.2 tok/s <!-- receipt: ci/r.json -->\n\n\
        Joined: 1\u{2060}5\u{AD}5\u{FEFF} tok/s\n\n\
        Spaced: 115.2\u{A0}tok/s, 9\u{202F}tok/s and 8\u{2007}tok/s\n\n\
        Strong: **115.2** tok/s\n\n\
        Em: *115.2* tok/s\n\n\
        Under: __115.2__ tok/s\n\n\
        Code: `115.2` tok/s\n\n\
        Span: <span>55</span> tok/s\n\n\
        Bold: <b>55</b> tok/s and <strong class=\"x\">7</strong>&nbsp;tok/s\n\n\
        Half: 1**15.2** tok/s\n\n\
        Entities: 1&#8203;15.2&nbsp;tok/s\n";
    std::fs::write(d.join("a.md"), doc).unwrap();
    let (code, out) = policy_check(d, &["claims", "--filter", "all", "a.md"]);
    assert_eq!(code, 1);
    let want: Vec<(u64, u64, &str, f64)> = vec![
        // read as the 115.2 a reader sees, so the 15.2 receipt contradicts it
        (1, 8, "115.2 tok/s", 115.2),
        (3, 9, "155 tok/s", 155.0),
        (5, 9, "115.2 tok/s", 115.2),
        (5, 22, "9 tok/s", 9.0),
        (5, 34, "8 tok/s", 8.0),
        (7, 11, "115.2 tok/s", 115.2),
        (9, 6, "115.2 tok/s", 115.2),
        (11, 10, "115.2 tok/s", 115.2),
        (13, 8, "115.2 tok/s", 115.2),
        (15, 13, "55 tok/s", 55.0),
        (17, 10, "55 tok/s", 55.0),
        (17, 45, "7 tok/s", 7.0),
        (19, 7, "115.2 tok/s", 115.2),
        (21, 11, "115.2 tok/s", 115.2),
    ];
    let got = placed(&out);
    let got: Vec<(u64, u64, &str, f64)> = got
        .iter()
        .map(|(l, c, t, v)| (*l, *c, t.as_str(), *v))
        .collect();
    assert_eq!(got, want);
    assert_eq!(out["claims"][0]["outcome"], "contradicted");
    assert!(
        out["claims"][0]["message"]
            .as_str()
            .unwrap()
            .contains("measured 15.2 tok/s")
    );
}

#[test]
fn receipts_cited_from_outside_the_repository_back_nothing() {
    let tmp = TempDir::new().unwrap();
    let d = tmp.path().join("repo");
    std::fs::create_dir_all(d.join("docs")).unwrap();
    std::fs::create_dir_all(d.join("ci")).unwrap();
    let good = receipt(15.2, time::Duration::hours(1)).to_string();
    // a receipt that would back every claim below, one level above the repository
    let outside = tmp.path().join("x.json");
    std::fs::write(&outside, &good).unwrap();
    std::fs::write(d.join("ci/r.json"), &good).unwrap();
    std::os::unix::fs::symlink(&outside, d.join("ci/out.json")).unwrap();
    std::os::unix::fs::symlink("r.json", d.join("ci/in.json")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), d.join("up")).unwrap();
    let abs = outside.display().to_string();
    let doc = format!(
        "Dots: 15 tok/s <!-- receipt: ../../x.json -->\n\n\
         Link: 15 tok/s ([receipt](../../x.json))\n\n\
         Absolute: 15 tok/s <!-- receipt: {abs} -->\n\n\
         Doubled: 15 tok/s <!-- receipt: /{abs} -->\n\n\
         Symlink: 15 tok/s <!-- receipt: ../ci/out.json -->\n\n\
         Through a linked directory: 15 tok/s <!-- receipt: /up/x.json -->\n\n\
         Speed-up: 2x faster <!-- receipt: ../../x.json --> <!-- receipt: ../../x.json -->\n\n\
         Inside: 15 tok/s <!-- receipt: ../ci/r.json -->\n\n\
         Linked inside: 15 tok/s <!-- receipt: /ci/in.json -->\n\n\
         Dotted inside: 15 tok/s <!-- receipt: ./../docs/../ci/r.json -->\n"
    );
    std::fs::write(d.join("docs/a.md"), doc).unwrap();
    let (code, out) = policy_check(&d, &["claims", "--filter", "all", "docs/a.md"]);
    assert_eq!(code, 1);
    let results: Vec<(String, String)> = out["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["outcome"].as_str().unwrap().to_string(),
                c["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(results.len(), 10, "{results:?}");
    let outside_the_repo = "is outside the repository";
    for i in [0, 1, 3, 4, 5, 6] {
        let (outcome, message) = &results[i];
        assert_eq!(outcome, "unbacked", "claim {i}: {message}");
        assert!(message.contains(outside_the_repo), "claim {i}: {message}");
        assert!(
            out["claims"][i]["suggestion"]
                .as_str()
                .unwrap()
                .contains("copy the receipt into the repository"),
            "claim {i}"
        );
    }
    // a path starting with / is read from the repository root, never from the machine
    assert_eq!(results[2].0, "unbacked");
    assert!(
        results[2].1.contains("does not exist") && results[2].1.contains("repository root"),
        "{}",
        results[2].1
    );
    for i in [7, 8, 9] {
        assert_eq!(results[i].0, "backed", "claim {i}: {}", results[i].1);
    }
}

/// The claims ledger: `--accept` records what fails today; checks then pass on
/// those claims, moved or re-wrapped, and fail on new or changed ones; `--prune`
/// drops what is gone.
#[test]
fn accepted_claims_pass_until_their_number_changes_and_new_ones_still_fail() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    let readme = "# Engine\n\nOn a laptop it decodes 50-100 tok/s with the\nsmall model.\n\nPrefill runs at 300 tok/s.\n";
    std::fs::write(d.join("README.md"), readme).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "base"]);
    let run = |args: &[&str]| common::policy_check_in(d, args);

    let (code, doc) = policy_check(d, &["claims", "--filter", "all"]);
    assert_eq!(code, 1, "{doc}");
    let (code, out, err) = run(&["claims", "--filter", "all", "--accept"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("accepted 2 failing claims in 1 file"), "{out}");
    let ledger: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("ci/accepted-claims.json")).unwrap())
            .unwrap();
    assert_eq!(ledger["format"], "receipt-action/accepted-claims/1");
    assert_eq!(ledger["claims"].as_array().unwrap().len(), 2, "{ledger}");
    // One claim per line, so a review diff shows one line per accepted claim.
    let text = std::fs::read_to_string(d.join("ci/accepted-claims.json")).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("    {\"path\":"))
            .count(),
        2,
        "{text}"
    );

    let (code, doc) = policy_check(d, &["claims", "--filter", "all"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        outcomes(&doc),
        vec![(3, "accepted".to_string()), (6, "accepted".to_string())]
    );
    // Moved down and re-wrapped: still the same claims.
    let moved = "# Engine\n\n## Numbers\n\nPrefill runs at\n300 tok/s.\n\nOn a laptop it decodes 50-100 tok/s with the small model.\n";
    std::fs::write(d.join("README.md"), moved).unwrap();
    let (code, doc) = policy_check(d, &["claims", "--filter", "all"]);
    assert_eq!(code, 0, "{doc}");
    // A changed number is a new claim; a second copy of an accepted one is too.
    let changed =
        format!("{moved}\nWith two threads: 60-100 tok/s.\n\nPrefill again: 300 tok/s.\n");
    std::fs::write(d.join("README.md"), &changed).unwrap();
    let (code, doc) = policy_check(d, &["claims", "--filter", "all"]);
    assert_eq!(code, 1, "{doc}");
    let failing: Vec<String> = doc["claims"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] != "accepted")
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect();
    assert!(failing.iter().any(|t| t.contains("60-100")), "{doc}");
    assert!(failing.iter().any(|t| t.contains("300")), "{doc}");
    assert!(!failing.iter().any(|t| t.contains("50-100")), "{doc}");
    // --no-ledger judges everything.
    let (code, doc) = policy_check(d, &["claims", "--filter", "all", "--no-ledger"]);
    assert_eq!(code, 1);
    assert!(
        !outcomes(&doc).iter().any(|(_, o)| o == "accepted"),
        "{doc}"
    );

    // The prefill claim removed: --prune drops it from the ledger.
    std::fs::write(
        d.join("README.md"),
        "# Engine\n\nOn a laptop it decodes 50-100 tok/s with the small model.\n",
    )
    .unwrap();
    let (code, out, err) = run(&["claims", "--filter", "all", "--prune"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("dropped 1 accepted claim"), "{out}");
    assert!(out.contains("1 remain"), "{out}");
    let (code, out, err) = run(&["claims", "--accept"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("--filter all"), "{err}");
}

/// In a pull request (`--filter added`), a committed ledger accepts a claim the
/// change only moves, and a new claim fails.
#[test]
fn a_pull_request_that_moves_an_accepted_claim_passes_and_one_that_adds_a_claim_fails() {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    std::fs::write(
        d.join("README.md"),
        "# Engine\n\nIt decodes 50-100 tok/s on a laptop.\n",
    )
    .unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "base"]);
    // --filter all in a git repository audits the tracked files.
    let (code, out, err) = common::policy_check_in(d, &["claims", "--filter", "all", "--accept"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("accepted 1 failing claim in 1 file"), "{out}");
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "its ledger"]);
    // Re-wrapped under a new heading: git sees the claim's line as added.
    let rewrapped = "# Engine\n\n## Speed\n\nIt decodes 50-100 tok/s\non a laptop.\n";
    std::fs::write(d.join("README.md"), rewrapped).unwrap();
    let (code, doc) = policy_check(d, &["claims", "--base", "HEAD"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(outcomes(&doc), vec![(5, "accepted".to_string())]);
    std::fs::write(
        d.join("README.md"),
        format!("{rewrapped}\nNow 200 tok/s.\n"),
    )
    .unwrap();
    let (code, doc) = policy_check(d, &["claims", "--base", "HEAD"]);
    assert_eq!(code, 1, "{doc}");
    assert!(
        outcomes(&doc).contains(&(8, "unbacked".to_string())),
        "{doc}"
    );
}

/// A committed repository of 60 docs with 50 bare claims each.
fn sixty_pages_of_bare_claims() -> TempDir {
    let repo = TempDir::new().unwrap();
    let d = repo.path();
    git(d, &["init", "-q"]);
    std::fs::create_dir_all(d.join("docs")).unwrap();
    for f in 0..60 {
        let body: String = (0..50)
            .map(|i| format!("Run {i} of page {f} decodes {} tok/s.\n\n", 10 + i))
            .collect();
        std::fs::write(d.join(format!("docs/page-{f:02}.md")), body).unwrap();
    }
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "docs"]);
    repo
}

/// An audit of thousands of claims stays under GitHub's 65,536-character body
/// limit: counts first, the problems first, and a line saying how many are left
/// out and how to list them all.
#[test]
fn a_huge_markdown_audit_fits_a_github_body_and_says_what_it_left_out() {
    let repo = sixty_pages_of_bare_claims();
    let d = repo.path();
    let (code, out, err) =
        common::policy_check_in(d, &["claims", "--filter", "all", "--format", "markdown"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.chars().count() < 65_536,
        "{} characters",
        out.chars().count()
    );
    assert!(out.contains("3000 claims in 60 files"), "{}", &out[..200]);
    assert!(out.contains("| unbacked | 3000 |"), "the counts are whole");
    assert!(out.contains("… and 10 more files"), "per-file table capped");
    let tail = out.lines().last().unwrap();
    assert!(tail.contains("more claims not shown here"), "{tail}");
    assert!(tail.contains("--format json"), "{tail}");
}

/// The terminal audit of the same repository: 10 claims in each of 50 files (the
/// rest counted), the fix they share printed once with its count.
#[test]
fn a_huge_text_audit_prints_each_fix_once_and_caps_each_file() {
    let repo = sixty_pages_of_bare_claims();
    let d = repo.path();
    let (code, out, err) = common::policy_check_in(d, &["claims", "--filter", "all"]);
    assert_eq!(code, 1, "{err}");
    let listed = out.lines().filter(|l| l.starts_with("docs/page-07.md:"));
    assert_eq!(listed.count(), 10, "{out}");
    assert!(
        out.contains("  … and 40 more in docs/page-07.md (--format json lists every claim)"),
        "{out}"
    );
    assert!(!out.contains("docs/page-55.md:1:"), "{out}");
    assert!(
        out.contains("… and 500 claims in 10 more files (--format json lists every claim)"),
        "{out}"
    );
    let fixes: Vec<&str> = out.lines().filter(|l| l.starts_with("fix (")).collect();
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    assert!(
        fixes[0].starts_with("fix (3000 claims): measure it"),
        "{fixes:?}"
    );
    assert!(out.contains("  … and 10 more files"), "{out}");
    assert!(
        out.ends_with("3000 claims: 3000 unbacked → fail (exit 1)\n"),
        "{out}"
    );
    assert!(
        out.lines().count() < 50 * 11 + 100,
        "{} lines",
        out.lines().count()
    );
}
