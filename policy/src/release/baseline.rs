//! Gate item `baseline`: the release has a dated baseline of its envelope in
//! `baselines/`, dated no earlier than the policy's `max_age` allows (today
//! when `max_age` is "none"), or `--record-baseline` records the fresh receipt
//! as today's now. Recording is the gate's only write, and it happens only
//! when every other item passed, so a failing release leaves no baseline behind.

use super::measurement::Fresh;
use super::{Item, ItemStatus, ReleaseRequest, shown};
use crate::baseline::{format_date, rate, record, store};
use crate::config::Policy;
use crate::verdict::Status;
use time::Duration;

pub const NAME: &str = "baseline";

pub fn check(
    request: &ReleaseRequest,
    policy: &Policy,
    fresh: Option<&Fresh>,
    blockers: &[&str],
) -> Item {
    let Some(fresh) = fresh else {
        return Item::new(
            NAME,
            ItemStatus::Skip,
            vec!["no fresh receipt passed its envelope, so there is no envelope to find a baseline for".into()],
        );
    };
    let dir = crate::input::under(&request.root, &policy.baselines_dir);
    let today = request.now.date();
    let s = store::load(&dir, policy, today);
    if !s.problems.is_empty() {
        let mut detail = vec![format!(
            "{} is not in order ({} problem{}):",
            shown(&dir, &request.root),
            s.problems.len(),
            if s.problems.len() == 1 { "" } else { "s" }
        )];
        detail.extend(
            s.problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message)),
        );
        // Each distinct fix once.
        let mut fixes: Vec<&str> = Vec::new();
        for p in &s.problems {
            if !fixes.contains(&p.fix.as_str()) {
                fixes.push(&p.fix);
            }
        }
        return Item::new(NAME, ItemStatus::Fail, detail).with_fix(fixes.join("; "));
    }
    // The oldest date that still counts for this release.
    let since = oldest(request.now, policy.max_age.value);
    let host = fresh.host_class.as_deref();
    let usable = |b: &&store::Baseline| {
        b.envelope.as_deref() == Some(fresh.envelope.as_str())
            && matches!(b.verdict, Status::Pass | Status::Warn)
            && b.date >= since
    };
    // The same host class first: that is the one `baseline compare` will use.
    let found = s
        .baselines
        .iter()
        .filter(usable)
        .max_by_key(|b| (b.host_class.as_deref() == host, b.date));
    let recorded_today = found.is_some_and(|b| b.date == today && b.host_class.as_deref() == host);
    let describe = |b: &store::Baseline| {
        format!(
            "{} ({}, {} tok/s, {}, {})",
            b.path
                .strip_prefix(&format!("{}/", request.root.display()))
                .unwrap_or(&b.path),
            b.envelope.as_deref().unwrap_or("-"),
            b.tokens_per_second.map_or("-".into(), rate),
            b.host_class.as_deref().unwrap_or("-"),
            format_date(b.date)
        )
    };
    let window = match policy.max_age.value {
        Some(_) => format!(
            "dated {} or later (max_age {})",
            format_date(since),
            policy.max_age.text
        ),
        None => format!("dated today, {} (max_age none)", format_date(today)),
    };
    if let Some(b) = found
        && (!request.record_baseline || recorded_today)
    {
        let mut detail = vec![format!(
            "{} baseline {window}: {}",
            fresh.envelope,
            describe(b)
        )];
        if b.host_class.as_deref() != host {
            detail.push(format!(
                "it is from another host class than the fresh receipt ({}); record one on this machine with --record-baseline to compare like with like",
                host.unwrap_or("none")
            ));
        }
        if request.record_baseline {
            detail.push("already recorded today; --record-baseline recorded nothing".into());
        }
        return Item::new(NAME, ItemStatus::Pass, detail);
    }
    if !request.record_baseline {
        let latest = s
            .baselines
            .iter()
            .filter(|b| b.envelope.as_deref() == Some(fresh.envelope.as_str()))
            .max_by_key(|b| b.date);
        let last = latest.map_or_else(
            || format!("there is no {} baseline at all", fresh.envelope),
            |b| format!("the latest is {}", describe(b)),
        );
        return Item::new(
            NAME,
            ItemStatus::Fail,
            vec![format!(
                "no {} baseline {window} in {}; {last}",
                fresh.envelope,
                shown(&dir, &request.root)
            )],
        )
        .with_fix(format!(
            "record this release's measurement: rerun with --record-baseline, or `policy-check baseline record {}`, and commit {}/",
            fresh.path, policy.baselines_dir
        ));
    }
    if !blockers.is_empty() {
        return Item::new(
            NAME,
            ItemStatus::Fail,
            vec![format!(
                "not recorded: {} failed, and a failing release gets no baseline",
                blockers.join(" and ")
            )],
        )
        .with_fix("fix the failing items, then run the gate again with --record-baseline");
    }
    let req = record::Request {
        receipt: fresh.full_path.clone(),
        name: request.baseline_name.clone(),
        date: Some(today),
        replace: false,
        dir: dir.clone(),
        now: request.now,
    };
    match record::record(&req, policy) {
        Ok(done) => Item::new(
            NAME,
            ItemStatus::Pass,
            vec![format!(
                "recorded {} now; commit it with the release",
                describe(&done.baseline)
            )],
        ),
        Err(r) => Item::new(
            NAME,
            ItemStatus::Fail,
            vec![format!("not recorded: {}", r.message)],
        )
        .with_fix(r.fix),
    }
}

/// How far back a baseline may be dated for a release judged at `now`.
fn oldest(now: time::OffsetDateTime, max_age: Option<Duration>) -> time::Date {
    max_age.map_or(now.date(), |age| (now - age).date())
}
