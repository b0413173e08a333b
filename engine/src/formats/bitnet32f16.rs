//! BitNet32-F16: 32 weights per 10-byte block: 8 code bytes (weight 4k+n at bits 2n of
//! byte k, LSB first), then an f16 scale; the value is (code − 2)·scale.
//! Scalar kernel only.

use crate::kernels::QuantizedActivation;
use half::f16;
use half::slice::HalfFloatSliceExt;

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
        ob[8..10].copy_from_slice(&f16::from_f32(d).to_le_bytes());
    }
}

pub fn dequantize_row(row: &[u8], out: &mut [f32]) {
    for (b, ob) in row
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        let d = f16::from_le_bytes([b[8], b[9]]).to_f32();
        for k in 0..8 {
            for n in 0..4 {
                ob[4 * k + n] = (((b[k] >> (2 * n)) & 3) as f32 - 2.0) * d;
            }
        }
    }
}

/// Blocks whose scales are widened together before their dot products. A block is
/// only 32 weights, so a conversion call per block would cost a large share of the
/// loop; half widens a slice at once (with F16C where the CPU has it).
const SCALE_RUN: usize = 64;

/// Scalar reference: Σ_blocks d · (Σ code·q − 2·Σq), blocks in order.
pub fn dot_scalar(row: &[u8], a: &QuantizedActivation) -> f32 {
    let mut acc = 0.0f32;
    let mut scales = [0.0f32; SCALE_RUN];
    let runs = row
        .chunks(SCALE_RUN * BLOCK_BYTES)
        .zip(a.q.chunks(SCALE_RUN * BLOCK));
    for (run, (blocks, q)) in runs.enumerate() {
        let scales = widen_scales(blocks, &mut scales);
        for (bi, ((b, qb), &d)) in blocks
            .chunks_exact(BLOCK_BYTES)
            .zip(q.chunks_exact(BLOCK))
            .zip(scales)
            .enumerate()
        {
            let mut isum: i32 = 0;
            for k in 0..8 {
                for n in 0..4 {
                    isum += ((b[k] >> (2 * n)) & 3) as i32 * qb[4 * k + n] as i32;
                }
            }
            isum -= 2 * a.block_sum((run * SCALE_RUN + bi) * BLOCK, BLOCK);
            acc += d * isum as f32;
        }
    }
    acc
}

/// The f16 scales of up to [`SCALE_RUN`] `blocks`, widened into the front of `out`.
fn widen_scales<'a>(blocks: &[u8], out: &'a mut [f32; SCALE_RUN]) -> &'a [f32] {
    let mut h = [f16::ZERO; SCALE_RUN];
    let n = blocks.len() / BLOCK_BYTES;
    for (h, b) in h.iter_mut().zip(blocks.chunks_exact(BLOCK_BYTES)) {
        *h = f16::from_le_bytes([b[8], b[9]]);
    }
    h[..n].convert_to_f32_slice(&mut out[..n]);
    &out[..n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::ops::quantize_i8_absmax;

    /// The scales widened a run at a time give, bit for bit, the sum of one block at
    /// a time with its own scale: rows shorter than a run, exactly one, and a run and
    /// a bit.
    #[test]
    fn dot_equals_the_block_by_block_sum() {
        for blocks in [1, 3, SCALE_RUN, SCALE_RUN + 5, 3 * SCALE_RUN - 1] {
            let cols = blocks * BLOCK;
            let values: Vec<i8> = (0..cols).map(|i| (i * 7 % 3) as i8 - 1).collect();
            let scales: Vec<f32> = (0..blocks).map(|b| 0.01 + b as f32 * 0.37).collect();
            let mut row = vec![0u8; row_bytes(cols)];
            pack_row(&values, &scales, &mut row);
            let x: Vec<f32> = (0..cols).map(|i| ((i * 13) % 29) as f32 - 14.0).collect();
            let mut a = QuantizedActivation::default();
            quantize_i8_absmax(&x, &mut a);
            let mut want = 0.0f32;
            for (bi, b) in row.chunks_exact(BLOCK_BYTES).enumerate() {
                let q = &a.q[bi * BLOCK..(bi + 1) * BLOCK];
                let isum: i32 = (0..BLOCK)
                    .map(|i| ((b[i / 4] >> (2 * (i % 4))) & 3) as i32 * q[i] as i32)
                    .sum::<i32>()
                    - 2 * a.block_sum(bi * BLOCK, BLOCK);
                want += f16::from_le_bytes([b[8], b[9]]).to_f32() * isum as f32;
            }
            assert_eq!(
                dot_scalar(&row, &a).to_bits(),
                want.to_bits(),
                "{blocks} blocks"
            );
        }
    }
}
