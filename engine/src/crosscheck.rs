//! Compares two decoders step by step: the reference (the CPU engine) runs greedy
//! generation; the candidate (e.g. the CUDA backend) is fed the same tokens (teacher
//! forcing, so one near-tie cannot derail every later step) and its logits and own
//! greedy choice are compared at every step.

use serde_json::{Value, json};

use crate::bench::Decoder;
use crate::error::{EngineError, Result};

#[derive(Clone, Debug)]
pub struct StepCheck {
    pub cosine: f64,
    pub max_abs_diff: f32,
    pub reference_token: u32,
    pub candidate_token: u32,
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

    /// Whether every step reached `min_cosine` and chose the reference's token.
    pub fn passes(&self, min_cosine: f64) -> bool {
        self.min_cosine() >= min_cosine && self.tokens_identical()
    }

    pub fn to_json(&self, min_cosine: f64) -> Value {
        json!({
            "steps": self.steps.len(),
            "min_cosine": self.min_cosine(),
            "required_cosine": min_cosine,
            "tokens_identical": self.tokens_identical(),
            "pass": self.passes(min_cosine),
            "per_step": self.steps.iter().enumerate().map(|(i, s)| json!({
                "step": i,
                "cosine": s.cosine,
                "max_abs_diff": s.max_abs_diff,
                "reference_token": s.reference_token,
                "candidate_token": s.candidate_token,
            })).collect::<Vec<_>>(),
        })
    }
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
        });
        token = r;
    }
    Ok(CrossCheck { steps: out })
}
