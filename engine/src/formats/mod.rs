//! Weight storage: one file per ternary format (byte layout, packing, the scalar dot
//! product that is the oracle, SIMD variants next to it), plus the F16/F32 embedding.
//! Formats know bytes; the dispatcher in `kernels` decides which variant runs.

pub mod bitnet32f16;
pub mod i2s;
pub mod qk256;
pub mod tq2_0;

use std::ops::{Deref, Range};
use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::kernels::{KernelId, QuantizedActivation, SimdLevel};

/// Bytes owned in memory (synthetic models) or borrowed from a memory-mapped file.
pub enum Bytes {
    Owned(Vec<u8>),
    Mapped(Arc<memmap2::Mmap>, Range<usize>),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(map, range) => &map[range.clone()],
        }
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.len())
    }
}

/// A ternary weight format. Each maps to a family of kernels (see [`Format::kernel`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// bitnet.cpp I2_S: 128 weights per 32 bytes, one f32 scale per tensor.
    I2s,
    /// llama.cpp TQ2_0: 256 weights per 66 bytes with an f16 block scale.
    Tq2_0,
    /// BitNet32-F16: 32 weights per 10 bytes with an f16 block scale.
    Bitnet32F16,
    /// QK256 (MVP): 256 weights per 64 bytes, no block scale, scalar kernels only.
    Qk256,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::I2s,
        Format::Tq2_0,
        Format::Bitnet32F16,
        Format::Qk256,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::I2s => "i2s",
            Format::Tq2_0 => "tq2_0",
            Format::Bitnet32F16 => "bitnet32f16",
            Format::Qk256 => "qk256",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Weights per block; a row length must be a multiple of it.
    pub fn block(self) -> usize {
        match self {
            Format::I2s => i2s::BLOCK,
            Format::Tq2_0 => tq2_0::BLOCK,
            Format::Bitnet32F16 => bitnet32f16::BLOCK,
            Format::Qk256 => qk256::BLOCK,
        }
    }

    /// Bytes of one row of `cols` weights (excluding any per-tensor tail).
    pub fn row_bytes(self, cols: usize) -> usize {
        match self {
            Format::I2s => i2s::row_bytes(cols),
            Format::Tq2_0 => tq2_0::row_bytes(cols),
            Format::Bitnet32F16 => bitnet32f16::row_bytes(cols),
            Format::Qk256 => qk256::row_bytes(cols),
        }
    }

    /// The format → kernel table: which kernel id runs this format at a SIMD level.
    pub fn kernel(self, simd: SimdLevel) -> KernelId {
        match (self, simd) {
            (Format::I2s, SimdLevel::Scalar) => KernelId::I2sGemvScalar,
            (Format::I2s, SimdLevel::Avx2) => KernelId::I2sGemvAvx2,
            (Format::I2s, SimdLevel::Avx512Vnni) => KernelId::I2sGemvAvx512Vnni,
            (Format::Tq2_0, SimdLevel::Scalar) => KernelId::Tq2GemvScalar,
            (Format::Tq2_0, _) => KernelId::Tq2GemvAvx2,
            (Format::Bitnet32F16, _) => KernelId::Bitnet32F16GemvScalar,
            (Format::Qk256, _) => KernelId::Qk256ScalarGemv,
        }
    }

    /// Σ w·q for one row in weight units (block scales applied, per-tensor scale not),
    /// with the scalar reference kernel. The oracle every SIMD kernel is tested against.
    pub fn dot_scalar(self, row: &[u8], a: &QuantizedActivation) -> f32 {
        match self {
            Format::I2s => i2s::dot_scalar(row, a),
            Format::Tq2_0 => tq2_0::dot_scalar(row, a),
            Format::Bitnet32F16 => bitnet32f16::dot_scalar(row, a),
            Format::Qk256 => qk256::dot_scalar(row, a),
        }
    }

    /// Dequantises one row into weight values (block scales applied, per-tensor not).
    pub fn dequantize_row(self, row: &[u8], out: &mut [f32]) {
        match self {
            Format::I2s => i2s::dequantize_row(row, out),
            Format::Tq2_0 => tq2_0::dequantize_row(row, out),
            Format::Bitnet32F16 => bitnet32f16::dequantize_row(row, out),
            Format::Qk256 => qk256::dequantize_row(row, out),
        }
    }
}

/// A quantised weight matrix `rows × cols` (out × in), row-major, rows never straddle
/// blocks. `scale` multiplies every output (I2_S tail scale, a `*.scale` tensor, or 1).
#[derive(Debug)]
pub struct TernaryMatrix {
    pub format: Format,
    pub rows: usize,
    pub cols: usize,
    pub data: Bytes,
    pub scale: f32,
}

impl TernaryMatrix {
    /// Checks sizes and scales; `place` names the tensor for error messages.
    pub fn new(
        place: &str,
        format: Format,
        rows: usize,
        cols: usize,
        data: Bytes,
        scale: f32,
    ) -> Result<Self> {
        if cols == 0 || rows == 0 || !cols.is_multiple_of(format.block()) {
            return Err(EngineError::RowNotBlockAligned {
                place: place.to_string(),
                format: format.name(),
                cols,
                block: format.block(),
            });
        }
        let expected = rows * format.row_bytes(cols);
        if data.len() != expected {
            return Err(EngineError::WrongByteSize {
                place: place.to_string(),
                format: format.name(),
                found: data.len(),
                expected,
                rows,
                cols,
            });
        }
        check_scale(place, scale)?;
        let m = TernaryMatrix {
            format,
            rows,
            cols,
            data,
            scale,
        };
        m.check_block_scales(place)?;
        Ok(m)
    }

    pub fn row(&self, r: usize) -> &[u8] {
        let rb = self.format.row_bytes(self.cols);
        &self.data[r * rb..(r + 1) * rb]
    }

    pub fn byte_len(&self) -> usize {
        self.data.len()
    }

    fn check_block_scales(&self, place: &str) -> Result<()> {
        let (block_bytes, scale_at) = match self.format {
            Format::Tq2_0 => (tq2_0::BLOCK_BYTES, 64),
            Format::Bitnet32F16 => (bitnet32f16::BLOCK_BYTES, 8),
            Format::I2s | Format::Qk256 => return Ok(()),
        };
        for (b, block) in self.data.chunks_exact(block_bytes).enumerate() {
            let d = half::f16::from_le_bytes([block[scale_at], block[scale_at + 1]]).to_f32();
            if !d.is_finite() {
                return Err(EngineError::BadScale {
                    place: format!("{place} block {b}"),
                    value: d,
                    why: "block scale is not finite",
                });
            }
        }
        Ok(())
    }
}

/// A per-tensor scale must be finite and non-zero (zero would erase the layer).
pub fn check_scale(place: &str, scale: f32) -> Result<()> {
    if !scale.is_finite() {
        return Err(EngineError::BadScale {
            place: place.to_string(),
            value: scale,
            why: "not finite",
        });
    }
    if scale == 0.0 {
        return Err(EngineError::BadScale {
            place: place.to_string(),
            value: scale,
            why: "zero would erase every output of the tensor",
        });
    }
    Ok(())
}

/// Element type of the token embedding (also the tied output layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddingType {
    F16,
    F32,
}

impl EmbeddingType {
    pub fn name(self) -> &'static str {
        match self {
            EmbeddingType::F16 => "f16",
            EmbeddingType::F32 => "f32",
        }
    }
    pub fn size(self) -> usize {
        match self {
            EmbeddingType::F16 => 2,
            EmbeddingType::F32 => 4,
        }
    }
}

/// Token embedding `vocab × hidden`, row-major; tied, so it is also the lm_head.
#[derive(Debug)]
pub struct Embedding {
    pub dtype: EmbeddingType,
    pub vocab: usize,
    pub hidden: usize,
    pub data: Bytes,
}

impl Embedding {
    pub fn row(&self, r: usize) -> &[u8] {
        let rb = self.hidden * self.dtype.size();
        &self.data[r * rb..(r + 1) * rb]
    }

    /// Writes row `r` as f32 into `out`.
    pub fn row_f32(&self, r: usize, out: &mut [f32]) {
        let row = self.row(r);
        match self.dtype {
            EmbeddingType::F16 => {
                // A run of values at a time: half widens a slice with F16C where the
                // CPU has it, checking for it once per slice instead of per value.
                use half::slice::HalfFloatSliceExt;
                let mut h = [half::f16::ZERO; 64];
                for (o, b) in out.chunks_mut(h.len()).zip(row.chunks(2 * h.len())) {
                    let h = &mut h[..o.len()];
                    for (h, b) in h.iter_mut().zip(b.chunks_exact(2)) {
                        *h = half::f16::from_le_bytes([b[0], b[1]]);
                    }
                    h.convert_to_f32_slice(o);
                }
            }
            EmbeddingType::F32 => {
                for (o, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Bytes, Embedding, EmbeddingType};
    use half::f16;

    /// An F16 embedding row widens a run at a time; every value must be its own f16
    /// widened, whatever the row length.
    #[test]
    fn f16_embedding_rows_widen_value_by_value() {
        for hidden in [1, 63, 64, 130] {
            let data: Vec<u8> = (0..3 * hidden as u32)
                .flat_map(|i| f16::from_bits((i * 40_503) as u16).to_le_bytes())
                .collect();
            let e = Embedding {
                dtype: EmbeddingType::F16,
                vocab: 3,
                hidden,
                data: Bytes::Owned(data),
            };
            for r in 0..3 {
                let mut out = vec![0.0f32; hidden];
                e.row_f32(r, &mut out);
                for (o, b) in out.iter().zip(e.row(r).chunks_exact(2)) {
                    let want = f16::from_le_bytes([b[0], b[1]]).to_f32();
                    assert!(o.to_bits() == want.to_bits() || (o.is_nan() && want.is_nan()));
                }
            }
        }
    }

    /// An f16 bit pattern's value from its definition, (−1)^s · m · 2^(e−25) with the
    /// implicit bit (m · 2^−24 for subnormals), in f64 arithmetic: an oracle that
    /// shares no code with the bit manipulation being checked.
    fn value(h: u16) -> f64 {
        let (e, m) = ((h >> 10) & 0x1f, (h & 0x3ff) as f64);
        let v = match e {
            0 => m * 2f64.powi(-24),
            31 => f64::INFINITY,
            e => (1024.0 + m) * 2f64.powi(e as i32 - 25),
        };
        if h & 0x8000 != 0 { -v } else { v }
    }

    /// Block scales and the embedding are f16: every one of the 65,536 bit patterns
    /// widens exactly (NaN stays NaN with its sign).
    #[test]
    fn every_f16_widens_exactly() {
        for h in 0..=u16::MAX {
            let got = f16::from_bits(h).to_f32();
            if (h >> 10) & 0x1f == 31 && h & 0x3ff != 0 {
                assert!(got.is_nan() && got.is_sign_negative() == (h & 0x8000 != 0));
            } else {
                assert_eq!(got.to_bits(), (value(h) as f32).to_bits(), "{h:#06x}");
            }
        }
    }

    /// Packing a scale rounds to the nearest f16, ties to even, overflowing to
    /// infinity: checked at every f16, at every midpoint between neighbours, and one
    /// f32 step either side of each midpoint.
    #[test]
    fn f32_to_f16_rounds_to_nearest_even() {
        for sign in [0u16, 0x8000] {
            for h in (0..0x7c00u16).map(|h| h | sign) {
                let next = h + 1;
                // The would-be value above the largest finite f16, for its midpoint.
                let hi = if next & 0x7fff == 0x7c00 {
                    value(h).signum() * 65536.0
                } else {
                    value(next)
                };
                let mid = ((value(h) + hi) / 2.0) as f32;
                assert_eq!(
                    mid as f64,
                    (value(h) + hi) / 2.0,
                    "midpoints are exact in f32"
                );
                let even = if h & 1 == 0 { h } else { next };
                let away = |x: f32| {
                    if sign == 0 {
                        x.next_up()
                    } else {
                        x.next_down()
                    }
                };
                let toward = |x: f32| {
                    if sign == 0 {
                        x.next_down()
                    } else {
                        x.next_up()
                    }
                };
                assert_eq!(f16::from_f32(value(h) as f32).to_bits(), h);
                assert_eq!(f16::from_f32(mid).to_bits(), even, "tie at {h:#06x}");
                assert_eq!(f16::from_f32(away(mid)).to_bits(), next, "above {h:#06x}");
                assert_eq!(f16::from_f32(toward(mid)).to_bits(), h, "below {h:#06x}");
            }
        }
        assert_eq!(f16::from_f32(f32::INFINITY).to_bits(), 0x7c00);
        assert_eq!(f16::from_f32(-1e6).to_bits(), 0xfc00);
        assert_eq!(f16::from_f32(-0.0).to_bits(), 0x8000);
        assert_eq!(f16::from_f32(1e-10).to_bits(), 0);
        assert!(f16::from_f32(f32::NAN).is_nan());
    }
}
