//! The small scalar operations of the decoder, one named function each (llama2.c
//! style). They are cheap next to the weight GEMVs, so they stay scalar and readable;
//! loops are written so the compiler can vectorise them.

use super::QuantizedActivation;
use super::team::{Team, for_each_task};

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

/// Rotary embedding with NeoX pairing: within each head, element i pairs with
/// i + head_dim/2, rotated by pos·θ^(−2i/head_dim).
pub fn rope_neox(v: &mut [f32], head_dim: usize, pos: usize, theta: f32) {
    let half = head_dim / 2;
    let mut cos_sin = [(0.0f32, 0.0f32); 256];
    let table = &mut cos_sin[..half.min(256)];
    for (i, cs) in table.iter_mut().enumerate() {
        let freq = (theta as f64).powf(-2.0 * i as f64 / head_dim as f64);
        let (s, c) = (pos as f64 * freq).sin_cos();
        *cs = (c as f32, s as f32);
    }
    for head in v.chunks_exact_mut(head_dim) {
        let (a, b) = head.split_at_mut(half);
        for ((x0, x1), &(c, s)) in a.iter_mut().zip(b.iter_mut()).zip(table.iter()) {
            let (u, w) = (*x0, *x1);
            *x0 = u * c - w * s;
            *x1 = u * s + w * c;
        }
    }
}

/// Inputs of causal grouped-query attention over the KV cache of one layer.
pub struct AttentionArgs<'a> {
    /// Queries of all heads for the current position.
    pub q: &'a [f32],
    /// Keys of positions 0..=pos, `kv_dim` values each.
    pub keys: &'a [f32],
    pub values: &'a [f32],
    pub pos: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// Softmax(q·kᵀ/√d)·v per head; query head h reads KV head h / (heads / kv_heads).
pub fn attention(team: &Team, a: AttentionArgs<'_>, out: &mut [f32], scores: &mut [f32]) {
    let hd = a.head_dim;
    let group = a.heads / a.kv_heads;
    let seq = a.pos + 1;
    let stride = scores.len() / a.heads;
    let inv_sqrt = 1.0 / (hd as f32).sqrt();
    let tasks: Vec<_> = out
        .chunks_mut(hd)
        .zip(scores.chunks_mut(stride))
        .enumerate()
        .collect();
    for_each_task(team, tasks, |(h, (o, att))| {
        let q = &a.q[h * hd..(h + 1) * hd];
        let kvh = h / group;
        let att = &mut att[..seq];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was just detected.
            return unsafe { attention_head_avx2(&a, q, kvh, att, o, inv_sqrt) };
        }
        attention_head(&a, q, kvh, att, o, inv_sqrt)
    });
}

/// [`attention_head`] compiled for AVX2 (no FMA): the same operations in the same
/// order, eight lanes at a time instead of four, so the results are bit-identical and
/// the scalar kernel set still reproduces them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn attention_head_avx2(
    a: &AttentionArgs<'_>,
    q: &[f32],
    kvh: usize,
    att: &mut [f32],
    o: &mut [f32],
    inv_sqrt: f32,
) {
    attention_head(a, q, kvh, att, o, inv_sqrt)
}

/// One query head: scores against every cached key, softmax, weighted sum of values.
#[inline(always)]
fn attention_head(
    a: &AttentionArgs<'_>,
    q: &[f32],
    kvh: usize,
    att: &mut [f32],
    o: &mut [f32],
    inv_sqrt: f32,
) {
    let hd = a.head_dim;
    let kv_dim = a.kv_heads * hd;
    for (t, s) in att.iter_mut().enumerate() {
        let k = &a.keys[t * kv_dim + kvh * hd..t * kv_dim + (kvh + 1) * hd];
        *s = dot_f32(q, k) * inv_sqrt;
    }
    softmax(att);
    o.fill(0.0);
    for (t, &w) in att.iter().enumerate() {
        let v = &a.values[t * kv_dim + kvh * hd..t * kv_dim + (kvh + 1) * hd];
        for (oi, &vi) in o.iter_mut().zip(v) {
            *oi += w * vi;
        }
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

/// gate = relu(gate)² · up (BitNet b1.58's squared-ReLU gated FFN).
pub fn relu2_gate(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        let r = g.max(0.0);
        *g = r * r * u;
    }
}

/// gate = silu(gate) · up (older BitNet GGUFs and llama.cpp's `bitnet` architecture).
pub fn silu_gate(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}

pub fn residual_add(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Index of the largest logit (the first on ties; NaNs are never picked, and a NaN
/// first logit yields 0, as a plain left-to-right scan gives).
pub fn argmax(x: &[f32]) -> u32 {
    // Two passes the compiler can vectorise (a lane-wise max, then the first index
    // holding it) instead of one scan with a loop-carried index: 128k logits took
    // ~170 µs per token in the scan.
    if x.is_empty() || x[0].is_nan() {
        return 0;
    }
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
        .fold(x[0], |m, &v| if v > m { v } else { m });
    x.iter().position(|&v| v == best).unwrap_or(0) as u32
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
