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
        "host": {"os": "linux", "threads": 1},
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
    // Per file: backed, ignored, stale, unbacked, contradicted, total.
    assert!(
        out.contains("| `README.md` | 1 | 0 | 0 | 2 | 0 | 3 |"),
        "{out}"
    );
    assert!(
        out.contains("| `docs/quickstart.md` | 0 | 1 | 0 | 1 | 0 | 2 |"),
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
