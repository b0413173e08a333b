//! `baseline compare`: a new receipt against the latest baseline of the same
//! envelope and host class. A drop beyond `[receipt] regression.max_drop`
//! (default 10%) fails, naming both rates and both dates; no comparable
//! baseline is `incomparable`.

use super::store::{Baseline, Store};
use super::{Assessed, format_date, rate};
use crate::config::Policy;
use crate::verdict::Status;
use serde::Serialize;

/// The baseline a receipt was compared with.
#[derive(Debug, Clone, Serialize)]
pub struct Against {
    pub date: String,
    pub name: String,
    pub path: String,
    pub tokens_per_second: f64,
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub receipt: String,
    /// The worse of the regression check and the receipt's own verdict.
    pub status: Status,
    /// The receipt's own verdict (gates and envelope).
    pub check_status: Status,
    pub envelope: Option<String>,
    pub host_class: Option<String>,
    pub tokens_per_second: Option<f64>,
    /// The UTC day the receipt was measured on.
    pub measured_on: Option<String>,
    pub baseline: Option<Against>,
    /// Percent below the baseline (negative: faster).
    pub drop_percent: Option<f64>,
    pub max_drop_percent: f64,
    pub message: String,
}

/// Compare an assessed receipt with the store.
pub fn compare(a: &Assessed, store: &Store, policy: &Policy) -> Comparison {
    let max_drop = policy.max_drop();
    let mut c = Comparison {
        receipt: a.verdict.path.clone(),
        status: Status::Incomparable,
        check_status: a.verdict.status,
        envelope: a.envelope().map(str::to_string),
        host_class: a.host_class(),
        tokens_per_second: a.verdict.tokens_per_second,
        measured_on: a.measured_on().map(format_date),
        baseline: None,
        drop_percent: None,
        max_drop_percent: max_drop,
        message: String::new(),
    };
    let (Some(envelope), Some(rate_now)) = (c.envelope.clone(), c.tokens_per_second) else {
        c.message =
            "the receipt matches no envelope, so there is no baseline to compare it with".into();
        return finish(c);
    };
    let Some(host) = c.host_class.clone() else {
        c.message = format!(
            "the receipt names no host class; {}",
            super::NO_HOST_CLASS_FIX
        );
        return finish(c);
    };
    let Some(b) = store.latest(&envelope, &host) else {
        c.message = no_baseline(store, &envelope, &host);
        return finish(c);
    };
    let Some(rate_then) = b.tokens_per_second.filter(|r| *r > 0.0) else {
        c.message = format!("baseline {} has no positive rate to compare with", b.path);
        return finish(c);
    };
    let drop = (rate_then - rate_now) / rate_then * 100.0;
    c.drop_percent = Some(drop);
    c.baseline = Some(Against {
        date: format_date(b.date),
        name: b.name.clone(),
        path: b.path.clone(),
        tokens_per_second: rate_then,
    });
    let now_day = c.measured_on.clone().unwrap_or_else(|| "undated".into());
    let then_day = format_date(b.date);
    let change = if drop >= 0.0 {
        format!("{:.1}% below", drop)
    } else {
        format!("{:.1}% above", -drop)
    };
    let what = format!(
        "{envelope} on {host}: {} tok/s (receipt {}, measured {now_day}) is {change} {} tok/s (baseline {}, {then_day})",
        rate(rate_now),
        c.receipt,
        rate(rate_then),
        b.path
    );
    // A drop equal to max_drop passes; allow for float noise in the division.
    if drop > max_drop + 1e-9 {
        c.status = Status::Fail;
        c.message = format!(
            "{what}; the policy allows a drop of at most {}% (regression.max_drop)",
            rate(max_drop)
        );
    } else {
        c.status = Status::Pass;
        c.message = format!(
            "{what}; within the {}% allowed (regression.max_drop)",
            rate(max_drop)
        );
    }
    finish(c)
}

fn finish(mut c: Comparison) -> Comparison {
    if c.check_status > c.status {
        c.message = format!(
            "{}; and the receipt's own verdict is {} (`policy-check check {}` says why)",
            c.message, c.check_status, c.receipt
        );
        c.status = c.check_status;
    }
    c
}

fn no_baseline(store: &Store, envelope: &str, host: &str) -> String {
    if store.baselines.is_empty() {
        return format!(
            "no baselines in {} yet; record one with `policy-check baseline record <receipt>`",
            store.dir
        );
    }
    let others: Vec<&Baseline> = store
        .baselines
        .iter()
        .filter(|b| b.envelope.as_deref() == Some(envelope))
        .collect();
    if others.is_empty() {
        return format!(
            "no baseline of envelope {envelope} in {}; record one with `policy-check baseline record <receipt>`",
            store.dir
        );
    }
    let mut hosts: Vec<&str> = others
        .iter()
        .filter_map(|b| b.host_class.as_deref())
        .collect();
    hosts.sort();
    hosts.dedup();
    format!(
        "no baseline of envelope {envelope} on {host}: its baselines are from another host class ({}); rates from different machines are not comparable, so record a baseline on this one",
        hosts.join("; ")
    )
}
