//! The words the `[claims]` table names: what a claim measures (`Kind`) and what
//! became of it (`Outcome`). Kept apart so the table's reader (`cfg`) needs
//! nothing from the scanner or the backer.

use crate::verdict::{Level, stable_codes};
use serde::Serialize;

/// What a claim measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// tokens per second
    Throughput,
    /// milliseconds per token, or first-token latency in ms
    Latency,
    /// a ratio: "3× faster"
    Speedup,
    /// bytes: "1.8 GB peak"
    Memory,
    /// bytes per second: "80 GB/s"
    Bandwidth,
    /// audio made or read per unit of wall time: "36.4x rt", "35x-100x realtime"
    RealTimeFactor,
    /// a signed percentage change of a performance figure: "+30% at 16K"
    RelativeChange,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Throughput => "throughput",
            Kind::Latency => "latency",
            Kind::Speedup => "speedup",
            Kind::Memory => "memory",
            Kind::Bandwidth => "bandwidth",
            Kind::RealTimeFactor => "real-time-factor",
            Kind::RelativeChange => "relative-change",
        }
    }
}

/// What the claims check says about an outcome: its default level and the
/// text `policy-check explain <outcome>` prints.
pub struct OutcomeInfo {
    pub level: Level,
    pub summary: &'static str,
    pub explain: &'static str,
}

stable_codes! {
    /// The result for one claim; as a finding, its code.
    pub enum Outcome: OutcomeInfo {
        Backed = "backed" {
            level: Level::Allow,
            summary: "The claim cites a receipt that passes and measured what the claim says.",
            explain: "The cited receipt passes `policy-check check`, is no older than the policy's \
                      max_age, and its rate is the claim's number within the tolerance. Nothing to fix.",
        }
        Ignored = "ignored" {
            level: Level::Allow,
            summary: "The claim is marked `<!-- receipt-ignore: reason -->`.",
            explain: "An ignore marks a number that is not this project's to back (a competitor's, a \
                      quoted paper's). The reason is shown in reports. Nothing to fix; review the reason.",
        }
        Accepted = "accepted" {
            level: Level::Allow,
            summary: "The claim fails, and the project accepted it as it is in its claims ledger.",
            explain: "`policy-check claims --filter all --accept` records the claims that fail today in \
                      ci/accepted-claims.json, so checks judge only new or changed ones. The claim's file and \
                      text (its number included) identify it, not its line. Fix: back it with a receipt when \
                      you can; `--prune` drops entries whose claim is gone.",
        }
        Stale = "stale" {
            level: Level::Deny,
            summary: "The cited receipt is older than the policy's max_age, or has no date.",
            explain: "A number measured long ago may no longer hold. Fix: measure again, replace the cited \
                      receipt, and keep the claim's number if the new receipt still backs it.",
        }
        Unbacked = "unbacked" {
            level: Level::Deny,
            summary: "A performance claim with no receipt that backs it.",
            explain: "No receipt is cited in the claim's sentence or table row (or on the line after its \
                      table or code block), or the cited one does not exist, does not pass `policy-check \
                      check`, or was measured on another device than the claim names. Fix: \
                      measure it and cite the receipt (`<!-- receipt: ci/inference.json -->` or a link to \
                      the receipt); `policy-check receipt snippet` writes the citation. If the number is \
                      not this project's to back, mark it `<!-- receipt-ignore: reason -->`.",
        }
        Contradicted = "contradicted" {
            level: Level::Deny,
            summary: "The cited receipt measured something else than the claim says.",
            explain: "The claim's number is outside the cited receipt's rate by more than the tolerance. \
                      Fix: change the number to what was measured (`policy-check claims --fix` proposes \
                      it), or measure again and cite the new receipt.",
        }
    }
}

impl Outcome {
    /// Default level: anything but backed or ignored fails a check.
    pub fn default_level(self) -> Level {
        self.info().level
    }
}

/// What `policy-check explain <outcome>` prints.
pub fn explain(outcome: Outcome) -> String {
    let info = outcome.info();
    format!(
        "{outcome} (claim outcome, default level {})\n\n{}\n\n{}\n",
        info.level, info.summary, info.explain
    )
}
