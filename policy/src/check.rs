//! `policy-check check`: for each receipt, exactly the gates of `verify` (with
//! the policy's `[receipt]` settings), then the envelope that matches it; one
//! verdict per receipt, in input order, each carrying the policy's sha256.

use crate::config::Policy;
use crate::envelope::{self, EnvelopeRef, RateJudgement, RooflineJudgement};
use crate::gates::GateFinding;
use crate::gates::{self, structure};
use crate::receipt::Receipt;
use crate::verdict::{Finding, Status};
use crate::verify::{self, Input, InputError, Loaded, VerifyOptions};
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;

/// The verdict on one receipt.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub path: String,
    pub status: Status,
    /// sha256 of the policy file that judged it.
    pub policy_sha256: String,
    pub schema_version: Option<String>,
    pub backend: Option<String>,
    pub tokens_per_second: Option<f64>,
    /// The envelope that judged it; absent when none matched or gates stopped it.
    pub envelope: Option<EnvelopeRef>,
    pub rate: Option<RateJudgement>,
    /// The hardware-normalised judgement, when the receipt was calibrated and
    /// its envelope has a roofline_fraction rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline: Option<RooflineJudgement>,
    /// The receipt's model (path or preset name), for reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The kernels the receipt says ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kernels: Vec<String>,
    /// Measured rate over the bandwidth roofline, when the receipt was calibrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline_fraction: Option<f64>,
    pub findings: Vec<Finding>,
    pub error: Option<InputError>,
}

/// Check every input in parallel; verdicts keep the input order.
pub fn check(inputs: &[Input], policy: &Policy, options: &VerifyOptions) -> Vec<Verdict> {
    inputs
        .par_iter()
        .map(|input| match input {
            Input::File(path) => check_file(path, policy, options),
            Input::Unmatched { pattern, why } => input_error(
                pattern.clone(),
                policy,
                why.clone(),
                "check the path or pattern (quote globs so policy-check expands them)",
            ),
        })
        .collect()
}

fn input_error(path: String, policy: &Policy, message: String, fix: &str) -> Verdict {
    Verdict {
        path,
        status: Status::Error,
        policy_sha256: policy.origin.sha256.clone(),
        schema_version: None,
        backend: None,
        tokens_per_second: None,
        envelope: None,
        rate: None,
        roofline: None,
        model: None,
        kernels: Vec::new(),
        roofline_fraction: None,
        findings: Vec::new(),
        error: Some(InputError {
            message,
            fix: fix.to_string(),
        }),
    }
}

/// Check one receipt file: read it as `verify` does, gate it, judge it.
pub fn check_file(path: &Path, policy: &Policy, options: &VerifyOptions) -> Verdict {
    let display = path.display().to_string();
    match verify::read_capped(path, options.max_bytes) {
        Ok(Loaded::Bytes(bytes)) => check_bytes(display, &bytes, policy, options),
        Ok(Loaded::TooLarge(size)) => {
            let findings = vec![structure::too_large(size, options.max_bytes)];
            verdict(display, policy, None, findings, None)
        }
        Err((message, fix)) => input_error(display, policy, message, fix),
    }
}

/// Gate and judge a receipt's bytes.
pub fn check_bytes(
    path: String,
    bytes: &[u8],
    policy: &Policy,
    options: &VerifyOptions,
) -> Verdict {
    let gated = gates::check_bytes(bytes, &options.gates);
    let judgement = gated.receipt.as_ref().map(|r| {
        let value = r.to_value();
        envelope::judge(policy, r, &value)
    });
    verdict(
        path,
        policy,
        gated.receipt.as_ref(),
        gated.findings,
        judgement,
    )
}

/// Put a verdict together: the worst of the gates' status and the envelope's.
pub fn verdict(
    path: String,
    policy: &Policy,
    receipt: Option<&Receipt>,
    gate_findings: Vec<GateFinding>,
    judgement: Option<envelope::Judgement>,
) -> Verdict {
    let mut status = Status::from_levels(gate_findings.iter().map(|f| f.level));
    let mut findings: Vec<Finding> = gate_findings
        .into_iter()
        .map(|f| f.into_finding(&path))
        .collect();
    let (mut env, mut rate, mut roofline) = (None, None, None);
    if let Some(j) = judgement {
        status = status.max(j.status);
        findings.extend(j.findings.into_iter().map(|f| f.into_finding(&path)));
        env = j.envelope;
        rate = j.rate;
        roofline = j.roofline;
    }
    Verdict {
        path,
        status,
        policy_sha256: policy.origin.sha256.clone(),
        schema_version: receipt.map(|r| r.schema_version.clone()),
        backend: receipt.map(|r| r.backend.clone()),
        tokens_per_second: receipt.map(|r| r.tokens_per_second),
        envelope: env,
        rate,
        roofline,
        model: receipt.and_then(|r| r.model.as_ref()?.path.clone()),
        kernels: receipt.map(|r| r.kernels.clone()).unwrap_or_default(),
        roofline_fraction: receipt.and_then(|r| r.calibration.as_ref()?.roofline_fraction),
        findings,
        error: None,
    }
}

/// The overall status: the worst verdict (an empty run is an error).
pub fn overall(verdicts: &[Verdict]) -> Status {
    verdicts
        .iter()
        .map(|v| v.status)
        .max()
        .unwrap_or(Status::Error)
}
