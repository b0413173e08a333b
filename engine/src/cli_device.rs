//! The CLI's `--backend cuda`: opening the device first (so a missing driver, NVRTC or
//! GPU is a clear exit-2 error before any model is built), then benchmarking or
//! cross-checking on it. Without the `gpu` feature, `open` says how to rebuild.

/// `--backend cpu|cuda` (`gpu` is accepted for `cuda`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Cpu,
    #[value(alias = "gpu")]
    Cuda,
}

impl Backend {
    /// The receipt's and the report's `backend`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
        }
    }
}

#[cfg(feature = "gpu")]
mod imp {
    use std::sync::Arc;

    use anyhow::Result;
    use bitnet_engine::bench::{self, BenchOptions, BenchResult, Calibration, Decoder};
    use bitnet_engine::cuda::{self, CudaBackend, GpuInfo};
    use bitnet_engine::model::Model;
    use bitnet_engine::receipt::Gpu;
    use cudarc::driver::CudaContext;

    pub struct Device(Arc<CudaContext>, GpuInfo);

    pub fn open() -> Result<Device> {
        let (ctx, info) = cuda::probe(0)?;
        eprintln!(
            "[bitnet-engine] cuda device 0: {} (compute capability {}.{}, driver CUDA {}, {} MiB), NVRTC {:?}",
            info.name,
            info.compute_capability.0,
            info.compute_capability.1,
            info.driver,
            info.memory_mb,
            cuda::compile::nvrtc_version()
        );
        Ok(Device(ctx, info))
    }

    pub fn backend(d: Device, m: &Model) -> Result<CudaBackend> {
        let b = CudaBackend::new(m, d.0, d.1)?;
        eprintln!(
            "[bitnet-engine] cuda: kernels compiled by NVRTC for {}, {} weight bytes uploaded",
            b.arch,
            m.weight_bytes()
        );
        Ok(b)
    }

    /// Warm-up and timed runs on the GPU, with the device's own read bandwidth as the
    /// calibration (before the warm-up, after each timed run, after the last).
    pub fn bench(
        d: Device,
        m: &Model,
        opts: &BenchOptions,
        passes: usize,
    ) -> Result<(BenchResult, Calibration, Gpu)> {
        let mut b = backend(d, m)?;
        let calibration = b.calibrate(passes)?;
        eprintln!(
            "[bitnet-engine] device bandwidth {:.1} GB/s -> roofline {:.1} tok/s",
            calibration.mem_bw_gbps,
            calibration.roofline_tokens_per_second(
                m.decode_bytes_per_token(opts.prompt.len(), opts.tokens)
            )
        );
        let mut between = Vec::new();
        let result = bench::run_with(
            &mut b,
            m,
            opts,
            |line| eprintln!("[bitnet-engine] {line}"),
            |b| between.push(b.calibrate(1)),
        )?;
        let mut calibration = calibration;
        for c in between {
            calibration = calibration.merge(c?);
        }
        let calibration = calibration.merge(b.calibrate(passes)?);
        let gpu = b.info.receipt();
        Ok((result, calibration, gpu))
    }

    pub fn decoder(d: Device, m: &Model) -> Result<impl Decoder> {
        backend(d, m)
    }
}

#[cfg(not(feature = "gpu"))]
mod imp {
    use anyhow::Result;
    use bitnet_engine::EngineError;
    use bitnet_engine::bench::{BenchOptions, BenchResult, Calibration, CpuDecoder};
    use bitnet_engine::model::Model;
    use bitnet_engine::receipt::Gpu;

    /// No device can be opened without the `gpu` feature.
    pub enum Device {}

    pub fn open() -> Result<Device> {
        Err(EngineError::DeviceUnavailable(
            "this bitnet-engine was built without the `gpu` feature (rebuild with `cargo build --release -p bitnet-engine --features gpu`)".into(),
        )
        .into())
    }

    pub fn bench(
        d: Device,
        _: &Model,
        _: &BenchOptions,
        _: usize,
    ) -> Result<(BenchResult, Calibration, Gpu)> {
        match d {}
    }

    pub fn decoder(d: Device, _: &Model) -> Result<CpuDecoder<'static>> {
        match d {}
    }
}

pub use imp::*;

/// `calibration.method` of a GPU run.
pub const CUDA_CALIBRATION_METHOD: &str = "stream-read of the model's weight arena (every ternary matrix and the embedding) by one kernel on the GPU, timed with CUDA events; best of the passes taken before the warm-up, after each timed run and after the last";
