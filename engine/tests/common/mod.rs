//! Test helpers: a minimal GGUF v3 writer (for bad-input cases the PyPI writer would
//! refuse to produce) and a way to lay out an in-memory model as GGUF tensors.
#![allow(dead_code)]

use bitnet_engine::formats::{EmbeddingType, Format};
use bitnet_engine::model::Model;

pub enum Kv {
    U32(u32),
    F32(f32),
    Str(String),
}

pub struct Tensor {
    pub name: String,
    /// ne0 first.
    pub dims: Vec<u64>,
    pub type_id: u32,
    pub data: Vec<u8>,
}

pub fn kv_config(m: &Model) -> Vec<(String, Kv)> {
    let c = &m.config;
    let a = "bitnet-b1.58";
    let mut kvs = vec![
        ("general.architecture".to_string(), Kv::Str(a.into())),
        (format!("{a}.embedding_length"), Kv::U32(c.hidden as u32)),
        (format!("{a}.feed_forward_length"), Kv::U32(c.ffn as u32)),
        (format!("{a}.block_count"), Kv::U32(c.layers as u32)),
        (format!("{a}.attention.head_count"), Kv::U32(c.heads as u32)),
        (
            format!("{a}.attention.head_count_kv"),
            Kv::U32(c.kv_heads as u32),
        ),
        (
            format!("{a}.rope.dimension_count"),
            Kv::U32(c.head_dim as u32),
        ),
        (format!("{a}.context_length"), Kv::U32(c.context as u32)),
        (format!("{a}.rope.freq_base"), Kv::F32(c.rope_theta)),
        (
            format!("{a}.attention.layer_norm_rms_epsilon"),
            Kv::F32(c.norm_eps),
        ),
    ];
    if matches!(m.format, Format::Qk256 | Format::Bitnet32F16) {
        kvs.push((
            "bitnet-engine.format".into(),
            Kv::Str(m.format.name().into()),
        ));
    }
    kvs
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The model's tensors as a GGUF holds them (I2_S with its tail, TQ2_0 as blocks).
pub fn model_tensors(m: &Model) -> Vec<Tensor> {
    let mut out = vec![Tensor {
        name: "token_embd.weight".into(),
        dims: vec![m.config.hidden as u64, m.config.vocab as u64],
        type_id: match m.embedding.dtype {
            EmbeddingType::F16 => 1,
            EmbeddingType::F32 => 0,
        },
        data: m.embedding.data.to_vec(),
    }];
    let norm = |name: String, v: &[f32]| Tensor {
        name,
        dims: vec![v.len() as u64],
        type_id: 0,
        data: f32_bytes(v),
    };
    out.push(norm("output_norm.weight".into(), &m.output_norm));
    for (l, layer) in m.layers.iter().enumerate() {
        for (n, w) in layer.norms() {
            out.push(norm(format!("blk.{l}.{n}.weight"), w));
        }
        for (n, mat) in layer.matrices() {
            let mut data = mat.data.to_vec();
            let type_id = match m.format {
                Format::Tq2_0 => 35,
                _ => 36,
            };
            if m.format == Format::I2s {
                let mut tail = vec![0u8; 32];
                tail[..4].copy_from_slice(&mat.scale.to_le_bytes());
                data.extend(tail);
            }
            out.push(Tensor {
                name: format!("blk.{l}.{n}.weight"),
                dims: vec![mat.cols as u64, mat.rows as u64],
                type_id,
                data,
            });
            if m.format == Format::Qk256 {
                out.push(Tensor {
                    name: format!("blk.{l}.{n}.scale"),
                    dims: vec![1],
                    type_id: 0,
                    data: mat.scale.to_le_bytes().to_vec(),
                });
            }
        }
    }
    out
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend((s.len() as u64).to_le_bytes());
    b.extend(s.as_bytes());
}

/// Serialises a GGUF v3 file with 32-byte alignment.
pub fn write_gguf(version: u32, kvs: &[(String, Kv)], tensors: &[Tensor]) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(version.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend((kvs.len() as u64).to_le_bytes());
    for (k, v) in kvs {
        put_str(&mut b, k);
        match v {
            Kv::U32(x) => {
                b.extend(4u32.to_le_bytes());
                b.extend(x.to_le_bytes());
            }
            Kv::F32(x) => {
                b.extend(6u32.to_le_bytes());
                b.extend(x.to_le_bytes());
            }
            Kv::Str(s) => {
                b.extend(8u32.to_le_bytes());
                put_str(&mut b, s);
            }
        }
    }
    let mut offset = 0u64;
    for t in tensors {
        put_str(&mut b, &t.name);
        b.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(t.type_id.to_le_bytes());
        b.extend(offset.to_le_bytes());
        offset += (t.data.len() as u64).div_ceil(32) * 32;
    }
    while !b.len().is_multiple_of(32) {
        b.push(0);
    }
    for t in tensors {
        b.extend(&t.data);
        while !b.len().is_multiple_of(32) {
            b.push(0);
        }
    }
    b
}

/// A fresh path under the target's temp dir for this test.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bitnet-engine-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
