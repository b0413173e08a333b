//! What a citation or a `receipt-ignore` covers (docs/claims.md, "What a
//! citation covers"), one test per rule, through `policy-check claims` on files in
//! temp dirs (real git repositories where a pull request's diff is judged); and a
//! claim about another device than the cited receipt's is unbacked.

mod common;
use common::{git, policy_check_in};

use serde_json::{Value, json};
use std::path::Path;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A fresh receipt that passes the default policy: a CPU one (cpu-i2s) or a
/// CUDA one (cuda).
fn receipt(backend: &str, rate: f64) -> Value {
    let kernels: &[&str] = if backend == "cpu" {
        &["i2s_gemv_avx2", "attention_cpu"]
    } else {
        &["i2s_gpu_gemv", "cuda_attention"]
    };
    json!({
        "schema_version": "1.1.0",
        "timestamp": (OffsetDateTime::now_utc() - time::Duration::hours(1)).format(&Rfc3339).unwrap(),
        "compute_path": "real",
        "backend": backend,
        "deterministic": backend == "cpu",
        "kernels": kernels,
        "kernel_stats": kernels.iter().map(|k| json!({"id": k, "calls": 10})).collect::<Vec<_>>(),
        "tokens_requested": 128,
        "tokens_generated": 128,
        "tokens_per_second": rate,
        "measurement": {"timed_runs": 3, "samples_tokens_per_second": [rate * 0.99, rate, rate * 1.01]},
        "model": {"format": "i2s"},
        "build": {"engine": "test"},
        "host": {"os": "linux"},
        "run": {"seed": 42}
    })
}

/// A directory with `ci/cpu.json` (15.2 tok/s) and `ci/gpu.json` (CUDA, 80 tok/s).
fn repo() -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("ci")).unwrap();
    for (name, backend, rate) in [("cpu", "cpu", 15.2), ("gpu", "cuda", 80.0)] {
        std::fs::write(
            dir.path().join(format!("ci/{name}.json")),
            receipt(backend, rate).to_string(),
        )
        .unwrap();
    }
    dir
}

/// `policy-check claims ARGS --format json`: the exit code and each claim's
/// (line, text, outcome, message).
fn judged(dir: &Path, args: &[&str]) -> (i32, Vec<(u64, String, String, String)>) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let (code, out, err) = policy_check_in(dir, &all);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let claims = doc["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["line"].as_u64().unwrap(),
                c["text"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
                c["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (code, claims)
}

/// Writes `a.md` and audits it: each claim's (line, outcome).
fn audit(dir: &Path, md: &str) -> Vec<(u64, String)> {
    std::fs::write(dir.join("a.md"), md).unwrap();
    let (_, claims) = judged(dir, &["claims", "--filter", "all", "a.md"]);
    claims.into_iter().map(|(l, _, o, _)| (l, o)).collect()
}

fn pairs(v: &[(u64, &str)]) -> Vec<(u64, String)> {
    v.iter().map(|(l, o)| (*l, o.to_string())).collect()
}

#[test]
fn a_citation_covers_its_own_sentence_not_the_next_one() {
    let repo = repo();
    let md = "Decode: about 15 tok/s. <!-- receipt: ci/cpu.json --> Prefill: about 15 tok/s.\n";
    assert_eq!(
        audit(repo.path(), md),
        pairs(&[(1, "backed"), (1, "unbacked")])
    );
    // nor the sentence before it
    let md = "Prefill: about 15 tok/s. Decode: about 15 tok/s <!-- receipt: ci/cpu.json -->.\n";
    assert_eq!(
        audit(repo.path(), md),
        pairs(&[(1, "unbacked"), (1, "backed")])
    );
}

#[test]
fn a_wrapped_sentence_is_covered_on_every_line_it_spans() {
    let repo = repo();
    let md = "Decode on a 2-core runner reaches\nabout 15 tok/s, and prefill at\n15 tok/s, with the\nsmall model. ([receipt](ci/cpu.json)) The large\nmodel decodes 15 tok/s.\n";
    assert_eq!(
        audit(repo.path(), md),
        pairs(&[(2, "backed"), (3, "backed"), (5, "unbacked")])
    );
}

#[test]
fn a_citation_covers_its_list_item_and_not_the_next_item() {
    let repo = repo();
    let md = "- CPU decode on a 2-core runner:\n  about 15 tok/s <!-- receipt: ci/cpu.json -->\n- CPU prefill: 15 tok/s\n- CPU decode, one thread:\n  about 15 tok/s\n<!-- receipt: ci/cpu.json -->\n";
    // the comment on the line after the last item covers that item
    assert_eq!(
        audit(repo.path(), md),
        pairs(&[(2, "backed"), (3, "unbacked"), (5, "backed")])
    );
}

#[test]
fn a_citation_in_a_table_row_covers_that_row_only() {
    let repo = repo();
    let md = "| run | decode tok/s |\n|---|---|\n| 2 cores | 15 <!-- receipt: ci/cpu.json --> |\n| 1 core | 15 |\n";
    assert_eq!(
        audit(repo.path(), md),
        pairs(&[(3, "backed"), (4, "unbacked")])
    );
}

#[test]
fn a_citation_on_the_line_after_a_table_or_code_block_covers_all_of_it() {
    let repo = repo();
    let md = "| run | decode tok/s |\n|---|---|\n| 2 cores | 15 |\n| 1 core | 15.5 |\n<!-- receipt: ci/cpu.json -->\n\n```text\ndecode: 15.1 tok/s\nprefill: 15.3 tok/s\n```\n<!-- receipt: ci/cpu.json -->\n\nAfter a blank line it reaches nothing: 15 tok/s.\n\n<!-- receipt: ci/cpu.json -->\n";
    assert_eq!(
        audit(repo.path(), md),
        pairs(&[
            (3, "backed"),
            (4, "backed"),
            (8, "backed"),
            (9, "backed"),
            (13, "unbacked")
        ])
    );
}

#[test]
fn a_comment_on_the_line_after_a_paragraph_covers_its_last_sentence_only() {
    let repo = repo();
    let md = "Prefill: about 15 tok/s. Decode on a 2-core runner:\nabout 15 tok/s.\n<!-- receipt: ci/cpu.json -->\n";
    assert_eq!(
        audit(repo.path(), md),
        pairs(&[(1, "unbacked"), (2, "backed")])
    );
}

#[test]
fn an_ignore_on_one_sentence_does_not_silence_the_next_sentence() {
    let repo = repo();
    let md = "The paper reports 2.37x faster decoding. <!-- receipt-ignore: quoted from arXiv 2410.16144 --> Ours decodes 40 tok/s, and\nprefill is 3x faster.\n";
    let (code, claims) = {
        std::fs::write(repo.path().join("a.md"), md).unwrap();
        judged(repo.path(), &["claims", "--filter", "all", "a.md"])
    };
    assert_eq!(code, 1);
    let got: Vec<(u64, &str)> = claims.iter().map(|(l, _, o, _)| (*l, o.as_str())).collect();
    assert_eq!(got, [(1, "ignored"), (1, "unbacked"), (2, "unbacked")]);
    assert!(claims[0].3.contains("arXiv"), "{claims:?}");
}

#[test]
fn a_claim_a_pull_request_adds_to_an_ignored_paragraph_is_flagged() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    git(d, &["init", "-q"]);
    let base = "# Engine\n\nThe paper reports 2.37x faster decoding\non its hardware. <!-- receipt-ignore: quoted from the paper -->\nWe have not measured it.\n";
    std::fs::write(d.join("README.md"), base).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "base"]);
    // A new sentence inside the paragraph, on a line of its own, and a new claim
    // in the ignored sentence's line: the ignore covers the second, not the first.
    let head = "# Engine\n\nThe paper reports 2.37x faster decoding\non its hardware, 5x faster prefill. <!-- receipt-ignore: quoted from the paper -->\nOur engine decodes 40 tok/s.\nWe have not measured it.\n";
    std::fs::write(d.join("README.md"), head).unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "head"]);
    let (code, claims) = judged(d, &["claims", "--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(code, 1, "{claims:?}");
    let got: Vec<(u64, &str, &str)> = claims
        .iter()
        .map(|(l, t, o, _)| (*l, t.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        got,
        [(4, "5x", "ignored"), (5, "40 tok/s", "unbacked")],
        "{claims:?}"
    );
    assert!(claims[1].3.contains("no receipt cited"), "{claims:?}");
}

#[test]
fn a_claim_about_another_device_than_the_receipts_is_unbacked_not_contradicted() {
    let repo = repo();
    let md = "CPU decode: 15 tok/s, GPU decode: 80 tok/s <!-- receipt: ci/cpu.json -->\n\n\
              On an RTX 4090 it decodes 80 tok/s <!-- receipt: ci/gpu.json -->\n\n\
              With CUDA it decodes 15 tok/s <!-- receipt: ci/cpu.json -->\n\n\
              The CPU path decodes 80 tok/s <!-- receipt: ci/gpu.json -->\n\n\
              CPU: 15 tok/s, GPU: 80 tok/s <!-- receipt: ci/cpu.json --> <!-- receipt: ci/gpu.json -->\n\n\
              Decode: 15 tok/s <!-- receipt: ci/gpu.json -->\n";
    std::fs::write(repo.path().join("a.md"), md).unwrap();
    let (code, claims) = judged(repo.path(), &["claims", "--filter", "all", "a.md"]);
    assert_eq!(code, 1);
    let got: Vec<(u64, &str, &str)> = claims
        .iter()
        .map(|(l, t, o, _)| (*l, t.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "15 tok/s", "backed"),
            // the CPU receipt's 15.2 would have contradicted 80 before
            (1, "80 tok/s", "unbacked"),
            (3, "80 tok/s", "backed"),
            (5, "15 tok/s", "unbacked"),
            (7, "80 tok/s", "unbacked"),
            // each claim takes the receipt of its own device
            (9, "15 tok/s", "backed"),
            (9, "80 tok/s", "backed"),
            // a claim that names no device is judged on the number: contradicted
            (11, "15 tok/s", "contradicted"),
        ],
        "{claims:?}"
    );
    let gpu_on_cpu = &claims[1].3;
    assert!(
        gpu_on_cpu.contains("device mismatch")
            && gpu_on_cpu.contains("GPU")
            && gpu_on_cpu.contains("ci/cpu.json was measured on backend cpu"),
        "{gpu_on_cpu}"
    );
    let cpu_on_gpu = &claims[4].3;
    assert!(
        cpu_on_gpu.contains("about CPU (receipt backends cpu)")
            && cpu_on_gpu.contains("backend cuda"),
        "{cpu_on_gpu}"
    );
    // the fix names the device and the sentence rule, once for the three mismatches
    let (_, out, _) = policy_check_in(repo.path(), &["claims", "--filter", "all", "a.md"]);
    assert!(
        out.contains("fix (3 claims): cite a receipt measured on the device the claim names"),
        "{out}"
    );
}

#[test]
fn fix_cites_each_claim_at_the_end_of_its_own_sentence() {
    let dir = repo();
    let d = dir.path();
    git(d, &["init", "-q"]);
    std::fs::write(d.join("README.md"), "# Engine\n").unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "base"]);
    std::fs::write(
        d.join("README.md"),
        "# Engine\n\nDecode: about 15 tok/s. Prefill is not measured yet. Threads: 2.\n",
    )
    .unwrap();
    let (code, out, err) = policy_check_in(
        d,
        &["claims", "--fix", "--receipt", "ci/cpu.json", "--write"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("README.md")).unwrap(),
        "# Engine\n\nDecode: about 15 tok/s. <!-- receipt: ci/cpu.json --> Prefill is not measured yet. Threads: 2.\n"
    );
    let (code, claims) = judged(d, &["claims", "--base", "HEAD"]);
    assert_eq!(code, 0, "{claims:?}");
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].2, "backed");
}
