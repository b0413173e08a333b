//! Which envelope judges a receipt: every `when` key must match, the most
//! specific envelope (most `when` keys) wins, and two equally specific envelopes
//! that could match one receipt are refused when the policy loads. No judging here.

use super::cfg::{Envelope, Pattern, WhenKey};
use serde_json::Value;

/// Receipt fields whose value is a list: a `when` key on one matches when any
/// element does, so two envelopes with different globs there can both match.
const LIST_PATHS: &[&str] = &["kernels", "host.runner.labels", "build.features"];

impl Pattern {
    fn matches_scalar(&self, value: &Value) -> bool {
        match (self, value) {
            (Pattern::Text { text, glob }, Value::String(s)) => match glob {
                Some(g) => g.is_match(s),
                None => text.eq_ignore_ascii_case(s),
            },
            (Pattern::Text { text, glob }, Value::Number(n)) => {
                let s = n.to_string();
                match glob {
                    Some(g) => g.is_match(&s),
                    None => *text == s,
                }
            }
            (Pattern::Bool(b), Value::Bool(v)) => b == v,
            (Pattern::Number(x), Value::Number(n)) => n.as_f64() == Some(*x),
            _ => false,
        }
    }

    /// Literal text, when the pattern is a plain string.
    fn literal(&self) -> Option<&str> {
        match self {
            Pattern::Text { text, glob: None } => Some(text),
            _ => None,
        }
    }

    /// False only when no value can match both patterns.
    fn may_overlap(&self, other: &Pattern) -> bool {
        match (self, other) {
            (Pattern::Bool(a), Pattern::Bool(b)) => a == b,
            (Pattern::Number(a), Pattern::Number(b)) => a == b,
            (Pattern::Text { .. }, Pattern::Text { .. }) => {
                match (self.literal(), other.literal()) {
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    (Some(a), None) => other.matches_scalar(&Value::String(a.into())),
                    (None, Some(b)) => self.matches_scalar(&Value::String(b.into())),
                    (None, None) => globs_may_overlap(self.text(), other.text()),
                }
            }
            // A string pattern can match a number's text ("1*" and 12).
            (Pattern::Text { .. }, Pattern::Number(n))
            | (Pattern::Number(n), Pattern::Text { .. }) => {
                let t = if let Pattern::Text { .. } = self {
                    self
                } else {
                    other
                };
                serde_json::Number::from_f64(*n)
                    .is_some_and(|num| t.matches_scalar(&Value::Number(num)))
            }
            _ => false,
        }
    }

    fn text(&self) -> &str {
        match self {
            Pattern::Text { text, .. } => text,
            _ => "",
        }
    }
}

/// Two globs can match a common string unless their fixed prefixes (or fixed
/// suffixes) contradict each other. Conservative: "may" overlap.
fn globs_may_overlap(a: &str, b: &str) -> bool {
    let meta = ['*', '?', '[', ']', '{', '}', '\\'];
    let prefix = |s: &str| s[..s.find(meta).unwrap_or(s.len())].to_ascii_lowercase();
    let suffix = |s: &str| s[s.rfind(meta).map_or(0, |i| i + 1)..].to_ascii_lowercase();
    let (pa, pb) = (prefix(a), prefix(b));
    let (sa, sb) = (suffix(a), suffix(b));
    (pa.starts_with(&pb) || pb.starts_with(&pa)) && (sa.ends_with(&sb) || sb.ends_with(&sa))
}

impl WhenKey {
    /// Whether this key matches the receipt (as JSON). Absent or null never matches.
    pub fn matches(&self, receipt: &Value) -> bool {
        match receipt.pointer(&self.pointer) {
            None | Some(Value::Null) => false,
            Some(Value::Array(items)) => items
                .iter()
                .any(|item| self.patterns.iter().any(|p| p.matches_scalar(item))),
            Some(v) => self.patterns.iter().any(|p| p.matches_scalar(v)),
        }
    }

    fn may_overlap(&self, other: &WhenKey) -> bool {
        LIST_PATHS.contains(&self.path.as_str())
            || self
                .patterns
                .iter()
                .any(|p| other.patterns.iter().any(|q| p.may_overlap(q)))
    }
}

impl Envelope {
    /// How specific the envelope is: its number of `when` keys.
    pub fn specificity(&self) -> usize {
        self.when.len()
    }

    pub fn matches(&self, receipt: &Value) -> bool {
        self.when.iter().all(|k| k.matches(receipt))
    }

    /// Whether some receipt could match both envelopes: no key they share rules it out.
    pub fn may_overlap(&self, other: &Envelope) -> bool {
        self.when.iter().all(|k| {
            other
                .when
                .iter()
                .find(|o| o.path == k.path)
                .is_none_or(|o| k.may_overlap(o))
        })
    }
}

/// The envelope that judges a receipt.
#[derive(Debug)]
pub enum Match<'p> {
    One(&'p Envelope),
    None,
    /// Equally specific envelopes both match (possible only through list fields).
    Tie(&'p Envelope, &'p Envelope),
}

pub fn find<'p>(envelopes: &'p [Envelope], receipt: &Value) -> Match<'p> {
    let mut best: Option<&Envelope> = None;
    let mut tie: Option<&Envelope> = None;
    for e in envelopes.iter().filter(|e| e.matches(receipt)) {
        match best {
            None => best = Some(e),
            Some(b) if e.specificity() > b.specificity() => {
                best = Some(e);
                tie = None;
            }
            Some(b) if e.specificity() == b.specificity() => tie = tie.or(Some(e)),
            Some(_) => {}
        }
    }
    match (best, tie) {
        (Some(b), Some(t)) => Match::Tie(b, t),
        (Some(b), None) => Match::One(b),
        _ => Match::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_against_the_receipt_schema() {
        use crate::envelope::cfg::check_path;
        assert!(check_path("backend").is_ok());
        assert!(check_path("model.format").is_ok());
        assert!(check_path("host.gpu.name").is_ok());
        assert!(check_path("environment.ANY_VARIABLE").is_ok());
        let e = check_path("model.fromat").unwrap_err();
        assert!(e.contains("model.format"), "{e}");
        assert!(check_path("backnd").unwrap_err().contains("\"backend\""));
        assert!(check_path("model..format").is_err());
    }

    #[test]
    fn glob_overlap_is_conservative() {
        assert!(globs_may_overlap("i2s_*", "i2s_gemv*"));
        assert!(globs_may_overlap("*", "qk256_*"));
        assert!(!globs_may_overlap("i2s_*", "tq2_*"));
        assert!(!globs_may_overlap("*_avx2", "*_neon"));
    }
}
