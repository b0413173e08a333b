//! Effective bandwidth of each weight-streaming kernel on synthetic:2b-4t, next to the
//! calibration read: where the decode time goes relative to the roofline.
//! `cargo run --release -p bitnet-engine --example kernel_bandwidth [threads] [auto|avx2|avx512|scalar]`

use std::time::Instant;

use bitnet_engine::bench::{ReadMethod, measure_bandwidth, stream_read_gbps};
use bitnet_engine::formats::{EmbeddingType, Format};
use bitnet_engine::kernels::{Dispatcher, QuantizedActivation, SimdLevel, ops};
use bitnet_engine::synthetic;

fn main() {
    if let Some(t) = std::env::args().nth(1) {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t.parse().expect("threads"))
            .build_global()
            .unwrap();
    }
    let m = synthetic::build("2b-4t", 42, Format::I2s, EmbeddingType::F16).unwrap();
    let level = std::env::args().nth(2).unwrap_or_else(|| "auto".into());
    let k = Dispatcher::new(SimdLevel::choose(&level).expect("kernel level"));
    let c = &m.config;
    let mut qa_h = QuantizedActivation::default();
    let mut qa_f = QuantizedActivation::default();
    let xh: Vec<f32> = (0..c.hidden)
        .map(|i| ((i * 7919) % 255) as f32 - 127.0)
        .collect();
    let xf: Vec<f32> = (0..c.ffn)
        .map(|i| ((i * 7919) % 255) as f32 - 127.0)
        .collect();
    ops::quantize_i8_absmax(&xh, &mut qa_h);
    ops::quantize_i8_absmax(&xf, &mut qa_f);
    let mut out = vec![0f32; c.ffn.max(c.vocab)];
    let ternary: usize = m
        .layers
        .iter()
        .flat_map(|l| l.matrices())
        .map(|(_, w)| w.byte_len())
        .sum();
    // Run inside the pool so every parallel region starts on a worker thread.
    bitnet_engine::kernels::on_worker(|| {
        for pass in 0..3 {
            let cal = measure_bandwidth(&m, &k, 1);
            let t0 = Instant::now();
            for l in &m.layers {
                for (name, w) in l.matrices() {
                    let a = if name == "ffn_down" { &qa_f } else { &qa_h };
                    k.gemv(w, a, &mut out[..w.rows]);
                }
            }
            let gemv = t0.elapsed().as_secs_f64();
            let mut per: Vec<(&str, f64, usize)> = Vec::new();
            for name in ["attn_q", "attn_k", "attn_output", "ffn_up", "ffn_down"] {
                let t = Instant::now();
                let mut bytes = 0;
                for l in &m.layers {
                    let (_, w) = l.matrices().into_iter().find(|(n, _)| *n == name).unwrap();
                    let a = if name == "ffn_down" { &qa_f } else { &qa_h };
                    k.gemv(w, a, &mut out[..w.rows]);
                    bytes += w.byte_len();
                }
                per.push((name, t.elapsed().as_secs_f64(), bytes));
            }
            let line: Vec<String> = per
                .iter()
                .map(|(n, t, b)| format!("{n} {:.1} GB/s", *b as f64 / t / 1e9))
                .collect();
            println!("  per matrix: {}", line.join(", "));
            {
                // Cache-resident: one attn_k matrix (0.4 MB) 200 times: the kernel's compute rate.
                let w = &m.layers[0].wk;
                let t = Instant::now();
                for _ in 0..200 {
                    k.gemv(w, &qa_h, &mut out[..w.rows]);
                }
                println!(
                    "  cache-resident i2s: {:.2} GB/s",
                    200.0 * w.byte_len() as f64 / t.elapsed().as_secs_f64() / 1e9
                );
            }
            let t1 = Instant::now();
            k.lm_head(&m.embedding, &xh, &mut out[..c.vocab]);
            let lm = t1.elapsed().as_secs_f64();
            for method in [ReadMethod::Plain, ReadMethod::Paced] {
                let pieces: Vec<&[u8]> = m.embedding.data.chunks(1 << 20).collect();
                print!(
                    "  embedding read {method:?}: {:.2} GB/s;",
                    stream_read_gbps(k.team(), &pieces, method)
                );
            }
            println!();
            println!(
                "pass {pass}: calibration {:.2} GB/s | i2s gemv {:.2} GB/s ({:.1} ms) | lm_head {:.2} GB/s ({:.1} ms)",
                cal.mem_bw_gbps,
                ternary as f64 / gemv / 1e9,
                gemv * 1e3,
                m.embedding.data.len() as f64 / lm / 1e9,
                lm * 1e3
            );
        }
    });
}
