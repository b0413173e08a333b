//! The output layer: logits = E·x over the tied F16 (or F32) embedding, unquantised
//! activations. Scalar reference plus F16C/AVX2 and AVX-512 variants.

use std::sync::OnceLock;

use half::f16;

fn f16_table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| (0..=u16::MAX).map(|h| f16::from_bits(h).to_f32()).collect())
}

/// Scalar reference: Σ f32(e_i)·x_i in order.
pub fn dot_f16_scalar(row: &[u8], x: &[f32]) -> f32 {
    let table = f16_table();
    row.chunks_exact(2)
        .zip(x)
        .map(|(b, &xi)| table[u16::from_le_bytes([b[0], b[1]]) as usize] * xi)
        .sum()
}

pub fn dot_f32_scalar(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut tail = 0.0;
    let rows = row.chunks_exact(32);
    let xs = x.chunks_exact(8);
    for (b, xc) in rows.remainder().chunks_exact(4).zip(xs.remainder()) {
        tail += f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * xc;
    }
    for (b, xc) in rows.zip(xs) {
        for i in 0..8 {
            acc[i] +=
                f32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]) * xc[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Four accumulators, each taking two FMAs per 64 elements, and the lm_head's L2
/// prefetch: fewer independent FMA chains and no prefetch leave too few loads in
/// flight to keep the memory busy, and this kernel must stream at the memory's rate
/// like the AVX-512 one.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C; `row.len() == 2 * x.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn dot_f16_avx2(row: &[u8], x: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = x.len();
    let (rp, xp) = (row.as_ptr(), x.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load below reads elements i..i+64 (or i..i+8) with that bound
    // checked against n, and row holds 2n bytes; prefetch never faults.
    unsafe {
        while i + 64 <= n {
            let ahead = rp.wrapping_add(2 * i + crate::formats::i2s::PREFETCH_AHEAD);
            _mm_prefetch::<_MM_HINT_T1>(ahead as *const i8);
            _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(64) as *const i8);
            for (j, a) in acc.iter_mut().enumerate() {
                let at = i + 16 * j;
                let lo = _mm256_cvtph_ps(_mm_loadu_si128(rp.add(2 * at) as *const __m128i));
                let hi = _mm256_cvtph_ps(_mm_loadu_si128(rp.add(2 * at + 16) as *const __m128i));
                *a = _mm256_fmadd_ps(lo, _mm256_loadu_ps(xp.add(at)), *a);
                *a = _mm256_fmadd_ps(hi, _mm256_loadu_ps(xp.add(at + 8)), *a);
            }
            i += 64;
        }
        while i + 8 <= n {
            let e = _mm256_cvtph_ps(_mm_loadu_si128(rp.add(2 * i) as *const __m128i));
            acc[0] = _mm256_fmadd_ps(e, _mm256_loadu_ps(xp.add(i)), acc[0]);
            i += 8;
        }
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut sum = hsum_ps_256(s);
    for j in i..n {
        sum += f16::from_le_bytes([row[2 * j], row[2 * j + 1]]).to_f32() * x[j];
    }
    sum
}

/// [`rows_f16_avx512`] with the AVX2 row kernel.
///
/// # Safety
/// As [`dot_f16_avx2`]; `rows.len() == out.len() * 2 * x.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_f16_avx2(rows: &[u8], x: &[f32], out: &mut [f32]) {
    debug_assert_eq!(rows.len(), out.len() * 2 * x.len());
    for (row, y) in rows.chunks_exact(2 * x.len()).zip(out) {
        // SAFETY: forwarded contract.
        *y = unsafe { dot_f16_avx2(row, x) };
    }
}

/// # Safety
/// The CPU must support AVX-512F (and AVX2, FMA, F16C); `row.len() == 2 * x.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
#[inline]
pub unsafe fn dot_f16_avx512(row: &[u8], x: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = x.len();
    let (rp, xp) = (row.as_ptr(), x.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads elements i..i+64 (or i..i+16) with that bound checked
    // against n, and row holds 2n bytes; prefetch never faults.
    unsafe {
        while i + 64 <= n {
            let ahead = rp.wrapping_add(2 * i + crate::formats::i2s::PREFETCH_AHEAD);
            _mm_prefetch::<_MM_HINT_T1>(ahead as *const i8);
            _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(64) as *const i8);
            for (j, a) in acc.iter_mut().enumerate() {
                let e = _mm512_cvtph_ps(_mm256_loadu_si256(
                    rp.add(2 * (i + 16 * j)) as *const __m256i
                ));
                *a = _mm512_fmadd_ps(e, _mm512_loadu_ps(xp.add(i + 16 * j)), *a);
            }
            i += 64;
        }
        while i + 16 <= n {
            let e0 = _mm512_cvtph_ps(_mm256_loadu_si256(rp.add(2 * i) as *const __m256i));
            acc[0] = _mm512_fmadd_ps(e0, _mm512_loadu_ps(xp.add(i)), acc[0]);
            i += 16;
        }
    }
    let acc0 = _mm512_add_ps(acc[0], acc[2]);
    let acc1 = _mm512_add_ps(acc[1], acc[3]);
    let mut sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for j in i..n {
        sum += f16::from_le_bytes([row[2 * j], row[2 * j + 1]]).to_f32() * x[j];
    }
    sum
}

/// `out[i] = dot(row i, x)` over the consecutive rows in `rows` (`out.len()` rows of
/// `2 · x.len()` bytes), the row loop inside the AVX-512 code: no call and no
/// `vzeroupper` per 5 KiB row.
///
/// # Safety
/// As [`dot_f16_avx512`]; `rows.len() == out.len() * 2 * x.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub unsafe fn rows_f16_avx512(rows: &[u8], x: &[f32], out: &mut [f32]) {
    debug_assert_eq!(rows.len(), out.len() * 2 * x.len());
    for (row, y) in rows.chunks_exact(2 * x.len()).zip(out) {
        // SAFETY: forwarded contract.
        *y = unsafe { dot_f16_avx512(row, x) };
    }
}

/// Horizontal sum of eight f32 lanes.
///
/// # Safety
/// Callable only where AVX2 is enabled (from other AVX2 kernels).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub fn hsum_ps_256(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}
