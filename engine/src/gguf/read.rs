//! Parsing a GGUF file: header, metadata and tensor table, every size and offset
//! checked against the file before anything is borrowed from it. Knows the file
//! format only; mapping tensors onto the decoder is the parent module's job.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{FORMAT_KEY, GGML_F16, GGML_F32, GGML_I2_S, GGML_TQ2_0};
use crate::error::{EngineError, Result};
use crate::formats::{Bytes, Format, i2s};

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
    /// The value as `inspect` shows it (long strings and arrays abbreviated).
    pub(super) fn short(&self) -> String {
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

    pub(super) fn bytes(&self, t: &TensorInfo) -> Bytes {
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

pub(super) fn type_name(t: u32) -> &'static str {
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
