//! Tests that need a CUDA device: the GPU decoder against the CPU engine, and the
//! kernel accounting of a GPU bench. They are `#[ignore]`d (counted as skipped) on
//! machines without one; with a device, run `cargo test -p bitnet-engine --features gpu
//! --test cuda_device -- --ignored`. engine/cuda/device-check.sh checks the same
//! through the release binary where no Rust toolchain is installed.
#![cfg(feature = "gpu")]

use bitnet_engine::bench::{self, BenchOptions, CpuDecoder};
use bitnet_engine::cuda::{CudaBackend, probe};
use bitnet_engine::formats::{EmbeddingType, Format};
use bitnet_engine::model::{Activation, Model};
use bitnet_engine::{Dispatcher, SimdLevel, crosscheck, synthetic};

fn gpu_backend(m: &Model) -> CudaBackend {
    let (ctx, info) = probe(0).unwrap_or_else(|e| panic!("needs a CUDA device: {e}"));
    CudaBackend::new(m, ctx, info).unwrap()
}

fn tiny(format: Format, emb: EmbeddingType, act: Activation) -> Model {
    synthetic::build_spec("synthetic:tiny", 42, format, emb, act).unwrap()
}

#[test]
#[ignore = "needs a CUDA device (engine/cuda/device-check.sh runs this check on a GPU machine)"]
fn gpu_logits_match_the_cpu_engine_on_tiny() {
    for (format, emb, act) in [
        (Format::I2s, EmbeddingType::F16, Activation::Relu2),
        (Format::Tq2_0, EmbeddingType::F16, Activation::Relu2),
        (Format::I2s, EmbeddingType::F32, Activation::Silu),
    ] {
        let m = tiny(format, emb, act);
        let k = Dispatcher::new(SimdLevel::detect());
        let mut cpu = CpuDecoder::new(&m, &k);
        let mut gpu = gpu_backend(&m);
        let prompt = bench::seeded_prompt(4, m.config.vocab, 42);
        let check = crosscheck::run(&mut cpu, &mut gpu, &prompt, 32).unwrap();
        assert!(
            check.passes(0.999, false),
            "{format:?}/{emb:?}/{act:?}: {}",
            serde_json::to_string_pretty(&check.report(0.999, false)).unwrap()
        );
    }
}

#[test]
#[ignore = "needs a CUDA device (engine/cuda/device-check.sh runs this check on a GPU machine)"]
fn gpu_bench_counts_only_gpu_kernels_with_device_time() {
    let m = tiny(Format::I2s, EmbeddingType::F16, Activation::Relu2);
    let mut gpu = gpu_backend(&m);
    let opts = BenchOptions {
        prompt: vec![1, 2, 3],
        tokens: 4,
        runs: 2,
        warmup: 1,
    };
    let r = bench::run_with(&mut gpu, &m, &opts, |_| {}, |_| {}).unwrap();
    let ids: Vec<&str> = r.kernel_stats.iter().map(|k| k.id).collect();
    for id in [
        "i2s_gpu_gemv",
        "attention_cuda",
        "gemm_f16_lm_head",
        "argmax_cuda",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for k in &r.kernel_stats {
        assert!(k.calls > 0 && k.total_ns > 0, "{k:?}");
    }
    // 2 timed runs × 4 sampled steps, one lm_head each.
    let lm = r
        .kernel_stats
        .iter()
        .find(|k| k.id == "gemm_f16_lm_head")
        .unwrap();
    assert_eq!(lm.calls, 8);
    assert!(r.outputs_identical);
}
