//! Synthetic models built in memory from a seed: real shapes, random ternary weights,
//! no download. Weights are generated as packed bytes directly (never as floats), in
//! parallel chunks whose streams depend only on (seed, tensor, chunk), so the model is
//! identical whatever the thread count.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};
use crate::formats::{
    Bytes, Embedding, EmbeddingType, Format, TernaryMatrix, bitnet32f16, i2s, qk256, tq2_0,
};
use crate::model::{Activation, Config, Layer, Model, ModelSource};

/// Named shapes. `tiny` is for tests; `2b-4t` has BitNet b1.58 2B-4T's real shapes.
pub fn preset(name: &str) -> Option<Config> {
    let base = Config {
        hidden: 0,
        ffn: 0,
        layers: 0,
        heads: 0,
        kv_heads: 0,
        head_dim: 0,
        vocab: 0,
        context: 0,
        rope_theta: 500_000.0,
        norm_eps: 1e-5,
        activation: Activation::Relu2,
    };
    match name {
        "tiny" => Some(Config {
            hidden: 256,
            ffn: 768,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            head_dim: 64,
            vocab: 512,
            context: 256,
            ..base
        }),
        "2b-4t" => Some(Config {
            hidden: 2560,
            ffn: 6912,
            layers: 30,
            heads: 20,
            kv_heads: 5,
            head_dim: 128,
            vocab: 128_256,
            context: 4096,
            ..base
        }),
        _ => None,
    }
}

pub const PRESETS: [&str; 2] = ["tiny", "2b-4t"];

/// SplitMix64: seeds independent streams from (seed, tensor, chunk).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// wyrand: one multiply per 64 random bits.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, tensor: u64, chunk: u64) -> Self {
        Rng(mix(
            seed ^ mix(tensor.wrapping_mul(0x1000_0000_01B3) ^ mix(chunk))
        ))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = (self.0 as u128).wrapping_mul((self.0 ^ 0xe703_7ed1_a0b4_28db) as u128);
        (t >> 64) as u64 ^ t as u64
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
}

const LOW_BITS: u64 = 0x5555_5555_5555_5555;

/// 32 random 2-bit codes in {0, 1, 2} (a 3 becomes 1, i.e. a zero weight, so half the
/// weights are zero and a quarter each are ±1).
fn ternary_codes(x: u64) -> u64 {
    let both = (x >> 1) & x & LOW_BITS;
    x & !(both << 1)
}

/// Fills packed blocks: codes from `code`, and an f16 scale at `scale_at` in each block.
fn fill_blocks(
    buf: &mut [u8],
    block_bytes: usize,
    scale_at: Option<usize>,
    d: f32,
    seed: u64,
    tensor: u64,
    code: fn(u64) -> u64,
) {
    let chunk = block_bytes * (262_144 / block_bytes);
    buf.par_chunks_mut(chunk).enumerate().for_each(|(ci, c)| {
        let mut rng = Rng::new(seed, tensor, ci as u64);
        let mut words = c.chunks_exact_mut(8);
        for w in &mut words {
            w.copy_from_slice(&code(rng.next()).to_le_bytes());
        }
        let rest = words.into_remainder();
        let last = code(rng.next()).to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
        if let Some(at) = scale_at {
            for block in c.chunks_exact_mut(block_bytes) {
                let s = half::f16::from_f32(d * rng.uniform(0.75, 1.25));
                block[at..at + 2].copy_from_slice(&s.to_le_bytes());
            }
        }
    });
}

/// Fills one matrix's packed bytes and returns its per-tensor scale.
fn fill_matrix(format: Format, data: &mut [u8], cols: usize, seed: u64, tensor: u64) -> f32 {
    // Scales keep each output's variance near 1 for unit-RMS inputs.
    let unit = 1.0 / (0.5 * cols as f32).sqrt();
    match format {
        Format::I2s => {
            fill_blocks(
                data,
                i2s::BLOCK_BYTES,
                None,
                0.0,
                seed,
                tensor,
                ternary_codes,
            );
            unit
        }
        Format::Tq2_0 => {
            fill_blocks(
                data,
                tq2_0::BLOCK_BYTES,
                Some(64),
                unit,
                seed,
                tensor,
                ternary_codes,
            );
            1.0
        }
        Format::Bitnet32F16 => {
            // Codes 1..=3 are the values −1, 0, +1.
            let shifted = |x: u64| ternary_codes(x) + LOW_BITS;
            fill_blocks(
                data,
                bitnet32f16::BLOCK_BYTES,
                Some(8),
                unit,
                seed,
                tensor,
                shifted,
            );
            1.0
        }
        Format::Qk256 => {
            fill_blocks(data, qk256::BLOCK_BYTES, None, 0.0, seed, tensor, |x| x);
            1.0 / (2.5 * cols as f32).sqrt()
        }
    }
}

/// Fills the embedding's bytes (F16 or F32).
fn fill_embedding(dtype: EmbeddingType, data: &mut [u8], seed: u64) {
    let tensor = u64::MAX;
    match dtype {
        EmbeddingType::F16 => {
            // Random sign and mantissa, exponent 7..=10: magnitudes in [2^-8, 2^-4), small
            // next to what the layers add, so the tied lm_head does not just echo the input.
            data.par_chunks_mut(262_144)
                .enumerate()
                .for_each(|(ci, c)| {
                    let mut rng = Rng::new(seed, tensor, ci as u64);
                    for w in c.chunks_mut(8) {
                        let x = rng.next();
                        let e = ((x >> 10) & 0x0003_0003_0003_0003) + 0x0007_0007_0007_0007;
                        let v = (x & 0x83FF_83FF_83FF_83FF) | (e << 10);
                        let bytes = v.to_le_bytes();
                        w.copy_from_slice(&bytes[..w.len()]);
                    }
                });
        }
        EmbeddingType::F32 => {
            data.par_chunks_mut(262_144)
                .enumerate()
                .for_each(|(ci, c)| {
                    let mut rng = Rng::new(seed, tensor, ci as u64);
                    for w in c.chunks_exact_mut(4) {
                        w.copy_from_slice(&rng.uniform(-1.0, 1.0).to_le_bytes());
                    }
                });
        }
    }
}

fn norm(len: usize, seed: u64, tensor: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed, tensor, 0);
    (0..len).map(|_| rng.uniform(0.5, 1.5)).collect()
}

/// Parses `synthetic:<preset>` and builds it.
pub fn build_spec(
    spec: &str,
    seed: u64,
    format: Format,
    dtype: EmbeddingType,
    activation: Activation,
) -> Result<Model> {
    let name = spec
        .strip_prefix("synthetic:")
        .ok_or_else(|| EngineError::UnknownModel(spec.to_string()))?;
    let config = preset(name).ok_or_else(|| EngineError::UnknownModel(spec.to_string()))?;
    build_config(
        Config {
            activation,
            ..config
        },
        name,
        seed,
        format,
        dtype,
    )
}

/// Builds preset `name` from `seed` in `format`.
pub fn build(name: &str, seed: u64, format: Format, dtype: EmbeddingType) -> Result<Model> {
    let config =
        preset(name).ok_or_else(|| EngineError::UnknownModel(format!("synthetic:{name}")))?;
    build_config(config, name, seed, format, dtype)
}

pub fn build_config(
    config: Config,
    name: &str,
    seed: u64,
    format: Format,
    dtype: EmbeddingType,
) -> Result<Model> {
    config.validate()?;
    let c = &config;
    // Every weight byte lives in one anonymous mapping, in the order a token reads it
    // (each layer's q, k, v, o, gate, up, down, then the embedding as lm_head), backed
    // by huge pages where the kernel allows: fewer TLB misses, and the prefetchers run
    // from one matrix into the next.
    let shapes = |l: usize| {
        [
            ("attn_q", c.q_dim(), c.hidden),
            ("attn_k", c.kv_dim(), c.hidden),
            ("attn_v", c.kv_dim(), c.hidden),
            ("attn_output", c.hidden, c.q_dim()),
            ("ffn_gate", c.ffn, c.hidden),
            ("ffn_up", c.ffn, c.hidden),
            ("ffn_down", c.hidden, c.ffn),
        ]
        .map(|(n, rows, cols)| (format!("synthetic:{name} blk.{l}.{n}"), rows, cols))
    };
    for (place, _, cols) in shapes(0) {
        if cols % format.block() != 0 {
            return Err(EngineError::RowNotBlockAligned {
                place,
                format: format.name(),
                cols,
                block: format.block(),
            });
        }
    }
    let emb_bytes = c.vocab * c.hidden * dtype.size();
    let ternary: usize = shapes(0)
        .iter()
        .map(|(_, r, k)| r * format.row_bytes(*k))
        .sum();
    let total = c.layers * ternary + emb_bytes;
    let mut arena = crate::model::huge_anon_map(total, "the model's weights")?;

    let mut scales = Vec::with_capacity(c.layers * 7);
    let mut rest: &mut [u8] = &mut arena[..];
    for l in 0..c.layers {
        for (i, (_, rows, cols)) in shapes(l).into_iter().enumerate() {
            let (data, tail) = rest.split_at_mut(rows * format.row_bytes(cols));
            scales.push(fill_matrix(
                format,
                data,
                cols,
                seed,
                100 + 20 * l as u64 + 1 + i as u64,
            ));
            rest = tail;
        }
    }
    fill_embedding(dtype, rest, seed);
    let map =
        std::sync::Arc::new(
            arena
                .make_read_only()
                .map_err(|source| EngineError::Memory {
                    what: "the model's weights",
                    bytes: total as u64,
                    source,
                })?,
        );

    let mut offset = 0;
    let mut scales = scales.into_iter();
    let mut take = |place: String, rows: usize, cols: usize| -> Result<TernaryMatrix> {
        let len = rows * format.row_bytes(cols);
        let bytes = Bytes::Mapped(map.clone(), offset..offset + len);
        offset += len;
        let scale = scales.next().expect("one scale per matrix");
        TernaryMatrix::new(&place, format, rows, cols, bytes, scale)
    };
    let mut layers = Vec::with_capacity(c.layers);
    for l in 0..c.layers {
        let t = 100 + 20 * l as u64;
        let [q, k, v, o, gate, up, down] = shapes(l);
        layers.push(Layer {
            attn_norm: norm(c.hidden, seed, t),
            wq: take(q.0, q.1, q.2)?,
            wk: take(k.0, k.1, k.2)?,
            wv: take(v.0, v.1, v.2)?,
            attn_sub_norm: norm(c.q_dim(), seed, t + 4),
            wo: take(o.0, o.1, o.2)?,
            ffn_norm: norm(c.hidden, seed, t + 6),
            w_gate: take(gate.0, gate.1, gate.2)?,
            w_up: take(up.0, up.1, up.2)?,
            ffn_sub_norm: norm(c.ffn, seed, t + 9),
            w_down: take(down.0, down.1, down.2)?,
        });
    }
    let embedding = Embedding {
        dtype,
        vocab: c.vocab,
        hidden: c.hidden,
        data: Bytes::Mapped(map.clone(), total - emb_bytes..total),
    };
    Ok(Model {
        output_norm: norm(c.hidden, seed, 1),
        config,
        format,
        source: ModelSource::Synthetic {
            preset: name.to_string(),
            seed,
        },
        embedding,
        layers,
    })
}

/// sha256 identifying a model's weights: over the names and sha256s of its tensors in
/// 64 MiB pieces (hashed in parallel), so it is the same on every run and thread count.
pub fn weights_sha256(m: &Model) -> String {
    const PIECE: usize = 64 << 20;
    let mut pieces: Vec<(String, &[u8])> = Vec::new();
    for (i, c) in m.embedding.data.chunks(PIECE).enumerate() {
        pieces.push((format!("token_embd.weight#{i}"), c));
    }
    let f32_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut owned: Vec<(String, Vec<u8>)> =
        vec![("output_norm.weight".into(), f32_bytes(&m.output_norm))];
    for (l, layer) in m.layers.iter().enumerate() {
        for (n, mat) in layer.matrices() {
            for (i, c) in mat.data.chunks(PIECE).enumerate() {
                pieces.push((format!("blk.{l}.{n}.weight#{i}"), c));
            }
            owned.push((
                format!("blk.{l}.{n}.scale"),
                mat.scale.to_le_bytes().to_vec(),
            ));
        }
        for (n, w) in layer.norms() {
            owned.push((format!("blk.{l}.{n}.weight"), f32_bytes(w)));
        }
    }
    for (n, b) in &owned {
        pieces.push((n.clone(), b));
    }
    let digests: Vec<(String, Vec<u8>)> = pieces
        .par_iter()
        .map(|(n, b)| (n.clone(), Sha256::digest(b).to_vec()))
        .collect();
    let mut h = Sha256::new();
    for (n, d) in digests {
        h.update(n.as_bytes());
        h.update(&d);
    }
    hex(&h.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
