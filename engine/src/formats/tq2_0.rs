//! TQ2_0 (llama.cpp, ggml type 35): 256 weights per 66-byte block `{qs[64]; f16 d}`.
//! In each 128-weight half j, byte qs[32j+m] holds weight 128j+m+32n at bits 2n
//! (LSB first); the value is (code − 1)·d.

use crate::kernels::QuantizedActivation;
use half::f16;

pub const BLOCK: usize = 256;
pub const BLOCK_BYTES: usize = 66;

pub fn row_bytes(cols: usize) -> usize {
    cols / BLOCK * BLOCK_BYTES
}

/// Inside the dot products: half's software path, inlined, so no feature check or
/// call per block (the AVX2 kernel converts with F16C itself).
fn block_scale(b: &[u8]) -> f32 {
    f16::from_le_bytes([b[64], b[65]]).to_f32_const()
}

/// Packs ternary values with one scale per block (as f16).
pub fn pack_row(values: &[i8], scales: &[f32], out: &mut [u8]) {
    for ((vb, ob), &d) in values
        .chunks_exact(BLOCK)
        .zip(out.chunks_exact_mut(BLOCK_BYTES))
        .zip(scales)
    {
        ob[..64].fill(0);
        for j in 0..2 {
            for m in 0..32 {
                for n in 0..4 {
                    let code = (vb[128 * j + m + 32 * n] + 1) as u8 & 3;
                    ob[32 * j + m] |= code << (2 * n);
                }
            }
        }
        ob[64..66].copy_from_slice(&f16::from_f32(d).to_le_bytes());
    }
}

pub fn dequantize_row(row: &[u8], out: &mut [f32]) {
    for (b, ob) in row
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        let d = block_scale(b);
        for j in 0..2 {
            for m in 0..32 {
                for n in 0..4 {
                    let code = (b[32 * j + m] >> (2 * n)) & 3;
                    ob[128 * j + m + 32 * n] = (code as f32 - 1.0) * d;
                }
            }
        }
    }
}

/// Scalar reference: Σ_blocks d · Σ (code − 1)·q.
pub fn dot_scalar(row: &[u8], a: &QuantizedActivation) -> f32 {
    let mut acc = 0.0f32;
    for (bi, (b, qb)) in row
        .chunks_exact(BLOCK_BYTES)
        .zip(a.q.chunks_exact(BLOCK))
        .enumerate()
    {
        let mut isum: i32 = 0;
        for j in 0..2 {
            for m in 0..32 {
                let byte = b[32 * j + m];
                for n in 0..4 {
                    isum += ((byte >> (2 * n)) & 3) as i32 * qb[128 * j + m + 32 * n] as i32;
                }
            }
        }
        isum -= a.block_sum(bi * BLOCK, BLOCK);
        acc += block_scale(b) * isum as f32;
    }
    acc
}

/// TQ2_0 against Q8_K activations (`a.block_scales`), as llama.cpp's
/// `ggml_vec_dot_tq2_0_q8_K`: Σ_blocks (a.d · d) · Σ (code − 1)·q.
pub fn dot_q8k_scalar(row: &[u8], a: &QuantizedActivation) -> f32 {
    let mut acc = 0.0f32;
    for (bi, (b, qb)) in row
        .chunks_exact(BLOCK_BYTES)
        .zip(a.q.chunks_exact(BLOCK))
        .enumerate()
    {
        let mut isum: i32 = 0;
        for j in 0..2 {
            for m in 0..32 {
                let byte = b[32 * j + m];
                for n in 0..4 {
                    isum += (((byte >> (2 * n)) & 3) as i32 - 1) * qb[128 * j + m + 32 * n] as i32;
                }
            }
        }
        acc += isum as f32 * (a.block_scales[bi] * block_scale(b));
    }
    acc
}

/// AVX2: each 32-byte half gives four vectors of 32 codes against contiguous runs of
/// activations; the per-block integer sums are scaled by d in f32.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C; `row` holds `a.q.len() / 256` blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot_avx2(row: &[u8], a: &QuantizedActivation) -> f32 {
    use std::arch::x86_64::*;
    let mask = _mm256_set1_epi8(3);
    let ones = _mm256_set1_epi16(1);
    let mut accf = _mm256_setzero_ps();
    let mut correction = 0.0f32;
    for (bi, b) in row.chunks_exact(BLOCK_BYTES).enumerate() {
        let q = a.q[bi * BLOCK..].as_ptr();
        let mut acc = _mm256_setzero_si256();
        for j in 0..2 {
            // SAFETY: the half-block of 32 bytes and its 128 activations are in bounds.
            unsafe {
                let w = _mm256_loadu_si256(b.as_ptr().add(32 * j) as *const __m256i);
                let qj = q.add(128 * j);
                let c0 = _mm256_and_si256(w, mask);
                let c1 = _mm256_and_si256(_mm256_srli_epi16(w, 2), mask);
                let c2 = _mm256_and_si256(_mm256_srli_epi16(w, 4), mask);
                let c3 = _mm256_and_si256(_mm256_srli_epi16(w, 6), mask);
                let p = _mm256_add_epi16(
                    _mm256_add_epi16(
                        _mm256_maddubs_epi16(c0, _mm256_loadu_si256(qj as *const __m256i)),
                        _mm256_maddubs_epi16(c1, _mm256_loadu_si256(qj.add(32) as *const __m256i)),
                    ),
                    _mm256_add_epi16(
                        _mm256_maddubs_epi16(c2, _mm256_loadu_si256(qj.add(64) as *const __m256i)),
                        _mm256_maddubs_epi16(c3, _mm256_loadu_si256(qj.add(96) as *const __m256i)),
                    ),
                );
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
            }
        }
        // F16C, exact like every IEEE conversion of an f16.
        let h = u16::from_le_bytes([b[64], b[65]]);
        let d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h as i32)));
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(d), accf);
        correction += d * a.block_sum(bi * BLOCK, BLOCK) as f32;
    }
    crate::kernels::lm_head::hsum_ps_256(accf) - correction
}
