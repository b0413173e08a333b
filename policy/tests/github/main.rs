//! The GitHub publishing layer (feature `github`): events from GitHub's example
//! payloads, `publish` against a stateful in-process fake, and the runner files.

#[path = "../common/mod.rs"]
mod common;
mod events;
mod fake;
mod files;
mod publish;
