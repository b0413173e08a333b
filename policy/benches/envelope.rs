//! Loading a 50-envelope policy and judging 10,000 receipts against it.
//! `judge_10k`: the envelope stage alone (policy parse + match + judge, typed
//! receipts). `check_10k`: what `policy-check check` does per receipt after
//! reading the file (gates from bytes, then envelopes), in parallel as the CLI runs it.
//! Run: `cargo bench -p receipt-policy --bench envelope`.

use criterion::{Criterion, criterion_group, criterion_main};
use rayon::prelude::*;
use receipt_policy::check;
use receipt_policy::config::Policy;
use receipt_policy::envelope;
use receipt_policy::receipt::Receipt;
use receipt_policy::verify::VerifyOptions;
use serde_json::{Value, json};
use std::hint::black_box;

const ENVELOPES: usize = 50;
const RECEIPTS: usize = 10_000;

/// 50 envelopes: 25 formats × 2 SIMD levels, each with globbed `when` values,
/// a rate band, kernel rules and a roofline rule.
fn policy_text() -> String {
    let mut s = String::from("version = 1\nuse_defaults = false\n[receipt]\nmax_age = \"none\"\n");
    for i in 0..ENVELOPES {
        let format = format!("fmt{:02}", i / 2);
        let simd = if i.is_multiple_of(2) {
            "avx2"
        } else {
            "avx512*"
        };
        s.push_str(&format!(
            "\n[[envelope]]\nid = \"e{i}\"\nstatus = \"{}\"\nwhen = {{ backend = \"cpu\", \"model.format\" = [\"{format}\", \"{format}-alt\"], \"host.simd\" = \"{simd}\" }}\ntokens_per_second = {{ min = {}.0, max = {}.0 }}\ntolerance = \"15%\"\nroofline_fraction = {{ min = 0.01 }}\nkernels = {{ require = [\"i2s_gemv*\", \"attention_*\"], forbid = [\"*mock*\", \"fallback_*\", \"*_dequant\"] }}\ndeterministic = true\n",
            if i % 10 == 9 { "mvp" } else { "production" },
            10 + i,
            20 + i,
        ));
    }
    s
}

fn receipt(i: usize) -> Value {
    let e = i % ENVELOPES;
    let rate = 15.0 + e as f64 + (i % 7) as f64 * 0.1;
    let samples: Vec<f64> = (0..5).map(|k| rate - 0.2 + k as f64 * 0.1).collect();
    let median = samples[2];
    let mean = samples.iter().sum::<f64>() / 5.0;
    let cv = (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 5.0).sqrt() / mean;
    let kernels = ["i2s_gemv_avx2", "attention_cpu", "rmsnorm", "rope_neox"];
    json!({
        "schema_version": "1.1.0",
        "timestamp": "2026-01-01T00:00:00Z",
        "compute_path": "real",
        "backend": "cpu",
        "deterministic": true,
        "kernels": kernels,
        "kernel_stats": kernels.iter().map(|k| json!({"id": k, "calls": 10, "total_ns": 1000})).collect::<Vec<_>>(),
        "environment": {"BITNET_SEED": "42"},
        "tokens_requested": 128,
        "tokens_generated": 128,
        "tokens_per_second": median,
        "measurement": {
            "warmup_runs": 1, "timed_runs": 5, "samples_tokens_per_second": samples,
            "median": median, "min": samples[0], "max": samples[4], "cv": cv,
            "prompt_tokens": 32, "decode_tokens": 128, "wall_ms": 1.0e6
        },
        "model": {"source": "synthetic", "preset": "2b-4t", "format": format!("fmt{:02}", e / 2), "bytes_per_token": 1_000_000_000u64},
        "build": {"engine": "bitnet-engine", "engine_version": "0.1.0"},
        "host": {"os": "linux", "arch": "x86_64", "threads": 2, "simd": if e.is_multiple_of(2) { "avx2" } else { "avx512vnni" }},
        "calibration": {"mem_bw_gbps": 100.0, "roofline_tokens_per_second": 100.0, "roofline_fraction": median / 100.0},
        "run": {"seed": 42, "strict": true}
    })
}

fn bench(c: &mut Criterion) {
    let text = policy_text();
    let values: Vec<Value> = (0..RECEIPTS).map(receipt).collect();
    let receipts: Vec<Receipt> = values
        .iter()
        .map(|v| Receipt::from_document(v.clone()).unwrap())
        .collect();
    let bytes: Vec<Vec<u8>> = values
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap())
        .collect();

    // Sanity: every receipt finds its envelope and passes, so the bench measures real work.
    let policy = Policy::from_text("bench.toml", &text).expect("bench policy loads");
    assert_eq!(policy.envelopes.len(), ENVELOPES);
    let options = VerifyOptions {
        gates: policy.gate_config(Default::default()),
        ..Default::default()
    };
    for (i, b) in bytes.iter().enumerate().take(ENVELOPES) {
        let v = check::check_bytes(i.to_string(), b, &policy, &options);
        assert!(v.envelope.is_some(), "{v:#?}");
        assert!(
            matches!(v.status.as_str(), "pass" | "warn"),
            "{:#?}",
            v.findings
        );
    }

    let mut group = c.benchmark_group("envelope");
    group.sample_size(10);
    group.bench_function("load_policy_50", |b| {
        b.iter(|| Policy::from_text("bench.toml", black_box(&text)).unwrap())
    });
    group.bench_function("judge_10k", |b| {
        b.iter(|| {
            let policy = Policy::from_text("bench.toml", black_box(&text)).unwrap();
            receipts
                .par_iter()
                .zip(values.par_iter())
                .map(|(r, v)| envelope::judge(&policy, r, v).status)
                .max()
        })
    });
    group.bench_function("check_10k", |b| {
        b.iter(|| {
            let policy = Policy::from_text("bench.toml", black_box(&text)).unwrap();
            bytes
                .par_iter()
                .map(|b| check::check_bytes(String::new(), b, &policy, &options).status)
                .max()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
