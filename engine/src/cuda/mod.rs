//! The `cuda` backend (feature `gpu`): CUDA C kernels compiled at run time with NVRTC,
//! packed weights uploaded once, and the same decoder as `model::forward`, one kernel
//! launch per named step. cudarc loads libcuda and libnvrtc at run time, so the crate
//! builds with no CUDA installed; `probe` checks for them before any use, because
//! cudarc panics on a missing library.

pub mod backend;
pub mod compile;
pub mod ids;
pub mod probe;

pub use backend::CudaBackend;
pub use probe::{GpuInfo, probe};

/// The CUDA C source of every kernel (engine/cuda/kernels.cu).
pub const KERNEL_SOURCE: &str = include_str!("../../cuda/kernels.cu");

/// Every `extern "C"` kernel in [`KERNEL_SOURCE`]; the backend loads each by name and
/// the NVRTC test checks that the PTX defines each one.
pub const KERNEL_NAMES: &[&str] = &[
    "embedding_f16",
    "embedding_f32",
    "rmsnorm_quantize",
    "rmsnorm",
    "i2s_gemv",
    "tq2_gemv",
    "rope_store",
    "attention",
    "relu2_gate",
    "silu_gate",
    "lm_head_f16",
    "lm_head_f32",
    "argmax",
    "stream_read",
];
