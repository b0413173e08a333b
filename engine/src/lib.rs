//! BitNet b1.58 reference inference engine that writes honest receipts.
//!
//! `model` is the decoder (one readable `forward`), `formats` the weight layouts,
//! `kernels` the dispatcher that runs and counts every kernel, `synthetic` and `gguf`
//! the two ways to get a model, `bench` the timed runs and `receipt` what they write.
//! `cuda` (feature `gpu`) is the GPU backend; `crosscheck` compares two backends'
//! logits step by step.

pub mod bench;
pub mod crosscheck;
#[cfg(feature = "gpu")]
pub mod cuda;
pub mod error;
pub mod formats;
pub mod gguf;
pub mod kernels;
pub mod model;
pub mod receipt;
pub mod synthetic;

pub use error::{EngineError, Result};
pub use kernels::{Dispatcher, SimdLevel};
pub use model::{Config, Model, RunState, forward, generate};
