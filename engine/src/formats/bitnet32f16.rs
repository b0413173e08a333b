//! BitNet32-F16: 32 weights per 10-byte block: 8 code bytes (weight 4k+n at bits 2n of
//! byte k, LSB first), then an f16 scale; the value is (code − 2)·scale.
//! Scalar kernel only.

use crate::f16::{f16_to_f32, f32_to_f16};
use crate::kernels::QuantizedActivation;

pub const BLOCK: usize = 32;
pub const BLOCK_BYTES: usize = 10;

pub fn row_bytes(cols: usize) -> usize {
    cols / BLOCK * BLOCK_BYTES
}

/// Packs values in −2..=1 (ternary weights use −1, 0, +1) with one scale per block.
pub fn pack_row(values: &[i8], scales: &[f32], out: &mut [u8]) {
    for ((vb, ob), &d) in values
        .chunks_exact(BLOCK)
        .zip(out.chunks_exact_mut(BLOCK_BYTES))
        .zip(scales)
    {
        for k in 0..8 {
            ob[k] = (0..4).fold(0u8, |byte, n| {
                byte | (((vb[4 * k + n] + 2) as u8 & 3) << (2 * n))
            });
        }
        ob[8..10].copy_from_slice(&f32_to_f16(d).to_le_bytes());
    }
}

pub fn dequantize_row(row: &[u8], out: &mut [f32]) {
    for (b, ob) in row
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        let d = f16_to_f32(u16::from_le_bytes([b[8], b[9]]));
        for k in 0..8 {
            for n in 0..4 {
                ob[4 * k + n] = (((b[k] >> (2 * n)) & 3) as f32 - 2.0) * d;
            }
        }
    }
}

/// Scalar reference: Σ_blocks d · (Σ code·q − 2·Σq).
pub fn dot_scalar(row: &[u8], a: &QuantizedActivation) -> f32 {
    let mut acc = 0.0f32;
    for (bi, (b, qb)) in row
        .chunks_exact(BLOCK_BYTES)
        .zip(a.q.chunks_exact(BLOCK))
        .enumerate()
    {
        let mut isum: i32 = 0;
        for k in 0..8 {
            for n in 0..4 {
                isum += ((b[k] >> (2 * n)) & 3) as i32 * qb[4 * k + n] as i32;
            }
        }
        isum -= 2 * a.block_sum(bi * BLOCK, BLOCK);
        acc += f16_to_f32(u16::from_le_bytes([b[8], b[9]])) * isum as f32;
    }
    acc
}
