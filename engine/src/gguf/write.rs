//! Writing GGUF: the file format (v3, alignment 32: header, metadata, tensor table,
//! then each tensor's bytes padded to the alignment), and the layout of a model as a
//! BitNet GGUF that this engine and llama.cpp read. The writer writes what it is
//! given; whether a file makes a loadable model is for the reader to say.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::Path;

use super::{FORMAT_KEY, GGML_F16, GGML_F32, GGML_I2_S, GGML_TQ2_0, MetaValue};
use crate::error::{EngineError, Result};
use crate::formats::{EmbeddingType, Format, i2s};
use crate::model::{Activation, Model};

/// Tensor data starts and ends on multiples of this (GGUF's default alignment).
pub const ALIGNMENT: u64 = 32;

/// A tensor to write: its name, dims (ne0 first), ggml type, and its bytes in pieces
/// written back to back (an I2_S matrix borrows its codes and adds its scale tail).
#[derive(Clone, Debug)]
pub struct OutTensor<'a> {
    pub name: String,
    pub dims: Vec<u64>,
    pub type_id: u32,
    pub data: Vec<Cow<'a, [u8]>>,
}

impl OutTensor<'_> {
    /// The tensor's bytes, before padding.
    pub fn byte_len(&self) -> u64 {
        self.data.iter().map(|p| p.len() as u64).sum()
    }
}

impl MetaValue {
    /// GGUF's id for this value's type.
    pub fn type_id(&self) -> u32 {
        match self {
            MetaValue::U8(_) => 0,
            MetaValue::I8(_) => 1,
            MetaValue::U16(_) => 2,
            MetaValue::I16(_) => 3,
            MetaValue::U32(_) => 4,
            MetaValue::I32(_) => 5,
            MetaValue::F32(_) => 6,
            MetaValue::Bool(_) => 7,
            MetaValue::String(_) => 8,
            MetaValue::Array(_) => 9,
            MetaValue::U64(_) => 10,
            MetaValue::I64(_) => 11,
            MetaValue::F64(_) => 12,
        }
    }
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend((s.len() as u64).to_le_bytes());
    b.extend(s.as_bytes());
}

/// The value's bytes without its type id. An array's items must share one type (the
/// format stores it once); an empty array is written as an array of U8.
fn put_value(b: &mut Vec<u8>, v: &MetaValue) -> io::Result<()> {
    match v {
        MetaValue::U8(x) => b.push(*x),
        MetaValue::I8(x) => b.extend(x.to_le_bytes()),
        MetaValue::U16(x) => b.extend(x.to_le_bytes()),
        MetaValue::I16(x) => b.extend(x.to_le_bytes()),
        MetaValue::U32(x) => b.extend(x.to_le_bytes()),
        MetaValue::I32(x) => b.extend(x.to_le_bytes()),
        MetaValue::F32(x) => b.extend(x.to_le_bytes()),
        MetaValue::Bool(x) => b.push(u8::from(*x)),
        MetaValue::String(s) => put_str(b, s),
        MetaValue::Array(items) => {
            let item = items.first().map_or(0, MetaValue::type_id);
            if items.iter().any(|v| v.type_id() != item) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a GGUF array holds items of one type",
                ));
            }
            b.extend(item.to_le_bytes());
            b.extend((items.len() as u64).to_le_bytes());
            for v in items {
                put_value(b, v)?;
            }
        }
        MetaValue::U64(x) => b.extend(x.to_le_bytes()),
        MetaValue::I64(x) => b.extend(x.to_le_bytes()),
        MetaValue::F64(x) => b.extend(x.to_le_bytes()),
    }
    Ok(())
}

/// Writes a GGUF v3 file to `w`: the header and tables are built in memory, the
/// tensors' bytes are streamed from their pieces.
pub fn write(
    w: &mut impl Write,
    metadata: &[(String, MetaValue)],
    tensors: &[OutTensor<'_>],
) -> io::Result<()> {
    let mut head = b"GGUF".to_vec();
    head.extend(3u32.to_le_bytes());
    head.extend((tensors.len() as u64).to_le_bytes());
    head.extend((metadata.len() as u64).to_le_bytes());
    for (key, v) in metadata {
        put_str(&mut head, key);
        head.extend(v.type_id().to_le_bytes());
        put_value(&mut head, v)?;
    }
    let mut offset = 0u64;
    for t in tensors {
        put_str(&mut head, &t.name);
        head.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            head.extend(d.to_le_bytes());
        }
        head.extend(t.type_id.to_le_bytes());
        head.extend(offset.to_le_bytes());
        offset += t.byte_len().div_ceil(ALIGNMENT) * ALIGNMENT;
    }
    head.resize(
        (head.len() as u64).div_ceil(ALIGNMENT) as usize * ALIGNMENT as usize,
        0,
    );
    w.write_all(&head)?;
    let padding = [0u8; ALIGNMENT as usize];
    for t in tensors {
        for p in &t.data {
            w.write_all(p)?;
        }
        let len = t.byte_len();
        w.write_all(&padding[..(len.div_ceil(ALIGNMENT) * ALIGNMENT - len) as usize])?;
    }
    Ok(())
}

/// The metadata of `m` as architecture `arch`: `bitnet-b1.58` (2B-4T's name) or
/// `bitnet` (llama.cpp's architecture, which always uses SiLU, so only a SiLU model
/// can be written as it). The vocabulary is declared as `tokenizer.ggml.model =
/// "none"` with `<arch>.vocab_size`, enough for llama.cpp to run token ids without a
/// tokenizer.
pub fn model_metadata(m: &Model, arch: &str) -> Result<Vec<(String, MetaValue)>> {
    let c = &m.config;
    if arch == "bitnet" && c.activation != Activation::Silu {
        return Err(EngineError::Config(format!(
            "llama.cpp's `bitnet` architecture always uses SiLU, but this model uses {}; build it with --activation silu",
            c.activation.name()
        )));
    }
    let k = |s: &str| format!("{arch}.{s}");
    let u32 = |v: usize| MetaValue::U32(v as u32);
    let text = |s: &str| MetaValue::String(s.to_string());
    let mut kvs = vec![
        ("general.architecture".into(), text(arch)),
        (k("context_length"), u32(c.context)),
        (k("embedding_length"), u32(c.hidden)),
        (k("block_count"), u32(c.layers)),
        (k("feed_forward_length"), u32(c.ffn)),
        (k("attention.head_count"), u32(c.heads)),
        (k("attention.head_count_kv"), u32(c.kv_heads)),
        (k("rope.dimension_count"), u32(c.head_dim)),
        (k("rope.freq_base"), MetaValue::F32(c.rope_theta)),
        (
            k("attention.layer_norm_rms_epsilon"),
            MetaValue::F32(c.norm_eps),
        ),
        (k("vocab_size"), u32(c.vocab)),
        (k("hidden_activation"), text(c.activation.name())),
        ("tokenizer.ggml.model".into(), text("none")),
    ];
    if matches!(m.format, Format::Qk256 | Format::Bitnet32F16) {
        kvs.push((FORMAT_KEY.into(), text(m.format.name())));
    }
    Ok(kvs)
}

/// The tensors of `m` as a GGUF holds them, borrowing the weights: the embedding,
/// the norms (F32), and each ternary matrix (I2_S with its scale in the tail; the
/// other formats with an F32 `<name>.scale` tensor when the scale is not 1).
pub fn model_tensors(m: &Model) -> Vec<OutTensor<'_>> {
    let c = &m.config;
    let f32_bytes = |v: &[f32]| -> Cow<'_, [u8]> {
        Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect())
    };
    let norm = |name: String, v: &[f32]| OutTensor {
        name,
        dims: vec![v.len() as u64],
        type_id: GGML_F32,
        data: vec![f32_bytes(v)],
    };
    let mut tensors = vec![
        OutTensor {
            name: "token_embd.weight".into(),
            dims: vec![c.hidden as u64, c.vocab as u64],
            type_id: match m.embedding.dtype {
                EmbeddingType::F16 => GGML_F16,
                EmbeddingType::F32 => GGML_F32,
            },
            data: vec![Cow::Borrowed(&m.embedding.data[..])],
        },
        norm("output_norm.weight".into(), &m.output_norm),
    ];
    for (l, layer) in m.layers.iter().enumerate() {
        for (n, w) in layer.norms() {
            tensors.push(norm(format!("blk.{l}.{n}.weight"), w));
        }
        for (n, mat) in layer.matrices() {
            let mut t = OutTensor {
                name: format!("blk.{l}.{n}.weight"),
                dims: vec![mat.cols as u64, mat.rows as u64],
                type_id: if mat.format == Format::Tq2_0 {
                    GGML_TQ2_0
                } else {
                    GGML_I2_S
                },
                data: vec![Cow::Borrowed(&mat.data[..])],
            };
            if mat.format == Format::I2s {
                let mut tail = vec![0u8; i2s::TAIL_BYTES];
                tail[..4].copy_from_slice(&mat.scale.to_le_bytes());
                t.data.push(Cow::Owned(tail));
                tensors.push(t);
            } else {
                tensors.push(t);
                if mat.scale != 1.0 {
                    tensors.push(OutTensor {
                        name: format!("blk.{l}.{n}.scale"),
                        dims: vec![1],
                        type_id: GGML_F32,
                        data: vec![Cow::Owned(mat.scale.to_le_bytes().to_vec())],
                    });
                }
            }
        }
    }
    tensors
}

/// Writes `m` as a GGUF file for architecture `arch` (see [`model_metadata`]),
/// streaming the weights: the 2B-4T shapes are ~1.2 GB.
pub fn write_model(m: &Model, path: &Path, arch: &str) -> Result<()> {
    let metadata = model_metadata(m, arch)?;
    let io = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = io::BufWriter::with_capacity(1 << 20, file);
    write(&mut w, &metadata, &model_tensors(m)).map_err(io)?;
    w.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufFile;

    /// Every metadata type the reader knows comes back as written, and tensors land
    /// at aligned offsets with their bytes.
    #[test]
    fn what_is_written_reads_back() {
        let metadata: Vec<(String, MetaValue)> = [
            MetaValue::U8(7),
            MetaValue::I8(-7),
            MetaValue::U16(700),
            MetaValue::I16(-700),
            MetaValue::U32(70_000),
            MetaValue::I32(-70_000),
            MetaValue::F32(0.5),
            MetaValue::Bool(true),
            MetaValue::String("héllo".into()),
            MetaValue::Array(vec![MetaValue::U32(1), MetaValue::U32(2)]),
            MetaValue::Array(vec![]),
            MetaValue::U64(1 << 40),
            MetaValue::I64(-(1 << 40)),
            MetaValue::F64(0.25),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("k{i}"), v))
        .collect();
        let tensors = [
            OutTensor {
                name: "a".into(),
                dims: vec![3],
                type_id: GGML_F32,
                data: vec![Cow::Owned(vec![1; 8]), Cow::Owned(vec![2; 4])],
            },
            OutTensor {
                name: "b".into(),
                dims: vec![2, 2],
                type_id: GGML_F16,
                data: vec![Cow::Owned(vec![3; 8])],
            },
        ];
        let mut bytes = Vec::new();
        write(&mut bytes, &metadata, &tensors).unwrap();
        let g = GgufFile::from_bytes(Path::new("t.gguf"), &bytes).unwrap();
        assert_eq!(g.version, 3);
        assert_eq!(g.metadata, metadata);
        let a = g.tensor("a").unwrap();
        let b = g.tensor("b").unwrap();
        assert_eq!(a.start % ALIGNMENT, 0);
        assert_eq!(b.start, a.start + ALIGNMENT);
        let want_a = [vec![1u8; 8], vec![2; 4]].concat();
        assert_eq!(&g.map[a.start as usize..a.end as usize], &want_a[..]);
        assert_eq!(&g.map[b.start as usize..b.end as usize], [3; 8]);
        assert_eq!(bytes.len() as u64 % ALIGNMENT, 0);
    }

    #[test]
    fn a_mixed_array_is_refused() {
        let metadata = [(
            "k".to_string(),
            MetaValue::Array(vec![MetaValue::U32(1), MetaValue::F32(1.0)]),
        )];
        let e = write(&mut Vec::new(), &metadata, &[]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
