//! Timed runs and calibration. Everything reported comes from clocks read here: the
//! memory bandwidth is measured by streaming the model's own weights in this process,
//! and each run's decode rate is tokens over the time its decode steps took.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};
use crate::kernels::team::Team;
use crate::kernels::{Dispatcher, KernelStat};
use crate::model::{Model, RunState, forward};

#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub prompt: Vec<u32>,
    pub tokens: usize,
    pub runs: usize,
    pub warmup: usize,
}

/// One run: the first P−1 prompt tokens are prefill; the last prompt token runs as the
/// first decode step (like llama-bench's tg), so `tokens` decode steps make `tokens`
/// new tokens.
#[derive(Clone, Debug)]
pub struct RunSample {
    pub prefill_ms: f64,
    pub prefill_tokens: usize,
    pub first_token_ms: f64,
    pub decode_ms: f64,
    pub token_latency_ms: Vec<f64>,
    pub output: Vec<u32>,
    pub wall_ms: f64,
}

impl RunSample {
    pub fn decode_tokens_per_second(&self) -> f64 {
        self.output.len() as f64 / (self.decode_ms / 1e3)
    }
}

#[derive(Clone, Debug)]
pub struct Calibration {
    pub mem_bw_gbps: f64,
    pub bytes_per_pass: u64,
    pub passes: usize,
    pub samples_gbps: Vec<f64>,
}

impl Calibration {
    /// The decode rate this bandwidth allows when a token reads `bytes_per_token`.
    pub fn roofline_tokens_per_second(&self, bytes_per_token: u64) -> f64 {
        self.mem_bw_gbps * 1e9 / bytes_per_token as f64
    }

    /// Joins passes taken before and after the timed runs: the best pass over both is
    /// the ceiling, so a burst of contention during one calibration cannot make the
    /// roofline look lower than what the runs themselves could reach.
    pub fn merge(mut self, after: Calibration) -> Calibration {
        self.samples_gbps.extend(after.samples_gbps);
        self.passes = self.samples_gbps.len();
        self.mem_bw_gbps = self.samples_gbps.iter().cloned().fold(0.0, f64::max);
        self
    }
}

#[derive(Clone, Debug)]
pub struct BenchResult {
    pub samples: Vec<RunSample>,
    pub warmup_runs: usize,
    pub kernel_stats: Vec<KernelStat>,
    pub output_sha256: String,
    pub outputs_identical: bool,
    pub wall_ms: f64,
    pub kv_cache_bytes: u64,
}

/// One way to run the decoder for a bench: the CPU dispatcher ([`CpuDecoder`]) or a
/// GPU backend. The timed loop, the samples and the receipt are the same for both.
pub trait Decoder {
    /// Starts a sequence of up to `max_seq` tokens from an empty KV cache.
    fn begin(&mut self, max_seq: usize) -> Result<()>;
    /// Runs `token` at `pos`. With `sample`, computes the logits and returns the greedy
    /// next token; without, skips the lm_head (prefill) and returns `None`.
    fn step(&mut self, token: u32, pos: usize, sample: bool) -> Result<Option<u32>>;
    /// The logits of the last sampled step, `vocab` values.
    fn logits(&mut self) -> Result<Vec<f32>>;
    /// The counted kernels since the last reset.
    fn kernel_stats(&mut self) -> Result<Vec<KernelStat>>;
    fn reset_stats(&mut self) -> Result<()>;
}

/// The CPU engine as a [`Decoder`]: `model::forward` through the dispatcher.
pub struct CpuDecoder<'a> {
    m: &'a Model,
    k: &'a Dispatcher,
    s: Option<RunState>,
}

impl<'a> CpuDecoder<'a> {
    pub fn new(m: &'a Model, k: &'a Dispatcher) -> Self {
        CpuDecoder { m, k, s: None }
    }
}

impl Decoder for CpuDecoder<'_> {
    fn begin(&mut self, max_seq: usize) -> Result<()> {
        self.s = Some(RunState::new(&self.m.config, max_seq)?);
        Ok(())
    }

    fn step(&mut self, token: u32, pos: usize, sample: bool) -> Result<Option<u32>> {
        let s = self
            .s
            .as_mut()
            .ok_or_else(|| EngineError::Config("step before begin".into()))?;
        forward(self.m, self.k, s, token, pos, sample)?;
        Ok(sample.then(|| self.k.sample_greedy(&s.logits)))
    }

    fn logits(&mut self) -> Result<Vec<f32>> {
        Ok(self
            .s
            .as_ref()
            .map(|s| s.logits.clone())
            .unwrap_or_default())
    }

    fn kernel_stats(&mut self) -> Result<Vec<KernelStat>> {
        Ok(self.k.stats())
    }

    fn reset_stats(&mut self) -> Result<()> {
        self.k.reset_stats();
        Ok(())
    }
}

/// One greedy run from a fresh KV cache.
pub fn run_once(d: &mut impl Decoder, prompt: &[u32], tokens: usize) -> Result<RunSample> {
    if tokens == 0 {
        return Err(EngineError::Config("--tokens must be at least 1".into()));
    }
    if prompt.is_empty() {
        return Err(EngineError::Config(
            "--prompt must be at least 1 token".into(),
        ));
    }
    d.begin(prompt.len() + tokens - 1)?;
    let wall = Instant::now();
    let (last, head) = prompt.split_last().expect("prompt is not empty");
    for (pos, &t) in head.iter().enumerate() {
        d.step(t, pos, false)?;
    }
    let prefill_ms = wall.elapsed().as_secs_f64() * 1e3;
    let mut output = Vec::with_capacity(tokens);
    let mut lat = Vec::with_capacity(tokens);
    let mut token = *last;
    for i in 0..tokens {
        let t0 = Instant::now();
        token = d
            .step(token, head.len() + i, true)?
            .ok_or_else(|| EngineError::Config("a sampled step returned no token".into()))?;
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        output.push(token);
    }
    let decode_ms: f64 = lat.iter().sum();
    Ok(RunSample {
        prefill_ms,
        prefill_tokens: head.len(),
        first_token_ms: prefill_ms + lat[0],
        decode_ms,
        token_latency_ms: lat,
        output,
        wall_ms: wall.elapsed().as_secs_f64() * 1e3,
    })
}

/// Warm-up runs, then timed runs on the CPU engine; kernel stats cover the timed runs
/// only. `between_runs` is called after each timed run, outside the timed region (the
/// CLI takes a calibration pass there).
pub fn run(
    m: &Model,
    k: &Dispatcher,
    o: &BenchOptions,
    progress: impl FnMut(&str) + Send,
    mut between_runs: impl FnMut() + Send,
) -> Result<BenchResult> {
    crate::kernels::on_worker(|| {
        run_with(&mut CpuDecoder::new(m, k), m, o, progress, |_| {
            between_runs()
        })
    })
}

/// [`run`] for any [`Decoder`]; `between_runs` gets the decoder (a GPU backend
/// calibrates on its own device there).
pub fn run_with<D: Decoder>(
    d: &mut D,
    m: &Model,
    o: &BenchOptions,
    mut progress: impl FnMut(&str),
    mut between_runs: impl FnMut(&mut D),
) -> Result<BenchResult> {
    if o.runs == 0 {
        return Err(EngineError::Config("--runs must be at least 1".into()));
    }
    for i in 0..o.warmup {
        let r = run_once(d, &o.prompt, o.tokens)?;
        progress(&format!(
            "warm-up {}/{}: {:.2} tok/s",
            i + 1,
            o.warmup,
            r.decode_tokens_per_second()
        ));
    }
    d.reset_stats()?;
    let mut samples = Vec::with_capacity(o.runs);
    for i in 0..o.runs {
        let r = run_once(d, &o.prompt, o.tokens)?;
        progress(&format!(
            "run {}/{}: {:.2} tok/s decode, first token {:.0} ms",
            i + 1,
            o.runs,
            r.decode_tokens_per_second(),
            r.first_token_ms
        ));
        samples.push(r);
        between_runs(d);
    }
    // The runs' own wall times: calibration passes between runs are not part of them.
    let wall_ms = samples.iter().map(|r| r.wall_ms).sum();
    let outputs_identical = samples.windows(2).all(|w| w[0].output == w[1].output);
    let kv_cache_bytes = RunState::kv_cache_bytes_for(&m.config, o.prompt.len() + o.tokens - 1);
    Ok(BenchResult {
        output_sha256: output_sha256(&samples[0].output),
        outputs_identical,
        kernel_stats: d.kernel_stats()?,
        samples,
        warmup_runs: o.warmup,
        wall_ms,
        kv_cache_bytes,
    })
}

/// sha256 over the generated token ids as little-endian u32.
pub fn output_sha256(tokens: &[u32]) -> String {
    let mut h = Sha256::new();
    for t in tokens {
        h.update(t.to_le_bytes());
    }
    crate::synthetic::hex(&h.finalize())
}

/// Measures read bandwidth by streaming every weight byte a token reads, on the
/// dispatcher's team (the threads the decode runs on), `passes` times (each pass with both [`ReadMethod`]s); reports
/// the best (the roofline is a ceiling, so the most favourable measurement makes the
/// fraction conservative).
pub fn measure_bandwidth(m: &Model, k: &Dispatcher, passes: usize) -> Calibration {
    const PIECE: usize = 1 << 20;
    let mut pieces: Vec<&[u8]> = m.embedding.data.chunks(PIECE).collect();
    for l in &m.layers {
        for (_, mat) in l.matrices() {
            pieces.extend(mat.data.chunks(PIECE));
        }
    }
    let bytes: u64 = pieces.iter().map(|p| p.len() as u64).sum();
    // Each pass reads everything once per method and keeps the faster.
    let samples: Vec<f64> = (0..passes.max(1))
        .map(|_| {
            let plain = stream_read_gbps(k.team(), &pieces, ReadMethod::Plain);
            plain.max(stream_read_gbps(k.team(), &pieces, ReadMethod::Paced))
        })
        .collect();
    Calibration {
        mem_bw_gbps: samples.iter().cloned().fold(0.0, f64::max),
        bytes_per_pass: bytes,
        passes: samples.len(),
        samples_gbps: samples,
    }
}

/// Reads every byte of `pieces` once on the team that runs the kernels, each piece
/// going to whichever thread is free; returns GB/s.
pub fn stream_read_gbps(team: &Team, pieces: &[&[u8]], method: ReadMethod) -> f64 {
    let bytes: u64 = pieces.iter().map(|p| p.len() as u64).sum();
    let sum = AtomicU64::new(0);
    let t0 = Instant::now();
    team.run(pieces.len(), &|i| {
        sum.fetch_add(read_sum(pieces[i], method), Ordering::Relaxed);
    });
    let secs = t0.elapsed().as_secs_f64();
    std::hint::black_box(sum.load(Ordering::Relaxed));
    bytes as f64 / secs / 1e9
}

/// How a calibration pass reads: a plain streaming read, or a read paced by F16
/// conversion and FMA like the lm_head. Which one streams faster depends on the CPU
/// (demand loads that outrun the L2 prefetches stall), so the ceiling is the best of
/// both: a kernel must never be able to beat its own roofline (docs/engine.md, design
/// measurements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMethod {
    Plain,
    Paced,
}

fn read_sum(p: &[u8], method: ReadMethod) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        let paced = method == ReadMethod::Paced
            && is_x86_feature_detected!("f16c")
            && is_x86_feature_detected!("fma");
        // SAFETY: AVX2 (and F16C/FMA for the paced read) were just detected.
        return unsafe {
            if paced {
                read_paced(p)
            } else {
                read_sum_avx2(p)
            }
        };
    }
    let _ = method;
    p.chunks(8).fold(0u64, |a, c| {
        a.wrapping_add(c.iter().fold(0u64, |x, &b| x << 8 | b as u64))
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn read_sum_avx2(p: &[u8]) -> u64 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_si256(); 4];
    let mut chunks = p.chunks_exact(128);
    for c in &mut chunks {
        let ahead = c.as_ptr().wrapping_add(crate::formats::i2s::PREFETCH_AHEAD);
        _mm_prefetch::<_MM_HINT_T1>(ahead as *const i8);
        _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(64) as *const i8);
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: each 32-byte load is inside the 128-byte chunk.
            let v = unsafe { _mm256_loadu_si256(c.as_ptr().add(32 * j) as *const __m256i) };
            *a = _mm256_add_epi64(*a, v);
        }
    }
    let mut out = [0u64; 4];
    let s = _mm256_add_epi64(
        _mm256_add_epi64(acc[0], acc[1]),
        _mm256_add_epi64(acc[2], acc[3]),
    );
    // SAFETY: `out` is 32 bytes.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, s) };
    let tail: u64 = chunks.remainder().iter().map(|&b| b as u64).sum();
    out.iter().fold(tail, |a, &b| a.wrapping_add(b))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn read_paced(p: &[u8]) -> u64 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); 4];
    let one = _mm256_set1_ps(1.0);
    let mut chunks = p.chunks_exact(128);
    for c in &mut chunks {
        let ahead = c.as_ptr().wrapping_add(crate::formats::i2s::PREFETCH_AHEAD);
        _mm_prefetch::<_MM_HINT_T1>(ahead as *const i8);
        _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(64) as *const i8);
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: each 16-byte load is inside the 128-byte chunk.
            let lo = unsafe { _mm_loadu_si128(c.as_ptr().add(32 * j) as *const __m128i) };
            let hi = unsafe { _mm_loadu_si128(c.as_ptr().add(32 * j + 16) as *const __m128i) };
            *a = _mm256_fmadd_ps(_mm256_cvtph_ps(lo), one, *a);
            *a = _mm256_fmadd_ps(_mm256_cvtph_ps(hi), one, *a);
        }
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut out = [0f32; 8];
    // SAFETY: `out` is 32 bytes.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
    out.iter().map(|v| v.to_bits() as u64).sum::<u64>() + chunks.remainder().len() as u64
}

/// Median of a non-empty list.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile (p in 0..=100) of a non-empty list.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

/// Coefficient of variation: population standard deviation / mean (as the receipt
/// schema defines it); 0 for one sample.
pub fn cv(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    var.sqrt() / mean
}

/// Peak resident set size of this process in bytes (VmHWM), if the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A prompt of `n` token ids drawn from `seed` (uniform over the vocabulary).
pub fn seeded_prompt(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut z = seed ^ 0x5eed_0f9a_0be7;
    (0..n)
        .map(|_| {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((x ^ (x >> 31)) % vocab as u64) as u32
        })
        .collect()
}

/// Strict mode: a kernel that computes without the quantised weights is an error.
pub fn check_strict(stats: &[KernelStat]) -> Result<()> {
    const FALLBACK: [&str; 3] = ["fallback_", "dequant_", "fp32_"];
    if let Some(k) = stats
        .iter()
        .find(|k| FALLBACK.iter().any(|p| k.id.starts_with(p)) || k.id.ends_with("_dequant"))
    {
        return Err(EngineError::Strict(format!(
            "kernel '{}' is a non-quantised fallback",
            k.id
        )));
    }
    Ok(())
}
