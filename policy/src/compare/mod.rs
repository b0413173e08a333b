//! Paired base/head statistics (DESIGN §4): did this change make decoding
//! slower? Base and head are measured in interleaved pairs on one machine; each
//! pair gives the log ratio ln(head / base), and the Hodges–Lehmann estimate of
//! their centre with its distribution-free Wilcoxon signed-rank interval is
//! judged against the policy's threshold. Pure: no processes, no files.

pub mod cfg;

use serde::{Deserialize, Serialize};

/// One base run and one head run, measured back to back.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    /// Decode rates (tok/s) as each run's receipt states them.
    pub base: f64,
    pub head: f64,
    /// Which ran first (the order alternates ABBA, so drift cancels).
    pub head_first: bool,
}

impl Pair {
    pub fn log_ratio(&self) -> f64 {
        (self.head / self.base).ln()
    }
}

/// What the pairs say about the change, against a threshold δ (`[compare] max_drop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Slower, clearly (the whole interval is below zero) and by more than δ
    /// (the estimate).
    Regression,
    /// Faster, clearly and by more than δ.
    Improvement,
    /// The whole interval lies within ±δ.
    NoChange,
    /// None of those yet: more pairs could decide.
    InsufficientEvidence,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Regression => "regression",
            Change::Improvement => "improvement",
            Change::NoChange => "no change",
            Change::InsufficientEvidence => "insufficient evidence",
        }
    }

    /// What the outcome adds to a run: a regression fails it; undecided warns.
    pub fn status(self) -> crate::verdict::Status {
        use crate::verdict::Status;
        match self {
            Change::Regression => Status::Fail,
            Change::Improvement | Change::NoChange => Status::Pass,
            Change::InsufficientEvidence => Status::Warn,
        }
    }
}

/// The estimate of the change and its interval, as relative changes
/// (−0.041 = 4.1% slower), and the outcome against `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub change: f64,
    pub interval: [f64; 2],
    /// The interval's exact coverage (≥ the confidence asked for).
    pub coverage: f64,
    pub outcome: Change,
}

/// The Hodges–Lehmann estimate of the median log ratio (the median of the
/// Walsh averages) with its Wilcoxon signed-rank interval at `confidence`,
/// judged against ± `threshold` (a relative change, 0.02 = 2%; see `Change`). `None` until
/// there are enough pairs for the interval to reach `confidence` (6 pairs for 95%).
pub fn estimate(pairs: &[Pair], confidence: f64, threshold: f64) -> Option<Estimate> {
    let d: Vec<f64> = pairs.iter().map(Pair::log_ratio).collect();
    if d.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let n = d.len();
    let (k, coverage) = signed_rank_rank(n, confidence)?;
    let mut walsh = Vec::with_capacity(n * (n + 1) / 2);
    for i in 0..n {
        for j in i..n {
            walsh.push((d[i] + d[j]) / 2.0);
        }
    }
    walsh.sort_by(f64::total_cmp);
    let m = walsh.len();
    let centre = crate::stats::median_sorted(&walsh);
    let (lo, hi) = (walsh[k - 1], walsh[m - k]);
    let [change, lo, hi] = [centre, lo, hi].map(f64::exp_m1);
    // A regression must be both: real (the interval excludes no change) and
    // large (the estimate is past the threshold). Requiring the whole interval
    // past the threshold instead would miss most 5% drops on a noisy runner;
    // requiring only significance would flag drops too small to matter.
    let outcome = if hi < 0.0 && change < -threshold {
        Change::Regression
    } else if lo > 0.0 && change > threshold {
        Change::Improvement
    } else if lo >= -threshold && hi <= threshold {
        Change::NoChange
    } else {
        Change::InsufficientEvidence
    };
    Some(Estimate {
        change,
        interval: [lo, hi],
        coverage,
        outcome,
    })
}

/// The 1-based rank k of the Walsh averages that bounds the interval: the
/// largest k with P(T⁺ ≤ k−1) ≤ (1−confidence)/2 under the null, where T⁺ is
/// the signed-rank statistic of n pairs (exact distribution), and the coverage
/// 1 − 2·P(T⁺ ≤ k−1) it gives. `None` when even k = 1 is out of reach.
fn signed_rank_rank(n: usize, confidence: f64) -> Option<(usize, f64)> {
    if n == 0 {
        return None;
    }
    let alpha = (1.0 - confidence) / 2.0;
    // P(T⁺ = t): each rank 1..n is in the positive set with probability ½.
    let max = n * (n + 1) / 2;
    let mut p = vec![0.0f64; max + 1];
    p[0] = 1.0;
    for rank in 1..=n {
        for t in (rank..=max).rev() {
            p[t] = (p[t] + p[t - rank]) / 2.0;
        }
        for x in p.iter_mut().take(rank) {
            *x /= 2.0;
        }
    }
    let mut cdf = 0.0;
    let mut k = 0;
    for (t, pt) in p.iter().enumerate() {
        if cdf + pt > alpha {
            break;
        }
        cdf += pt;
        k = t + 1;
    }
    (k >= 1 && k <= max.div_ceil(2)).then_some((k, 1.0 - 2.0 * cdf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(ratios: &[f64]) -> Vec<Pair> {
        ratios
            .iter()
            .enumerate()
            .map(|(i, r)| Pair {
                base: 10.0,
                head: 10.0 * r,
                head_first: i % 2 == 1,
            })
            .collect()
    }

    #[test]
    fn signed_rank_ranks_match_published_tables() {
        // Two-sided 95%: n = 6 → T ≤ 0 (P = 1/64 = 0.0156); n = 10 → T ≤ 8
        // (P = 0.0244); n = 20 → T ≤ 52 (P = 0.0243). (Wilcoxon critical values.)
        assert_eq!(signed_rank_rank(5, 0.95), None);
        let (k, c) = signed_rank_rank(6, 0.95).unwrap();
        assert_eq!(k, 1);
        assert!((c - (1.0 - 2.0 / 64.0)).abs() < 1e-12);
        assert_eq!(signed_rank_rank(10, 0.95).unwrap().0, 9);
        assert_eq!(signed_rank_rank(20, 0.95).unwrap().0, 53);
        // 90%: n = 5 → T ≤ 0 (P = 1/32 ≤ 0.05).
        assert_eq!(signed_rank_rank(5, 0.90).unwrap().0, 1);
        // Large n stays finite and in range.
        let (k, c) = signed_rank_rank(200, 0.95).unwrap();
        assert!(k > 1 && k < 200 * 201 / 4, "{k}");
        assert!((0.95..0.96).contains(&c), "{c}");
    }

    #[test]
    fn a_clear_drop_beyond_the_threshold_is_a_regression() {
        let e = estimate(
            &pairs(&[0.95, 0.951, 0.949, 0.952, 0.948, 0.95, 0.953, 0.947]),
            0.95,
            0.02,
        )
        .unwrap();
        assert_eq!(e.outcome, Change::Regression);
        assert!((e.change + 0.05).abs() < 0.002, "{e:?}");
        assert!(e.interval[0] < e.change && e.change < e.interval[1]);
        // The same pairs the other way round: an improvement.
        let up: Vec<f64> = [0.95, 0.951, 0.949, 0.952, 0.948, 0.95, 0.953, 0.947]
            .iter()
            .map(|r| 1.0 / r)
            .collect();
        assert_eq!(
            estimate(&pairs(&up), 0.95, 0.02).unwrap().outcome,
            Change::Improvement
        );
    }

    #[test]
    fn noise_inside_the_threshold_is_no_change_and_across_it_is_undecided() {
        let same = pairs(&[1.004, 0.997, 1.001, 0.999, 1.003, 0.996, 1.0, 1.002]);
        assert_eq!(
            estimate(&same, 0.95, 0.02).unwrap().outcome,
            Change::NoChange
        );
        // Pairs that scatter from −4% to +1%: cannot tell a 2% drop from none.
        let wide = pairs(&[0.96, 1.01, 0.97, 1.0, 0.965, 1.005, 0.99, 0.975]);
        assert_eq!(
            estimate(&wide, 0.95, 0.02).unwrap().outcome,
            Change::InsufficientEvidence
        );
        // A clear but small drop (interval below zero, about −1%) is within
        // what the threshold allows; the same drop with a 0.5% threshold
        // is neither proven past it nor within it.
        let small = pairs(&[0.99, 0.985, 0.992, 0.988, 0.991, 0.975, 0.99, 0.989]);
        let e = estimate(&small, 0.95, 0.02).unwrap();
        assert!(e.interval[1] < 0.0, "{e:?}");
        assert_eq!(e.outcome, Change::NoChange);
        let e = estimate(&small, 0.95, 0.005).unwrap();
        assert_eq!(e.outcome, Change::Regression, "{e:?}");
        // Too few pairs for a 95% interval, or a rate that is not a number.
        assert!(estimate(&same[..5], 0.95, 0.02).is_none());
        let mut broken = same.clone();
        broken[0].base = 0.0;
        assert!(estimate(&broken, 0.95, 0.02).is_none());
    }
}
