//! Judging one typed receipt against the envelope that matched it: the rate
//! band (with a distribution-free confidence interval for the median when the
//! receipt has samples) and the rules beside it. Reads no files, prints nothing.

use super::diags::{CodeDefault, EnvelopeCode};
use super::matching::{self, Match};
use super::{Envelope, EnvelopeStatus};
use crate::config::{Location, Policy};
use crate::receipt::Receipt;
use crate::verdict::{Finding, Level, Place, Source, Status};
use serde::Serialize;
use serde_json::Value;

/// The confidence the median's interval must reach (when the samples allow it).
/// With n = 5 samples the widest interval, min..max, covers the median with
/// probability 1 − 2/2⁵ = 93.75%, the smallest n that reaches 90%.
pub const CONFIDENCE: f64 = 0.90;

/// Values this close to an edge (relative) count as on it: decimal rates such
/// as 8.5 and 23.0 are not exact in binary floating point.
const EDGE_SLACK: f64 = 1e-12;

/// One thing an envelope rule found about a receipt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvelopeFinding {
    pub code: EnvelopeCode,
    pub level: Level,
    /// JSON pointer into the receipt.
    pub pointer: String,
    pub message: String,
    pub fix: String,
    /// The policy rule that produced it.
    pub rule: Option<Location>,
    /// The verdict status this finding forces (incomparable, insufficient
    /// evidence) when the policy leaves its level at the default.
    #[serde(skip)]
    pub status: Option<Status>,
}

impl EnvelopeFinding {
    /// The finding in the one shape renderers take, placed in `file`.
    pub fn into_finding(self, file: &str) -> Finding {
        Finding {
            code: self.code.as_str().to_string(),
            level: self.level,
            source: Source::Envelope,
            place: Place::receipt(file, self.pointer),
            message: self.message,
            fix: self.fix,
            rule: self.rule.map(|l| l.to_string()),
        }
    }
}

/// Which envelope judged the receipt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvelopeRef {
    pub id: String,
    pub status: EnvelopeStatus,
    /// "MVP — not for production" and the like; absent for production envelopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'static str>,
    pub location: Location,
}

/// How the rate compared with the band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RateOutcome {
    Inside,
    Below,
    Above,
    Straddles,
}

impl RateOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RateOutcome::Inside => "inside",
            RateOutcome::Below => "below",
            RateOutcome::Above => "above",
            RateOutcome::Straddles => "straddles",
        }
    }
}

/// The numbers behind the rate verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateJudgement {
    /// "median" of samples, or "single" value (tokens_per_second).
    pub basis: &'static str,
    pub value: f64,
    pub samples: usize,
    /// The interval judged: the median's order-statistics interval, or [value, value].
    pub interval: [f64; 2],
    /// Its coverage probability for the median (None for a single value).
    pub confidence: Option<f64>,
    pub band: [f64; 2],
    pub outcome: RateOutcome,
    /// The receipt was judged by its roofline fraction: the band is shown for
    /// reference and found nothing.
    pub reference: bool,
}

/// The hardware-normalised numbers: the rate as a fraction of the roofline
/// the receipt measured on its own machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RooflineJudgement {
    /// "median" of the samples' fractions, or "single" (tokens_per_second's).
    pub basis: &'static str,
    pub value: f64,
    pub samples: usize,
    pub interval: [f64; 2],
    pub confidence: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// calibration.mem_bw_gbps / model.bytes_per_token.
    pub roofline_tokens_per_second: f64,
    pub outcome: RateOutcome,
}

/// The envelope part of a verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub status: Status,
    pub envelope: Option<EnvelopeRef>,
    pub rate: Option<RateJudgement>,
    pub roofline: Option<RooflineJudgement>,
    pub findings: Vec<EnvelopeFinding>,
}

/// The distribution-free interval for the median of `sorted` samples: the
/// order statistics x(k)..x(n+1−k) with the largest k whose coverage
/// 1 − 2·P(Binomial(n, ½) ≤ k−1) is at least `CONFIDENCE`; k = 1 (min..max)
/// when no k reaches it. Returns (lo, hi, coverage).
pub fn median_interval(sorted: &[f64]) -> Option<(f64, f64, f64)> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let coverage = |k: usize| 1.0 - 2.0 * binomial_half_cdf(n, k - 1);
    let mut k = 1;
    while k < n.div_ceil(2) && coverage(k + 1) >= CONFIDENCE {
        k += 1;
    }
    Some((sorted[k - 1], sorted[n - k], coverage(k).max(0.0)))
}

/// P(X ≤ j) for X ~ Binomial(n, ½), summed in log space so large n cannot underflow.
fn binomial_half_cdf(n: usize, j: usize) -> f64 {
    let mut log_pmf = -(n as f64) * std::f64::consts::LN_2;
    let mut sum = 0.0;
    for i in 0..=j.min(n) {
        sum += log_pmf.exp();
        log_pmf += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    sum.min(1.0)
}

impl Envelope {
    /// [min·(1−t), max·(1+t)], computed as min·(100−p)/100 so that whole
    /// percentages of round numbers give exact edges (10 tok/s ±15% → 8.5).
    pub fn band(&self) -> Option<[f64; 2]> {
        let rate = self.rate.as_ref()?;
        let p = self.tolerance.percent;
        let lo = rate.min.or(rate.expected).unwrap_or(0.0);
        let hi = rate.max.or(rate.expected).unwrap_or(f64::INFINITY);
        Some([lo * (100.0 - p) / 100.0, hi * (100.0 + p) / 100.0])
    }
}

fn at_least(x: f64, edge: f64) -> bool {
    x >= edge - edge.abs() * EDGE_SLACK
}

fn at_most(x: f64, edge: f64) -> bool {
    x <= edge + edge.abs() * EDGE_SLACK
}

fn fmt_rate(x: f64) -> String {
    if x.is_infinite() {
        "∞".into()
    } else {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// Judge one receipt. `value` is the receipt as JSON (for `when` paths).
pub fn judge(policy: &Policy, receipt: &Receipt, value: &Value) -> Judgement {
    let envelope = match matching::find(&policy.envelopes, value) {
        Match::One(e) => e,
        Match::None => {
            let mut j = Judgement {
                status: Status::Incomparable,
                envelope: None,
                rate: None,
                roofline: None,
                findings: Vec::new(),
            };
            push(
                policy,
                &mut j,
                EnvelopeCode::NoMatchingEnvelope,
                "",
                format!(
                    "no envelope matches this receipt (backend \"{}\", model.format {})",
                    receipt.backend,
                    receipt
                        .model
                        .as_ref()
                        .and_then(|m| m.format.as_deref())
                        .map_or("absent".to_string(), |f| format!("\"{f}\""))
                ),
                "add an envelope whose `when` matches this backend and format (`policy-check policy show` lists them), or write model.format into the receipt".into(),
                None,
            );
            finish(&mut j, None);
            return j;
        }
        Match::Tie(a, b) => {
            let mut j = Judgement {
                status: Status::Fail,
                envelope: None,
                rate: None,
                roofline: None,
                findings: Vec::new(),
            };
            push(
                policy,
                &mut j,
                EnvelopeCode::AmbiguousMatch,
                "",
                format!(
                    "envelopes \"{}\" ({}) and \"{}\" ({}) both match with {} `when` keys",
                    a.id,
                    a.location,
                    b.id,
                    b.location,
                    a.specificity()
                ),
                "add a `when` key to the envelope that should judge this receipt".into(),
                Some(b.location.clone()),
            );
            finish(&mut j, None);
            return j;
        }
    };
    let mut j = Judgement {
        status: Status::Pass,
        envelope: Some(EnvelopeRef {
            id: envelope.id.clone(),
            status: envelope.status,
            label: envelope.status.label(),
            location: envelope.location.clone(),
        }),
        rate: None,
        roofline: None,
        findings: Vec::new(),
    };
    // A calibrated receipt under an envelope with a roofline rule is judged by
    // its fraction of its own machine's ceiling; the band judges the rest.
    let normalised = envelope
        .roofline
        .as_ref()
        .zip(receipt.roofline_tokens_per_second());
    rate(policy, envelope, receipt, normalised.is_some(), &mut j);
    match normalised {
        Some((bounds, ceiling)) => roofline(policy, envelope, bounds, receipt, ceiling, &mut j),
        None => {
            if let Some(bounds) = envelope
                .roofline
                .as_ref()
                .filter(|_| envelope.rate.is_none())
            {
                unmeasured(policy, envelope, bounds, &mut j);
            }
        }
    }
    rules(policy, envelope, receipt, &mut j);
    decode_length(policy, &mut j, envelope, receipt);
    if let Some(label) = envelope.status.label() {
        push(
            policy,
            &mut j,
            EnvelopeCode::MvpEnvelope,
            "",
            format!(
                "judged by {} envelope \"{}\": {label}",
                envelope.status.as_str(),
                envelope.id
            ),
            "use a production envelope's path (format, kernels) for numbers that ship".into(),
            Some(envelope.location.clone()),
        );
    }
    finish(&mut j, Some(envelope));
    j
}

/// What the rate verdict rests on: the median of the finite samples with its
/// interval, or the single rate; every value divided by `scale` (1 for tok/s,
/// the roofline for fractions of it).
struct Evidence {
    basis: &'static str,
    value: f64,
    samples: usize,
    interval: [f64; 2],
    confidence: Option<f64>,
}

impl Evidence {
    fn of(receipt: &Receipt, scale: f64) -> Evidence {
        let mut samples: Vec<f64> = receipt
            .samples()
            .unwrap_or(&[])
            .iter()
            .filter(|s| s.is_finite())
            .map(|s| s / scale)
            .collect();
        samples.sort_by(f64::total_cmp);
        match median_interval(&samples) {
            Some((lo, hi, coverage)) => Evidence {
                basis: "median",
                value: crate::stats::median_sorted(&samples),
                samples: samples.len(),
                interval: [lo, hi],
                confidence: Some(coverage),
            },
            None => {
                let value = receipt.tokens_per_second / scale;
                Evidence {
                    basis: "single",
                    value,
                    samples: 0,
                    interval: [value; 2],
                    confidence: None,
                }
            }
        }
    }

    /// Where the interval lies against [lo, hi] (edges included).
    fn outcome(&self, [lo_edge, hi_edge]: [f64; 2]) -> RateOutcome {
        let [lo, hi] = self.interval;
        if !lo.is_finite() || !hi.is_finite() {
            RateOutcome::Below
        } else if at_least(lo, lo_edge) && at_most(hi, hi_edge) {
            RateOutcome::Inside
        } else if !at_least(hi, lo_edge) {
            RateOutcome::Below
        } else if !at_most(lo, hi_edge) {
            RateOutcome::Above
        } else {
            RateOutcome::Straddles
        }
    }

    /// "median 13.4 tok/s of 5 samples, 93.75% interval [13.3, 13.5]".
    fn describe(&self, unit: &str) -> String {
        match self.confidence {
            Some(c) => format!(
                "median {}{unit} of {} samples, {:.2}% interval [{}, {}]",
                fmt_rate(self.value),
                self.samples,
                c * 100.0,
                fmt_rate(self.interval[0]),
                fmt_rate(self.interval[1])
            ),
            None => format!("{}{unit} (one value, no samples)", fmt_rate(self.value)),
        }
    }

    fn pointer(&self) -> &'static str {
        if self.confidence.is_some() {
            "/measurement/samples_tokens_per_second"
        } else {
            "/tokens_per_second"
        }
    }
}

/// The absolute band. `reference`: the receipt is judged by its roofline
/// fraction, so the band is reported but finds nothing.
fn rate(policy: &Policy, e: &Envelope, receipt: &Receipt, reference: bool, j: &mut Judgement) {
    let (Some(band), Some(rule)) = (e.band(), e.rate.as_ref()) else {
        return;
    };
    let evidence = Evidence::of(receipt, 1.0);
    let outcome = evidence.outcome(band);
    let what = evidence.describe(" tok/s");
    let band_text = format!(
        "[{}, {}] (tokens_per_second {} ± {})",
        fmt_rate(band[0]),
        fmt_rate(band[1]),
        rule_text(rule),
        e.tolerance.text
    );
    let pointer = evidence.pointer();
    let location = Some(rule.location.clone());
    match outcome {
        _ if reference => {}
        RateOutcome::Inside => {}
        RateOutcome::Below => push(
            policy,
            j,
            EnvelopeCode::RateBelowEnvelope,
            pointer,
            format!("{what} is below envelope \"{}\" band {band_text}", e.id),
            "find the regression (slower kernel, fallback path, busy runner), or change the envelope in review".into(),
            location,
        ),
        RateOutcome::Above => push(
            policy,
            j,
            EnvelopeCode::RateAboveEnvelope,
            pointer,
            format!("{what} is above envelope \"{}\" band {band_text}", e.id),
            "check that the run did the work (model, tokens, kernels); raise the envelope in review if the speed-up is real".into(),
            location,
        ),
        RateOutcome::Straddles => push(
            policy,
            j,
            EnvelopeCode::RateInconclusive,
            pointer,
            format!(
                "{what} straddles an edge of envelope \"{}\" band {band_text}: the samples cannot tell which side the median is on",
                e.id
            ),
            "re-run with more timed runs or on a quieter runner (the action's confirm_runs)".into(),
            location,
        ),
    }
    j.rate = Some(RateJudgement {
        basis: evidence.basis,
        value: evidence.value,
        samples: evidence.samples,
        interval: evidence.interval,
        confidence: evidence.confidence,
        band,
        outcome,
        reference,
    });
}

/// The hardware-normalised judgement: each sample as a fraction of the
/// receipt's own roofline, judged against the envelope's bounds the way the
/// band judges tok/s (interval inside, outside, or straddling an edge).
fn roofline(
    policy: &Policy,
    e: &Envelope,
    bounds: &super::Bounds,
    receipt: &Receipt,
    ceiling: f64,
    j: &mut Judgement,
) {
    let evidence = Evidence::of(receipt, ceiling);
    let edges = [
        bounds.min.unwrap_or(0.0),
        bounds.max.unwrap_or(f64::INFINITY),
    ];
    let outcome = evidence.outcome(edges);
    let what = format!(
        "roofline fraction {} (roofline {} tok/s: measured bandwidth / model.bytes_per_token)",
        evidence.describe(""),
        fmt_rate(ceiling)
    );
    let limits = match (bounds.min, bounds.max) {
        (Some(lo), Some(hi)) => format!("[{}, {}]", fmt_rate(lo), fmt_rate(hi)),
        (Some(lo), None) => format!("min {}", fmt_rate(lo)),
        (None, Some(hi)) => format!("max {}", fmt_rate(hi)),
        (None, None) => "any".into(),
    };
    let location = Some(bounds.location.clone());
    let (code, fix) = match outcome {
        RateOutcome::Inside => (None, ""),
        RateOutcome::Below => (
            Some((EnvelopeCode::RooflineBelowEnvelope, "is below")),
            "find what keeps decoding from streaming weights at memory speed (a fallback or scalar kernel, a busy runner)",
        ),
        RateOutcome::Above => (
            Some((EnvelopeCode::RooflineAboveEnvelope, "is above")),
            "check calibration.mem_bw_gbps and model.bytes_per_token",
        ),
        RateOutcome::Straddles => (
            Some((EnvelopeCode::RooflineInconclusive, "straddles an edge of")),
            "re-run with more timed runs or on a quieter runner (the action's confirm-runs)",
        ),
    };
    if let Some((code, relation)) = code {
        push(
            policy,
            j,
            code,
            evidence.pointer(),
            format!(
                "{what} {relation} envelope \"{}\" roofline_fraction {limits}",
                e.id
            ),
            fix.into(),
            location,
        );
    }
    j.roofline = Some(RooflineJudgement {
        basis: evidence.basis,
        value: evidence.value,
        samples: evidence.samples,
        interval: evidence.interval,
        confidence: evidence.confidence,
        min: bounds.min,
        max: bounds.max,
        roofline_tokens_per_second: ceiling,
        outcome,
    });
}

/// A roofline rule is the only rate rule and the receipt cannot be placed
/// against its machine's ceiling: nothing judges the rate.
fn unmeasured(policy: &Policy, e: &Envelope, bounds: &super::Bounds, j: &mut Judgement) {
    push(
        policy,
        j,
        EnvelopeCode::RooflineUnmeasured,
        "/calibration",
        format!(
            "envelope \"{}\" judges the rate only by roofline_fraction, and the receipt has no calibration.mem_bw_gbps and model.bytes_per_token to place it",
            e.id
        ),
        "write schema 1.1 receipts with calibration (bitnet-engine bench does), or give the envelope a tokens_per_second band".into(),
        Some(bounds.location.clone()),
    );
}

fn rule_text(rule: &super::RateRule) -> String {
    match (rule.min, rule.max, rule.expected) {
        (_, _, Some(x)) => fmt_rate(x),
        (Some(lo), Some(hi), _) => format!("{}–{}", fmt_rate(lo), fmt_rate(hi)),
        (Some(lo), None, _) => format!("≥ {}", fmt_rate(lo)),
        (None, Some(hi), _) => format!("≤ {}", fmt_rate(hi)),
        (None, None, None) => "any".into(),
    }
}

fn rules(policy: &Policy, e: &Envelope, receipt: &Receipt, j: &mut Judgement) {
    for g in &e.require {
        if !receipt.kernels.iter().any(|k| g.matcher.is_match(k)) {
            push(
                policy,
                j,
                EnvelopeCode::MissingRequiredKernel,
                "/kernels",
                format!(
                    "no kernel matches \"{}\", which envelope \"{}\" requires (kernels.require at {}); ran: {}",
                    g.pattern,
                    e.id,
                    g.location,
                    preview(&receipt.kernels)
                ),
                "check the dispatcher's choice (host.simd) and the build's features; the fast kernel did not run".into(),
                Some(g.location.clone()),
            );
        }
    }
    for g in &e.forbid {
        if let Some((i, k)) = receipt
            .kernels
            .iter()
            .enumerate()
            .find(|(_, k)| g.matcher.is_match(k))
        {
            push(
                policy,
                j,
                EnvelopeCode::ForbiddenKernel,
                format!("/kernels/{i}"),
                format!(
                    "kernel \"{k}\" matches \"{}\", which envelope \"{}\" forbids (kernels.forbid at {})",
                    g.pattern, e.id, g.location
                ),
                "run in strict mode (BITNET_STRICT_MODE=1) to find where this path is taken".into(),
                Some(g.location.clone()),
            );
        }
    }
    if let Some((true, location)) = &e.deterministic
        && receipt.deterministic != Some(true)
    {
        push(
            policy,
            j,
            EnvelopeCode::NotDeterministic,
            "/deterministic",
            format!(
                "envelope \"{}\" requires deterministic = true; the receipt says {}",
                e.id,
                receipt
                    .deterministic
                    .map_or("nothing".to_string(), |d| d.to_string())
            ),
            "run with BITNET_DETERMINISTIC=1 BITNET_SEED=42, or set deterministic = false in the envelope".into(),
            Some(location.clone()),
        );
    }
    if let Some((cap, location)) = &e.max_tokens {
        let tokens = receipt.tokens_generated.or(receipt.tokens_requested);
        if let Some(t) = tokens
            && t > *cap
        {
            let mvp = if e.status == EnvelopeStatus::Production {
                String::new()
            } else {
                format!("{} runs are capped: ", e.status.as_str().to_uppercase())
            };
            push(
                policy,
                j,
                EnvelopeCode::TokensOverCap,
                if receipt.tokens_generated.is_some() {
                    "/tokens_generated"
                } else {
                    "/tokens_requested"
                },
                format!(
                    "{mvp}{t} tokens, above envelope \"{}\" max_tokens {cap}",
                    e.id
                ),
                format!("run with --tokens {cap} or fewer"),
                Some(location.clone()),
            );
        }
    }
}

/// The fewest decoded tokens per timed run a production envelope accepts.
pub const MIN_PRODUCTION_DECODE_TOKENS: u64 = 16;

fn decode_length(policy: &Policy, j: &mut Judgement, e: &Envelope, receipt: &Receipt) {
    if e.status != EnvelopeStatus::Production {
        return;
    }
    let decoded = receipt.measurement.as_ref().and_then(|m| m.decode_tokens);
    let (pointer, tokens) = match (decoded, receipt.tokens_generated) {
        (Some(t), _) => ("/measurement/decode_tokens", t),
        (None, Some(t)) => ("/tokens_generated", t),
        (None, None) => return,
    };
    if tokens < MIN_PRODUCTION_DECODE_TOKENS {
        push(
            policy,
            j,
            EnvelopeCode::TooFewTokens,
            pointer,
            format!(
                "{tokens} decoded tokens per run; production envelope \"{}\" needs at least {MIN_PRODUCTION_DECODE_TOKENS}",
                e.id
            ),
            format!("run with --tokens {MIN_PRODUCTION_DECODE_TOKENS} or more"),
            None,
        );
    }
}

fn preview(kernels: &[String]) -> String {
    if kernels.is_empty() {
        return "(none)".into();
    }
    let mut s = kernels
        .iter()
        .take(8)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if kernels.len() > 8 {
        s.push_str(&format!(", … ({} in all)", kernels.len()));
    }
    s
}

fn push(
    policy: &Policy,
    j: &mut Judgement,
    code: EnvelopeCode,
    pointer: impl Into<String>,
    message: String,
    fix: String,
    rule: Option<Location>,
) {
    // A policy level wins; otherwise the code's default, where the special
    // defaults are shown as warnings and set the verdict's status themselves.
    let (level, status) = match (policy.envelope_level(code), code.default()) {
        (Some(level), _) => (level, None),
        (None, CodeDefault::Level(level)) => (level, None),
        (None, CodeDefault::Incomparable) => (Level::Warn, Some(Status::Incomparable)),
        (None, CodeDefault::InsufficientEvidence) => {
            (Level::Warn, Some(Status::InsufficientEvidence))
        }
    };
    j.findings.push(EnvelopeFinding {
        code,
        level,
        status,
        pointer: pointer.into(),
        message,
        fix,
        rule,
    });
}

/// Status from the findings; MVP and experimental envelopes cap every finding at warn.
fn finish(j: &mut Judgement, envelope: Option<&Envelope>) {
    let relaxed = envelope.is_some_and(|e| e.status != EnvelopeStatus::Production);
    let mut status = Status::Pass;
    for f in &mut j.findings {
        if relaxed {
            f.level = f.level.min(Level::Warn);
            f.status = None;
        }
        let s = f.status.unwrap_or(match f.level {
            Level::Deny => Status::Fail,
            Level::Warn => Status::Warn,
            Level::Allow => Status::Pass,
        });
        status = status.max(s);
    }
    j.status = status;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_samples_give_min_to_max_at_93_75_percent() {
        let (lo, hi, c) = median_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((lo, hi), (1.0, 5.0));
        assert!((c - 0.9375).abs() < 1e-12);
    }

    #[test]
    fn coverage_matches_binomial_tables() {
        // n = 10: k = 2 gives 1 − 2·(1 + 10)/1024 = 0.978515625; k = 3 gives
        // 1 − 2·56/1024 = 0.890625 < 0.90, so k = 2: x(2)..x(9).
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let (lo, hi, c) = median_interval(&xs).unwrap();
        assert_eq!((lo, hi), (2.0, 9.0));
        assert!((c - 0.978515625).abs() < 1e-12);
        // Fewer than five samples cannot reach 90%: min..max, with its real coverage.
        let (lo, hi, c) = median_interval(&[3.0, 1.0f64.max(2.0), 4.0]).unwrap();
        assert_eq!((lo, hi), (3.0, 4.0));
        assert!((c - 0.75).abs() < 1e-12);
        assert_eq!(median_interval(&[7.0]).unwrap(), (7.0, 7.0, 0.0));
        assert!(median_interval(&[]).is_none());
        // Large n does not underflow: the interval narrows around the median.
        let xs: Vec<f64> = (0..5000).map(f64::from).collect();
        let (lo, hi, c) = median_interval(&xs).unwrap();
        assert!((CONFIDENCE..0.91).contains(&c), "{c}");
        assert!(lo > 2400.0 && hi < 2600.0, "{lo} {hi}");
    }
}
