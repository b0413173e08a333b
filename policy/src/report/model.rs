//! The report model: one document (`report.json`) holding every receipt with its
//! verdict, every claim with its result, the policy that judged them, and where
//! the run happened. Every renderer (text, markdown, SARIF, annotations, check
//! run) reads this and nothing else, so a report published later by another job
//! says exactly what the measuring job saw.

use crate::check::Verdict;
use crate::claims::backing::ClaimVerdict;
use crate::config::Origin;
use crate::verdict::{Finding, Level, Place, Source, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifies the shape of `report.json` (policy/schema/report-v2.schema.json).
pub const REPORT_FORMAT: &str = "receipt-action/report/2";

/// The whole result of one run (or several runs merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub format: String,
    /// The worst of every receipt's status and every claim's level.
    pub verdict: Status,
    pub exit_code: i32,
    /// RFC 3339, when the report was made.
    pub generated_at: String,
    pub tool: Tool,
    pub policy: PolicyRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<Commit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRef>,
    pub receipts: Vec<ReceiptEntry>,
    pub claims: Vec<ClaimEntry>,
    /// Things the reader should know that are not findings (a skipped scan, …).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The release gate's checklist, in release mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_gate: Option<GateEntry>,
    /// The paired comparison with the base, when one ran or was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<ComparisonEntry>,
}

/// Did this change make decoding slower? Base and head measured in
/// interleaved pairs on one machine (`compare`), or why that could not be done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonEntry {
    /// pass (no change, improvement), fail (regression), insufficient-evidence,
    /// or incomparable (the base could not be measured).
    pub status: Status,
    /// Absent when the comparison could not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<crate::compare::Change>,
    /// The base as asked for (a ref), and the commits measured.
    pub base: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// Head against base, relative (−0.041: 4.1% slower): the Hodges–Lehmann
    /// estimate over the pairs, and its interval at `confidence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
    pub confidence: f64,
    /// The policy's `[compare] max_drop`, relative.
    pub max_drop: f64,
    pub pairs: Vec<crate::compare::Pair>,
    /// Why measuring stopped: decided, budget or max-pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Measuring time, and building time (both engines), in seconds.
    pub seconds: f64,
    pub build_seconds: f64,
    /// One sentence a reviewer reads first.
    pub message: String,
    /// The last base and head receipts (each run's receipt is verified).
    #[serde(default)]
    pub receipts: Vec<String>,
}

/// The release gate's checklist (`policy-check gate --release`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateEntry {
    /// pass, fail or error.
    pub status: String,
    pub items: Vec<GateItemEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateItemEntry {
    /// fresh-measurement, claims, baseline or tag.
    pub name: String,
    /// pass, skip, fail or error.
    pub status: String,
    pub detail: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl GateEntry {
    fn status(&self) -> Status {
        match self.status.as_str() {
            "pass" => Status::Pass,
            "fail" => Status::Fail,
            _ => Status::Error,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// The policy file, or the built-in policy's name.
    pub path: String,
    pub sha256: String,
}

/// The code that was judged: for a pull request, its head (not the merge commit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commit {
    pub sha: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
}

/// The CI run that produced the report, for links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRef {
    /// `https://github.com` or a GitHub Enterprise server.
    pub server_url: String,
    /// owner/name
    pub repository: String,
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_attempt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

impl RunRef {
    pub fn url(&self) -> String {
        format!(
            "{}/{}/actions/runs/{}",
            self.server_url.trim_end_matches('/'),
            self.repository,
            self.run_id
        )
    }
}

/// One receipt and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptEntry {
    pub path: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<EnvelopeEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roofline: Option<RooflineEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roofline_fraction: Option<f64>,
    #[serde(default)]
    pub kernels: Vec<String>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Why the receipt could not be read at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeEntry {
    pub id: String,
    /// production, mvp or experimental.
    pub status: String,
    /// "MVP — not for production" and the like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateEntry {
    /// The judged value: the median of the samples, or the single rate.
    pub value: f64,
    pub interval: [f64; 2],
    pub band: [f64; 2],
    /// inside, below, above or straddles.
    pub outcome: String,
    pub samples: usize,
    /// The receipt was judged by its roofline fraction; the band is for reference.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reference: bool,
}

/// The hardware-normalised judgement: the rate as a fraction of the roofline
/// the receipt measured on its own machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RooflineEntry {
    /// The judged fraction: the median of the samples' fractions, or the single one.
    pub value: f64,
    pub interval: [f64; 2],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    pub roofline_tokens_per_second: f64,
    /// inside, below, above or straddles.
    pub outcome: String,
    pub samples: usize,
}

/// One claim and its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimEntry {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub text: String,
    /// backed, ignored, accepted, stale, unbacked or contradicted.
    pub outcome: String,
    pub level: Level,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl From<&Verdict> for ReceiptEntry {
    fn from(v: &Verdict) -> Self {
        ReceiptEntry {
            path: v.path.clone(),
            status: v.status,
            backend: v.backend.clone(),
            model: v.model.clone(),
            tokens_per_second: v.tokens_per_second,
            envelope: v.envelope.as_ref().map(|e| EnvelopeEntry {
                id: e.id.clone(),
                status: e.status.as_str().to_string(),
                label: e.label.map(str::to_string),
            }),
            rate: v.rate.as_ref().map(|r| RateEntry {
                value: r.value,
                interval: r.interval,
                band: r.band,
                outcome: r.outcome.as_str().to_string(),
                samples: r.samples,
                reference: r.reference,
            }),
            roofline: v.roofline.as_ref().map(|r| RooflineEntry {
                value: r.value,
                interval: r.interval,
                min: r.min,
                max: r.max,
                roofline_tokens_per_second: r.roofline_tokens_per_second,
                outcome: r.outcome.as_str().to_string(),
                samples: r.samples,
            }),
            roofline_fraction: v.roofline_fraction,
            kernels: v.kernels.clone(),
            findings: v.findings.clone(),
            error: v
                .error
                .as_ref()
                .map(|e| format!("{} (fix: {})", e.message, e.fix)),
        }
    }
}

impl From<&ClaimVerdict> for ClaimEntry {
    fn from(v: &ClaimVerdict) -> Self {
        ClaimEntry {
            path: v.claim.path.to_string(),
            line: v.claim.line,
            column: v.claim.column,
            text: v.claim.text.clone(),
            outcome: v.outcome.as_str().to_string(),
            level: v.level,
            receipt: v.receipt.clone(),
            measured: v.measured,
            envelope: v.envelope.clone(),
            message: v.message.to_string(),
            suggestion: v.suggestion.map(str::to_string),
        }
    }
}

impl ClaimEntry {
    /// The status this claim adds to the run.
    pub fn status(&self) -> Status {
        match self.level {
            Level::Deny => Status::Fail,
            Level::Warn => Status::Warn,
            Level::Allow => Status::Pass,
        }
    }

    /// Shown as a problem (not backed, not ignored, not allowed).
    pub fn is_problem(&self) -> bool {
        self.level != Level::Allow
    }

    /// The claim as a finding: its outcome is the code (`policy-check explain unbacked`).
    pub fn finding(&self) -> Finding {
        Finding {
            code: self.outcome.clone(),
            level: self.level,
            source: Source::Claim,
            place: Place::text(&self.path, self.line, self.column),
            message: format!("{} — {}", self.text, self.message),
            fix: self.suggestion.clone().unwrap_or_default(),
            rule: None,
        }
    }
}

/// The code of a receipt that could not be read at all.
pub const UNREADABLE_RECEIPT: &str = "unreadable-receipt";
/// What `policy-check explain` lists for it.
pub const UNREADABLE_RECEIPT_SUMMARY: &str =
    "A receipt that could not be read (missing, not a file, too large, not JSON).";

impl ReceiptEntry {
    /// Why the receipt could not be read, as a finding.
    pub fn error_finding(&self) -> Option<Finding> {
        self.error.as_ref().map(|e| Finding {
            code: UNREADABLE_RECEIPT.into(),
            level: Level::Deny,
            source: Source::Input,
            place: Place {
                file: Some(self.path.clone()),
                ..Place::default()
            },
            message: e.clone(),
            fix: String::new(),
            rule: None,
        })
    }
}

impl Report {
    /// Every finding that is not allowed, in the one shape the finding renderers
    /// (annotations, SARIF) take: claims first (they point at lines the PR
    /// changed), then each receipt's read error and findings.
    pub fn findings(&self) -> Vec<Finding> {
        let claims = self
            .claims
            .iter()
            .filter(|c| c.is_problem())
            .map(ClaimEntry::finding);
        let receipts = self.receipts.iter().flat_map(|r| {
            r.error_finding().into_iter().chain(
                r.findings
                    .iter()
                    .filter(|f| f.level != Level::Allow)
                    .cloned(),
            )
        });
        claims.chain(receipts).collect()
    }

    /// A report from verdicts and claim results; the verdict is derived here.
    pub fn new(
        verdicts: &[Verdict],
        claims: &[ClaimVerdict],
        policy: &Origin,
        generated_at: String,
    ) -> Report {
        let mut report = Report {
            format: REPORT_FORMAT.to_string(),
            verdict: Status::Pass,
            exit_code: 0,
            generated_at,
            tool: Tool {
                name: "policy-check".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            policy: PolicyRef {
                path: policy.path.clone(),
                sha256: policy.sha256.clone(),
            },
            commit: None,
            run: None,
            receipts: verdicts.iter().map(ReceiptEntry::from).collect(),
            claims: claims.iter().map(ClaimEntry::from).collect(),
            notes: Vec::new(),
            release_gate: None,
            comparison: None,
        };
        report.settle();
        report
    }

    /// Recompute the verdict and exit code from the parts (after merging or
    /// editing): the worst receipt status and claim level. A report with no
    /// receipt and no claim passes: nothing was claimed, nothing measured.
    pub fn settle(&mut self) {
        let receipts = self.receipts.iter().map(|r| r.status);
        let claims = self.claims.iter().map(ClaimEntry::status);
        let gate = self.release_gate.iter().map(GateEntry::status);
        let comparison = self.comparison.iter().map(|c| c.status);
        self.verdict = receipts
            .chain(claims)
            .chain(gate)
            .chain(comparison)
            .max()
            .unwrap_or(Status::Pass);
        self.exit_code = self.verdict.exit_code();
    }

    /// Merge reports from several jobs (a matrix) into one: receipts from all,
    /// claims once each (the same line judged twice keeps the worse result).
    /// Fails when the reports judged different commits or used different policies.
    pub fn merge(mut reports: Vec<Report>) -> Result<Report, String> {
        let mut merged = reports.pop().ok_or("no report to merge")?;
        for other in reports.into_iter().rev() {
            if other.commit.as_ref().map(|c| &c.sha) != merged.commit.as_ref().map(|c| &c.sha) {
                return Err(format!(
                    "the reports judged different commits ({} and {}); publish each commit's reports separately",
                    sha_or_none(&other.commit),
                    sha_or_none(&merged.commit)
                ));
            }
            if other.policy.sha256 != merged.policy.sha256 {
                return Err(format!(
                    "the reports used different policies ({} sha256 {} and {} sha256 {}); run every job with the same policy",
                    other.policy.path,
                    other.policy.sha256,
                    merged.policy.path,
                    merged.policy.sha256
                ));
            }
            let mut receipts = other.receipts;
            receipts.append(&mut merged.receipts);
            merged.receipts = receipts;
            let mut claims: BTreeMap<(String, u32, u32), ClaimEntry> = other
                .claims
                .into_iter()
                .map(|c| ((c.path.clone(), c.line, c.column), c))
                .collect();
            for c in merged.claims.drain(..) {
                let key = (c.path.clone(), c.line, c.column);
                match claims.get(&key) {
                    Some(kept) if kept.level >= c.level => {}
                    _ => {
                        claims.insert(key, c);
                    }
                }
            }
            merged.claims = claims.into_values().collect();
            merged.notes.extend(other.notes);
            // One comparison is shown: the worst of the jobs' (a matrix job
            // that found a regression must not be hidden by one that did not).
            if let Some(c) = other.comparison
                && merged
                    .comparison
                    .as_ref()
                    .is_none_or(|m| c.status > m.status)
            {
                merged.comparison = Some(c);
            }
        }
        merged.notes.dedup();
        merged.settle();
        Ok(merged)
    }

    /// Receipts per status, worst first.
    pub fn receipt_counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts: BTreeMap<std::cmp::Reverse<Status>, usize> = BTreeMap::new();
        for r in &self.receipts {
            *counts.entry(std::cmp::Reverse(r.status)).or_default() += 1;
        }
        counts.into_iter().map(|(s, n)| (s.0.as_str(), n)).collect()
    }

    /// Claims per result, in the order a reader cares about.
    pub fn claim_counts(&self) -> Vec<(&str, usize)> {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for c in &self.claims {
            match counts.iter_mut().find(|(o, _)| *o == c.outcome) {
                Some((_, n)) => *n += 1,
                None => counts.push((&c.outcome, 1)),
            }
        }
        counts.sort_by_key(|(o, _)| outcome_rank(o));
        counts
    }

    /// "decode −4.1% vs base: regression", "2 receipts pass", "1 claim
    /// unbacked", … the comparison first, then worst first; with
    /// `problems_only`, what passed is left out.
    pub fn count_phrases(&self, problems_only: bool) -> Vec<String> {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let comparison = self
            .comparison
            .iter()
            .filter(|c| !problems_only || c.status != Status::Pass)
            .map(|c| {
                let outcome = c.outcome.map_or("not compared", |o| o.as_str());
                match c.change {
                    Some(x) => format!("decode {:+.1}% vs base: {outcome}", x * 100.0),
                    None => format!("base: {outcome}"),
                }
            });
        let receipts = self
            .receipt_counts()
            .into_iter()
            .filter(|(s, _)| !problems_only || *s != "pass")
            .map(|(s, n)| format!("{n} receipt{} {s}", plural(n)));
        let claims = self
            .claim_counts()
            .into_iter()
            .filter(|(o, _)| !problems_only || !matches!(*o, "backed" | "ignored"))
            .map(|(o, n)| format!("{n} claim{} {o}", plural(n)));
        comparison.chain(receipts).chain(claims).collect()
    }

    /// Claims that fail or warn.
    pub fn unbacked_claims(&self) -> usize {
        self.claims.iter().filter(|c| c.is_problem()).count()
    }

    /// The first receipt's judged rate, for the action's `tokens-per-second` output.
    pub fn headline_rate(&self) -> Option<f64> {
        self.receipts.iter().find_map(|r| r.tokens_per_second)
    }
}

fn sha_or_none(c: &Option<Commit>) -> &str {
    c.as_ref().map_or("no commit", |c| c.sha.as_str())
}

/// Worst first: what a reader must act on comes before what is fine.
pub(crate) fn outcome_rank(outcome: &str) -> u8 {
    match outcome {
        "contradicted" => 0,
        "unbacked" => 1,
        "stale" => 2,
        "accepted" => 3,
        "backed" => 4,
        "ignored" => 5,
        _ => 6,
    }
}
