//! GGUF loading: files written by the independent PyPI `gguf` package give the same
//! tensors and logits as the same weights built in memory; malformed files give clear
//! errors, never panics. The malformed files start as the library writer's output
//! (`gguf::model_metadata`, `model_tensors`, `write`), then have their metadata,
//! tensor table or bytes edited: the writer writes whatever it is given.

mod common;

use std::borrow::Cow;
use std::path::Path;
use std::process::Command;

use bitnet_engine::formats::{EmbeddingType, Format};
use bitnet_engine::gguf::{
    self, GgufFile, MetaValue, OutTensor, load_model, model_from, model_metadata, model_tensors,
};
use bitnet_engine::model::{Model, RunState, forward};
use bitnet_engine::{Dispatcher, EngineError, SimdLevel, synthetic};
use common::temp_path;

fn tiny(format: Format) -> Model {
    synthetic::build("tiny", 7, format, EmbeddingType::F16).unwrap()
}

fn logits(m: &Model, tokens: &[u32]) -> Vec<f32> {
    let k = Dispatcher::new(SimdLevel::detect());
    let mut s = RunState::new(&m.config, tokens.len()).unwrap();
    for (pos, &t) in tokens.iter().enumerate() {
        forward(m, &k, &mut s, t, pos, pos + 1 == tokens.len()).unwrap();
    }
    s.logits
}

fn python_with_gguf() -> Option<String> {
    for py in ["python3", "python"] {
        let ok = Command::new(py)
            .args(["-c", "import gguf, numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Some(py.to_string());
        }
    }
    None
}

/// Writes the manifest + values the Python writer reads.
fn dump_for_python(m: &Model, dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut blob: Vec<u8> = Vec::new();
    let mut tensors = Vec::new();
    let mut push = |name: String, kind: &str, shape: Vec<usize>, bytes: Vec<u8>, scale: f32| {
        tensors.push(serde_json::json!({
            "name": name, "kind": kind, "shape": shape,
            "offset": blob.len(), "bytes": bytes.len(), "scale": scale,
        }));
        blob.extend(bytes);
    };
    let f32b = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let c = &m.config;
    push(
        "token_embd.weight".into(),
        "f16",
        vec![c.vocab, c.hidden],
        m.embedding.data.to_vec(),
        1.0,
    );
    push(
        "output_norm.weight".into(),
        "f32",
        vec![c.hidden],
        f32b(&m.output_norm),
        1.0,
    );
    for (l, layer) in m.layers.iter().enumerate() {
        for (n, w) in layer.norms() {
            push(
                format!("blk.{l}.{n}.weight"),
                "f32",
                vec![w.len()],
                f32b(w),
                1.0,
            );
        }
        for (n, mat) in layer.matrices() {
            let mut values = vec![0f32; mat.rows * mat.cols];
            for (r, out) in values.chunks_exact_mut(mat.cols).enumerate() {
                mat.format.dequantize_row(mat.row(r), out);
            }
            push(
                format!("blk.{l}.{n}.weight"),
                "ternary",
                vec![mat.rows, mat.cols],
                f32b(&values),
                mat.scale,
            );
        }
    }
    let manifest = serde_json::json!({
        "arch": "bitnet-b1.58",
        "format": m.format.name(),
        "config": {
            "hidden": c.hidden, "ffn": c.ffn, "layers": c.layers, "heads": c.heads,
            "kv_heads": c.kv_heads, "head_dim": c.head_dim, "context": c.context,
            "rope_theta": c.rope_theta, "norm_eps": c.norm_eps, "activation": c.activation.name(),
        },
        "tensors": tensors,
    });
    let mp = dir.join(format!("{}.json", m.format.name()));
    let vp = dir.join(format!("{}.bin", m.format.name()));
    std::fs::write(&mp, serde_json::to_vec(&manifest).unwrap()).unwrap();
    std::fs::write(&vp, blob).unwrap();
    (mp, vp)
}

#[test]
fn pypi_gguf_files_load_to_the_same_weights_and_logits() {
    let Some(py) = python_with_gguf() else {
        // A skip that CI could not tell from a pass would be a test that cannot
        // fail: .ci/run sets BITNET_REQUIRE_GGUF=1, where a missing package fails.
        assert!(
            std::env::var("BITNET_REQUIRE_GGUF").as_deref() != Ok("1"),
            "BITNET_REQUIRE_GGUF=1 but python3 cannot import the PyPI `gguf` package (pip install gguf)"
        );
        eprintln!(
            "SKIPPED: python3 with the PyPI `gguf` package is not installed (pip install gguf); .ci/run installs it"
        );
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/write_gguf.py");
    for format in Format::ALL {
        let m = tiny(format);
        let dir = temp_path(&format!("pypi-{}", format.name()));
        std::fs::create_dir_all(&dir).unwrap();
        let (manifest, values) = dump_for_python(&m, &dir);
        let out = dir.join("model.gguf");
        let run = Command::new(&py)
            .arg(&script)
            .arg(&manifest)
            .arg(&values)
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}: writer failed: {}",
            format.name(),
            String::from_utf8_lossy(&run.stderr)
        );

        let g = load_model(&out).unwrap_or_else(|e| panic!("{}: {e}", format.name()));
        assert_eq!(g.format, format);
        assert_eq!(g.config, m.config);
        for (lm, lg) in m.layers.iter().zip(&g.layers) {
            for ((name, a), (_, b)) in lm.matrices().iter().zip(lg.matrices()) {
                assert_eq!(
                    &a.data[..],
                    &b.data[..],
                    "{} {name}: bytes differ",
                    format.name()
                );
                assert_eq!(a.scale, b.scale, "{} {name}: scale differs", format.name());
            }
        }
        let tokens = [1, 5, 9, 200];
        assert_eq!(
            logits(&m, &tokens),
            logits(&g, &tokens),
            "{}: logits differ",
            format.name()
        );
        drop(g);
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// Writes a variant of the tiny I2_S model's GGUF and returns the load error.
fn load_err(
    name: &str,
    edit: impl FnOnce(&mut Vec<(String, MetaValue)>, &mut Vec<OutTensor>),
    bytes: impl FnOnce(&mut Vec<u8>),
) -> EngineError {
    let m = tiny(Format::I2s);
    let mut kvs = model_metadata(&m, "bitnet-b1.58").unwrap();
    let mut tensors = model_tensors(&m);
    edit(&mut kvs, &mut tensors);
    let mut file = Vec::new();
    gguf::write(&mut file, &kvs, &tensors).unwrap();
    bytes(&mut file);
    let path = temp_path(&format!("bad-{name}.gguf"));
    std::fs::write(&path, file).unwrap();
    match load_model(&path) {
        Ok(_) => panic!("{name}: loaded a bad file"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(path.to_str().unwrap()) || !msg.contains(".gguf"),
                "{name}: {msg}"
            );
            e
        }
    }
}

fn tensor<'a, 'm>(t: &'a mut [OutTensor<'m>], name: &str) -> &'a mut OutTensor<'m> {
    t.iter_mut().find(|t| t.name == name).unwrap()
}

#[test]
fn bad_files_give_clear_errors() {
    let e = load_err("magic", |_, _| {}, |b| b[..4].copy_from_slice(b"GGUX"));
    assert!(
        matches!(e, EngineError::BadMagic { .. }) && e.to_string().contains("not a GGUF file"),
        "{e}"
    );

    let e = load_err(
        "version",
        |_, _| {},
        |b| b[4..8].copy_from_slice(&9u32.to_le_bytes()),
    );
    assert!(
        matches!(e, EngineError::UnsupportedVersion { version: 9, .. }),
        "{e}"
    );

    let e = load_err("truncated-header", |_, _| {}, |b| b.truncate(40));
    assert!(
        matches!(e, EngineError::Truncated { .. }) && e.to_string().contains("truncated at byte"),
        "{e}"
    );

    let e = load_err("short-file", |_, _| {}, |b| b.truncate(6));
    assert!(matches!(e, EngineError::Truncated { .. }), "{e}");

    let e = load_err("data-beyond-end", |_, _| {}, |b| b.truncate(b.len() - 5000));
    assert!(matches!(e, EngineError::TensorBeyondEnd { .. }), "{e}");

    let e = load_err(
        "unknown-type",
        |_, t| tensor(t, "blk.0.attn_q.weight").type_id = 99,
        |_| {},
    );
    assert!(
        matches!(e, EngineError::UnknownTensorType { type_id: 99, .. }),
        "{e}"
    );

    let e = load_err(
        "missing-tensor",
        |_, t| t.retain(|t| t.name != "blk.1.ffn_down.weight"),
        |_| {},
    );
    assert!(
        matches!(&e, EngineError::MissingTensor { tensor, .. } if tensor == "blk.1.ffn_down.weight"),
        "{e}"
    );

    let e = load_err(
        "wrong-shape",
        |_, t| tensor(t, "blk.0.attn_k.weight").dims.reverse(),
        |_| {},
    );
    assert!(matches!(e, EngineError::WrongShape { .. }), "{e}");

    let e = load_err(
        "row-not-aligned",
        |_, t| {
            let q = tensor(t, "blk.0.attn_q.weight");
            q.dims = vec![100, 256];
        },
        |_| {},
    );
    assert!(
        matches!(e, EngineError::RowNotBlockAligned { cols: 100, .. }),
        "{e}"
    );

    for (name, bad) in [("nan-scale", f32::NAN), ("zero-scale", 0.0)] {
        let e = load_err(
            name,
            |_, t| {
                // An I2_S tensor's last piece is its tail; the scale is its first 4 bytes.
                let tail = tensor(t, "blk.0.ffn_up.weight").data.last_mut().unwrap();
                tail.to_mut()[..4].copy_from_slice(&bad.to_le_bytes());
            },
            |_| {},
        );
        assert!(
            matches!(e, EngineError::BadScale { .. }) && e.to_string().contains("blk.0.ffn_up"),
            "{e}"
        );
    }

    let e = load_err(
        "missing-key",
        |k, _| k.retain(|(k, _)| !k.ends_with(".block_count")),
        |_| {},
    );
    assert!(
        matches!(e, EngineError::MissingMetadata { .. }) && e.to_string().contains("block_count"),
        "{e}"
    );

    let e = load_err(
        "float-weights",
        |_, t| {
            let q = tensor(t, "blk.0.attn_v.weight");
            q.type_id = 0;
            q.data = vec![Cow::Owned(vec![0u8; 256 * 128 * 4])];
        },
        |_| {},
    );
    assert!(e.to_string().contains("not quantised"), "{e}");
}

#[test]
fn nan_block_scale_in_tq2_is_refused() {
    let m = tiny(Format::Tq2_0);
    let mut tensors = model_tensors(&m);
    let q = tensor(&mut tensors, "blk.0.attn_q.weight");
    q.data[0].to_mut()[64..66].copy_from_slice(&0x7e00u16.to_le_bytes());
    let mut file = Vec::new();
    gguf::write(
        &mut file,
        &model_metadata(&m, "bitnet-b1.58").unwrap(),
        &tensors,
    )
    .unwrap();
    let path = temp_path("bad-tq2-nan.gguf");
    std::fs::write(&path, file).unwrap();
    let e = load_model(&path).unwrap_err();
    assert!(
        matches!(e, EngineError::BadScale { .. }) && e.to_string().contains("block 0"),
        "{e}"
    );
}

/// Found by the `gguf` fuzz target: a float tensor whose byte size overflows u64
/// was an arithmetic panic while reading the tensor table.
#[test]
fn a_float_tensor_too_large_to_address_is_an_error() {
    let path = Path::new("huge.gguf");
    let read = |bytes: &[u8]| match GgufFile::from_bytes(path, bytes) {
        Ok(_) => panic!("read a tensor larger than any file"),
        Err(e) => e,
    };
    for (type_id, dims) in [(0, vec![1u64 << 62]), (1, vec![1 << 31, 1 << 32])] {
        let tensors = [OutTensor {
            name: "t".into(),
            dims,
            type_id,
            data: Vec::new(),
        }];
        let mut file = Vec::new();
        gguf::write(&mut file, &[], &tensors).unwrap();
        let e = read(&file);
        assert!(
            matches!(e, EngineError::Malformed { .. })
                && e.to_string().contains("huge.gguf")
                && e.to_string().contains("tensor 't'"),
            "{e}"
        );
    }
    // The fuzzer's own input (kept in its seed corpus).
    let found = include_bytes!("../../fuzz/seeds/gguf/regression-float-size-overflow.gguf");
    assert!(matches!(read(found), EngineError::Malformed { .. }));
}

/// Found by the `gguf` fuzz target: the layer list was sized by the file's
/// block_count before any layer's tensors were found, so a huge count aborted on
/// allocation; and heads × head_dim could overflow.
#[test]
fn a_huge_block_count_or_head_count_is_an_error() {
    let e = load_err(
        "huge-block-count",
        |k, _| {
            let count = k.iter_mut().find(|(k, _)| k.ends_with(".block_count"));
            count.unwrap().1 = MetaValue::U32(u32::MAX);
        },
        |_| {},
    );
    assert!(
        matches!(&e, EngineError::MissingTensor { tensor, .. } if tensor.starts_with("blk.2.")),
        "{e}"
    );
    let found = include_bytes!("../../fuzz/seeds/gguf/regression-block-count-capacity.gguf");
    let file = GgufFile::from_bytes(Path::new("found.gguf"), found)
        .ok()
        .unwrap();
    assert!(model_from(file).is_err());

    let mut c = synthetic::preset("tiny").unwrap();
    (c.heads, c.kv_heads) = (usize::MAX, 1);
    let e = c.validate().unwrap_err();
    assert!(e.to_string().contains("overflows"), "{e}");
}

#[test]
fn missing_file_and_non_gguf_are_errors() {
    let e = load_model(Path::new("/nonexistent/model.gguf")).unwrap_err();
    assert!(
        matches!(e, EngineError::Io { .. }) && e.to_string().contains("/nonexistent/model.gguf"),
        "{e}"
    );
    let path = temp_path("empty.gguf");
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(
        load_model(&path).unwrap_err(),
        EngineError::Truncated { .. }
    ));
}

#[test]
fn exported_files_load_to_the_same_logits() {
    for format in Format::ALL {
        let m = tiny(format);
        let path = temp_path(&format!("export-{}.gguf", format.name()));
        gguf::write_model(&m, &path, "bitnet-b1.58").unwrap();
        let g = load_model(&path).unwrap();
        assert_eq!(g.config, m.config);
        assert_eq!(
            logits(&m, &[7, 8, 9]),
            logits(&g, &[7, 8, 9]),
            "{}",
            format.name()
        );
        let text = gguf::inspect(&path).unwrap();
        assert!(
            text.contains("derived config") && text.contains(format.name()),
            "{text}"
        );
        std::fs::remove_file(&path).ok();
    }
    // llama.cpp's `bitnet` architecture: SiLU, accepted only for a SiLU model.
    let relu = tiny(Format::Tq2_0);
    let path = temp_path("export-bitnet.gguf");
    let e = gguf::write_model(&relu, &path, "bitnet").unwrap_err();
    assert!(e.to_string().contains("SiLU"), "{e}");
    let cfg = bitnet_engine::Config {
        activation: bitnet_engine::model::Activation::Silu,
        ..synthetic::preset("tiny").unwrap()
    };
    let silu = synthetic::build_config(cfg, "tiny", 7, Format::Tq2_0, EmbeddingType::F16).unwrap();
    gguf::write_model(&silu, &path, "bitnet").unwrap();
    let g = load_model(&path).unwrap();
    assert_eq!(g.config.activation, bitnet_engine::model::Activation::Silu);
    assert_eq!(logits(&silu, &[1, 2]), logits(&g, &[1, 2]));
}
