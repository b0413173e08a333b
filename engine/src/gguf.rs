//! GGUF files read through a memory map: header, metadata, tensor table, and the
//! mapping from a BitNet GGUF onto the decoder's weights. Tensor bytes are borrowed
//! from the map, never copied. Every malformed input is an error naming the file and
//! the byte offset; nothing here panics on bad input.
//!
//! ggml type 36 is I2_S in bitnet.cpp's fork (retired upstream). Only the x86
//! `ACT_PARALLEL` layout (128-weight blocks, tail scale) is supported; the file does
//! not say which layout it holds. QK256 and BitNet32-F16 have no ggml type of their
//! own: this engine stores them as type 36 with `bitnet-engine.format` naming them.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};
use crate::formats::{Bytes, Embedding, EmbeddingType, Format, TernaryMatrix, i2s};
use crate::model::{Activation, Config, Layer, Model, ModelSource};

pub const GGML_F32: u32 = 0;
pub const GGML_F16: u32 = 1;
pub const GGML_TQ2_0: u32 = 35;
pub const GGML_I2_S: u32 = 36;
/// Metadata key that says how this engine's type-36 tensors are laid out.
pub const FORMAT_KEY: &str = "bitnet-engine.format";

#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Vec<MetaValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl MetaValue {
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v as u64),
            MetaValue::U16(v) => Some(v as u64),
            MetaValue::U32(v) => Some(v as u64),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            MetaValue::F32(v) => Some(v),
            MetaValue::F64(v) => Some(v as f32),
            _ => self.as_u64().map(|v| v as f32),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::String(s) => Some(s),
            _ => None,
        }
    }
    fn short(&self) -> String {
        match self {
            MetaValue::String(s) if s.len() > 60 => {
                format!("{:?}…", &s[..s.floor_char_boundary(60)])
            }
            MetaValue::String(s) => format!("{s:?}"),
            MetaValue::Array(a) => format!("[{} values]", a.len()),
            MetaValue::F32(v) => format!("{v}"),
            MetaValue::F64(v) => format!("{v}"),
            MetaValue::Bool(v) => format!("{v}"),
            other => other
                .as_u64()
                .map(|v| v.to_string())
                .unwrap_or_else(|| format!("{other:?}")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub name: String,
    /// ne0 first (the fastest-varying dimension, a row's length).
    pub dims: Vec<u64>,
    pub type_id: u32,
    /// Absolute byte range in the file.
    pub start: u64,
    pub end: u64,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

pub struct GgufFile {
    pub path: PathBuf,
    pub map: Arc<memmap2::Mmap>,
    pub version: u32,
    pub metadata: Vec<(String, MetaValue)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.data.len().saturating_sub(self.pos) < n {
            return Err(EngineError::Truncated {
                path: self.path.to_path_buf(),
                offset: self.pos as u64,
                what: what.to_string(),
                len: self.data.len() as u64,
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2, what)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    fn malformed(&self, detail: String) -> EngineError {
        EngineError::Malformed {
            path: self.path.to_path_buf(),
            offset: self.pos as u64,
            detail,
        }
    }
    /// A count that must fit in what is left of the file (`min_size` bytes per item).
    fn count(&mut self, what: &str, min_size: usize) -> Result<usize> {
        let n = self.u64(what)?;
        let left = (self.data.len() - self.pos) as u64;
        if n.saturating_mul(min_size as u64) > left {
            return Err(EngineError::Truncated {
                path: self.path.to_path_buf(),
                offset: self.pos as u64,
                what: format!("{what} ({n} items do not fit in the remaining {left} bytes)"),
                len: self.data.len() as u64,
            });
        }
        Ok(n as usize)
    }
    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.count(what, 1)?;
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.malformed(format!("{what} is not UTF-8")))
    }
    fn value(&mut self, type_id: u32, what: &str, depth: usize) -> Result<MetaValue> {
        Ok(match type_id {
            0 => MetaValue::U8(self.u8(what)?),
            1 => MetaValue::I8(self.u8(what)? as i8),
            2 => MetaValue::U16(self.u16(what)?),
            3 => MetaValue::I16(self.u16(what)? as i16),
            4 => MetaValue::U32(self.u32(what)?),
            5 => MetaValue::I32(self.u32(what)? as i32),
            6 => MetaValue::F32(f32::from_bits(self.u32(what)?)),
            7 => MetaValue::Bool(self.u8(what)? != 0),
            8 => MetaValue::String(self.string(what)?),
            9 => {
                if depth > 4 {
                    return Err(self.malformed(format!("{what}: arrays nested too deeply")));
                }
                let item = self.u32(what)?;
                let n = self.count(what, 1)?;
                let mut v = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    v.push(self.value(item, what, depth + 1)?);
                }
                MetaValue::Array(v)
            }
            10 => MetaValue::U64(self.u64(what)?),
            11 => MetaValue::I64(self.u64(what)? as i64),
            12 => MetaValue::F64(f64::from_bits(self.u64(what)?)),
            t => return Err(self.malformed(format!("{what} has unknown metadata type {t}"))),
        })
    }
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self> {
        let io = |source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        };
        // A FIFO would block the open and a device never ends: regular files only,
        // checked before opening and again on the open file.
        let regular = |meta: std::fs::Metadata| match meta.is_file() {
            true => Ok(()),
            false => Err(EngineError::NotRegular {
                path: path.to_path_buf(),
            }),
        };
        regular(std::fs::metadata(path).map_err(io)?)?;
        let file = std::fs::File::open(path).map_err(io)?;
        regular(file.metadata().map_err(io)?)?;
        // SAFETY: the map is read-only; a file changed underneath us while mapped is
        // outside what this tool supports (as for every mmap-based model loader).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Self::from_map(path, Arc::new(map))
    }

    /// Reads a GGUF held in memory (copied into an anonymous map, so tensors borrow
    /// from it as from a file); `path` only names it in errors. The fuzz targets and
    /// tests read hostile bytes through this without a file.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let io = |source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut map = memmap2::MmapMut::map_anon(bytes.len()).map_err(io)?;
        map.copy_from_slice(bytes);
        Self::from_map(path, Arc::new(map.make_read_only().map_err(io)?))
    }

    fn from_map(path: &Path, map: Arc<memmap2::Mmap>) -> Result<Self> {
        let mut c = Cursor {
            data: &map,
            pos: 0,
            path,
        };
        let magic: [u8; 4] = c.take(4, "the magic")?.try_into().expect("4 bytes");
        if &magic != b"GGUF" {
            return Err(EngineError::BadMagic {
                path: path.to_path_buf(),
                found: magic,
            });
        }
        let version = c.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(EngineError::UnsupportedVersion {
                path: path.to_path_buf(),
                version,
            });
        }
        let n_tensors = c.count("the tensor count", 24)?;
        let n_kv = c.count("the metadata count", 12)?;
        let mut metadata = Vec::with_capacity(n_kv);
        for i in 0..n_kv {
            let key = c.string(&format!("metadata key {i}"))?;
            let t = c.u32(&format!("the type of '{key}'"))?;
            let v = c.value(t, &format!("the value of '{key}'"), 0)?;
            metadata.push((key, v));
        }
        let mut raw = Vec::with_capacity(n_tensors);
        for i in 0..n_tensors {
            let name = c.string(&format!("tensor {i}'s name"))?;
            let n_dims = c.u32(&format!("tensor '{name}' dimension count"))?;
            if n_dims == 0 || n_dims > 4 {
                return Err(c.malformed(format!(
                    "tensor '{name}' has {n_dims} dimensions (1 to 4 allowed)"
                )));
            }
            let mut dims = Vec::new();
            for _ in 0..n_dims {
                dims.push(c.u64(&format!("tensor '{name}' dimensions"))?);
            }
            let type_id = c.u32(&format!("tensor '{name}' type"))?;
            let offset = c.u64(&format!("tensor '{name}' offset"))?;
            raw.push((name, dims, type_id, offset));
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, v)) => match v.as_u64() {
                Some(a) if a.is_power_of_two() => a,
                _ => {
                    return Err(c.malformed(format!(
                        "general.alignment {} is not a power of two",
                        v.short()
                    )));
                }
            },
            None => 32,
        };
        let data_start = (c.pos as u64).div_ceil(alignment) * alignment;
        let fmt_key = metadata
            .iter()
            .find(|(k, _)| k == FORMAT_KEY)
            .and_then(|(_, v)| v.as_str().map(str::to_string));
        let file_len = map.len() as u64;
        let mut tensors = Vec::with_capacity(raw.len());
        for (name, dims, type_id, offset) in raw {
            let n = dims
                .iter()
                .try_fold(1u64, |a, &d| a.checked_mul(d))
                .ok_or_else(|| EngineError::Malformed {
                    path: path.to_path_buf(),
                    offset: 0,
                    detail: format!(
                        "tensor '{name}' has dimensions {dims:?} whose product overflows"
                    ),
                })?;
            let size = tensor_bytes(path, &name, type_id, &dims, n, fmt_key.as_deref())?;
            let start = data_start.saturating_add(offset);
            let end = start.saturating_add(size);
            if end > file_len {
                return Err(EngineError::TensorBeyondEnd {
                    path: path.to_path_buf(),
                    tensor: name,
                    start,
                    end,
                    len: file_len,
                });
            }
            tensors.push(TensorInfo {
                name,
                dims,
                type_id,
                start,
                end,
            });
        }
        Ok(GgufFile {
            path: path.to_path_buf(),
            map,
            version,
            metadata,
            tensors,
            alignment,
        })
    }

    pub fn meta(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    fn bytes(&self, t: &TensorInfo) -> Bytes {
        Bytes::Mapped(self.map.clone(), t.start as usize..t.end as usize)
    }

    /// The ternary format type-36 tensors use here (I2_S unless the file names another).
    pub fn type36_format(&self) -> Result<Format> {
        match self.meta(FORMAT_KEY) {
            None => Ok(Format::I2s),
            Some(v) => {
                v.as_str()
                    .and_then(Format::parse)
                    .ok_or_else(|| EngineError::MissingMetadata {
                        path: self.path.clone(),
                        key: FORMAT_KEY.into(),
                        detail: format!("{} is not one of i2s, qk256, bitnet32f16", v.short()),
                    })
            }
        }
    }
}

fn type_name(t: u32) -> &'static str {
    match t {
        GGML_F32 => "F32",
        GGML_F16 => "F16",
        GGML_TQ2_0 => "TQ2_0",
        GGML_I2_S => "I2_S",
        _ => "?",
    }
}

/// Bytes a tensor occupies; errors for unknown types and rows that split a block.
fn tensor_bytes(
    path: &Path,
    name: &str,
    type_id: u32,
    dims: &[u64],
    n: u64,
    fmt: Option<&str>,
) -> Result<u64> {
    let ne0 = dims[0];
    let aligned = |format: &'static str, block: u64| {
        if !ne0.is_multiple_of(block) {
            Err(EngineError::RowNotBlockAligned {
                place: format!("{}: tensor '{name}'", path.display()),
                format,
                cols: ne0 as usize,
                block: block as usize,
            })
        } else {
            Ok(())
        }
    };
    // Float sizes are checked: a declared element count can be near u64::MAX.
    let floats = |bytes: u64| {
        n.checked_mul(bytes).ok_or_else(|| EngineError::Malformed {
            path: path.to_path_buf(),
            offset: 0,
            detail: format!("tensor '{name}' has {n} elements, more bytes than a file can hold"),
        })
    };
    match type_id {
        GGML_F32 => floats(4),
        GGML_F16 => floats(2),
        GGML_TQ2_0 => {
            aligned("tq2_0", 256)?;
            Ok(n / 256 * 66)
        }
        GGML_I2_S => match fmt.and_then(Format::parse).unwrap_or(Format::I2s) {
            Format::Qk256 => {
                aligned("qk256", 256)?;
                Ok(n / 4)
            }
            Format::Bitnet32F16 => {
                aligned("bitnet32f16", 32)?;
                Ok(n / 32 * 10)
            }
            _ => {
                aligned("i2s", 128)?;
                Ok(n / 4 + i2s::TAIL_BYTES as u64)
            }
        },
        _ => Err(EngineError::UnknownTensorType {
            path: path.to_path_buf(),
            tensor: name.to_string(),
            type_id,
        }),
    }
}

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

/// A tensor to write: name, dims (ne0 first), ggml type, and its bytes in pieces.
type OutTensor<'a> = (String, Vec<u64>, u32, Vec<std::borrow::Cow<'a, [u8]>>);

/// Writes `m` as a GGUF v3 file (alignment 32), streaming: the 2B-4T shapes are ~1.2 GB.
/// `arch` is `bitnet-b1.58` (2B-4T's name) or `bitnet` (llama.cpp's architecture, which
/// reads F32 `*.scale` tensors and always uses SiLU). The vocabulary is declared as
/// `tokenizer.ggml.model = "none"` with `<arch>.vocab_size`, enough for llama.cpp to
/// run token ids without a tokenizer.
pub fn write_model(m: &Model, path: &Path, arch: &str) -> Result<()> {
    use std::io::{BufWriter, Write};
    let c = &m.config;
    let io = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    if arch == "bitnet" && c.activation != Activation::Silu {
        return Err(EngineError::Config(format!(
            "llama.cpp's `bitnet` architecture always uses SiLU, but this model uses {}; build it with --activation silu",
            c.activation.name()
        )));
    }
    enum V<'a> {
        U32(u32),
        F32(f32),
        Str(&'a str),
    }
    let k = |s: &str| format!("{arch}.{s}");
    let mut kvs: Vec<(String, V)> = vec![
        ("general.architecture".into(), V::Str(arch)),
        (k("context_length"), V::U32(c.context as u32)),
        (k("embedding_length"), V::U32(c.hidden as u32)),
        (k("block_count"), V::U32(c.layers as u32)),
        (k("feed_forward_length"), V::U32(c.ffn as u32)),
        (k("attention.head_count"), V::U32(c.heads as u32)),
        (k("attention.head_count_kv"), V::U32(c.kv_heads as u32)),
        (k("rope.dimension_count"), V::U32(c.head_dim as u32)),
        (k("rope.freq_base"), V::F32(c.rope_theta)),
        (k("attention.layer_norm_rms_epsilon"), V::F32(c.norm_eps)),
        (k("vocab_size"), V::U32(c.vocab as u32)),
        (k("hidden_activation"), V::Str(c.activation.name())),
        ("tokenizer.ggml.model".into(), V::Str("none")),
    ];
    if matches!(m.format, Format::Qk256 | Format::Bitnet32F16) {
        kvs.push((FORMAT_KEY.into(), V::Str(m.format.name())));
    }

    // (name, dims ne0-first, type, pieces of bytes)
    let f32_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut tensors: Vec<OutTensor<'_>> = Vec::new();
    let emb_type = match m.embedding.dtype {
        EmbeddingType::F16 => GGML_F16,
        EmbeddingType::F32 => GGML_F32,
    };
    tensors.push((
        "token_embd.weight".into(),
        vec![c.hidden as u64, c.vocab as u64],
        emb_type,
        vec![(&m.embedding.data[..]).into()],
    ));
    tensors.push((
        "output_norm.weight".into(),
        vec![c.hidden as u64],
        GGML_F32,
        vec![f32_bytes(&m.output_norm).into()],
    ));
    for (l, layer) in m.layers.iter().enumerate() {
        for (n, w) in layer.norms() {
            tensors.push((
                format!("blk.{l}.{n}.weight"),
                vec![w.len() as u64],
                GGML_F32,
                vec![f32_bytes(w).into()],
            ));
        }
        for (n, mat) in layer.matrices() {
            let dims = vec![mat.cols as u64, mat.rows as u64];
            let name = format!("blk.{l}.{n}.weight");
            match mat.format {
                Format::I2s => {
                    let mut tail = vec![0u8; i2s::TAIL_BYTES];
                    tail[..4].copy_from_slice(&mat.scale.to_le_bytes());
                    tensors.push((
                        name,
                        dims,
                        GGML_I2_S,
                        vec![(&mat.data[..]).into(), tail.into()],
                    ));
                }
                f => {
                    let t = if f == Format::Tq2_0 {
                        GGML_TQ2_0
                    } else {
                        GGML_I2_S
                    };
                    tensors.push((name, dims, t, vec![(&mat.data[..]).into()]));
                    if mat.scale != 1.0 {
                        tensors.push((
                            format!("blk.{l}.{n}.scale"),
                            vec![1],
                            GGML_F32,
                            vec![mat.scale.to_le_bytes().to_vec().into()],
                        ));
                    }
                }
            }
        }
    }

    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut head = Vec::new();
    let put_str = |b: &mut Vec<u8>, s: &str| {
        b.extend((s.len() as u64).to_le_bytes());
        b.extend(s.as_bytes());
    };
    head.extend(b"GGUF");
    head.extend(3u32.to_le_bytes());
    head.extend((tensors.len() as u64).to_le_bytes());
    head.extend((kvs.len() as u64).to_le_bytes());
    for (key, v) in &kvs {
        put_str(&mut head, key);
        match v {
            V::U32(x) => {
                head.extend(4u32.to_le_bytes());
                head.extend(x.to_le_bytes());
            }
            V::F32(x) => {
                head.extend(6u32.to_le_bytes());
                head.extend(x.to_le_bytes());
            }
            V::Str(s) => {
                head.extend(8u32.to_le_bytes());
                put_str(&mut head, s);
            }
        }
    }
    let mut offset = 0u64;
    for (name, dims, t, pieces) in &tensors {
        put_str(&mut head, name);
        head.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            head.extend(d.to_le_bytes());
        }
        head.extend(t.to_le_bytes());
        head.extend(offset.to_le_bytes());
        let len: usize = pieces.iter().map(|p| p.len()).sum();
        offset += (len as u64).div_ceil(32) * 32;
    }
    head.resize(head.len().div_ceil(32) * 32, 0);
    w.write_all(&head).map_err(io)?;
    for (_, _, _, pieces) in &tensors {
        let mut len = 0;
        for p in pieces {
            w.write_all(p).map_err(io)?;
            len += p.len();
        }
        w.write_all(&vec![0u8; len.div_ceil(32) * 32 - len])
            .map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(())
}
