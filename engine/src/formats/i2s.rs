//! I2_S (bitnet.cpp, x86 `ACT_PARALLEL` layout, ggml type 36 in its fork).
//! A block is 128 weights in 32 bytes: byte g holds weights g, g+32, g+64, g+96 in bits
//! 7:6, 5:4, 3:2, 1:0; code 0 → −1, 1 → 0, 2 → +1. The tensor ends with a 32-byte tail
//! whose first 4 bytes are one f32 scale for the whole tensor.
//! The GEMV computes Σ code·q − Σ q (code = w + 1), so it needs only unsigned codes.

use crate::kernels::QuantizedActivation;

pub const BLOCK: usize = 128;
pub const BLOCK_BYTES: usize = 32;
pub const TAIL_BYTES: usize = 32;

/// How far ahead of the bytes being read the lm_head and the calibration reads prefetch,
/// into L2 (the GEMVs use [`GEMV_PREFETCH_L2`]). Rows are short (640 bytes for 2B-4T's
/// ternary matrices), so the hardware prefetcher alone starts too late. Far ahead into
/// L2 streamed faster than a little ahead into L1, or no prefetch at all
/// (engine/examples/kernel_bandwidth.rs shows the rates when this is changed).
pub const PREFETCH_AHEAD: usize = 8192;

/// The I2_S GEMVs prefetch each line twice: into L2 [`GEMV_PREFETCH_L2`] bytes ahead,
/// then into L1 [`GEMV_PREFETCH_L1`] bytes ahead, so the loads themselves hit L1: the
/// GEMVs compute enough per byte that loads waiting on L2 would catch up with the
/// prefetches (engine/examples/kernel_bandwidth.rs compares the GEMVs with the
/// calibration read). The calibration reads compute little per byte and streamed
/// slower with the extra step, so they keep the single one.
pub const GEMV_PREFETCH_L2: usize = 16384;
pub const GEMV_PREFETCH_L1: usize = 2048;

pub fn row_bytes(cols: usize) -> usize {
    cols / 4
}

/// Bytes of a whole I2_S tensor as bitnet.cpp stores it: codes, then the 32-byte tail.
pub fn tensor_bytes(rows: usize, cols: usize) -> usize {
    rows * row_bytes(cols) + TAIL_BYTES
}

/// Packs ternary values (−1, 0, +1) of one row.
pub fn pack_row(values: &[i8], out: &mut [u8]) {
    for (vb, ob) in values
        .chunks_exact(BLOCK)
        .zip(out.chunks_exact_mut(BLOCK_BYTES))
    {
        for g in 0..32 {
            let code = |v: i8| (v + 1) as u8 & 3;
            ob[g] =
                code(vb[g]) << 6 | code(vb[g + 32]) << 4 | code(vb[g + 64]) << 2 | code(vb[g + 96]);
        }
    }
}

pub fn dequantize_row(row: &[u8], out: &mut [f32]) {
    for (b, ob) in row
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        for g in 0..32 {
            for (n, shift) in [6, 4, 2, 0].into_iter().enumerate() {
                ob[g + 32 * n] = ((b[g] >> shift) & 3) as f32 - 1.0;
            }
        }
    }
}

/// Scalar reference: Σ (code − 1)·q over the row.
pub fn dot_scalar(row: &[u8], a: &QuantizedActivation) -> f32 {
    let mut acc: i32 = 0;
    for (b, qb) in row.chunks_exact(BLOCK_BYTES).zip(a.q.chunks_exact(BLOCK)) {
        for g in 0..32 {
            let byte = b[g];
            acc += ((byte >> 6) & 3) as i32 * qb[g] as i32
                + ((byte >> 4) & 3) as i32 * qb[g + 32] as i32
                + ((byte >> 2) & 3) as i32 * qb[g + 64] as i32
                + (byte & 3) as i32 * qb[g + 96] as i32;
        }
    }
    (acc - a.sum) as f32
}

/// AVX2: one 32-byte load gives four vectors of 32 codes that line up with four
/// contiguous runs of 32 activations; `maddubs` multiplies u8 codes by i8 activations.
///
/// # Safety
/// The CPU must support AVX2; `row.len() * 4 == q.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn dot_avx2(row: &[u8], a: &QuantizedActivation) -> f32 {
    use std::arch::x86_64::*;
    debug_assert!(row.len() * 4 == a.q.len());
    let mask = _mm256_set1_epi8(3);
    let ones = _mm256_set1_epi16(1);
    let mut acc = _mm256_setzero_si256();
    let qp = a.q.as_ptr();
    for b in 0..row.len() / BLOCK_BYTES {
        // SAFETY: b < nblocks keeps every load inside the row and `a.q`.
        unsafe {
            let q = qp.add(b * BLOCK);
            let qv = [0, 1, 2, 3].map(|n| _mm256_loadu_si256(q.add(32 * n) as *const __m256i));
            let at = row.as_ptr().wrapping_add(b * 32);
            _mm_prefetch::<_MM_HINT_T1>(at.wrapping_add(GEMV_PREFETCH_L2) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(GEMV_PREFETCH_L1) as *const i8);
            let w = _mm256_loadu_si256(row.as_ptr().add(b * 32) as *const __m256i);
            let c0 = _mm256_and_si256(_mm256_srli_epi16(w, 6), mask);
            let c1 = _mm256_and_si256(_mm256_srli_epi16(w, 4), mask);
            let c2 = _mm256_and_si256(_mm256_srli_epi16(w, 2), mask);
            let c3 = _mm256_and_si256(w, mask);
            // Each 16-bit lane is at most 2·3·128 = 768 in magnitude; four add to ≤ 3072.
            let p = _mm256_add_epi16(
                _mm256_add_epi16(
                    _mm256_maddubs_epi16(c0, qv[0]),
                    _mm256_maddubs_epi16(c1, qv[1]),
                ),
                _mm256_add_epi16(
                    _mm256_maddubs_epi16(c2, qv[2]),
                    _mm256_maddubs_epi16(c3, qv[3]),
                ),
            );
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
        }
    }
    (hsum_epi32_256(acc) - a.sum) as f32
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn hsum_epi32_256(v: std::arch::x86_64::__m256i) -> i32 {
    use std::arch::x86_64::*;
    let lo = _mm256_castsi256_si128(v);
    let hi = _mm256_extracti128_si256(v, 1);
    let s = _mm_add_epi32(lo, hi);
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    _mm_cvtsi128_si32(s)
}

/// Rearranges activations for [`dot_avx512vnni`]: for each pair of blocks, the 32
/// activations each shift group needs from both blocks sit in one 64-byte run. An odd
/// last block keeps its natural order.
pub fn permute_for_pairs(q: &[i8], out: &mut Vec<i8>) {
    out.clear();
    out.resize(q.len(), 0);
    let pairs = q.len() / (2 * BLOCK);
    for p in 0..pairs {
        let base = p * 2 * BLOCK;
        for s in 0..4 {
            let dst = base + s * 64;
            out[dst..dst + 32].copy_from_slice(&q[base + s * 32..base + s * 32 + 32]);
            out[dst + 32..dst + 64]
                .copy_from_slice(&q[base + BLOCK + s * 32..base + BLOCK + s * 32 + 32]);
        }
    }
    let done = pairs * 2 * BLOCK;
    out[done..].copy_from_slice(&q[done..]);
}

/// AVX-512 VNNI: a 64-byte load covers two blocks; `vpdpbusd` multiplies u8 codes by
/// i8 activations and accumulates into i32 directly. `perm` comes from
/// [`permute_for_pairs`].
///
/// # Safety
/// The CPU must support AVX-512F/BW/VL and AVX-512 VNNI; `perm.len() == row.len() * 4`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2")]
#[inline]
pub unsafe fn dot_avx512vnni(row: &[u8], perm: &[i8], sum: i32) -> f32 {
    use std::arch::x86_64::*;
    debug_assert!(row.len() * 4 == perm.len());
    // Codes are masked in place, not shifted: group g (bits 7:6, 5:4, 3:2, 1:0) enters
    // vpdpbusd as code·64, ·16, ·4, ·1, each in its own accumulator, and every lane is
    // shifted back exactly once per row. A lane sums (cols/16)·4 products of at most
    // 192·128, so it stays below 2^31 for rows up to 1.3 million weights.
    let m = [0xC0u8, 0x30, 0x0C, 0x03].map(|b| _mm512_set1_epi8(b as i8));
    let mut acc = [_mm512_setzero_si512(); 4];
    let nblocks = row.len() / BLOCK_BYTES;
    let pairs = nblocks / 2;
    let qp = perm.as_ptr();
    for p in 0..pairs {
        // SAFETY: p < pairs keeps each 64-byte weight load and the four 64-byte
        // activation loads inside `row` and `perm`; prefetch never faults.
        unsafe {
            let q = qp.add(p * 2 * BLOCK);
            let qv = [0, 1, 2, 3].map(|g| _mm512_loadu_si512(q.add(64 * g) as *const _));
            let at = row.as_ptr().wrapping_add(p * 64);
            _mm_prefetch::<_MM_HINT_T1>(at.wrapping_add(GEMV_PREFETCH_L2) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(GEMV_PREFETCH_L1) as *const i8);
            let w = _mm512_loadu_si512(row.as_ptr().add(p * 64) as *const _);
            for g in 0..4 {
                acc[g] = _mm512_dpbusd_epi32(acc[g], _mm512_and_si512(w, m[g]), qv[g]);
            }
        }
    }
    let lanes = _mm512_add_epi32(
        _mm512_add_epi32(_mm512_srai_epi32(acc[0], 6), _mm512_srai_epi32(acc[1], 4)),
        _mm512_add_epi32(_mm512_srai_epi32(acc[2], 2), acc[3]),
    );
    let mut total = _mm512_reduce_add_epi32(lanes);
    if nblocks % 2 == 1 {
        let b = nblocks - 1;
        // SAFETY: the last block lies inside both slices (natural order in `perm`).
        unsafe {
            let mask = _mm256_set1_epi8(3);
            let w = _mm256_loadu_si256(row.as_ptr().add(b * 32) as *const __m256i);
            let q = qp.add(b * BLOCK);
            let mut acc = _mm256_setzero_si256();
            for (n, shift) in [6, 4, 2, 0].into_iter().enumerate() {
                let c = _mm256_and_si256(_mm256_srlv_epi16(w, _mm256_set1_epi16(shift)), mask);
                acc = _mm256_dpbusd_epi32(
                    acc,
                    c,
                    _mm256_loadu_si256(q.add(32 * n) as *const __m256i),
                );
            }
            total += hsum_epi32_256(acc);
        }
    }
    (total - sum) as f32
}

/// `out[i] = post · dot(row i)` over the consecutive rows in `rows` (`out.len()` rows
/// of `row_bytes`), one row at a time: the row loop stays inside the AVX-512 code, with
/// no call and `vzeroupper` per row. Two or four rows at once (sharing the activation
/// loads) streamed no faster.
///
/// # Safety
/// As [`dot_avx512vnni`]; `rows.len() == out.len() * row_bytes`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2")]
pub unsafe fn gemv_avx512vnni(
    rows: &[u8],
    row_bytes: usize,
    perm: &[i8],
    sum: i32,
    post: f32,
    out: &mut [f32],
) {
    debug_assert_eq!(rows.len(), out.len() * row_bytes);
    for (row, y) in rows.chunks_exact(row_bytes).zip(out) {
        // SAFETY: forwarded contract.
        *y = unsafe { dot_avx512vnni(row, perm, sum) } * post;
    }
}

/// [`gemv_avx512vnni`] with the AVX2 row kernel.
///
/// # Safety
/// As [`dot_avx2`]; `rows.len() == out.len() * row_bytes`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn gemv_avx2(
    rows: &[u8],
    row_bytes: usize,
    a: &QuantizedActivation,
    post: f32,
    out: &mut [f32],
) {
    debug_assert_eq!(rows.len(), out.len() * row_bytes);
    for (row, y) in rows.chunks_exact(row_bytes).zip(out) {
        // SAFETY: forwarded contract.
        *y = unsafe { dot_avx2(row, a) } * post;
    }
}
