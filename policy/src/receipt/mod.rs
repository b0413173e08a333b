//! The receipt model: what a benchmark run says it measured. Reads schema
//! versions 1.0.0 / 1.0 (the flat shape) and 1.1.0 (our additions) into one typed
//! `Receipt`; every object keeps the fields it does not know, so writing a
//! receipt back loses nothing. Judging receipts is the gates' job, not this module's.

pub mod parse;
pub mod schema;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The receipt schema versions this build reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaVersion {
    /// "1.0.0" or "1.0": the flat shape existing engines write.
    V1_0,
    /// "1.1.0": v1.0 plus measurement, kernel_stats, build, host, calibration, run.
    V1_1,
}

impl SchemaVersion {
    pub const KNOWN: &'static [&'static str] = &["1.0.0", "1.0", "1.1.0"];

    pub fn parse(s: &str) -> Option<SchemaVersion> {
        match s {
            "1.0.0" | "1.0" => Some(SchemaVersion::V1_0),
            "1.1.0" => Some(SchemaVersion::V1_1),
            _ => None,
        }
    }

    /// Accepts what `--version` takes: 1.0, 1.0.0, 1.1, 1.1.0.
    pub fn from_cli(s: &str) -> Option<SchemaVersion> {
        match s {
            "1.1" => Some(SchemaVersion::V1_1),
            other => SchemaVersion::parse(other),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SchemaVersion::V1_0 => "1.0",
            SchemaVersion::V1_1 => "1.1",
        }
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One receipt, typed. Fields absent in the file are `None`; unknown fields
/// live in `extra` at every level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub schema_version: String,
    pub timestamp: String,
    pub compute_path: String,
    pub backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deterministic: Option<bool>,
    pub kernels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_requested: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_generated: Option<u64>,
    pub tokens_per_second: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<Measurement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_stats: Option<Vec<KernelStat>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Run>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_heads: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_token: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_runs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_runs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_tokens_per_second: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_tokens_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_latency_ms: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelStat {
    pub id: String,
    pub calls: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ns: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What produced the numbers. Kept loose: only the gates' needs are typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Build {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_bw_gbps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roofline_tokens_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roofline_fraction: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Receipt {
    /// Type a document that has passed its schema.
    pub fn from_document(value: Value) -> Result<Receipt, serde_json::Error> {
        serde_json::from_value(value)
    }

    /// The receipt as JSON again, unknown fields included.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a receipt always serializes")
    }

    pub fn version(&self) -> Option<SchemaVersion> {
        SchemaVersion::parse(&self.schema_version)
    }

    /// A string (or number) from `environment`.
    pub fn env(&self, key: &str) -> Option<String> {
        match self.environment.as_ref()?.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The decode ceiling the receipt's own evidence gives: measured memory
    /// bandwidth over the bytes one decoded token reads. Derived here, never
    /// taken from `roofline_tokens_per_second`, so a written-in number cannot
    /// move it.
    pub fn roofline_tokens_per_second(&self) -> Option<f64> {
        let bandwidth = self.calibration.as_ref()?.mem_bw_gbps?;
        let bytes = self.model.as_ref()?.bytes_per_token?;
        (bandwidth.is_finite() && bandwidth > 0.0 && bytes > 0)
            .then(|| bandwidth * 1e9 / bytes as f64)
    }

    /// The samples of the timed runs, when the receipt has them.
    pub fn samples(&self) -> Option<&[f64]> {
        self.measurement
            .as_ref()?
            .samples_tokens_per_second
            .as_deref()
    }

    /// The seed the run used: run.seed, else environment.BITNET_SEED.
    pub fn seed(&self) -> Option<String> {
        self.run
            .as_ref()
            .and_then(|r| r.seed)
            .map(|s| s.to_string())
            .or_else(|| self.env("BITNET_SEED"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_unknown_fields_at_every_level() {
        let doc = json!({
            "schema_version": "1.1.0", "timestamp": "2025-10-23T00:39:09Z",
            "compute_path": "real", "backend": "cpu", "kernels": ["i2s_gemv"],
            "tokens_per_second": 15.3, "vendor_note": {"a": [1, 2]},
            "model": {"path": "m.gguf", "quant_extra": true},
            "measurement": {"samples_tokens_per_second": [15.3], "histogram": [1]},
            "kernel_stats": [{"id": "i2s_gemv", "calls": 3, "bytes": 10}],
            "host": {"os": "linux", "numa": 2}, "build": {"engine": "x", "lto": "thin"},
            "run": {"seed": 42, "ci": {"provider": "github"}},
            "calibration": {"mem_bw_gbps": 20.5, "method": "stream-copy"}
        });
        let receipt = Receipt::from_document(doc.clone()).unwrap();
        assert_eq!(receipt.extra["vendor_note"], json!({"a": [1, 2]}));
        assert_eq!(receipt.to_value(), doc);
    }

    #[test]
    fn versions_normalise() {
        assert_eq!(SchemaVersion::parse("1.0.0"), Some(SchemaVersion::V1_0));
        assert_eq!(SchemaVersion::parse("1.0"), Some(SchemaVersion::V1_0));
        assert_eq!(SchemaVersion::parse("1.1.0"), Some(SchemaVersion::V1_1));
        assert_eq!(SchemaVersion::parse("1.1"), None);
        assert_eq!(SchemaVersion::from_cli("1.1"), Some(SchemaVersion::V1_1));
        assert_eq!(SchemaVersion::parse("2.0"), None);
    }
}
