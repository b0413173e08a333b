//! What the targets share: a fixed clock, so a receipt's age (and so every
//! finding) depends only on the input, never on the day the fuzzer runs.

use receipt_policy::config::Policy;
use receipt_policy::verify::VerifyOptions;
use time::OffsetDateTime;

/// 2026-06-01T00:00:00Z.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("a valid timestamp")
}

/// `check`'s options under `policy`, judged at the fixed clock.
pub fn options(policy: &Policy) -> VerifyOptions {
    let mut options = VerifyOptions::default();
    options.gates = policy.gate_config(options.gates);
    options.gates.now = now();
    options
}
