//! Test helpers shared by the end-to-end tests. GGUF files come from the library's
//! own writer (`bitnet_engine::gguf::write`) when a test only needs a writer, and
//! from the independent PyPI `gguf` package (tests/write_gguf.py) when a test checks
//! our reader against someone else's writer.
#![allow(dead_code)]

/// A fresh path under the target's temp dir for this test.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bitnet-engine-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
