//! The kernel dispatcher: picks a SIMD level once at start-up, runs every operation
//! through a named kernel, and counts calls and nanoseconds per kernel id. Those counts
//! are the receipt's `kernel_stats`; nothing else may write kernel ids into a receipt.

pub mod lm_head;
pub mod ops;
pub mod team;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use team::{Team, for_each_task};

use crate::error::{EngineError, Result};
use crate::formats::{Embedding, EmbeddingType, Format, TernaryMatrix, i2s};

/// The instruction set the dispatcher uses for the kernels that have SIMD variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    Scalar,
    /// AVX2 + FMA + F16C.
    Avx2,
    /// AVX-512 F/BW/VL + VNNI (plus everything AVX2 needs).
    Avx512Vnni,
}

impl SimdLevel {
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512Vnni => "avx512vnni",
        }
    }

    /// Whether this CPU can run the level.
    pub fn supported(self) -> bool {
        match self {
            SimdLevel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512Vnni => {
                SimdLevel::Avx2.supported()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The best level this CPU supports.
    pub fn detect() -> SimdLevel {
        [SimdLevel::Avx512Vnni, SimdLevel::Avx2]
            .into_iter()
            .find(|l| l.supported())
            .unwrap_or(SimdLevel::Scalar)
    }

    /// Parses `auto | scalar | avx2 | avx512` and refuses a level the CPU lacks.
    pub fn choose(request: &str) -> Result<SimdLevel> {
        let level = match request {
            "auto" => return Ok(SimdLevel::detect()),
            "scalar" => SimdLevel::Scalar,
            "avx2" => SimdLevel::Avx2,
            "avx512" | "avx512vnni" => SimdLevel::Avx512Vnni,
            other => {
                return Err(EngineError::Kernels(format!(
                    "unknown kernel set '{other}' (use auto, scalar, avx2 or avx512)"
                )));
            }
        };
        if !level.supported() {
            return Err(EngineError::Kernels(format!(
                "this CPU does not support {} (best available: {})",
                level.name(),
                SimdLevel::detect().name()
            )));
        }
        Ok(level)
    }
}

macro_rules! kernel_ids {
    ($($variant:ident => $name:literal,)*) => {
        /// Every kernel the engine has. Only those that ran appear in a receipt.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum KernelId { $($variant,)* }
        impl KernelId {
            pub const ALL: &'static [KernelId] = &[$(KernelId::$variant,)*];
            pub fn name(self) -> &'static str {
                match self { $(KernelId::$variant => $name,)* }
            }
        }
    };
}

kernel_ids! {
    EmbeddingF16 => "embedding_f16",
    EmbeddingF32 => "embedding_f32",
    Rmsnorm => "rmsnorm",
    QuantizeI8 => "quantize_i8_absmax",
    QuantizeQ8K => "quantize_q8_k",
    I2sGemvScalar => "i2s_gemv_scalar",
    I2sGemvAvx2 => "i2s_gemv_avx2",
    I2sGemvAvx512Vnni => "i2s_gemv_avx512vnni",
    Tq2GemvScalar => "tq2_gemv_scalar",
    Tq2GemvAvx2 => "tq2_gemv_avx2",
    Tq2GemvQ8kScalar => "tq2_gemv_q8k_scalar",
    Bitnet32F16GemvScalar => "bitnet32f16_gemv_scalar",
    Qk256ScalarGemv => "qk256_scalar_gemv",
    RopeNeox => "rope_neox",
    AttentionCpu => "attention_cpu",
    FfnRelu2 => "ffn_relu2_gate",
    FfnSilu => "ffn_silu_gate",
    ResidualAdd => "residual_add",
    LmHeadF16Scalar => "lm_head_f16_scalar",
    LmHeadF16Avx2 => "lm_head_f16_avx2",
    LmHeadF16Avx512 => "lm_head_f16_avx512",
    LmHeadF32Scalar => "lm_head_f32_scalar",
    SampleGreedy => "sample_greedy",
}

/// Calls and nanoseconds of one kernel, as counted (a receipt's `kernel_stats` entry).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KernelStat {
    pub id: &'static str,
    pub calls: u64,
    pub total_ns: u64,
}

/// How activations are quantised to int8 before a ternary GEMV.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ActQuant {
    /// One absmax scale per token: BitNet b1.58's definition, and the default.
    #[default]
    PerToken,
    /// One scale per 256 values exactly as llama.cpp's Q8_K (`quantize_row_q8_K_ref`),
    /// so TQ2_0 models can be cross-checked against llama.cpp step for step. TQ2_0 only.
    Q8K,
}

impl ActQuant {
    pub fn parse(s: &str) -> Result<ActQuant> {
        match s {
            "per-token" => Ok(ActQuant::PerToken),
            "q8_k" | "q8k" => Ok(ActQuant::Q8K),
            other => Err(EngineError::Kernels(format!(
                "unknown activation quantisation '{other}' (use per-token or q8_k)"
            ))),
        }
    }
}

/// An activation vector quantised to int8: per token with its absmax scale, or (with
/// [`ActQuant::Q8K`]) per 256-value block.
#[derive(Clone, Debug, Default)]
pub struct QuantizedActivation {
    pub q: Vec<i8>,
    /// absmax / 127: multiply an integer dot product by it to get back to f32. 1 when
    /// `block_scales` is set.
    pub inv_scale: f32,
    /// Q8_K: the `d` of each 256-value block (empty for per-token quantisation).
    pub block_scales: Vec<f32>,
    /// Σ q over the whole vector (I2_S subtracts it once per row).
    pub sum: i32,
    /// Σ q per run of 32 elements (block formats subtract per-block sums).
    pub sums32: Vec<i32>,
}

impl QuantizedActivation {
    /// Σ q over `len` elements from `start`; both multiples of 32.
    pub fn block_sum(&self, start: usize, len: usize) -> i32 {
        self.sums32[start / 32..(start + len) / 32].iter().sum()
    }
}

/// Runs kernels and counts them. One per engine; shared by reference across threads.
pub struct Dispatcher {
    simd: SimdLevel,
    act_quant: ActQuant,
    counters: Vec<(AtomicU64, AtomicU64)>,
    /// Started on first use, sized by the rayon pool at that moment.
    team: OnceLock<Team>,
}

impl Dispatcher {
    pub fn new(simd: SimdLevel) -> Self {
        Dispatcher {
            simd,
            act_quant: ActQuant::PerToken,
            counters: KernelId::ALL
                .iter()
                .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
                .collect(),
            team: OnceLock::new(),
        }
    }

    /// The threads the parallel kernels (and the bandwidth calibration) run on: as
    /// many as the rayon pool has.
    pub fn team(&self) -> &Team {
        self.team
            .get_or_init(|| Team::new(rayon::current_num_threads()))
    }

    pub fn simd(&self) -> SimdLevel {
        self.simd
    }

    /// Quantises activations as `aq`. [`ActQuant::Q8K`] is for TQ2_0 models only.
    pub fn with_act_quant(mut self, aq: ActQuant) -> Self {
        self.act_quant = aq;
        self
    }

    pub fn act_quant(&self) -> ActQuant {
        self.act_quant
    }

    /// Refuses a model this dispatcher's activation quantisation cannot run.
    pub fn check_model(&self, format: Format) -> Result<()> {
        if self.act_quant == ActQuant::Q8K && format != Format::Tq2_0 {
            return Err(EngineError::Kernels(format!(
                "Q8_K activations have kernels for tq2_0 weights only, this model is {}",
                format.name()
            )));
        }
        Ok(())
    }

    fn timed<R>(&self, id: KernelId, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let r = f();
        let ns = start.elapsed().as_nanos() as u64;
        let (calls, total) = &self.counters[id as usize];
        calls.fetch_add(1, Ordering::Relaxed);
        total.fetch_add(ns, Ordering::Relaxed);
        r
    }

    /// The kernels that ran since the last reset, in dispatcher order.
    pub fn stats(&self) -> Vec<KernelStat> {
        KernelId::ALL
            .iter()
            .zip(&self.counters)
            .filter_map(|(id, (calls, ns))| {
                let calls = calls.load(Ordering::Relaxed);
                (calls > 0).then(|| KernelStat {
                    id: id.name(),
                    calls,
                    total_ns: ns.load(Ordering::Relaxed),
                })
            })
            .collect()
    }

    pub fn reset_stats(&self) {
        for (calls, ns) in &self.counters {
            calls.store(0, Ordering::Relaxed);
            ns.store(0, Ordering::Relaxed);
        }
    }

    /// The kernel id a ternary GEMV of this format runs at the chosen level.
    pub fn gemv_kernel(&self, format: Format) -> KernelId {
        match self.act_quant {
            ActQuant::PerToken => format.kernel(self.simd),
            ActQuant::Q8K => KernelId::Tq2GemvQ8kScalar,
        }
    }

    /// out = W · dequant(a), rows in parallel.
    pub fn gemv(&self, w: &TernaryMatrix, a: &QuantizedActivation, out: &mut [f32]) {
        self.gemv_fused(a, &mut [(w, out)]);
    }

    /// Several GEMVs that share one activation (q/k/v, gate/up) as one parallel region,
    /// so the threads start once. Counts one call of the format's kernel.
    pub fn gemv_fused(&self, a: &QuantizedActivation, jobs: &mut [(&TernaryMatrix, &mut [f32])]) {
        let Some(first) = jobs.first() else { return };
        let format = first.0.format;
        debug_assert!(
            jobs.iter()
                .all(|(w, o)| w.format == format && w.cols == a.q.len() && o.len() == w.rows)
        );
        let id = self.gemv_kernel(format);
        self.timed(id, || {
            let mut perm = Vec::new();
            if id == KernelId::I2sGemvAvx512Vnni {
                i2s::permute_for_pairs(&a.q, &mut perm);
            }
            // One task per thread: a contiguous share of the concatenated rows (one piece
            // per matrix it covers), so each thread streams one long run of weights.
            // Smaller tasks, or stealing, would rebalance a slowed thread, but they did
            // not stream faster, and each boundary interrupts a thread's sequential read.
            // A share whose thread has not started when another finishes (preempted, or
            // parked) is still taken by that one.
            let rows: usize = jobs.iter().map(|(w, _)| w.rows).sum();
            let threads = self.team().threads();
            let mut tasks: Vec<Vec<(&TernaryMatrix, usize, &mut [f32])>> =
                (0..threads).map(|_| Vec::new()).collect();
            let mut base = 0;
            for (w, out) in jobs.iter_mut() {
                let mut rest: &mut [f32] = out;
                for (t, task) in tasks.iter_mut().enumerate() {
                    let lo = (rows * t / threads).max(base);
                    let hi = (rows * (t + 1) / threads).min(base + w.rows);
                    if lo < hi {
                        let (piece, tail) = std::mem::take(&mut rest).split_at_mut(hi - lo);
                        task.push((*w, lo - base, piece));
                        rest = tail;
                    }
                }
                base += w.rows;
            }
            for_each_task(self.team(), tasks, |pieces| {
                for (w, start, out) in pieces {
                    let post = a.inv_scale * w.scale;
                    let rb = w.format.row_bytes(w.cols);
                    let rows = &w.data[start * rb..(start + out.len()) * rb];
                    match id {
                        // SAFETY (all three): the id is chosen only when the CPU features
                        // the kernel needs were detected at start-up.
                        #[cfg(target_arch = "x86_64")]
                        KernelId::I2sGemvAvx2 => unsafe { i2s::gemv_avx2(rows, rb, a, post, out) },
                        #[cfg(target_arch = "x86_64")]
                        KernelId::I2sGemvAvx512Vnni => unsafe {
                            i2s::gemv_avx512vnni(rows, rb, &perm, a.sum, post, out)
                        },
                        #[cfg(target_arch = "x86_64")]
                        KernelId::Tq2GemvAvx2 => each_row(rows, rb, post, out, |row| unsafe {
                            crate::formats::tq2_0::dot_avx2(row, a)
                        }),
                        KernelId::Tq2GemvQ8kScalar => each_row(rows, rb, post, out, |row| {
                            crate::formats::tq2_0::dot_q8k_scalar(row, a)
                        }),
                        _ => each_row(rows, rb, post, out, |row| w.format.dot_scalar(row, a)),
                    }
                }
            });
        })
    }

    /// logits = E · x over the tied embedding, rows in parallel.
    pub fn lm_head(&self, e: &Embedding, x: &[f32], out: &mut [f32]) {
        let id = match (e.dtype, self.simd) {
            (EmbeddingType::F32, _) => KernelId::LmHeadF32Scalar,
            (EmbeddingType::F16, SimdLevel::Scalar) => KernelId::LmHeadF16Scalar,
            (EmbeddingType::F16, SimdLevel::Avx2) => KernelId::LmHeadF16Avx2,
            (EmbeddingType::F16, SimdLevel::Avx512Vnni) => KernelId::LmHeadF16Avx512,
        };
        // Each task gets a run of whole rows; the scalar kernels go row by row (no scale).
        let rb = e.hidden * e.dtype.size();
        self.timed(id, || match id {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: chosen only when AVX2/FMA/F16C were detected.
            KernelId::LmHeadF16Avx2 => {
                par_row_chunks(self.team(), &e.data, rb, out, |rows, o| unsafe {
                    lm_head::rows_f16_avx2(rows, x, o)
                })
            }
            #[cfg(target_arch = "x86_64")]
            // SAFETY: chosen only when AVX-512F was detected.
            KernelId::LmHeadF16Avx512 => {
                par_row_chunks(self.team(), &e.data, rb, out, |rows, o| unsafe {
                    lm_head::rows_f16_avx512(rows, x, o)
                })
            }
            KernelId::LmHeadF32Scalar => {
                par_row_chunks(self.team(), &e.data, rb, out, |rows, o| {
                    each_row(rows, rb, 1.0, o, |row| lm_head::dot_f32_scalar(row, x))
                })
            }
            _ => par_row_chunks(self.team(), &e.data, rb, out, |rows, o| {
                each_row(rows, rb, 1.0, o, |row| lm_head::dot_f16_scalar(row, x))
            }),
        })
    }

    pub fn embedding(&self, e: &Embedding, token: usize, out: &mut [f32]) {
        let id = match e.dtype {
            EmbeddingType::F16 => KernelId::EmbeddingF16,
            EmbeddingType::F32 => KernelId::EmbeddingF32,
        };
        self.timed(id, || e.row_f32(token, out))
    }

    pub fn rmsnorm(&self, out: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
        self.timed(KernelId::Rmsnorm, || ops::rmsnorm(out, x, w, eps))
    }

    pub fn quantize(&self, x: &[f32], out: &mut QuantizedActivation) {
        match self.act_quant {
            ActQuant::PerToken => {
                self.timed(KernelId::QuantizeI8, || ops::quantize_i8_absmax(x, out))
            }
            ActQuant::Q8K => self.timed(KernelId::QuantizeQ8K, || ops::quantize_q8_k(x, out)),
        }
    }

    /// The rotation angles at `pos` (counted as `rope_neox`, whose inputs they are).
    pub fn rope_table(&self, head_dim: usize, pos: usize, theta: f32, table: &mut Vec<(f32, f32)>) {
        self.timed(KernelId::RopeNeox, || {
            ops::rope_table(head_dim, pos, theta, table)
        })
    }

    pub fn rope(&self, v: &mut [f32], head_dim: usize, table: &[(f32, f32)]) {
        self.timed(KernelId::RopeNeox, || ops::rope_neox(v, head_dim, table))
    }

    pub fn attention(&self, a: ops::AttentionArgs<'_>, out: &mut [f32], scores: &mut [f32]) {
        self.timed(KernelId::AttentionCpu, || {
            ops::attention(self.team(), a, out, scores)
        })
    }

    pub fn ffn_gate(&self, act: crate::model::Activation, gate: &mut [f32], up: &[f32]) {
        match act {
            crate::model::Activation::Relu2 => {
                self.timed(KernelId::FfnRelu2, || ops::relu2_gate(gate, up))
            }
            crate::model::Activation::Silu => {
                self.timed(KernelId::FfnSilu, || ops::silu_gate(gate, up))
            }
        }
    }

    pub fn residual_add(&self, x: &mut [f32], y: &[f32]) {
        self.timed(KernelId::ResidualAdd, || ops::residual_add(x, y))
    }

    pub fn sample_greedy(&self, logits: &[f32]) -> u32 {
        self.timed(KernelId::SampleGreedy, || {
            ops::argmax_on(self.team(), logits)
        })
    }
}

/// Runs `f` on a rayon worker thread and waits for it. The decoder's own regions run
/// on the dispatcher's [`Team`]; this keeps any rayon region reached from `f` from
/// being injected from outside the pool, a cross-thread hand-over for every region.
pub fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// `out[i] = post · dot(row i)` for the kernels without a whole-range variant.
fn each_row(rows: &[u8], rb: usize, post: f32, out: &mut [f32], dot: impl Fn(&[u8]) -> f32) {
    for (y, row) in out.iter_mut().zip(rows.chunks_exact(rb)) {
        *y = dot(row) * post;
    }
}

/// Rows per lm_head task: few enough that the last task to finish is short (256 rows
/// of 2B-4T's embedding are 1.3 MB, a small part of a thread's share), many enough
/// that handing out tasks costs nothing next to reading them.
const LM_HEAD_CHUNK_ROWS: usize = 256;

/// Hands the rows (`rb` bytes each) of `data` to `f` in runs of [`LM_HEAD_CHUNK_ROWS`]
/// over the team, each with its slice of `out`, so a SIMD kernel loops over the rows
/// inside its own code (no call and `vzeroupper` per row).
fn par_row_chunks(
    team: &Team,
    data: &[u8],
    rb: usize,
    out: &mut [f32],
    f: impl Fn(&[u8], &mut [f32]) + Sync,
) {
    let tasks: Vec<(usize, &mut [f32])> = out.chunks_mut(LM_HEAD_CHUNK_ROWS).enumerate().collect();
    for_each_task(team, tasks, |(c, o)| {
        let start = c * LM_HEAD_CHUNK_ROWS * rb;
        f(&data[start..start + o.len() * rb], o)
    });
}

#[cfg(test)]
mod tests {
    use super::{ActQuant, KernelId, SimdLevel};
    use crate::formats::Format;
    use receipt_policy::gates::honesty::{
        is_fallback_kernel, is_gpu_kernel, is_quantized_cpu_kernel,
    };

    /// What policy-check's honesty gate (asked directly, not restated) makes of the
    /// CPU ids: none is GPU work or a fallback, and every ternary GEMV is quantized
    /// CPU work, so a CPU receipt reads as what ran.
    #[test]
    fn the_policy_reads_cpu_ids_as_what_ran() {
        for k in KernelId::ALL {
            let id = k.name();
            assert!(!is_gpu_kernel(id), "policy-check counts {id} as GPU work");
            assert!(
                !is_fallback_kernel(id),
                "policy-check counts {id} as a fallback"
            );
        }
        let levels = [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512Vnni];
        let gemvs = Format::ALL
            .iter()
            .flat_map(|f| levels.map(|l| f.kernel(l)))
            .chain([super::Dispatcher::new(SimdLevel::Scalar)
                .with_act_quant(ActQuant::Q8K)
                .gemv_kernel(Format::Tq2_0)]);
        for k in gemvs {
            assert!(is_quantized_cpu_kernel(k.name()), "{}", k.name());
        }
    }
}
