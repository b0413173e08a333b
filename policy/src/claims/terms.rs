//! The words the `[claims]` table names: what a claim measures (`Kind`) and what
//! became of it (`Outcome`). Kept apart so the table's reader (`cfg`) needs
//! nothing from the scanner or the backer.

use crate::verdict::Level;
use serde::Serialize;

/// What a claim measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// tokens per second
    Throughput,
    /// milliseconds per token, or first-token latency in ms
    Latency,
    /// a ratio: "3× faster"
    Speedup,
    /// bytes: "1.8 GB peak"
    Memory,
    /// bytes per second: "80 GB/s"
    Bandwidth,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Throughput => "throughput",
            Kind::Latency => "latency",
            Kind::Speedup => "speedup",
            Kind::Memory => "memory",
            Kind::Bandwidth => "bandwidth",
        }
    }
}

/// The result for one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Backed,
    Ignored,
    Stale,
    Unbacked,
    Contradicted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Backed => "backed",
            Outcome::Ignored => "ignored",
            Outcome::Stale => "stale",
            Outcome::Unbacked => "unbacked",
            Outcome::Contradicted => "contradicted",
        }
    }

    /// Default level: anything but backed or ignored fails a check.
    pub fn default_level(self) -> Level {
        match self {
            Outcome::Backed | Outcome::Ignored => Level::Allow,
            Outcome::Stale | Outcome::Unbacked | Outcome::Contradicted => Level::Deny,
        }
    }
}
