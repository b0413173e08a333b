//! The kernel ids the `cuda` backend writes into `kernel_stats` (its counters are
//! indexed by [`GpuKernel`], so no other id can reach a receipt). Every id is one that
//! `policy-check` classifies as a GPU kernel (a `gemm_`/`i2s_gpu_` prefix or a `_cuda`
//! suffix), so a `cuda` receipt shows GPU work only; the test below asks the policy.

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
    use receipt_policy::gates::honesty::{is_fallback_kernel, is_gpu_kernel};

    /// Asked of the policy's own honesty gate (a dev-dependency), not a copy of its
    /// rule: renaming an id here or a prefix there fails this test.
    #[test]
    fn every_id_is_a_gpu_kernel_for_the_policy() {
        for k in GpuKernel::ALL {
            let id = k.name();
            assert!(
                is_gpu_kernel(id),
                "policy-check does not count {id} as GPU work"
            );
            assert!(
                !is_fallback_kernel(id),
                "policy-check counts {id} as a fallback"
            );
        }
    }
}
