//! The policy file's `[compare]` table: how the paired base/head comparison
//! decides and how long it may measure. Parsed with the policy's spanned reader.
//!
//! ```toml
//! [compare]
//! max_drop = "2%"       # a change within ± this is "no change"; a larger drop fails
//! confidence = 0.95     # of the interval around the estimated change
//! budget = "4m"         # measuring time (builds not counted); then the verdict is what the pairs say
//! max_pairs = 40
//! ```

use crate::config::error::ConfigCode;
use crate::config::spanned::{Source, integer, number, percent, string, unknown_keys, wrong_type};
use std::time::Duration;
use toml::de::DeTable;

const COMPARE_KEYS: &[&str] = &["max_drop", "confidence", "budget", "max_pairs"];

/// The defaults, chosen with benches/paired-compare.sh (docs/comparing.md).
pub const DEFAULT_MAX_DROP_PERCENT: f64 = 2.0;
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(240);
pub const DEFAULT_MAX_PAIRS: usize = 40;
/// No budget beyond a day: a typo such as "400h" should not hold a runner.
const MAX_BUDGET: Duration = Duration::from_secs(24 * 3600);

/// What `[compare]` says; absent keys are `None`.
#[derive(Debug, Clone, Default)]
pub struct CompareSettings {
    pub max_drop: Option<f64>,
    pub confidence: Option<f64>,
    pub budget: Option<(Duration, String)>,
    pub max_pairs: Option<usize>,
}

impl CompareSettings {
    /// The file's keys over `base`'s, key by key.
    pub fn merged_over(self, base: CompareSettings) -> CompareSettings {
        CompareSettings {
            max_drop: self.max_drop.or(base.max_drop),
            confidence: self.confidence.or(base.confidence),
            budget: self.budget.or(base.budget),
            max_pairs: self.max_pairs.or(base.max_pairs),
        }
    }

    /// The threshold as a relative change (2% → 0.02).
    pub fn threshold(&self) -> f64 {
        self.max_drop.unwrap_or(DEFAULT_MAX_DROP_PERCENT) / 100.0
    }

    pub fn confidence(&self) -> f64 {
        self.confidence.unwrap_or(DEFAULT_CONFIDENCE)
    }

    pub fn budget(&self) -> Duration {
        self.budget.as_ref().map_or(DEFAULT_BUDGET, |(d, _)| *d)
    }

    pub fn max_pairs(&self) -> usize {
        self.max_pairs.unwrap_or(DEFAULT_MAX_PAIRS)
    }
}

pub(crate) fn parse(src: &mut Source, t: &DeTable) -> CompareSettings {
    unknown_keys(src, t, COMPARE_KEYS, "in [compare]");
    let max_drop = t
        .get("max_drop")
        .and_then(|v| percent(src, v, "max_drop", "\"2%\"", ConfigCode::InvalidValue))
        .map(|t| t.percent);
    let confidence = t.get("confidence").and_then(|v| match number(v.get_ref()) {
        Some(c) if (0.5..1.0).contains(&c) => Some(c),
        Some(c) => {
            src.error(
                ConfigCode::InvalidValue,
                v.span(),
                format!("confidence {c} is not a probability from 0.5 to below 1"),
                "write e.g. 0.95 (a 95% interval)".into(),
            );
            None
        }
        None => {
            wrong_type(src, v, "confidence", "a number", "0.95");
            None
        }
    });
    let budget = t.get("budget").and_then(|v| {
        let text = string(src, v, "budget", "\"4m\"")?;
        match parse_budget(text) {
            Some(d) => Some((d, text.to_string())),
            None => {
                src.error(
                    ConfigCode::InvalidValue,
                    v.span(),
                    format!("budget \"{text}\" is not a duration from 1 s to 24 h"),
                    "write a number and a unit: \"240s\", \"4m\", \"1h\"".into(),
                );
                None
            }
        }
    });
    let max_pairs = t.get("max_pairs").and_then(|v| match integer(v.get_ref()) {
        Some(n) if (6..=1000).contains(&n) => Some(n as usize),
        Some(n) => {
            src.error(
                ConfigCode::InvalidValue,
                v.span(),
                format!("max_pairs {n} is out of range"),
                "write a whole number from 6 (the fewest that give a 95% interval) to 1000".into(),
            );
            None
        }
        None => {
            wrong_type(src, v, "max_pairs", "an integer", "40");
            None
        }
    });
    CompareSettings {
        max_drop,
        confidence,
        budget,
        max_pairs,
    }
}

/// "240s", "4m", "1h" → a duration from 1 s to 24 h (read as receipt ages
/// are); anything else is `None`.
pub fn parse_budget(text: &str) -> Option<Duration> {
    let d = crate::gates::environment::parse_age(text)?;
    let seconds = u64::try_from(d.whole_seconds()).ok()?;
    Some(Duration::from_secs(seconds)).filter(|d| *d <= MAX_BUDGET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_within_a_day() {
        assert_eq!(parse_budget("4m"), Some(Duration::from_secs(240)));
        assert_eq!(parse_budget("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_budget("24h"), Some(Duration::from_secs(86400)));
        for bad in [
            "",
            "4",
            "m",
            "0m",
            "25h",
            "-1m",
            "4 m",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_budget(bad), None, "{bad}");
        }
    }
}
