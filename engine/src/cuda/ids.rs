//! The kernel ids the `cuda` backend writes into `kernel_stats`. Every id is one that
//! `policy-check` classifies as a GPU kernel (a `gemm_`/`i2s_gpu_` prefix or a `_cuda`
//! suffix; policy/src/gates/honesty.rs), so a `cuda` receipt shows GPU work only.

macro_rules! gpu_kernel_ids {
    ($($variant:ident => $name:literal,)*) => {
        /// One counted GPU kernel.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum GpuKernel { $($variant,)* }
        impl GpuKernel {
            pub const ALL: &'static [GpuKernel] = &[$(GpuKernel::$variant,)*];
            pub fn name(self) -> &'static str {
                match self { $(GpuKernel::$variant => $name,)* }
            }
        }
    };
}

gpu_kernel_ids! {
    Embedding => "embedding_cuda",
    RmsnormQuantize => "rmsnorm_quantize_cuda",
    Rmsnorm => "rmsnorm_cuda",
    I2sGemv => "i2s_gpu_gemv",
    Tq2Gemv => "tq2_gemv_cuda",
    Rope => "rope_cuda",
    Attention => "attention_cuda",
    Relu2Gate => "relu2_gate_cuda",
    SiluGate => "silu_gate_cuda",
    LmHeadF16 => "gemm_f16_lm_head",
    LmHeadF32 => "gemm_f32_lm_head",
    Argmax => "argmax_cuda",
}

#[cfg(test)]
mod tests {
    use super::GpuKernel;

    /// The rule of policy/src/gates/honesty.rs `is_gpu_kernel`, restated: the engine
    /// does not depend on the policy crate.
    fn policy_calls_it_gpu(id: &str) -> bool {
        const GPU_PREFIXES: &[&str] = &[
            "gemm_", "wmma_", "cublas_", "cutlass_", "cuda_", "i2s_gpu_", "tl1_gpu_", "tl2_gpu_",
        ];
        GPU_PREFIXES.iter().any(|p| id.starts_with(p)) || id.ends_with("_cuda")
    }

    #[test]
    fn every_id_is_a_gpu_kernel_for_the_policy() {
        for k in GpuKernel::ALL {
            assert!(policy_calls_it_gpu(k.name()), "{}", k.name());
        }
    }
}
