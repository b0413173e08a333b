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
            let d =
                crate::f16::f16_to_f32(u16::from_le_bytes([block[scale_at], block[scale_at + 1]]));
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
                for (o, b) in out.iter_mut().zip(row.chunks_exact(2)) {
                    *o = crate::f16::f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
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
