//! QK256 (MVP, as the receipts plan uses it): 256 weights per 64 bytes, no block scale;
//! weight 4k+n at bits 2n of byte k (LSB first), decoded through {−2, −1, +1, +2}.
//! A per-tensor `*.scale` tensor, when present, multiplies the output. Scalar only:
//! this is the slow MVP path the default policy labels as such.

use crate::kernels::QuantizedActivation;

pub const BLOCK: usize = 256;
pub const BLOCK_BYTES: usize = 64;
pub const LUT: [i32; 4] = [-2, -1, 1, 2];

pub fn row_bytes(cols: usize) -> usize {
    cols / BLOCK * BLOCK_BYTES
}

/// Packs values from {−2, −1, +1, +2}; any other value is stored as code of +1.
pub fn pack_row(values: &[i8], out: &mut [u8]) {
    let code = |v: i8| match v {
        -2 => 0u8,
        -1 => 1,
        2 => 3,
        _ => 2,
    };
    for (k, o) in out.iter_mut().enumerate() {
        *o = (0..4).fold(0u8, |byte, n| byte | code(values[4 * k + n]) << (2 * n));
    }
}

pub fn dequantize_row(row: &[u8], out: &mut [f32]) {
    for (k, &byte) in row.iter().enumerate() {
        for n in 0..4 {
            out[4 * k + n] = LUT[((byte >> (2 * n)) & 3) as usize] as f32;
        }
    }
}

/// Scalar reference (and the only kernel): Σ lut[code]·q.
pub fn dot_scalar(row: &[u8], a: &QuantizedActivation) -> f32 {
    let mut acc: i32 = 0;
    for (k, &byte) in row.iter().enumerate() {
        for n in 0..4 {
            acc += LUT[((byte >> (2 * n)) & 3) as usize] * a.q[4 * k + n] as i32;
        }
    }
    acc as f32
}
