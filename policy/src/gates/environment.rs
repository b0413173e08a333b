//! Environment gates: can the run be placed (what built it, where it ran) and
//! dated (a valid time, not in the future, not too old)?

use super::GateFinding;
use super::{Code, GateConfig};
use crate::receipt::{Receipt, SchemaVersion};
use time::{Duration, OffsetDateTime};

/// Clocks on CI runners drift; a receipt this far ahead is still accepted.
pub const FUTURE_SLACK: Duration = Duration::minutes(5);

pub fn check(
    receipt: &Receipt,
    version: SchemaVersion,
    timestamp: OffsetDateTime,
    config: &GateConfig,
    findings: &mut Vec<GateFinding>,
) {
    match version {
        SchemaVersion::V1_0 => {
            for key in ["BITNET_VERSION", "OS"] {
                if receipt.env(key).is_none() {
                    let pointer = if receipt.environment.is_some() {
                        "/environment"
                    } else {
                        ""
                    };
                    findings.push(GateFinding::new(
                        Code::MissingEnvironmentKey,
                        pointer,
                        format!("environment.{key} is missing: the run cannot be placed"),
                        format!("record \"environment\": {{\"{key}\": …}} in the receipt"),
                    ));
                }
            }
        }
        SchemaVersion::V1_1 => {
            evidence(receipt, findings);
            for (key, present) in [
                ("build", receipt.build.is_some()),
                ("host", receipt.host.is_some()),
            ] {
                if !present {
                    findings.push(GateFinding::new(
                        Code::MissingEnvironmentKey,
                        "",
                        format!("{key} is missing: a v1.1 receipt records what built it and where it ran"),
                        format!("add the \"{key}\" object (see `policy-check schema receipt --version 1.1`)"),
                    ));
                }
            }
        }
    }

    if timestamp > config.now + FUTURE_SLACK {
        findings.push(GateFinding::new(
            Code::TimestampInFuture,
            "/timestamp",
            format!(
                "timestamp {} is {} in the future",
                receipt.timestamp,
                human(timestamp - config.now)
            ),
            "rerun the benchmark on a machine with a synchronised clock",
        ));
    }
    if let Some(max_age) = config.max_age {
        let age = config.now - timestamp;
        if age > max_age {
            findings.push(GateFinding::new(
                Code::StaleReceipt,
                "/timestamp",
                format!(
                    "the receipt is {} old, older than the allowed {}",
                    human(age),
                    human(max_age)
                ),
                "rerun the benchmark to get a fresh receipt",
            ));
        }
    }
}

/// "3d 4h", "12m": enough precision to read at a glance.
pub fn human(d: Duration) -> String {
    let secs = d.whole_seconds().unsigned_abs();
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours) {
        (0, 0) => format!("{}m", minutes.max(1)),
        (0, h) => format!("{h}h {minutes}m"),
        (d, 0) => format!("{d}d"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// The longest age accepted: a century. Larger numbers are typos, and in
/// seconds they would overflow the clock's arithmetic.
const MAX_AGE_SECONDS: i64 = 36_525 * 86_400;

/// Parse an age such as "30d", "12h", "90m", "2w" (at most a century).
pub fn parse_age(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit_at = s.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = s.split_at(unit_at);
    let n: i64 = number.parse().ok()?;
    let seconds_per_unit = match unit {
        "w" => 7 * 86_400,
        "d" => 86_400,
        "h" => 3600,
        "m" => 60,
        "s" => 1,
        _ => return None,
    };
    let seconds = n.checked_mul(seconds_per_unit)?;
    (n > 0 && seconds <= MAX_AGE_SECONDS).then(|| Duration::seconds(seconds))
}

/// What a v1.1 receipt promises beyond presence: build and host that say
/// something, timed samples and per-kernel counts, so that the consistency gates
/// have something to check (without them each would skip silently).
fn evidence(receipt: &Receipt, findings: &mut Vec<GateFinding>) {
    let mut missing = |pointer: &str, what: &str| {
        findings.push(GateFinding::new(
            Code::EvidenceMissing,
            pointer,
            format!("{what}: a 1.1.0 receipt carries the evidence it is checked against"),
            "write it as bitnet-engine bench does, or declare schema_version 1.0.0",
        ))
    };
    if receipt
        .build
        .as_ref()
        .is_some_and(|b| *b == Default::default())
    {
        missing("/build", "build is empty");
    }
    if receipt
        .host
        .as_ref()
        .is_some_and(|h| *h == Default::default())
    {
        missing("/host", "host is empty");
    }
    let samples = receipt
        .measurement
        .as_ref()
        .and_then(|m| m.samples_tokens_per_second.as_ref());
    if samples.is_none() {
        missing(
            "/measurement",
            "measurement.samples_tokens_per_second is missing",
        );
    }
    if receipt.kernel_stats.as_ref().is_none_or(Vec::is_empty) {
        missing("/kernel_stats", "kernel_stats is missing or empty");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_and_print() {
        assert_eq!(parse_age("30d"), Some(Duration::days(30)));
        assert_eq!(parse_age("2w"), Some(Duration::days(14)));
        assert_eq!(parse_age("90m"), Some(Duration::minutes(90)));
        assert_eq!(parse_age("36525d"), Some(Duration::days(36_525)));
        // Beyond a century, or beyond what the clock can add: refused, not a panic.
        for bad in [
            "36526d",
            "20000000000000w",
            "200000000000000d",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_age(bad), None, "{bad}");
        }
        for bad in ["", "30", "d", "-3d", "0d", "3 days", "3y"] {
            assert_eq!(parse_age(bad), None, "{bad}");
        }
        assert_eq!(human(Duration::hours(52)), "2d 4h");
        assert_eq!(human(Duration::days(30)), "30d");
        assert_eq!(human(Duration::seconds(5)), "1m");
    }
}
