//! Gates on one receipt, no policy needed (DESIGN §3): structure, honesty,
//! environment, consistency. Each finding carries a stable code; its level is
//! the code's default unless the configuration overrides it.

mod codes;
pub mod consistency;
pub mod environment;
pub mod honesty;
pub mod identifiers;
pub mod structure;

pub use codes::{Code, Family, explain};

use crate::receipt::{Receipt, SchemaVersion};
use crate::verdict::{Finding, Level, Place, Source};
use serde::Serialize;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// One thing wrong (or worth saying) about one receipt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateFinding {
    pub code: Code,
    pub level: Level,
    /// JSON pointer into the receipt ("" is the whole document).
    pub pointer: String,
    /// What is wrong, with the values that are wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl GateFinding {
    pub fn new(
        code: Code,
        pointer: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> GateFinding {
        GateFinding {
            code,
            level: code.default_level(),
            pointer: pointer.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
}

impl GateFinding {
    /// The finding in the one shape renderers take, placed in `file`.
    pub fn into_finding(self, file: &str) -> Finding {
        Finding {
            code: self.code.as_str().to_string(),
            level: self.level,
            source: Source::Gate,
            place: Place::receipt(file, self.pointer),
            message: self.message,
            fix: self.fix,
            rule: None,
        }
    }
}

/// The sha256 of a model file given with `--model`, hashed once per run.
#[derive(Debug, Clone)]
pub struct ModelHash {
    pub path: String,
    pub sha256: String,
}

/// What the gates need besides the receipt.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Level overrides by code (from a policy or the command line).
    pub levels: HashMap<Code, Level>,
    /// Older receipts get `stale-receipt`; `None` skips the age check.
    pub max_age: Option<Duration>,
    /// The time receipts are judged at (fixed once per run).
    pub now: OffsetDateTime,
    /// Require GPU kernel ids whatever the backend says.
    pub require_gpu_kernels: bool,
    pub model_sha256: Option<ModelHash>,
}

/// The default age limit, the same as the default policy's `max_age`.
pub const DEFAULT_MAX_AGE: Duration = Duration::days(30);

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            levels: HashMap::new(),
            max_age: Some(DEFAULT_MAX_AGE),
            now: OffsetDateTime::now_utc(),
            require_gpu_kernels: false,
            model_sha256: None,
        }
    }
}

impl GateConfig {
    pub fn level(&self, code: Code) -> Level {
        self.levels
            .get(&code)
            .copied()
            .unwrap_or(code.default_level())
    }
}

/// One receipt after the gates: the typed receipt when it got that far, and
/// every finding with its effective level.
#[derive(Debug, Clone)]
pub struct Gated {
    pub receipt: Option<Receipt>,
    pub version: Option<SchemaVersion>,
    pub findings: Vec<GateFinding>,
}

/// Run every gate on a receipt's bytes.
pub fn check_bytes(bytes: &[u8], config: &GateConfig) -> Gated {
    let mut gated = match structure::check(bytes) {
        Err(findings) => Gated {
            receipt: None,
            version: None,
            findings,
        },
        Ok(s) => {
            let mut findings = s.findings;
            check_receipt(&s.receipt, s.version, config, &mut findings);
            Gated {
                receipt: Some(s.receipt),
                version: Some(s.version),
                findings,
            }
        }
    };
    for f in &mut gated.findings {
        f.level = config.level(f.code);
    }
    gated
}

/// The honesty, environment and consistency gates on a typed receipt.
pub fn check_receipt(
    receipt: &Receipt,
    version: SchemaVersion,
    config: &GateConfig,
    findings: &mut Vec<GateFinding>,
) {
    honesty::check(receipt, config, findings);
    // The schema's date-time format is looser than RFC 3339 in places (leap
    // seconds), so the timestamp is parsed here, once, for the gates that date it.
    match OffsetDateTime::parse(
        &receipt.timestamp,
        &time::format_description::well_known::Rfc3339,
    ) {
        Ok(ts) => environment::check(receipt, version, ts, config, findings),
        Err(_) => findings.push(structure::timestamp_finding(&receipt.timestamp)),
    }
    consistency::check(receipt, config, findings);
}
