//! The small operations of the decoder, one named function each (llama2.c style),
//! written as plain loops the compiler can vectorise. Each is compiled twice: for the
//! baseline target and, through [`avx2_twin!`], for AVX2, which runs when the CPU has
//! it. Neither uses FMA (Rust never fuses a multiply and an add on its own), so both
//! compute the same operations in the same order and give bit-identical results: the
//! scalar kernel set reproduces every output of the SIMD ones.

use super::QuantizedActivation;
use super::team::{Team, for_each_task};

/// Defines `pub fn $name` whose body runs compiled for AVX2 when the CPU has it, and
/// as baseline code otherwise. The body is one block; both copies are the same source.
macro_rules! avx2_twin {
    ($(#[$meta:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn twin($($arg: $ty),*) $(-> $ret)? $body
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 was just detected.
                    return unsafe { twin($($arg),*) };
                }
            }
            $body
        }
    };
}

avx2_twin! {
/// out = x / rms(x) · w.
pub fn rmsnorm(out: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
    // The squares are summed in f64, as ggml's rms_norm does: an f32 sum moved the
    // scale by an ulp now and then, enough to flip an int8 rounding and, at a
    // near-tie, a greedy token against llama.cpp (docs/engine.md, cross-check).
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|&v| (v * v) as f64).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += (v * v) as f64;
        }
    }
    let ss = ((acc.iter().sum::<f64>() + tail) / x.len() as f64) as f32;
    let inv = 1.0 / (ss + eps).sqrt();
    for ((o, &xi), &wi) in out.iter_mut().zip(x).zip(w) {
        *o = xi * inv * wi;
    }
}
}

avx2_twin! {
/// Per-token absmax int8 quantisation: s = 127 / max(|x|, 1e-5), q = clamp(round(x·s)).
pub fn quantize_i8_absmax(x: &[f32], out: &mut QuantizedActivation) {
    let absmax = x.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-5);
    let s = 127.0 / absmax;
    out.q.clear();
    out.q
        .extend(x.iter().map(|&v| nearest_int(v * s).clamp(-128, 127) as i8));
    out.inv_scale = 1.0 / s;
    out.block_scales.clear();
    out.sums32.clear();
    out.sums32.extend(
        out.q
            .chunks(32)
            .map(|c| c.iter().map(|&v| v as i32).sum::<i32>()),
    );
    out.sum = out.sums32.iter().sum();
}
}

/// llama.cpp's Q8_K (`quantize_row_q8_K_ref`), per 256-value block: the value of
/// largest magnitude (the first, on ties) keeps its sign in iscale = −127/max,
/// q = min(127, nearest_int(iscale·x)), d = 1/iscale; an all-zero block has d = 0.
/// `x.len()` must be a multiple of 256 (every TQ2_0 row is).
pub fn quantize_q8_k(x: &[f32], out: &mut QuantizedActivation) {
    debug_assert!(x.len().is_multiple_of(256));
    out.q.clear();
    out.block_scales.clear();
    for b in x.chunks(256) {
        let (mut max, mut amax) = (0.0f32, 0.0f32);
        for &v in b {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            out.q.extend(std::iter::repeat_n(0i8, b.len()));
            out.block_scales.push(0.0);
            continue;
        }
        let iscale = -127.0 / max;
        out.q
            .extend(b.iter().map(|&v| nearest_int(iscale * v).min(127) as i8));
        out.block_scales.push(1.0 / iscale);
    }
    out.inv_scale = 1.0;
    out.sums32.clear();
    out.sums32.extend(
        out.q
            .chunks(32)
            .map(|c| c.iter().map(|&v| v as i32).sum::<i32>()),
    );
    out.sum = out.sums32.iter().sum();
}

/// Round to nearest, ties to even, for |x| < 2^22 (ggml's `nearest_int`): adding
/// 1.5·2^23 puts the integer in the low mantissa bits. Branch-free, so it vectorises.
pub fn nearest_int(x: f32) -> i32 {
    let v = x + 12_582_912.0;
    (v.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// The rotation angles of rotary embedding at `pos`: (cos, sin) of pos·θ^(−2i/head_dim)
/// for i < head_dim/2, computed once per token and shared by every layer's q and k.
pub fn rope_table(head_dim: usize, pos: usize, theta: f32, table: &mut Vec<(f32, f32)>) {
    table.clear();
    table.extend((0..head_dim / 2).map(|i| {
        let freq = (theta as f64).powf(-2.0 * i as f64 / head_dim as f64);
        let (s, c) = (pos as f64 * freq).sin_cos();
        (c as f32, s as f32)
    }));
}

avx2_twin! {
/// Rotary embedding with NeoX pairing: within each head, element i pairs with
/// i + head_dim/2 and turns by the angle in `table` (from [`rope_table`]).
pub fn rope_neox(v: &mut [f32], head_dim: usize, table: &[(f32, f32)]) {
    let half = head_dim / 2;
    for head in v.chunks_exact_mut(head_dim) {
        let (a, b) = head.split_at_mut(half);
        for ((x0, x1), &(c, s)) in a.iter_mut().zip(b.iter_mut()).zip(table) {
            let (u, w) = (*x0, *x1);
            *x0 = u * c - w * s;
            *x1 = u * s + w * c;
        }
    }
}
}

/// Inputs of causal grouped-query attention over the KV cache of one layer.
pub struct AttentionArgs<'a> {
    /// Queries of all heads for the current position.
    pub q: &'a [f32],
    /// One layer's keys, `[kv_head][position][head_dim]` with room for `max_seq`
    /// positions per KV head, so each head's keys are one contiguous run.
    pub keys: &'a [f32],
    /// The values, laid out as the keys.
    pub values: &'a [f32],
    pub pos: usize,
    pub max_seq: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// Softmax(q·kᵀ/√d)·v per head; query head h reads KV head h / (heads / kv_heads).
/// Heads that share a KV head are taken in pairs, so each key and value row is loaded
/// once for both.
pub fn attention(team: &Team, a: AttentionArgs<'_>, out: &mut [f32], scores: &mut [f32]) {
    let hd = a.head_dim;
    let group = a.heads / a.kv_heads;
    let stride = scores.len() / a.heads;
    let inv_sqrt = 1.0 / (hd as f32).sqrt();
    let pair = group.is_multiple_of(2);
    let per_task = if pair { 2 } else { 1 };
    let tasks: Vec<_> = out
        .chunks_mut(per_task * hd)
        .zip(scores.chunks_mut(per_task * stride))
        .enumerate()
        .collect();
    for_each_task(team, tasks, |(t, (o, att))| {
        let h = t * per_task;
        let heads = Heads {
            q: &a.q[h * hd..(h + per_task) * hd],
            kvh: h / group,
            stride,
            inv_sqrt,
        };
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was just detected.
            return unsafe {
                if pair {
                    attention_heads_avx2::<2>(&a, &heads, att, o)
                } else {
                    attention_heads_avx2::<1>(&a, &heads, att, o)
                }
            };
        }
        if pair {
            attention_heads::<2>(&a, &heads, att, o)
        } else {
            attention_heads::<1>(&a, &heads, att, o)
        }
    });
}

/// `G` consecutive query heads that read the same KV head.
struct Heads<'a> {
    /// Their queries, `G · head_dim` values.
    q: &'a [f32],
    kvh: usize,
    /// Distance between two heads' rows in the scores buffer.
    stride: usize,
    inv_sqrt: f32,
}

/// [`attention_heads`] compiled for AVX2 (no FMA): the same operations in the same
/// order, eight lanes at a time instead of four, so the results are bit-identical and
/// the scalar kernel set still reproduces them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn attention_heads_avx2<const G: usize>(
    a: &AttentionArgs<'_>,
    h: &Heads<'_>,
    att: &mut [f32],
    o: &mut [f32],
) {
    attention_heads::<G>(a, h, att, o)
}

/// Output values accumulated per pass over the value cache: the partial sums of a chunk
/// stay in registers while every value row streams past.
const OUT_CHUNK: usize = 32;

/// How many key rows ahead of the one being read attention prefetches.
const KEY_ROWS_AHEAD: usize = 4;

/// Prefetches every cache line of `v` (nothing for `None`) into L1, or into L2 when
/// `L1` is false. A hint only: results never depend on it.
#[inline(always)]
fn prefetch<const L1: bool>(v: Option<&[f32]>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(v) = v {
        use std::arch::x86_64::{_MM_HINT_T0, _MM_HINT_T1, _mm_prefetch};
        for line in v.chunks(16) {
            let p = line.as_ptr() as *const i8;
            // SAFETY: prefetch never faults, and `p` points into `v` anyway.
            unsafe {
                if L1 {
                    _mm_prefetch::<_MM_HINT_T0>(p)
                } else {
                    _mm_prefetch::<_MM_HINT_T1>(p)
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// `G` query heads: scores against every cached key, softmax, weighted sum of values.
/// Per head, every output value is Σ_t w_t·v_t summed in position order from 0.
#[inline(always)]
fn attention_heads<const G: usize>(
    a: &AttentionArgs<'_>,
    h: &Heads<'_>,
    att: &mut [f32],
    o: &mut [f32],
) {
    let hd = a.head_dim;
    let seq = a.pos + 1;
    let keys = &a.keys[h.kvh * a.max_seq * hd..][..seq * hd];
    let values = &a.values[h.kvh * a.max_seq * hd..][..seq * hd];
    for (t, k) in keys.chunks_exact(hd).enumerate() {
        // The cache comes from memory (the weights streamed since evicted it): fetch
        // keys a few rows ahead into L1 and this row's values into L2 for the second
        // pass.
        prefetch::<true>(keys.get((t + KEY_ROWS_AHEAD) * hd..(t + KEY_ROWS_AHEAD + 1) * hd));
        prefetch::<false>(values.get(t * hd..(t + 1) * hd));
        for g in 0..G {
            att[g * h.stride + t] = dot_f32(&h.q[g * hd..(g + 1) * hd], k) * h.inv_sqrt;
        }
    }
    for g in 0..G {
        softmax(&mut att[g * h.stride..g * h.stride + seq]);
    }
    // Chunks of 32, then 8, then single values, each chunk's sums held in registers.
    let mut c = 0;
    while c + OUT_CHUNK <= hd {
        weighted_values::<G, OUT_CHUNK>(values, hd, h, att, o, c);
        c += OUT_CHUNK;
    }
    while c + 8 <= hd {
        weighted_values::<G, 8>(values, hd, h, att, o, c);
        c += 8;
    }
    while c < hd {
        weighted_values::<G, 1>(values, hd, h, att, o, c);
        c += 1;
    }
}

/// `o[g][c..c + N] = Σ_t att[g][t] · v_t[c..c + N]` for the `G` heads, positions in order,
/// over the KV head's value rows (`hd` values each).
#[inline(always)]
fn weighted_values<const G: usize, const N: usize>(
    values: &[f32],
    hd: usize,
    h: &Heads<'_>,
    att: &[f32],
    o: &mut [f32],
    c: usize,
) {
    let mut acc = [[0.0f32; N]; G];
    for (t, row) in values.chunks_exact(hd).enumerate() {
        let v: &[f32; N] = row[c..c + N].try_into().expect("N values");
        for (g, acc) in acc.iter_mut().enumerate() {
            let w = att[g * h.stride + t];
            for (s, &vi) in acc.iter_mut().zip(v) {
                *s += w * vi;
            }
        }
    }
    for (g, acc) in acc.iter().enumerate() {
        o[g * hd + c..g * hd + c + N].copy_from_slice(acc);
    }
}

#[inline(always)]
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}

avx2_twin! {
/// gate = relu(gate)² · up (BitNet b1.58's squared-ReLU gated FFN).
pub fn relu2_gate(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        let r = g.max(0.0);
        *g = r * r * u;
    }
}
}

avx2_twin! {
/// gate = silu(gate) · up (older BitNet GGUFs and llama.cpp's `bitnet` architecture).
pub fn silu_gate(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}
}

avx2_twin! {
pub fn residual_add(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
}

/// Index of the largest logit (the first on ties; NaNs are never picked, and a NaN
/// first logit yields 0, as a plain left-to-right scan gives).
pub fn argmax(x: &[f32]) -> u32 {
    if x.is_empty() || x[0].is_nan() {
        return 0;
    }
    first_max(x).map_or(0, |(_, i)| i as u32)
}

/// [`argmax`] over the team: each thread scans a part (mostly the logits it just wrote,
/// still in its own cache) and the parts' winners are compared in order.
pub fn argmax_on(team: &Team, x: &[f32]) -> u32 {
    if x.is_empty() || x[0].is_nan() {
        return 0;
    }
    let part = x.len().div_ceil(team.threads());
    let mut found = vec![None; x.len().div_ceil(part)];
    let tasks: Vec<_> = x.chunks(part).zip(found.iter_mut()).enumerate().collect();
    for_each_task(team, tasks, |(p, (xs, slot))| {
        *slot = first_max(xs).map(|(v, i)| (v, p * part + i));
    });
    // Parts in order, replaced only by a strictly larger value: the first index wins.
    found
        .into_iter()
        .flatten()
        .fold(None, |best: Option<(f32, usize)>, (v, i)| match best {
            Some((b, _)) if v <= b => best,
            _ => Some((v, i)),
        })
        .map_or(0, |(_, i)| i as u32)
}

avx2_twin! {
/// The largest non-NaN value of `x` and the first index holding it; `None` when every
/// value is NaN.
pub fn first_max(x: &[f32]) -> Option<(f32, usize)> {
    // Two passes the compiler can vectorise (a lane-wise max, then the first index
    // holding it, stopping there) instead of one scan whose loop-carried index keeps
    // it scalar: 2B-4T has 128k logits per token.
    let mut lanes = [f32::NEG_INFINITY; 16];
    let chunks = x.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            // `v > l` skips NaNs like the scan's comparison does.
            *l = if v > *l { v } else { *l };
        }
    }
    let best = lanes
        .iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    // The first index holding it: chunks tested without an early exit (which would not
    // vectorise), then a scan of the first chunk that has it.
    const CHUNK: usize = 256;
    let chunk = x
        .chunks(CHUNK)
        .position(|c| c.iter().fold(false, |hit, &v| hit | (v == best)))?;
    let i = chunk * CHUNK + x[chunk * CHUNK..].iter().position(|&v| v == best)?;
    Some((best, i))
}
}

/// Dot product with eight independent accumulators so it vectorises.
#[inline(always)]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}
