//! Every way the engine can refuse work, each naming the file or input, the place in
//! it, and what to do about it. The CLI adds context with anyhow; the library never panics
//! on bad input.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{path}: not a regular file (a directory, pipe or device): reading it could block or never end; pass a .gguf model file"
    )]
    NotRegular { path: PathBuf },

    #[error(
        "{path}: not a GGUF file: the first 4 bytes are {found:?}, expected \"GGUF\" (pass a .gguf model file)"
    )]
    BadMagic { path: PathBuf, found: [u8; 4] },

    #[error(
        "{path}: GGUF version {version} is not supported (this engine reads versions 2 and 3; re-export the model with a current gguf writer)"
    )]
    UnsupportedVersion { path: PathBuf, version: u32 },

    #[error(
        "{path}: truncated at byte {offset} while reading {what} (the file is {len} bytes; it may be an incomplete download)"
    )]
    Truncated {
        path: PathBuf,
        offset: u64,
        what: String,
        len: u64,
    },

    #[error("{path}: malformed GGUF at byte {offset}: {detail}")]
    Malformed {
        path: PathBuf,
        offset: u64,
        detail: String,
    },

    #[error(
        "{path}: tensor '{tensor}' has data at bytes {start}..{end}, beyond the end of the file ({len} bytes); the file is truncated or its offsets are corrupt"
    )]
    TensorBeyondEnd {
        path: PathBuf,
        tensor: String,
        start: u64,
        end: u64,
        len: u64,
    },

    #[error(
        "{path}: tensor '{tensor}' has ggml type {type_id}, which this engine does not know (supported: F32=0, F16=1, TQ2_0=35, I2_S=36)"
    )]
    UnknownTensorType {
        path: PathBuf,
        tensor: String,
        type_id: u32,
    },

    #[error(
        "{path}: tensor '{tensor}' is missing; a BitNet b1.58 model needs it (check the architecture and tensor names with `bitnet-engine inspect`)"
    )]
    MissingTensor { path: PathBuf, tensor: String },

    #[error("{path}: metadata key '{key}' is missing or has the wrong type ({detail})")]
    MissingMetadata {
        path: PathBuf,
        key: String,
        detail: String,
    },

    #[error("{path}: tensor '{tensor}' has shape {found:?}, expected {expected:?}")]
    WrongShape {
        path: PathBuf,
        tensor: String,
        found: Vec<u64>,
        expected: Vec<u64>,
    },

    #[error(
        "{place}: row length {cols} is not a multiple of the {format} block size {block}; this format cannot store that matrix"
    )]
    RowNotBlockAligned {
        place: String,
        format: &'static str,
        cols: usize,
        block: usize,
    },

    #[error(
        "{place}: invalid scale {value} ({why}); the weights are corrupt or were quantised wrongly"
    )]
    BadScale {
        place: String,
        value: f32,
        why: &'static str,
    },

    #[error(
        "{place}: {format} tensor holds {found} bytes, expected {expected} for {rows}x{cols} weights"
    )]
    WrongByteSize {
        place: String,
        format: &'static str,
        found: usize,
        expected: usize,
        rows: usize,
        cols: usize,
    },

    #[error(
        "cannot map {bytes} bytes of memory for {what}: {source} (free memory, or use a smaller model or fewer tokens)"
    )]
    Memory {
        what: &'static str,
        bytes: u64,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "model '{0}' is unknown: use synthetic:tiny, synthetic:2b-4t or the path of a .gguf file"
    )]
    UnknownModel(String),

    #[error("invalid configuration: {0}")]
    Config(String),

    #[error(
        "context overflow: position {pos} is past the context of {limit} tokens (lower --prompt or --tokens)"
    )]
    ContextOverflow { pos: usize, limit: usize },

    #[error("token id {token} is outside the vocabulary of {vocab} (prompt ids must be < {vocab})")]
    TokenOutOfRange { token: u32, vocab: usize },

    #[error("strict mode (BITNET_STRICT_MODE=1): {0}")]
    Strict(String),

    #[error("kernel selection: {0}")]
    Kernels(String),

    #[error("--backend cuda cannot run here: {0}")]
    DeviceUnavailable(String),

    #[error("CUDA error in {place}: {detail}")]
    Cuda { place: String, detail: String },
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
