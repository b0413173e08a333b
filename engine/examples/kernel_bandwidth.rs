//! Effective bandwidth of each weight-streaming kernel on synthetic:2b-4t, next to the
//! calibration read: where the decode time goes relative to the roofline.
//! `cargo run --release -p bitnet-engine --example kernel_bandwidth [threads]`

use std::time::Instant;

use bitnet_engine::bench::measure_bandwidth;
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
    let k = Dispatcher::new(SimdLevel::detect());
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
    for pass in 0..3 {
        let cal = measure_bandwidth(&m, 1);
        let t0 = Instant::now();
        for l in &m.layers {
            for (name, w) in l.matrices() {
                let a = if name == "ffn_down" { &qa_f } else { &qa_h };
                k.gemv(w, a, &mut out[..w.rows]);
            }
        }
        let gemv = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        k.lm_head(&m.embedding, &xh, &mut out[..c.vocab]);
        let lm = t1.elapsed().as_secs_f64();
        println!(
            "pass {pass}: calibration {:.2} GB/s | i2s gemv {:.2} GB/s ({:.1} ms) | lm_head {:.2} GB/s ({:.1} ms)",
            cal.mem_bw_gbps,
            ternary as f64 / gemv / 1e9,
            gemv * 1e3,
            m.embedding.data.len() as f64 / lm / 1e9,
            lm * 1e3
        );
    }
}
