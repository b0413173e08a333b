//! GGUF bytes → header, metadata and tensor table, then `inspect`'s summary,
//! which derives the decoder config and maps the tensors onto a model.
#![no_main]

use bitnet_engine::gguf::{GgufFile, describe};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = GgufFile::from_bytes(Path::new("model.gguf"), data) {
        describe(file);
    }
});
