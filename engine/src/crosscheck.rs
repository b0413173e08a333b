//! Compares two decoders step by step: the reference (the CPU engine) runs greedy
//! generation; the candidate (e.g. the CUDA backend) is fed the same tokens (teacher
//! forcing, so one near-tie cannot derail every later step) and its logits and own
//! greedy choice are compared at every step.

use serde::Serialize;

use crate::bench::Decoder;
use crate::error::{EngineError, Result};

#[derive(Clone, Debug)]
pub struct StepCheck {
    pub cosine: f64,
    pub max_abs_diff: f32,
    pub reference_token: u32,
    pub candidate_token: u32,
    /// The reference's top logit minus its second: how decided its greedy choice was.
    pub reference_gap: f32,
}

impl StepCheck {
    /// A different token where the reference's top two logits are closer than the
    /// largest logit difference between the two decoders: either choice is within
    /// the engines' numerical difference.
    pub fn near_tie(&self) -> bool {
        self.reference_token != self.candidate_token
            && self.reference_gap <= 2.0 * self.max_abs_diff
    }
}

#[derive(Clone, Debug)]
pub struct CrossCheck {
    pub steps: Vec<StepCheck>,
}

impl CrossCheck {
    pub fn min_cosine(&self) -> f64 {
        self.steps.iter().map(|s| s.cosine).fold(1.0, f64::min)
    }

    pub fn tokens_identical(&self) -> bool {
        self.steps
            .iter()
            .all(|s| s.reference_token == s.candidate_token)
    }

    /// Whether every step reached `min_cosine` and chose the reference's token (or,
    /// with `allow_near_ties`, differed only at a near-tie, see [`StepCheck::near_tie`]).
    pub fn passes(&self, min_cosine: f64, allow_near_ties: bool) -> bool {
        self.min_cosine() >= min_cosine
            && self.steps.iter().all(|s| {
                s.reference_token == s.candidate_token || (allow_near_ties && s.near_tie())
            })
    }

    /// The report of this check against `min_cosine` (and near ties, if allowed).
    pub fn report(&self, min_cosine: f64, allow_near_ties: bool) -> Report {
        Report {
            steps: self.steps.len(),
            min_cosine: self.min_cosine(),
            required_cosine: min_cosine,
            tokens_identical: self.tokens_identical(),
            near_ties_allowed: allow_near_ties,
            pass: self.passes(min_cosine, allow_near_ties),
            per_step: self
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepReport {
                    step: i,
                    cosine: s.cosine,
                    max_abs_diff: s.max_abs_diff.into(),
                    reference_token: s.reference_token,
                    candidate_token: s.candidate_token,
                    reference_gap: s.reference_gap.into(),
                    near_tie: s.near_tie(),
                })
                .collect(),
        }
    }
}

/// What `bitnet-engine crosscheck` prints and `--report` writes.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub steps: usize,
    pub min_cosine: f64,
    pub required_cosine: f64,
    pub tokens_identical: bool,
    pub near_ties_allowed: bool,
    pub pass: bool,
    pub per_step: Vec<StepReport>,
}

/// One step of a [`Report`]. The f32 differences are written as their exact f64
/// values, as the report has always shown them.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub step: usize,
    pub cosine: f64,
    pub max_abs_diff: f64,
    pub reference_token: u32,
    pub candidate_token: u32,
    pub reference_gap: f64,
    pub near_tie: bool,
}

/// Cosine similarity in f64.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return if aa == bb { 1.0 } else { 0.0 };
    }
    ab / (aa.sqrt() * bb.sqrt())
}

/// Runs `prompt` then `steps` greedy steps on both decoders and compares each step.
pub fn run(
    reference: &mut impl Decoder,
    candidate: &mut impl Decoder,
    prompt: &[u32],
    steps: usize,
) -> Result<CrossCheck> {
    if prompt.is_empty() || steps == 0 {
        return Err(EngineError::Config(
            "the prompt and --steps need at least one token each".into(),
        ));
    }
    let max_seq = prompt.len() + steps - 1;
    reference.begin(max_seq)?;
    candidate.begin(max_seq)?;
    let (last, head) = prompt.split_last().expect("prompt is not empty");
    for (pos, &t) in head.iter().enumerate() {
        reference.step(t, pos, false)?;
        candidate.step(t, pos, false)?;
    }
    let mut token = *last;
    let mut out = Vec::with_capacity(steps);
    let no_token = || EngineError::Config("a sampled step returned no token".into());
    for i in 0..steps {
        let pos = head.len() + i;
        let r = reference.step(token, pos, true)?.ok_or_else(no_token)?;
        let c = candidate.step(token, pos, true)?.ok_or_else(no_token)?;
        let (lr, lc) = (reference.logits()?, candidate.logits()?);
        let max_abs_diff = lr
            .iter()
            .zip(&lc)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        out.push(StepCheck {
            cosine: cosine(&lr, &lc),
            max_abs_diff,
            reference_token: r,
            candidate_token: c,
            reference_gap: top_two_gap(&lr),
        });
        token = r;
    }
    Ok(CrossCheck { steps: out })
}

/// The largest value minus the second largest (0 for fewer than two values).
pub fn top_two_gap(x: &[f32]) -> f32 {
    let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &v in x {
        if v > a {
            b = a;
            a = v;
        } else if v > b {
            b = v;
        }
    }
    if b.is_finite() { a - b } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_and_gap() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(top_two_gap(&[1.0, 5.0, 3.5]), 1.5);
    }

    #[test]
    fn a_near_tie_passes_only_when_allowed() {
        let step = |gap: f32, c: u32| StepCheck {
            cosine: 0.9999,
            max_abs_diff: 0.01,
            reference_token: 1,
            candidate_token: c,
            reference_gap: gap,
        };
        let tie = CrossCheck {
            steps: vec![step(0.015, 2)],
        };
        assert!(!tie.passes(0.999, false) && tie.passes(0.999, true));
        let wrong = CrossCheck {
            steps: vec![step(0.5, 2)],
        };
        assert!(!wrong.passes(0.999, true));
        let same = CrossCheck {
            steps: vec![step(0.0, 1)],
        };
        assert!(same.passes(0.999, false) && !same.passes(0.99999, false));
    }
}
