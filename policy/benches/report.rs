//! Rendering a report with 10,000 claims (and 3 receipts) in every format the
//! action writes: the PR comment, the job summary, SARIF, workflow commands and
//! the check-run annotations. Target: all of it under 200 ms.
//! Run: `cargo bench -p receipt-policy --bench report`.

use criterion::{Criterion, criterion_group, criterion_main};
use receipt_policy::report::markdown::{self, Target};
use receipt_policy::report::{Report, annotations, load, sarif};
use serde_json::json;
use std::hint::black_box;

fn report() -> Report {
    let claims: Vec<_> = (1..=10_000)
        .map(|i| {
            json!({
                "path": format!("docs/page-{}.md", i % 40), "line": i, "column": 5,
                "text": format!("{} tok/s", i % 90), "outcome": if i % 3 == 0 { "backed" } else { "unbacked" },
                "level": if i % 3 == 0 { "allow" } else { "deny" },
                "message": "no receipt cited in the same line, table row or paragraph",
                "suggestion": "measure it and cite the receipt: <!-- receipt: ci/inference.json -->"
            })
        })
        .collect();
    let receipts: Vec<_> = (0..3)
        .map(|i| {
            json!({
                "path": format!("receipt-action/receipt-{i}.json"), "status": "pass", "backend": "cpu",
                "tokens_per_second": 12.5 + f64::from(i),
                "envelope": {"id": "cpu-i2s", "status": "production"},
                "rate": {"value": 12.5, "interval": [12.1, 12.9], "band": [8.5, 23.0], "outcome": "inside", "samples": 5},
                "roofline_fraction": 0.72, "kernels": ["i2s_gemv_avx2", "attention_cpu", "lm_head_f16_avx2"]
            })
        })
        .collect();
    let doc = json!({
        "format": "receipt-action/report/2", "verdict": "fail", "exit_code": 1,
        "generated_at": "2026-11-26T12:00:00Z", "tool": {"name": "policy-check", "version": "0.1.0"},
        "policy": {"path": "ci/receipt-policy.toml", "sha256": "a".repeat(64)},
        "commit": {"sha": "b".repeat(40)},
        "run": {"server_url": "https://github.com", "repository": "octo/demo", "run_id": "1"},
        "receipts": receipts, "claims": claims
    });
    load::parse(doc.to_string().as_bytes()).expect("a valid report")
}

fn bench(c: &mut Criterion) {
    let report = report();
    let mut group = c.benchmark_group("report_10k_claims");
    group.sample_size(20);
    group.bench_function("every_format", |b| {
        b.iter(|| {
            let comment = markdown::markdown(black_box(&report), Target::Comment);
            let summary = markdown::markdown(&report, Target::Summary);
            let sarif = sarif::sarif(&report);
            let commands = annotations::workflow_commands(&report);
            let all = annotations::annotations(&report);
            black_box((
                comment.len(),
                summary.len(),
                sarif.len(),
                commands.len(),
                all.len(),
            ))
        })
    });
    group.bench_function("comment_only", |b| {
        b.iter(|| markdown::markdown(black_box(&report), Target::Comment).len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
