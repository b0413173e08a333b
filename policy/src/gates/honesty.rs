//! Honesty gates: does the receipt show that real, quantized kernels ran on the
//! backend it names? Kernel ids are classified by prefix (DESIGN §3).

use super::GateFinding;
use super::{Code, GateConfig, identifiers};
use crate::receipt::Receipt;
use std::collections::HashSet;

pub const MAX_KERNEL_ID_CHARS: usize = 128;
pub const MAX_KERNELS: usize = 10_000;
/// Per-id findings of one code beyond this many are summed up in one finding.
const MAX_FINDINGS_PER_CODE: usize = 10;

const GPU_PREFIXES: &[&str] = &[
    "gemm_", "wmma_", "cublas_", "cutlass_", "cuda_", "i2s_gpu_", "tl1_gpu_", "tl2_gpu_",
];
const QUANTIZED_CPU_PREFIXES: &[&str] = &["i2s_", "tl1_", "tl2_", "tq2_", "qk256_", "bitnet32f16_"];
const FALLBACK_PREFIXES: &[&str] = &["fp32_", "fallback_", "dequant_"];

/// A kernel that runs on a GPU: a known GPU prefix, or a `_cuda` suffix.
pub fn is_gpu_kernel(id: &str) -> bool {
    GPU_PREFIXES.iter().any(|p| id.starts_with(p)) || id.ends_with("_cuda")
}

/// A kernel that dequantizes and computes in floating point.
pub fn is_fallback_kernel(id: &str) -> bool {
    FALLBACK_PREFIXES.iter().any(|p| id.starts_with(p))
        || id == "matmul_f32"
        || id.ends_with("_dequant")
}

/// A kernel that computes on quantized weights on the CPU.
pub fn is_quantized_cpu_kernel(id: &str) -> bool {
    QUANTIZED_CPU_PREFIXES.iter().any(|p| id.starts_with(p))
        && !is_gpu_kernel(id)
        && !is_fallback_kernel(id)
}

fn is_gpu_backend(backend: &str) -> bool {
    matches!(backend.to_ascii_lowercase().as_str(), "cuda" | "gpu")
}

pub fn check(receipt: &Receipt, config: &GateConfig, findings: &mut Vec<GateFinding>) {
    identifiers::check(receipt, findings);
    for (key, value) in identifiers::mock_flags(receipt) {
        findings.push(GateFinding::new(
            Code::MockEnvironment,
            format!(
                "/environment/{}",
                crate::receipt::parse::escape_pointer_segment(&key)
            ),
            format!(
                "environment.{} is \"{}\": the run may have taken a mock path",
                identifiers::shown(&key),
                identifiers::shown(&value)
            ),
            "benchmark without the mock switch",
        ));
    }
    if receipt.compute_path != "real" {
        findings.push(GateFinding::new(
            Code::ComputePathNotReal,
            "/compute_path",
            format!("compute_path is \"{}\", not \"real\"", receipt.compute_path),
            "benchmark the real compute path; mock or simulated runs are not evidence",
        ));
    }
    let kernels = &receipt.kernels;
    if kernels.is_empty() {
        findings.push(GateFinding::new(
            Code::KernelsEmpty,
            "/kernels",
            "no kernels are listed: a run that executed no kernel measured nothing",
            "record the kernel ids the engine's dispatcher actually ran",
        ));
        return;
    }
    if kernels.len() > MAX_KERNELS {
        findings.push(GateFinding::new(
            Code::TooManyKernels,
            "/kernels",
            format!(
                "{} kernel ids are listed, more than {MAX_KERNELS}",
                kernels.len()
            ),
            "list each distinct kernel id once; counts belong in kernel_stats",
        ));
    }
    per_kernel(findings, kernels, Code::KernelIdEmpty, |id| {
        id.trim().is_empty().then(|| {
            (
                "kernel id is empty or whitespace".to_string(),
                "record the kernel's real id",
            )
        })
    });
    per_kernel(findings, kernels, Code::KernelIdTooLong, |id| {
        let chars = id.chars().count();
        (chars > MAX_KERNEL_ID_CHARS).then(|| {
            (
                format!("kernel id is {chars} characters, more than {MAX_KERNEL_ID_CHARS}"),
                "record the short kernel id, not a description",
            )
        })
    });
    per_kernel(findings, kernels, Code::MockKernel, |id| {
        identifiers::suspicious_word(id).map(|word| {
            (
                format!(
                    "kernel \"{}\" says \"{word}\": the run computed nothing real",
                    identifiers::shown(id)
                ),
                "benchmark with the real kernels",
            )
        })
    });
    let backend_is_cpu = receipt.backend.eq_ignore_ascii_case("cpu");
    if backend_is_cpu {
        per_kernel(findings, kernels, Code::GpuKernelOnCpu, |id| {
            is_gpu_kernel(id).then(|| {
                (
                    format!("GPU kernel \"{id}\" on a cpu receipt"),
                    "write one receipt per backend",
                )
            })
        });
    }
    let mut seen = HashSet::with_capacity(kernels.len());
    per_kernel(findings, kernels, Code::DuplicateKernel, |id| {
        (!seen.insert(id)).then(|| {
            (
                format!("kernel \"{id}\" is listed more than once"),
                "list each id once; counts belong in kernel_stats",
            )
        })
    });

    let any_gpu = kernels.iter().any(|k| is_gpu_kernel(k));
    let any_quantized_cpu = kernels.iter().any(|k| is_quantized_cpu_kernel(k));
    let any_fallback = kernels.iter().any(|k| is_fallback_kernel(k));
    let fallback_only = any_fallback && !any_gpu && !any_quantized_cpu;
    if fallback_only {
        findings.push(GateFinding::new(
            Code::FallbackOnly,
            "/kernels",
            format!(
                "every compute kernel is a non-quantized fallback ({})",
                kernels
                    .iter()
                    .filter(|k| is_fallback_kernel(k))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "enable the quantized kernels, or run with BITNET_STRICT_MODE=1 so a fallback fails loudly",
        ));
    }
    if (is_gpu_backend(&receipt.backend) || config.require_gpu_kernels) && !any_gpu {
        let why = if config.require_gpu_kernels && !is_gpu_backend(&receipt.backend) {
            "--require-gpu-kernels is set".to_string()
        } else {
            format!("backend is \"{}\"", receipt.backend)
        };
        findings.push(GateFinding::new(
            Code::MissingGpuKernel,
            "/kernels",
            format!("{why} but no GPU kernel ran (kernels: {})", preview(kernels)),
            "check that the GPU path ran (device visible, GPU feature built), or report backend \"cpu\"",
        ));
    }
    if backend_is_cpu && !any_quantized_cpu && !fallback_only {
        findings.push(GateFinding::new(
            Code::MissingQuantizedCpuKernel,
            "/kernels",
            format!(
                "backend is \"cpu\" but no quantized CPU kernel (i2s_, tl1_, tl2_, tq2_, qk256_, bitnet32f16_) ran (kernels: {})",
                preview(kernels)
            ),
            "check that the quantized CPU path was taken; BITNET_STRICT_MODE=1 turns a fallback into an error",
        ));
    }
}

/// Run a per-id check over the kernel list, capping how many findings one code adds.
fn per_kernel<'k>(
    findings: &mut Vec<GateFinding>,
    kernels: &'k [String],
    code: Code,
    mut check: impl FnMut(&'k str) -> Option<(String, &'static str)>,
) {
    let mut hits = 0usize;
    for (i, id) in kernels.iter().enumerate() {
        if let Some((message, fix)) = check(id) {
            hits += 1;
            if hits <= MAX_FINDINGS_PER_CODE {
                findings.push(GateFinding::new(
                    code,
                    format!("/kernels/{i}"),
                    message,
                    fix,
                ));
            }
        }
    }
    if hits > MAX_FINDINGS_PER_CODE {
        findings.push(GateFinding::new(
            code,
            "/kernels",
            format!(
                "… and {} more kernel ids with the same problem",
                hits - MAX_FINDINGS_PER_CODE
            ),
            "see the findings above",
        ));
    }
}

fn preview(kernels: &[String]) -> String {
    let shown: Vec<&str> = kernels.iter().take(6).map(String::as_str).collect();
    if kernels.len() > shown.len() {
        format!("{}, … {} in all", shown.join(", "), kernels.len())
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_classes() {
        assert!(is_gpu_kernel("i2s_gpu_gemv"));
        assert!(is_gpu_kernel("attention_cuda"));
        assert!(is_gpu_kernel("gemm_f16_lm_head"));
        assert!(!is_gpu_kernel("i2s_gemv_avx2"));
        assert!(is_quantized_cpu_kernel("i2s_gemv_avx2"));
        assert!(is_quantized_cpu_kernel("qk256_scalar_gemv"));
        assert!(is_quantized_cpu_kernel("bitnet32f16_gemv_scalar"));
        assert!(!is_quantized_cpu_kernel("i2s_gpu_gemv"));
        assert!(!is_quantized_cpu_kernel("i2s_dequant"));
        assert!(is_fallback_kernel("i2s_dequant"));
        assert!(is_fallback_kernel("dequant_i2s"));
        assert!(is_fallback_kernel("matmul_f32"));
        assert!(is_fallback_kernel("fp32_matmul"));
        assert!(!is_fallback_kernel("attention_cpu"));
    }
}
