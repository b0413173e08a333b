//! Is a claim backed? The receipts it cites must exist, pass the gates, match an
//! envelope, be fresh, and measure something that supports the number. Each
//! cited receipt is checked once per run, however many claims cite it. A
//! citation must resolve inside the repository: not absolute, no `..` above the
//! root, no symlink leading out; a receipt from elsewhere backs nothing.

pub use super::terms::Outcome;
use super::{Claim, Kind, Qualifier, Quantity};
use crate::check;
use crate::config::Policy;
use crate::receipt::Receipt;
use crate::verdict::Level;
use crate::verify::VerifyOptions;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// A claim with its judgement.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimVerdict {
    #[serde(flatten)]
    pub claim: Claim,
    pub outcome: Outcome,
    pub level: Level,
    /// The receipt that decided it, as cited.
    pub receipt: Option<String>,
    /// What the receipt measured, in the claim's unit family.
    pub measured: Option<f64>,
    pub envelope: Option<String>,
    pub message: Cow<'static, str>,
    /// Fixed advice per result, so a large audit does not repeat it in memory.
    pub suggestion: Option<&'static str>,
}

/// What one cited receipt can say.
#[derive(Debug, Clone)]
enum Evidence {
    /// Missing, failing its gates, or matching no envelope.
    Unusable(String),
    /// Resolving outside the repository (the message says so).
    Outside(String),
    Usable {
        receipt: Box<Receipt>,
        envelope: String,
        /// The envelope's tolerance as a fraction.
        tolerance: f64,
        age: Duration,
    },
}

/// One cited receipt's answer for a claim.
struct Candidate {
    outcome: Outcome,
    /// Advice that is more precise than the result's general one.
    suggestion: Option<&'static str>,
    cited: String,
    measured: Option<f64>,
    envelope: Option<String>,
    message: String,
}

/// Judges claims against the receipts they cite.
pub struct Backer<'p> {
    policy: &'p Policy,
    options: VerifyOptions,
    /// Repository root: `/`-rooted and fallback citations resolve here.
    root: PathBuf,
    max_age: Option<Duration>,
    now: OffsetDateTime,
    levels: HashMap<Outcome, Level>,
    /// `[claims] require_dated_baselines`: only `baselines/YYYY-MM-DD/` receipts back claims.
    dated_only: bool,
    /// `root` with symlinks resolved: a cited file's real path must be under it.
    real_root: PathBuf,
    cache: Mutex<HashMap<PathBuf, Arc<Evidence>>>,
}

/// Where a citation leads.
enum Located {
    File(PathBuf),
    Missing,
    /// Every reading that exists, or would, is outside the repository.
    Outside,
}

/// A path relative to the repository root with `.` and `..` resolved lexically;
/// `None` when it is absolute or climbs above the root.
fn under_root(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

impl<'p> Backer<'p> {
    pub fn new(policy: &'p Policy, root: &Path, levels: HashMap<Outcome, Level>) -> Backer<'p> {
        let mut options = VerifyOptions::default();
        options.gates = policy.gate_config(options.gates);
        let now = options.gates.now;
        // Freshness is judged here as `stale`, not as a gate failure.
        let max_age = options.gates.max_age.take();
        Backer {
            policy,
            options,
            root: root.to_path_buf(),
            max_age,
            now,
            levels,
            dated_only: policy.claims.require_dated_baselines.unwrap_or(false),
            real_root: root.canonicalize().unwrap_or_else(|_| root.to_path_buf()),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn judge(&self, claim: Claim) -> ClaimVerdict {
        if let Some(reason) = claim.ignore.clone() {
            return if reason.is_empty() {
                self.verdict(
                    claim,
                    Outcome::Unbacked,
                    None,
                    None,
                    None,
                    "<!-- receipt-ignore --> needs a reason",
                    Some("write <!-- receipt-ignore: why this number needs no receipt -->"),
                )
            } else {
                self.verdict(
                    claim,
                    Outcome::Ignored,
                    None,
                    None,
                    None,
                    format!("ignored: {reason}"),
                    None,
                )
            };
        }
        if claim.citations.is_empty() {
            let suggestion = "measure it and cite the receipt at the end of its sentence or in its table row: <!-- receipt: ci/inference.json --> (or a link to the receipt); or <!-- receipt-ignore: reason --> if the number is not this project's to back";
            return self.verdict(
                claim,
                Outcome::Unbacked,
                None,
                None,
                None,
                "no receipt cited",
                Some(suggestion),
            );
        }
        // A relative change compares two runs, as a speed-up does (+30% = 1.3×).
        if matches!(claim.quantity.kind, Kind::Speedup | Kind::RelativeChange) {
            return self.judge_speedup(claim);
        }
        // The best answer any cited receipt gives.
        let rank = |o: Outcome| match o {
            Outcome::Backed => 0,
            Outcome::Stale => 1,
            Outcome::Contradicted => 2,
            _ => 3,
        };
        let best = claim
            .citations
            .iter()
            .map(|cited| self.answer(&claim, cited))
            .min_by_key(|c| rank(c.outcome));
        let Candidate {
            outcome,
            suggestion,
            cited,
            measured,
            envelope,
            message,
        } = best.expect("at least one citation");
        let suggestion = suggestion.or(match outcome {
            Outcome::Contradicted => Some(
                "change the number to what was measured, or rerun the benchmark and cite the new receipt",
            ),
            Outcome::Stale => {
                Some("rerun the benchmark and cite a fresh receipt (or record a dated baseline)")
            }
            Outcome::Unbacked => Some("cite a receipt that passes `policy-check check`"),
            _ => None,
        });
        self.verdict(
            claim,
            outcome,
            Some(cited),
            measured,
            envelope,
            message,
            suggestion,
        )
    }

    /// What one cited receipt says about a claim.
    fn answer(&self, claim: &Claim, cited: &str) -> Candidate {
        let candidate = |outcome, measured, envelope: Option<&String>, message| Candidate {
            outcome,
            suggestion: None,
            cited: cited.to_string(),
            measured,
            envelope: envelope.cloned(),
            message,
        };
        if let Some(why) = self.undated(&claim.path, cited) {
            return Candidate {
                suggestion: Some(UNDATED_FIX),
                ..candidate(Outcome::Unbacked, None, None, why)
            };
        }
        let evidence = self.evidence(&claim.path, cited);
        let (receipt, envelope, tolerance, age) = match evidence.as_ref() {
            Evidence::Unusable(why) => {
                return candidate(Outcome::Unbacked, None, None, why.clone());
            }
            Evidence::Outside(why) => {
                return Candidate {
                    suggestion: Some(OUTSIDE_FIX),
                    ..candidate(Outcome::Unbacked, None, None, why.clone())
                };
            }
            Evidence::Usable {
                receipt,
                envelope,
                tolerance,
                age,
            } => (receipt, envelope, *tolerance, *age),
        };
        // A receipt from another device measured something else, not less: the
        // claim is unbacked (no evidence for it), never contradicted.
        if let Some(device) = claim
            .device
            .as_ref()
            .filter(|d| !d.runs_on(&receipt.backend))
        {
            let message = format!(
                "device mismatch: the claim is about {} (receipt backends {}) but {cited} was measured on backend {}",
                device.named,
                device.backend_list(),
                receipt.backend.trim()
            );
            return Candidate {
                suggestion: Some(DEVICE_FIX),
                ..candidate(Outcome::Unbacked, None, Some(envelope), message)
            };
        }
        let kind = claim.quantity.kind;
        let Some(m) = measured_value(&claim.quantity, receipt) else {
            let message = format!("{cited} does not measure {}", kind.as_str());
            return candidate(Outcome::Unbacked, None, Some(envelope), message);
        };
        if !supports(&claim.quantity, m, tolerance) {
            let message = format!(
                "the claim says {} but {cited} measured {} (tolerance {:.0}%)",
                describe(&claim.quantity),
                show(kind, m),
                tolerance * 100.0
            );
            return candidate(Outcome::Contradicted, Some(m), Some(envelope), message);
        }
        match self.max_age.filter(|max| age > *max) {
            Some(max) => {
                let message = format!(
                    "{cited} supports it but is {} old, older than the policy's max_age {}",
                    crate::gates::environment::human(age),
                    crate::gates::environment::human(max)
                );
                candidate(Outcome::Stale, Some(m), Some(envelope), message)
            }
            None => {
                let message = format!("{cited} measured {}", show(kind, m));
                candidate(Outcome::Backed, Some(m), Some(envelope), message)
            }
        }
    }

    /// Under `require_dated_baselines`, why a citation cannot back anything (it
    /// resolves outside `baselines/YYYY-MM-DD/`). A missing file is left to `evidence`.
    fn undated(&self, citing_file: &str, cited: &str) -> Option<String> {
        if !self.dated_only {
            return None;
        }
        let path = self.resolve(citing_file, cited).filter(|p| p.is_file())?;
        let rel = super::repo_relative(&self.root, &path);
        if rel
            .as_deref()
            .and_then(|rel| crate::baseline::dated_path(rel, &self.policy.baselines_dir))
            .is_some()
        {
            return None;
        }
        Some(format!(
            "{cited} is not a dated baseline: the policy sets [claims] require_dated_baselines = true, so only receipts under {}/YYYY-MM-DD/ back a claim",
            self.policy.baselines_dir
        ))
    }

    fn judge_speedup(&self, claim: Claim) -> ClaimVerdict {
        if let Some(why) = claim
            .citations
            .iter()
            .find_map(|c| self.undated(&claim.path, c))
        {
            return self.verdict(
                claim,
                Outcome::Unbacked,
                None,
                None,
                None,
                why,
                Some(UNDATED_FIX),
            );
        }
        let evidence: Vec<Arc<Evidence>> = claim
            .citations
            .iter()
            .map(|c| self.evidence(&claim.path, c))
            .collect();
        let rates: Vec<Option<(f64, String, Duration)>> = evidence
            .iter()
            .map(|e| match e.as_ref() {
                Evidence::Usable {
                    receipt,
                    envelope,
                    age,
                    ..
                } => Some((receipt.tokens_per_second, envelope.clone(), *age)),
                Evidence::Unusable(_) | Evidence::Outside(_) => None,
            })
            .collect();
        let [Some((fast, envelope, age_a)), Some((slow, _, age_b))] = rates.as_slice() else {
            let outside = evidence.iter().find_map(|e| match e.as_ref() {
                Evidence::Outside(why) => Some(why.clone()),
                _ => None,
            });
            let (message, fix) = match outside {
                Some(why) => (why, OUTSIDE_FIX),
                None => (
                    "a speed-up is backed by two usable receipts, the faster run cited first"
                        .to_string(),
                    "cite both runs: <!-- receipt: fast.json --> <!-- receipt: slow.json -->",
                ),
            };
            return self.verdict(
                claim,
                Outcome::Unbacked,
                None,
                None,
                None,
                message,
                Some(fix),
            );
        };
        let ratio = fast / slow;
        // Two measurements, each within its envelope's tolerance: allow 25% on the ratio.
        let outcome = if !supports(&as_ratio(&claim.quantity), ratio, 0.25) {
            Outcome::Contradicted
        } else if self.max_age.is_some_and(|max| *age_a.max(age_b) > max) {
            Outcome::Stale
        } else {
            Outcome::Backed
        };
        let message = format!(
            "the cited receipts give a ratio of {ratio:.2}×; the claim says {}",
            describe(&claim.quantity)
        );
        let cited = claim.citations.join(" / ");
        self.verdict(
            claim,
            outcome,
            Some(cited),
            Some(ratio),
            Some(envelope.clone()),
            message,
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn verdict(
        &self,
        claim: Claim,
        outcome: Outcome,
        receipt: Option<String>,
        measured: Option<f64>,
        envelope: Option<String>,
        message: impl Into<Cow<'static, str>>,
        suggestion: Option<&'static str>,
    ) -> ClaimVerdict {
        ClaimVerdict {
            claim,
            outcome,
            level: self
                .levels
                .get(&outcome)
                .copied()
                .unwrap_or(outcome.default_level()),
            receipt,
            measured,
            envelope,
            message: message.into(),
            suggestion,
        }
    }

    /// Resolve a citation to a receipt file inside the repository: relative to
    /// the citing file, then to the repo root (`/` starts from the root).
    pub fn resolve(&self, citing_file: &str, cited: &str) -> Option<PathBuf> {
        match self.locate(citing_file, cited) {
            Located::File(path) => Some(path),
            Located::Missing | Located::Outside => None,
        }
    }

    /// Each reading of the citation is resolved lexically (`.` and `..`) against
    /// the root and refused if it climbs above it or is absolute (`//tmp/x`);
    /// a file found is refused if its real path (symlinks followed) is not under
    /// the root's real path. The path returned is the lexical one, under `root`.
    fn locate(&self, citing_file: &str, cited: &str) -> Located {
        let dir = Path::new(citing_file).parent().unwrap_or(Path::new(""));
        let readings = match cited.strip_prefix('/') {
            Some(rooted) => vec![PathBuf::from(rooted)],
            None => vec![dir.join(cited), PathBuf::from(cited)],
        };
        let mut outside = false;
        for reading in readings {
            let Some(relative) = under_root(&reading) else {
                outside = true;
                continue;
            };
            let path = self.root.join(relative);
            if !path.is_file() {
                continue;
            }
            match path.canonicalize() {
                Ok(real) if real.starts_with(&self.real_root) => return Located::File(path),
                Ok(_) => outside = true,
                Err(_) => continue,
            }
        }
        if outside {
            Located::Outside
        } else {
            Located::Missing
        }
    }

    fn evidence(&self, citing_file: &str, cited: &str) -> Arc<Evidence> {
        let path = match self.locate(citing_file, cited) {
            Located::File(path) => path,
            Located::Outside => {
                return Arc::new(Evidence::Outside(format!(
                    "cited receipt {cited} is outside the repository: a citation must resolve to a file under the repository root (no absolute path, no `..` above the root, no symlink leading out)"
                )));
            }
            Located::Missing if cited.starts_with('/') => {
                return Arc::new(Evidence::Unusable(format!(
                    "cited receipt {cited} does not exist (a path starting with / is read from the repository root)"
                )));
            }
            Located::Missing => {
                return Arc::new(Evidence::Unusable(format!(
                    "cited receipt {cited} does not exist (looked beside {citing_file} and at the repository root)"
                )));
            }
        };
        if let Some(e) = self.cache.lock().expect("cache lock").get(&path) {
            return e.clone();
        }
        let evidence = Arc::new(self.examine(&path, cited));
        self.cache
            .lock()
            .expect("cache lock")
            .insert(path, evidence.clone());
        evidence
    }

    fn examine(&self, path: &Path, cited: &str) -> Evidence {
        let verdict = check::check_file(path, self.policy, &self.options);
        if let Some(e) = verdict.error {
            return Evidence::Unusable(format!("cited receipt {cited}: {}", e.message));
        }
        // A rate outside the envelope's band is still a measurement; anything
        // else at deny level (a gate, a kernel or determinism rule) is not evidence.
        let blocking: Vec<&str> = verdict
            .findings
            .iter()
            .filter(|f| f.level == Level::Deny)
            .map(|f| f.code.as_str())
            .filter(|c| !c.starts_with("rate-") && !c.starts_with("roofline-"))
            .collect();
        if !blocking.is_empty() {
            return Evidence::Unusable(format!(
                "cited receipt {cited} fails `policy-check check` ({})",
                blocking.join(", ")
            ));
        }
        let Some(envelope) = verdict.envelope else {
            return Evidence::Unusable(format!(
                "cited receipt {cited} matches no envelope of the policy"
            ));
        };
        let bytes = match crate::input::read_capped(path, crate::receipt::parse::DEFAULT_MAX_BYTES)
        {
            Ok(bytes) => bytes,
            Err(e) => {
                return Evidence::Unusable(format!("cited receipt {cited} cannot be read: {e}"));
            }
        };
        let Some(receipt) = crate::receipt::parse::parse(&bytes)
            .ok()
            .and_then(|d| Receipt::from_document(d.value).ok())
        else {
            return Evidence::Unusable(format!(
                "cited receipt {cited} cannot be read as a receipt"
            ));
        };
        let Ok(timestamp) = OffsetDateTime::parse(
            &receipt.timestamp,
            &time::format_description::well_known::Rfc3339,
        ) else {
            return Evidence::Unusable(format!("cited receipt {cited} has an invalid timestamp"));
        };
        let tolerance = self
            .policy
            .envelopes
            .iter()
            .find(|e| e.id == envelope.id)
            .map_or(0.0, |e| e.tolerance.percent / 100.0);
        Evidence::Usable {
            receipt: Box::new(receipt),
            envelope: envelope.id,
            tolerance,
            age: self.now - timestamp,
        }
    }
}

const OUTSIDE_FIX: &str = "copy the receipt into the repository (`policy-check baseline record <receipt>` keeps it as a dated baseline) and cite it by its path there";

const DEVICE_FIX: &str = "cite a receipt measured on the device the claim names; if the citation is for a neighbouring sentence, put it at the end of that sentence (a citation covers its own sentence, row or table)";

const UNDATED_FIX: &str = "record the receipt as a dated baseline (`policy-check baseline record <receipt>`) and cite the path it prints, baselines/YYYY-MM-DD/<name>.json";

/// What the receipt measured, in the claim's base unit.
pub fn measured_value(q: &Quantity, r: &Receipt) -> Option<f64> {
    match q.kind {
        Kind::Throughput => Some(r.tokens_per_second),
        Kind::Bandwidth => r.calibration.as_ref()?.mem_bw_gbps.map(|g| g * 1e9),
        Kind::Latency => {
            let m = r.measurement.as_ref()?;
            m.token_latency_ms
                .as_ref()
                .and_then(|l| l.get("p50"))
                .and_then(|v| v.as_f64())
                .or(m.first_token_ms)
        }
        Kind::Memory => r
            .measurement
            .as_ref()?
            .extra
            .get("peak_rss_bytes")
            .and_then(|v| v.as_f64()),
        // A ratio needs two receipts (`judge_speedup`); no receipt field
        // measures audio, so a real-time factor is never backed by one.
        Kind::Speedup | Kind::RelativeChange | Kind::RealTimeFactor => None,
    }
}

/// A relative change as the ratio of the faster run to the slower one
/// (±30% → 1.3×, the faster run cited first, as for a speed-up).
fn as_ratio(q: &Quantity) -> Quantity {
    if q.kind != Kind::RelativeChange {
        return *q;
    }
    let (a, b) = (1.0 + q.low.abs() / 100.0, 1.0 + q.high.abs() / 100.0);
    Quantity {
        kind: Kind::Speedup,
        low: a.min(b),
        high: a.max(b),
        qualifier: q.qualifier,
    }
}

/// Does a measured value support the claim, given the envelope's tolerance?
pub fn supports(q: &Quantity, measured: f64, tolerance: f64) -> bool {
    let (lo, hi) = (q.low, q.high);
    match q.qualifier {
        Qualifier::AtLeast => measured >= lo * (1.0 - tolerance),
        Qualifier::AtMost => measured <= hi * (1.0 + tolerance),
        // A range must contain the measurement; "~" widens it by the tolerance.
        Qualifier::Exact if lo < hi => lo <= measured && measured <= hi,
        _ => measured >= lo * (1.0 - tolerance) && measured <= hi * (1.0 + tolerance),
    }
}

fn describe(q: &Quantity) -> String {
    let value = if q.low == q.high {
        show(q.kind, q.low)
    } else {
        format!("{}–{}", trim(q.low), show(q.kind, q.high))
    };
    match q.qualifier {
        Qualifier::Exact => value,
        Qualifier::Approximate => format!("~{value}"),
        Qualifier::AtLeast => format!("≥ {value}"),
        Qualifier::AtMost => format!("≤ {value}"),
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A value of a kind in the unit reports print it in ("15.2 tok/s").
pub fn show(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Throughput => format!("{} tok/s", trim(v)),
        Kind::Latency => format!("{} ms", trim(v)),
        Kind::Speedup => format!("{}×", trim(v)),
        Kind::Memory => format!("{} GB", trim(v / 1e9)),
        Kind::Bandwidth => format!("{} GB/s", trim(v / 1e9)),
        Kind::RealTimeFactor => format!("{}× real time", trim(v)),
        Kind::RelativeChange => format!("{}%", trim(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(low: f64, high: f64, qualifier: Qualifier) -> Quantity {
        Quantity {
            kind: Kind::Throughput,
            low,
            high,
            qualifier,
        }
    }

    #[test]
    fn citations_resolve_lexically_under_the_root_or_not_at_all() {
        let under = |p: &str| under_root(Path::new(p)).map(|p| p.display().to_string());
        assert_eq!(under("docs/../ci/./a.json").as_deref(), Some("ci/a.json"));
        assert_eq!(under("docs/a/../../x.json").as_deref(), Some("x.json"));
        assert_eq!(under("docs/../../x.json"), None);
        assert_eq!(under("../x.json"), None);
        assert_eq!(under("/tmp/x.json"), None);
    }

    #[test]
    fn support_rules() {
        assert!(supports(&q(10.0, 20.0, Qualifier::Exact), 15.0, 0.15));
        assert!(!supports(&q(10.0, 20.0, Qualifier::Exact), 21.0, 0.15));
        assert!(supports(&q(10.0, 20.0, Qualifier::Approximate), 21.0, 0.15));
        assert!(supports(&q(15.0, 15.0, Qualifier::Exact), 13.0, 0.15));
        assert!(!supports(&q(15.0, 15.0, Qualifier::Exact), 12.0, 0.15));
        assert!(supports(&q(30.0, 30.0, Qualifier::AtLeast), 26.0, 0.15));
        assert!(!supports(&q(30.0, 30.0, Qualifier::AtLeast), 25.0, 0.15));
        assert!(supports(&q(30.0, 30.0, Qualifier::AtMost), 34.0, 0.15));
        assert_eq!(
            describe(&q(10.0, 20.0, Qualifier::Approximate)),
            "~10–20 tok/s"
        );
    }
}
