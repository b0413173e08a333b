//! GGUF models: the file format (`read` parses it, `write` writes it) and the
//! mapping from a BitNet GGUF onto the decoder's weights. Tensor bytes are borrowed
//! from the memory map, never copied. Every malformed input is an error naming the
//! file and the byte offset; nothing here panics on bad input.
//!
//! ggml type 36 is I2_S in bitnet.cpp's fork (retired upstream). Only the x86
//! `ACT_PARALLEL` layout (128-weight blocks, tail scale) is supported; the file does
//! not say which layout it holds. QK256 and BitNet32-F16 have no ggml type of their
//! own: this engine stores them as type 36 with `bitnet-engine.format` naming them.

mod read;
mod write;

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};
use crate::formats::{Bytes, Embedding, EmbeddingType, Format, TernaryMatrix};
use crate::model::{Activation, Config, Layer, Model, ModelSource};
use read::type_name;
pub use read::{GgufFile, MetaValue, TensorInfo};
pub use write::{ALIGNMENT, OutTensor, model_metadata, model_tensors, write, write_model};

pub const GGML_F32: u32 = 0;
pub const GGML_F16: u32 = 1;
pub const GGML_TQ2_0: u32 = 35;
pub const GGML_I2_S: u32 = 36;
/// Metadata key that says how this engine's type-36 tensors are laid out.
pub const FORMAT_KEY: &str = "bitnet-engine.format";

/// sha256 of the whole file, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    let io = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(crate::synthetic::hex(&h.finalize()))
}

/// Reads the decoder's shape from the metadata.
pub fn config(g: &GgufFile) -> Result<Config> {
    let missing = |key: &str, detail: &str| EngineError::MissingMetadata {
        path: g.path.clone(),
        key: key.to_string(),
        detail: detail.to_string(),
    };
    let arch = g
        .meta("general.architecture")
        .and_then(MetaValue::as_str)
        .ok_or_else(|| {
            missing(
                "general.architecture",
                "a string such as \"bitnet-b1.58\" is required",
            )
        })?
        .to_string();
    let key = |k: &str| format!("{arch}.{k}");
    let int = |k: &str| -> Result<usize> {
        let full = key(k);
        g.meta(&full)
            .and_then(MetaValue::as_u64)
            .map(|v| v as usize)
            .ok_or_else(|| missing(&full, "an unsigned integer is required"))
    };
    let opt_int = |k: &str| {
        g.meta(&key(k))
            .and_then(MetaValue::as_u64)
            .map(|v| v as usize)
    };
    let opt_f32 = |k: &str| g.meta(&key(k)).and_then(MetaValue::as_f32);
    let hidden = int("embedding_length")?;
    let heads = int("attention.head_count")?;
    let activation = match g
        .meta(&key("hidden_activation"))
        .and_then(MetaValue::as_str)
    {
        Some("relu2" | "relu_sqr" | "relu_squared" | "squared_relu") => Activation::Relu2,
        Some("silu" | "swiglu" | "swish") => Activation::Silu,
        Some(other) => {
            return Err(missing(
                &key("hidden_activation"),
                &format!("'{other}' is not supported (relu2 or silu)"),
            ));
        }
        None if arch == "bitnet" => Activation::Silu,
        None => Activation::Relu2,
    };
    let embd = g
        .tensor("token_embd.weight")
        .ok_or_else(|| EngineError::MissingTensor {
            path: g.path.clone(),
            tensor: "token_embd.weight".into(),
        })?;
    let vocab = embd.dims.get(1).copied().unwrap_or(0) as usize;
    let c = Config {
        hidden,
        ffn: int("feed_forward_length")?,
        layers: int("block_count")?,
        heads,
        kv_heads: opt_int("attention.head_count_kv").unwrap_or(heads),
        head_dim: opt_int("rope.dimension_count").unwrap_or(hidden.checked_div(heads).unwrap_or(0)),
        vocab,
        context: opt_int("context_length").unwrap_or(4096),
        rope_theta: opt_f32("rope.freq_base").unwrap_or(10_000.0),
        norm_eps: opt_f32("attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
        activation,
    };
    c.validate().map_err(|e| {
        missing(
            &format!("{arch}.*"),
            &format!("the shape does not make a decoder: {e}"),
        )
    })?;
    Ok(c)
}

/// Maps a BitNet b1.58 GGUF onto the decoder.
pub fn load_model(path: &Path) -> Result<Model> {
    model_from(GgufFile::open(path)?)
}

/// Maps an opened GGUF onto the decoder (the model borrows the file's map).
pub fn model_from(g: GgufFile) -> Result<Model> {
    let c = config(&g)?;
    let t36 = g.type36_format()?;
    let find = |name: &str| {
        g.tensor(name).ok_or_else(|| EngineError::MissingTensor {
            path: g.path.clone(),
            tensor: name.to_string(),
        })
    };
    let shape = |t: &TensorInfo, expected: &[u64]| {
        if t.dims != expected {
            Err(EngineError::WrongShape {
                path: g.path.clone(),
                tensor: t.name.clone(),
                found: t.dims.clone(),
                expected: expected.to_vec(),
            })
        } else {
            Ok(())
        }
    };
    let norm = |name: &str, len: usize| -> Result<Vec<f32>> {
        let t = find(name)?;
        shape(t, &[len as u64])?;
        let bytes = &g.map[t.start as usize..t.end as usize];
        match t.type_id {
            GGML_F32 => Ok(bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()),
            GGML_F16 => Ok(bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect()),
            other => Err(EngineError::Config(format!(
                "{}: norm '{name}' has type {} ({other}); norms must be F32 or F16",
                g.path.display(),
                type_name(other)
            ))),
        }
    };
    let matrix = |name: &str, rows: usize, cols: usize| -> Result<TernaryMatrix> {
        let t = find(name)?;
        shape(t, &[cols as u64, rows as u64])?;
        let place = format!("{}: tensor '{name}'", g.path.display());
        let format = match t.type_id {
            GGML_TQ2_0 => Format::Tq2_0,
            GGML_I2_S => t36,
            GGML_F32 | GGML_F16 => {
                return Err(EngineError::Config(format!(
                    "{place} is {} (not quantised); this engine runs ternary weights only and has no float fallback (quantise the model to I2_S or TQ2_0)",
                    type_name(t.type_id)
                )));
            }
            other => {
                return Err(EngineError::UnknownTensorType {
                    path: g.path.clone(),
                    tensor: name.to_string(),
                    type_id: other,
                });
            }
        };
        let codes = rows * format.row_bytes(cols);
        let mut scale = 1.0f32;
        if format == Format::I2s {
            let tail = t.start as usize + codes;
            scale = f32::from_le_bytes(g.map[tail..tail + 4].try_into().expect("4 bytes"));
        }
        let scale_name = name.replace(".weight", ".scale");
        if let Some(st) = g.tensor(&scale_name) {
            if st.type_id != GGML_F32 || st.elements() != 1 {
                return Err(EngineError::WrongShape {
                    path: g.path.clone(),
                    tensor: scale_name,
                    found: st.dims.clone(),
                    expected: vec![1],
                });
            }
            let s = st.start as usize;
            scale *= f32::from_le_bytes(g.map[s..s + 4].try_into().expect("4 bytes"));
        }
        let data = Bytes::Mapped(g.map.clone(), t.start as usize..t.start as usize + codes);
        TernaryMatrix::new(&place, format, rows, cols, data, scale)
    };

    let embd = find("token_embd.weight")?;
    shape(embd, &[c.hidden as u64, c.vocab as u64])?;
    let dtype = match embd.type_id {
        GGML_F16 => EmbeddingType::F16,
        GGML_F32 => EmbeddingType::F32,
        other => {
            return Err(EngineError::Config(format!(
                "{}: token_embd.weight has type {} ({other}); this engine needs an F16 or F32 embedding",
                g.path.display(),
                type_name(other)
            )));
        }
    };
    let embedding = Embedding {
        dtype,
        vocab: c.vocab,
        hidden: c.hidden,
        data: g.bytes(embd),
    };
    // Not sized by block_count: the file's metadata may claim billions of layers.
    let mut layers = Vec::new();
    let mut format = None;
    for l in 0..c.layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        let layer = Layer {
            attn_norm: norm(&n("attn_norm"), c.hidden)?,
            wq: matrix(&n("attn_q"), c.q_dim(), c.hidden)?,
            wk: matrix(&n("attn_k"), c.kv_dim(), c.hidden)?,
            wv: matrix(&n("attn_v"), c.kv_dim(), c.hidden)?,
            attn_sub_norm: norm(&n("attn_sub_norm"), c.q_dim())?,
            wo: matrix(&n("attn_output"), c.hidden, c.q_dim())?,
            ffn_norm: norm(&n("ffn_norm"), c.hidden)?,
            w_gate: matrix(&n("ffn_gate"), c.ffn, c.hidden)?,
            w_up: matrix(&n("ffn_up"), c.ffn, c.hidden)?,
            ffn_sub_norm: norm(&n("ffn_sub_norm"), c.ffn)?,
            w_down: matrix(&n("ffn_down"), c.hidden, c.ffn)?,
        };
        for (name, m) in layer.matrices() {
            match format {
                None => format = Some(m.format),
                Some(f) if f != m.format => {
                    return Err(EngineError::Config(format!(
                        "{}: blk.{l}.{name} is {} but earlier tensors are {}; mixed formats are not supported",
                        g.path.display(),
                        m.format.name(),
                        f.name()
                    )));
                }
                _ => {}
            }
        }
        layers.push(layer);
    }
    Ok(Model {
        output_norm: norm("output_norm.weight", c.hidden)?,
        format: format.unwrap_or(Format::I2s),
        source: ModelSource::Gguf {
            path: g.path.clone(),
        },
        config: c,
        embedding,
        layers,
    })
}

/// Human-readable summary: metadata, tensors, and the decoder config derived from them.
pub fn inspect(path: &Path) -> Result<String> {
    Ok(describe(GgufFile::open(path)?))
}

/// The summary `inspect` prints, for a file already read.
pub fn describe(g: GgufFile) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "file: {}\nGGUF version {}, {} metadata keys, {} tensors, alignment {}, {} bytes",
        g.path.display(),
        g.version,
        g.metadata.len(),
        g.tensors.len(),
        g.alignment,
        g.map.len()
    );
    let _ = writeln!(s, "\nmetadata:");
    for (k, v) in &g.metadata {
        let _ = writeln!(s, "  {k} = {}", v.short());
    }
    let _ = writeln!(s, "\ntensors (name, type, dims ne0..., bytes):");
    let t36 = g.type36_format().map(|f| f.name()).unwrap_or("?");
    for t in &g.tensors {
        let ty = match t.type_id {
            GGML_I2_S => format!("I2_S(36, read as {t36})"),
            other => format!("{}({other})", type_name(other)),
        };
        let _ = writeln!(
            s,
            "  {:<28} {:<24} {:?} {}",
            t.name,
            ty,
            t.dims,
            t.end - t.start
        );
    }
    if t36 == "i2s" && g.tensors.iter().any(|t| t.type_id == GGML_I2_S) {
        let _ = writeln!(
            s,
            "\nnote: I2_S is read in bitnet.cpp's x86 ACT_PARALLEL layout (128-weight blocks, f32 tail scale);\n      the 1x4 row-interleaved and ARM 64-weight layouts are not supported and the file cannot say which it holds."
        );
    }
    match config(&g) {
        Ok(c) => {
            let _ = writeln!(
                s,
                "\nderived config: hidden {} ffn {} layers {} heads {} kv_heads {} head_dim {} vocab {} context {} rope_theta {} eps {} activation {}",
                c.hidden,
                c.ffn,
                c.layers,
                c.heads,
                c.kv_heads,
                c.head_dim,
                c.vocab,
                c.context,
                c.rope_theta,
                c.norm_eps,
                c.activation.name()
            );
            match model_from(g) {
                Ok(m) => {
                    let _ = writeln!(
                        s,
                        "loads: format {} embedding {} params {} weight bytes {} weight bytes/token {}",
                        m.format.name(),
                        m.embedding.dtype.name(),
                        m.params(),
                        m.weight_bytes(),
                        m.weight_bytes_per_token()
                    );
                }
                Err(e) => {
                    let _ = writeln!(s, "does not load: {e}");
                }
            }
        }
        Err(e) => {
            let _ = writeln!(s, "\nno decoder config: {e}");
        }
    }
    s
}
