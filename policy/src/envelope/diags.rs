//! The stable codes of the envelope check: `EnvelopeCode`s for what judging a
//! receipt against its envelope finds (a policy file's own codes are
//! `config::ConfigCode`). Codes are public contract: only add.

use crate::verdict::{Level, stable_codes};

/// What the status of a code is when the policy does not set its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeDefault {
    Level(Level),
    /// The verdict is `incomparable` (exit 3) unless `levels` says otherwise.
    Incomparable,
    /// The verdict is `insufficient-evidence` (exit 3) unless `levels` says otherwise.
    InsufficientEvidence,
}

/// What an envelope code says: what a finding of it does by default, and the
/// text `policy-check explain <code>` prints.
pub struct EnvelopeInfo {
    pub default: CodeDefault,
    pub summary: &'static str,
    pub explain: &'static str,
}

const DENY: CodeDefault = CodeDefault::Level(Level::Deny);
const WARN: CodeDefault = CodeDefault::Level(Level::Warn);
const INCOMPARABLE: CodeDefault = CodeDefault::Incomparable;
const INSUFFICIENT: CodeDefault = CodeDefault::InsufficientEvidence;

stable_codes! {
    /// A stable code for what judging a receipt against an envelope found.
    pub enum EnvelopeCode: EnvelopeInfo {
        NoMatchingEnvelope = "no-matching-envelope" {
            default: INCOMPARABLE,
            summary: "No envelope's `when` matches the receipt, so there is nothing to judge it against.",
            explain: "Every `when` key of an envelope must match the receipt for the envelope to apply. \
                      A receipt no envelope matches is `incomparable` (exit 3): its numbers may be fine, \
                      but no rule says what fine is. Fix: add an envelope for this backend and format, or \
                      check the receipt's backend and model.format. `levels = { no-matching-envelope = \"deny\" }` \
                      in [receipt] makes it a failure.",
        }
        AmbiguousMatch = "ambiguous-match" {
            default: DENY,
            summary: "Two equally specific envelopes match the receipt.",
            explain: "Loading rejects envelopes that can overlap; this catches the rest (a `when` key on a \
                      list such as `kernels`, where one receipt can match two different globs). Fix: add a \
                      `when` key to the envelope that should win.",
        }
        RateBelowEnvelope = "rate-below-envelope" {
            default: DENY,
            summary: "The decode rate is below the envelope's band.",
            explain: "The band is [min·(1−tolerance), max·(1+tolerance)], edges included. With samples, the \
                      whole confidence interval of the median is below the band. Fix: find the regression \
                      (a slower kernel, a fallback path, a busy runner), or change the envelope in review.",
        }
        RateAboveEnvelope = "rate-above-envelope" {
            default: DENY,
            summary: "The decode rate is above the envelope's band.",
            explain: "Faster than the band is as suspicious as slower: a skipped computation, a cached result, \
                      a different model than the envelope is for. Fix: check that the run did the work, then \
                      raise the envelope in review if the speed-up is real.",
        }
        RateInconclusive = "rate-inconclusive" {
            default: INSUFFICIENT,
            summary: "The confidence interval of the median rate straddles an edge of the band.",
            explain: "The samples cannot say on which side of the edge the true median lies, so the verdict \
                      is `insufficient-evidence` (exit 3). Fix: run more timed runs (`--runs`), or re-run on a \
                      quieter runner (the action's `confirm_runs`).",
        }
        RooflineBelowEnvelope = "roofline-below-envelope" {
            default: DENY,
            summary: "The rate is a smaller fraction of the memory-bandwidth roofline than the envelope allows.",
            explain: "roofline_fraction = tokens_per_second / (measured bandwidth / bytes per token) normalises \
                      for the hardware. Fix: find what keeps the decode from streaming weights at memory speed.",
        }
        RooflineAboveEnvelope = "roofline-above-envelope" {
            default: DENY,
            summary: "The rate is a larger fraction of the roofline than the envelope allows.",
            explain: "A fraction above the envelope's max usually means the calibration or bytes_per_token is \
                      wrong. Fix: check calibration.mem_bw_gbps and model.bytes_per_token.",
        }
        RooflineUnmeasured = "roofline-unmeasured" {
            default: WARN,
            summary: "The envelope judges the rate only by roofline_fraction and the receipt has no calibration.",
            explain: "Receipts of schema 1.0 carry no calibration, so nothing places their rate against their \
                      machine's ceiling; an envelope that also has a tokens_per_second band judges them by the \
                      band instead, and this finding does not appear. Fix: write receipts of schema 1.1 with \
                      calibration.mem_bw_gbps and model.bytes_per_token, or give the envelope a band.",
        }
        RooflineInconclusive = "roofline-inconclusive" {
            default: INSUFFICIENT,
            summary: "The confidence interval of the median roofline fraction straddles an edge of the envelope's bounds.",
            explain: "The samples, each divided by the receipt's roofline, cannot say on which side of the \
                      edge the true median fraction lies, so the verdict is `insufficient-evidence` (exit 3). \
                      Fix: run more timed runs (`--runs`), or re-run on a quieter runner (the action's \
                      `confirm-runs`).",
        }
        MissingRequiredKernel = "missing-required-kernel" {
            default: DENY,
            summary: "No kernel the receipt ran matches a glob in `kernels.require`.",
            explain: "A required kernel that did not run means the fast path was not taken. Fix: check the \
                      dispatcher's choice (host.simd) and the build's features.",
        }
        ForbiddenKernel = "forbidden-kernel" {
            default: DENY,
            summary: "A kernel the receipt ran matches a glob in `kernels.forbid`.",
            explain: "Forbidden kernels are fallbacks or test doubles this envelope must never see. Fix: run \
                      in strict mode to find where the fallback is taken.",
        }
        NotDeterministic = "not-deterministic" {
            default: DENY,
            summary: "The envelope requires a deterministic run and the receipt is not one.",
            explain: "Fix: run with BITNET_DETERMINISTIC=1 and a seed, or set `deterministic = false` in the \
                      envelope for backends (CUDA) whose reductions are not ordered.",
        }
        TokensOverCap = "tokens-over-cap" {
            default: DENY,
            summary: "The run generated more tokens than the envelope's `max_tokens`.",
            explain: "MVP paths are slow (QK256 scalar kernels run at about 0.1 tok/s), so their runs are \
                      capped to keep CI short. Fix: run with --tokens at or below the cap.",
        }
        TooFewTokens = "too-few-tokens" {
            default: DENY,
            summary: "A production envelope judged a run that decoded fewer than 16 tokens.",
            explain: "A rate from a handful of tokens is mostly timer and warm-up noise, and a 1-token run \
                      measures no decode at all; production numbers come from at least 16 decoded tokens per \
                      timed run. Fix: run with --tokens 16 or more (bitnet-engine bench decodes 128 by default).",
        }
        MvpEnvelope = "mvp-envelope" {
            default: WARN,
            summary: "The receipt was judged by an MVP or experimental envelope: not for production.",
            explain: "Envelopes with status mvp or experimental turn their findings into warnings and label \
                      the verdict, so a slow known-incomplete path is tracked without failing CI. Honesty \
                      gates are never relaxed.",
        }
    }
}

impl EnvelopeCode {
    pub fn default(self) -> CodeDefault {
        self.info().default
    }
    pub fn summary(self) -> &'static str {
        self.info().summary
    }
    pub fn explanation(self) -> &'static str {
        self.info().explain
    }

    /// `policy-check explain` text.
    pub fn explain(self) -> String {
        let default = match self.default() {
            CodeDefault::Level(l) => format!("default level {l}"),
            CodeDefault::Incomparable => "default: verdict incomparable".into(),
            CodeDefault::InsufficientEvidence => "default: verdict insufficient-evidence".into(),
        };
        format!(
            "{self} (envelope rule, {default})\n\n{}\n\n{}\n",
            self.summary(),
            self.explanation()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::Code;

    #[test]
    fn codes_are_kebab_case_unique_and_distinct_from_gate_codes() {
        let mut seen = std::collections::HashSet::new();
        for c in EnvelopeCode::ALL {
            let s = c.as_str();
            assert!(
                s.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'),
                "{s}"
            );
            assert!(seen.insert(s), "{s} twice");
            assert!(Code::parse(s).is_none(), "{s} is also a gate code");
            assert_eq!(EnvelopeCode::parse(s), Some(*c));
        }
        for c in crate::config::ConfigCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
        }
    }
}
