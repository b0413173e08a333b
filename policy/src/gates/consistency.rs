//! Consistency gates: fields of one receipt checked against each other and
//! against physics (the host's measured memory bandwidth). A receipt whose
//! numbers do not follow from its own measurements was not written by the run.

use super::GateFinding;
use super::{Code, GateConfig};
use crate::receipt::Receipt;
use std::collections::BTreeSet;

/// No single-stream decode comes near this; above it is a unit error or made up.
pub const MAX_PLAUSIBLE_TOKENS_PER_SECOND: f64 = 1_000_000.0;
/// Above this fraction of the bandwidth roofline a rate is physically impossible.
pub const MAX_ROOFLINE_FRACTION: f64 = 1.05;
/// Summary statistics are rounded when written; this much relative error is allowed.
const SUMMARY_REL_TOLERANCE: f64 = 0.005;
const CV_ABS_TOLERANCE: f64 = 0.005;
const CALIBRATION_REL_TOLERANCE: f64 = 0.02;

pub fn check(receipt: &Receipt, config: &GateConfig, findings: &mut Vec<GateFinding>) {
    let rate = receipt.tokens_per_second;
    if receipt.compute_path == "real" && rate <= 0.0 {
        findings.push(GateFinding::new(
            Code::NonpositiveRate,
            "/tokens_per_second",
            format!("tokens_per_second is {rate} on a \"real\" run"),
            "measure the rate from timed runs; if it cannot be measured, fail the benchmark instead of writing 0",
        ));
    }
    if rate > MAX_PLAUSIBLE_TOKENS_PER_SECOND {
        findings.push(GateFinding::new(
            Code::RateImplausible,
            "/tokens_per_second",
            format!("tokens_per_second is {rate}, above {MAX_PLAUSIBLE_TOKENS_PER_SECOND} tok/s"),
            "report the decode rate in tokens per second",
        ));
    }
    if let (Some(requested), Some(generated)) = (receipt.tokens_requested, receipt.tokens_generated)
        && generated < requested
    {
        findings.push(GateFinding::new(
            Code::TokensShort,
            "/tokens_generated",
            format!("{generated} tokens generated of {requested} requested"),
            "disable early stopping for benchmarks, or request the number that is generated",
        ));
    }
    samples(receipt, findings);
    if receipt.deterministic == Some(true) && receipt.seed().is_none() {
        findings.push(GateFinding::new(
            Code::DeterministicWithoutSeed,
            "/deterministic",
            "deterministic is true but no seed is recorded (run.seed or environment.BITNET_SEED)",
            "record the seed the run used, e.g. BITNET_SEED=42",
        ));
    }
    kernel_stats(receipt, findings);
    bytes_per_token(receipt, findings);
    calibration(receipt, findings);
    if let Some(expected) = &config.model_sha256 {
        model_hash(receipt, expected, findings);
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// Population coefficient of variation: standard deviation / mean.
pub fn coefficient_of_variation(samples: &[f64]) -> f64 {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    var.sqrt() / mean
}

fn samples(receipt: &Receipt, findings: &mut Vec<GateFinding>) {
    let Some(m) = &receipt.measurement else {
        return;
    };
    let Some(samples) = &m.samples_tokens_per_second else {
        return;
    };
    let inconsistent = |pointer: &str, message: String| {
        GateFinding::new(
            Code::MeasurementInconsistent,
            pointer,
            message,
            "compute median, min, max, cv and timed_runs from the samples they summarise",
        )
    };
    if samples.is_empty() {
        findings.push(inconsistent(
            "/measurement/samples_tokens_per_second",
            "samples_tokens_per_second is empty: no timed run backs the rate".into(),
        ));
        return;
    }
    if let Some(i) = samples.iter().position(|&s| s <= 0.0) {
        findings.push(inconsistent(
            &format!("/measurement/samples_tokens_per_second/{i}"),
            format!("sample {i} is {}, not a positive rate", samples[i]),
        ));
        return;
    }
    let med = crate::stats::median(samples).expect("samples are not empty");
    if !close(receipt.tokens_per_second, med, SUMMARY_REL_TOLERANCE) {
        findings.push(GateFinding::new(
            Code::RateDisagreesWithSamples,
            "/tokens_per_second",
            format!(
                "tokens_per_second is {} but the median of the {} samples is {med:.4}",
                receipt.tokens_per_second,
                samples.len()
            ),
            "write the median of the timed runs' rates as tokens_per_second",
        ));
    }
    let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for (name, stated, actual) in [
        ("median", m.median, med),
        ("min", m.min, lo),
        ("max", m.max, hi),
    ] {
        if let Some(stated) = stated
            && !close(stated, actual, SUMMARY_REL_TOLERANCE)
        {
            findings.push(inconsistent(
                &format!("/measurement/{name}"),
                format!("measurement.{name} is {stated} but the samples give {actual:.4}"),
            ));
        }
    }
    if let Some(cv) = m.cv {
        let actual = coefficient_of_variation(samples);
        if (cv - actual).abs() > CV_ABS_TOLERANCE {
            findings.push(inconsistent(
                "/measurement/cv",
                format!("measurement.cv is {cv} but the samples give {actual:.4}"),
            ));
        }
    }
    if let Some(runs) = m.timed_runs
        && runs != samples.len() as u64
    {
        findings.push(inconsistent(
            "/measurement/timed_runs",
            format!(
                "timed_runs is {runs} but there are {} samples",
                samples.len()
            ),
        ));
    }
    wall_time(m, samples, findings);
    if let (Some(tokens), Some(wall_ms)) = (m.decode_tokens, m.wall_ms) {
        let decode_ms: f64 = samples.iter().map(|s| tokens as f64 / s * 1000.0).sum();
        if decode_ms > wall_ms * 1.01 + 1.0 {
            findings.push(GateFinding::new(
                Code::RateExceedsWallTime,
                "/measurement/wall_ms",
                format!(
                    "the samples imply {decode_ms:.1} ms of decoding ({tokens} tokens per run) but all timed runs took {wall_ms:.1} ms"
                ),
                "time the runs with a monotonic clock and write the rates that clock gives",
            ));
        }
    }
}

/// The upper bound on wall_ms (the lower one is `rate-exceeds-wall-time`): the
/// slowest sample's decode for every run, the prompt at the prefill rate (else at
/// the slowest decode rate), twice over, plus 5 s for what lies between runs.
fn wall_time(m: &crate::receipt::Measurement, samples: &[f64], findings: &mut Vec<GateFinding>) {
    let Some(wall_ms) = m.wall_ms else {
        return;
    };
    let slowest = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let decode = m.decode_tokens.unwrap_or(0) as f64;
    let prompt = m.prompt_tokens.unwrap_or(0) as f64;
    let prefill = m
        .prefill_tokens_per_second
        .filter(|r| *r > 0.0)
        .unwrap_or(slowest);
    let per_run_ms = (decode / slowest + prompt / prefill.min(slowest)) * 1000.0;
    let bound = 2.0 * per_run_ms * samples.len() as f64 + 5000.0;
    if !wall_ms.is_finite() || (m.decode_tokens.is_some() && wall_ms > bound) {
        findings.push(GateFinding::new(
            Code::WallTimeImplausible,
            "/measurement/wall_ms",
            format!(
                "wall_ms is {wall_ms} but {} runs at the samples' rates take at most about {bound:.0} ms",
                samples.len()
            ),
            "write the wall time of the timed runs, measured with a monotonic clock",
        ));
    }
}

/// A decode step reads the output projection (hidden × vocab, ≥ 1 bit each) and
/// at least 1/256 of the parameters at 1 bit (a mixture of experts reads few).
fn bytes_per_token(receipt: &Receipt, findings: &mut Vec<GateFinding>) {
    let Some(model) = &receipt.model else {
        return;
    };
    let Some(bpt) = model.bytes_per_token else {
        return;
    };
    let head = model
        .hidden
        .zip(model.vocab)
        .map(|(h, v)| h.saturating_mul(v) / 8);
    let params = model.params.map(|p| p / 256 / 8);
    if let Some(floor) = head.into_iter().chain(params).max()
        && bpt < floor
    {
        findings.push(GateFinding::new(
            Code::BytesPerTokenImplausible,
            "/model/bytes_per_token",
            format!(
                "bytes_per_token is {bpt} but a decode step of this model reads at least {floor} bytes"
            ),
            "write the bytes one decode step reads (weights read per token plus the KV cache)",
        ));
    }
}

fn kernel_stats(receipt: &Receipt, findings: &mut Vec<GateFinding>) {
    let Some(stats) = &receipt.kernel_stats else {
        return;
    };
    let counted: BTreeSet<&str> = stats.iter().map(|s| s.id.as_str()).collect();
    let listed: BTreeSet<&str> = receipt.kernels.iter().map(String::as_str).collect();
    let never_counted: Vec<&str> = listed.difference(&counted).copied().collect();
    let not_listed: Vec<&str> = counted.difference(&listed).copied().collect();
    if !never_counted.is_empty() || !not_listed.is_empty() {
        let mut parts = Vec::new();
        if !never_counted.is_empty() {
            parts.push(format!(
                "listed but never counted: {}",
                never_counted.join(", ")
            ));
        }
        if !not_listed.is_empty() {
            parts.push(format!("counted but not listed: {}", not_listed.join(", ")));
        }
        findings.push(GateFinding::new(
            Code::KernelStatsMismatch,
            "/kernel_stats",
            format!("kernels and kernel_stats disagree ({})", parts.join("; ")),
            "write kernels from the ids in kernel_stats",
        ));
    }
    for (i, stat) in stats.iter().enumerate() {
        if stat.calls == 0 {
            findings.push(GateFinding::new(
                Code::KernelStatsMismatch,
                format!("/kernel_stats/{i}/calls"),
                format!("kernel \"{}\" is listed with 0 calls", stat.id),
                "list only kernels that ran",
            ));
        }
    }
}

fn calibration(receipt: &Receipt, findings: &mut Vec<GateFinding>) {
    let Some(cal) = &receipt.calibration else {
        return;
    };
    let rate = receipt.tokens_per_second;
    // The roofline that follows from the measured bandwidth, when it can be derived.
    let derived = receipt.roofline_tokens_per_second();
    if let (Some(stated), Some(derived)) = (cal.roofline_tokens_per_second, derived)
        && !close(stated, derived, CALIBRATION_REL_TOLERANCE)
    {
        findings.push(GateFinding::new(
                Code::CalibrationInconsistent,
                "/calibration/roofline_tokens_per_second",
                format!(
                    "roofline_tokens_per_second is {stated} but mem_bw_gbps / bytes_per_token gives {derived:.2}"
                ),
                "compute the roofline from the measured bandwidth and the model's bytes per token",
            ));
    }
    let roofline = derived.or(cal.roofline_tokens_per_second);
    if let (Some(stated), Some(roofline)) = (cal.roofline_fraction, cal.roofline_tokens_per_second)
    {
        let actual = rate / roofline;
        if !close(stated, actual, CALIBRATION_REL_TOLERANCE) {
            findings.push(GateFinding::new(
                Code::CalibrationInconsistent,
                "/calibration/roofline_fraction",
                format!(
                    "roofline_fraction is {stated} but tokens_per_second / roofline_tokens_per_second is {actual:.4}"
                ),
                "compute roofline_fraction from the rate and the roofline",
            ));
        }
    }
    let fraction = roofline
        .map(|r| rate / r)
        .into_iter()
        .chain(cal.roofline_fraction);
    if let Some(worst) = fraction.reduce(f64::max)
        && worst > MAX_ROOFLINE_FRACTION
    {
        findings.push(GateFinding::new(
                Code::RooflineExceeded,
                "/calibration/roofline_fraction",
                format!(
                    "the rate is {:.0}% of the memory-bandwidth roofline; above {:.0}% is physically impossible",
                    worst * 100.0,
                    MAX_ROOFLINE_FRACTION * 100.0
                ),
                "check tokens_per_second and model.bytes_per_token; a decode step reads every weight once",
            ));
    }
}

fn model_hash(receipt: &Receipt, expected: &super::ModelHash, findings: &mut Vec<GateFinding>) {
    let stated = receipt.model.as_ref().and_then(|m| m.sha256.as_deref());
    let message = match stated {
        None => format!(
            "--model {} was given but the receipt has no model.sha256",
            expected.path
        ),
        Some(s) if s.eq_ignore_ascii_case(&expected.sha256) => return,
        Some(s) => format!(
            "model.sha256 is {s} but {} hashes to {}",
            expected.path, expected.sha256
        ),
    };
    findings.push(GateFinding::new(
        Code::ModelHashMismatch,
        "/model/sha256",
        message,
        "benchmark the model you mean, or pass the model file the receipt was made with",
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficient_of_variation_of_samples() {
        assert!((coefficient_of_variation(&[10.0, 10.0]) - 0.0).abs() < 1e-12);
        assert!((coefficient_of_variation(&[9.0, 11.0]) - 0.1).abs() < 1e-12);
    }
}
