//! Gate item `claims`: every performance claim in the docs (`claims --filter
//! all`) must be backed or ignored. On a pull request the policy may make a
//! stale or even an unbacked claim a warning; at a release it never is: only
//! `backed` and `ignored` pass, and the claims the project accepted in its
//! claims ledger (`accepted`). A backed claim must also still be true: when a
//! fresh receipt ran the same configuration as the cited one (same envelope,
//! host class, model and kernels), the two must agree within the envelope's
//! tolerance.

use super::measurement::Fresh;
use super::{Item, ItemStatus, ReleaseRequest};
use crate::claims::backing::{self, Backer, ClaimVerdict, Outcome};
use crate::claims::{Kind, audit, ledger, scan};
use crate::config::Policy;
use crate::diff::Range;
use crate::receipt::Receipt;
use std::collections::HashMap;
use std::path::PathBuf;

pub const NAME: &str = "claims";

pub fn check(request: &ReleaseRequest, policy: &Policy, fresh: &[Fresh]) -> Item {
    let config =
        match scan::ScanConfig::from_settings(&policy.claims, Vec::new(), Vec::new(), false) {
            Ok(c) => c,
            Err(e) => {
                return Item::new(NAME, ItemStatus::Error, vec![e])
                    .with_fix("fix the policy's [claims] table (docs/claims.md)");
            }
        };
    let scan_request = audit::Request {
        root: request.root.clone(),
        filter: crate::diff::Filter::All,
        range: Range::WorkingTree {
            base: String::new(),
        },
        paths: Vec::new(),
    };
    let found = match audit::find(&scan_request, &config) {
        Ok(f) => f,
        Err(e) => {
            return Item::new(NAME, ItemStatus::Error, vec![e])
                .with_fix("run the gate in the repository's root (--root / the checkout)");
        }
    };
    let backer = Backer::new(policy, &request.root, HashMap::new());
    let mut verdicts = audit::judge(found.items, &backer);
    // Claims the project accepted in its ledger pass, and are counted.
    let ledger_path = crate::input::under(&request.root, ledger::DEFAULT_LEDGER);
    if let Err(e) = ledger::apply_file(&ledger_path, &request.root, &mut verdicts, &config) {
        return Item::new(NAME, ItemStatus::Error, vec![e]).with_fix(
            "write the ledger again with `policy-check claims --filter all --accept`, or delete it",
        );
    }
    let mut detail = Vec::new();
    // Each failing claim (file, line) and its fix; printed grouped by file, each
    // distinct fix once, so thousands of failures stay readable.
    let mut failures: Vec<(String, String, String)> = Vec::new();
    let mut reproduced = 0usize;
    let mut not_rerun = 0usize;
    let mut cited_cache: HashMap<PathBuf, Option<Receipt>> = HashMap::new();
    for v in &verdicts {
        let (what, fix) = match v.outcome {
            Outcome::Ignored | Outcome::Accepted => continue,
            Outcome::Backed => match reproduce(v, &backer, fresh, &mut cited_cache) {
                Check::Agrees => {
                    reproduced += 1;
                    continue;
                }
                Check::NotRerun => {
                    not_rerun += 1;
                    continue;
                }
                Check::Disagrees(message) => (
                    format!("contradicted by the fresh run — {message}"),
                    "update the number and cite the fresh receipt, or find what changed the rate",
                ),
            },
            Outcome::Stale => (
                format!("stale — {}", v.message),
                "measure again and cite the new receipt: a release needs receipts no older than the policy's max_age",
            ),
            Outcome::Unbacked | Outcome::Contradicted => (
                format!("{} — {}", v.outcome.as_str(), v.message),
                v.suggestion
                    .unwrap_or("cite a receipt that passes `policy-check check`"),
            ),
        };
        failures.push((
            v.claim.path.to_string(),
            format!("{}: {what}", place(v)),
            fix.to_string(),
        ));
    }
    let count = |o: Outcome| verdicts.iter().filter(|v| v.outcome == o).count();
    detail.push(format!(
        "{} claim{} in {} file{}: {} backed ({reproduced} agree with the fresh run, {not_rerun} ran a configuration the fresh run did not), {} ignored, {} accepted in the claims ledger, {} failing",
        verdicts.len(),
        plural(verdicts.len()),
        found.files_scanned,
        plural(found.files_scanned),
        count(Outcome::Backed),
        count(Outcome::Ignored),
        count(Outcome::Accepted),
        failures.len()
    ));
    detail.push(format!(
        "receipts must be no older than max_age {} (stale is deny at a release)",
        policy.max_age.text
    ));
    detail.extend(found.warnings);
    let status = if failures.is_empty() {
        ItemStatus::Pass
    } else {
        ItemStatus::Fail
    };
    detail.extend(grouped(&failures));
    let item = Item::new(NAME, status, detail);
    if status == ItemStatus::Fail {
        item.with_fix("back or ignore each claim above as its fix says, then run the gate again")
    } else {
        item
    }
}

/// Failing claims listed per file shown at most.
const PER_FILE: usize = 10;
/// Files listed at most.
const FILES_SHOWN: usize = 30;

/// The failures grouped by file (at most `PER_FILE` each, `FILES_SHOWN` files),
/// then each distinct fix once with how many claims it is for.
fn grouped(failures: &[(String, String, String)]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut by_file: Vec<(&str, Vec<&str>)> = Vec::new();
    for (file, line, _) in failures {
        match by_file.iter_mut().find(|(f, _)| f == file) {
            Some((_, ls)) => ls.push(line),
            None => by_file.push((file, vec![line])),
        }
    }
    for (file, ls) in by_file.iter().take(FILES_SHOWN) {
        lines.extend(ls.iter().take(PER_FILE).map(|l| l.to_string()));
        if ls.len() > PER_FILE {
            lines.push(format!(
                "{file}: … and {} more failing claims in this file",
                ls.len() - PER_FILE
            ));
        }
    }
    if by_file.len() > FILES_SHOWN {
        let rest: usize = by_file[FILES_SHOWN..].iter().map(|(_, ls)| ls.len()).sum();
        lines.push(format!(
            "… and {rest} more failing claims in {} more files (`policy-check claims --filter all` lists every one)",
            by_file.len() - FILES_SHOWN
        ));
    }
    let mut fixes: Vec<(&str, usize)> = Vec::new();
    for (_, _, fix) in failures {
        match fixes.iter_mut().find(|(f, _)| f == fix) {
            Some((_, n)) => *n += 1,
            None => fixes.push((fix, 1)),
        }
    }
    lines.extend(
        fixes
            .into_iter()
            .map(|(fix, n)| format!("fix: {fix} ({n} claim{})", plural(n))),
    );
    lines
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn place(v: &ClaimVerdict) -> String {
    format!(
        "{}:{}:{}: {}",
        v.claim.path, v.claim.line, v.claim.column, v.claim.text
    )
}

enum Check {
    Agrees,
    /// No fresh receipt ran the cited receipt's configuration, or it does not
    /// measure the claim's kind (a speed-up needs two runs).
    NotRerun,
    Disagrees(String),
}

/// Does a fresh receipt of the cited receipt's configuration still measure
/// what the cited one did?
fn reproduce(
    v: &ClaimVerdict,
    backer: &Backer,
    fresh: &[Fresh],
    cache: &mut HashMap<PathBuf, Option<Receipt>>,
) -> Check {
    let (Some(cited), Some(then)) = (v.receipt.as_deref(), v.measured) else {
        return Check::NotRerun;
    };
    // Two receipts' ratio: one fresh run cannot re-check it.
    if matches!(v.claim.quantity.kind, Kind::Speedup | Kind::RelativeChange) {
        return Check::NotRerun;
    }
    let Some(path) = backer.resolve(&v.claim.path, cited) else {
        return Check::NotRerun;
    };
    let old = cache
        .entry(path.clone())
        .or_insert_with(|| read_receipt(&path))
        .as_ref();
    let Some(old) = old else {
        return Check::NotRerun;
    };
    let same: Vec<&Fresh> = fresh
        .iter()
        .filter(|f| {
            Some(f.envelope.as_str()) == v.envelope.as_deref() && same_configuration(old, f)
        })
        .collect();
    let mut checked = false;
    for f in same {
        let Some(now) = backing::measured_value(&v.claim.quantity, &f.receipt) else {
            continue;
        };
        checked = true;
        // Relative to the cited number: "this much slower/faster than claimed".
        let apart = if then == 0.0 {
            f64::INFINITY
        } else {
            (now - then).abs() / then.abs()
        };
        if apart > f.tolerance + 1e-12 {
            let kind = v.claim.quantity.kind;
            return Check::Disagrees(format!(
                "{cited} measured {} but the fresh run ({}) measured {}: {:.1}% apart, beyond {}'s tolerance {:.0}%",
                backing::show(kind, then),
                f.path,
                backing::show(kind, now),
                apart * 100.0,
                f.envelope,
                f.tolerance * 100.0
            ));
        }
    }
    if checked {
        Check::Agrees
    } else {
        Check::NotRerun
    }
}

fn read_receipt(path: &std::path::Path) -> Option<Receipt> {
    let bytes = crate::input::read_capped(path, crate::receipt::parse::DEFAULT_MAX_BYTES).ok()?;
    let doc = crate::receipt::parse::parse(&bytes).ok()?;
    Receipt::from_document(doc.value).ok()
}

/// Two runs of the same configuration: host class, model (by hash, else by
/// path) and the set of kernels that ran. Another thread count, a scalar
/// fallback or another model is a different measurement, not a contradiction.
fn same_configuration(old: &Receipt, f: &Fresh) -> bool {
    let model = |r: &Receipt| {
        r.model.as_ref().map(|m| {
            (
                m.sha256.clone().or_else(|| m.path.clone()),
                m.format.clone(),
            )
        })
    };
    let kernels = |r: &Receipt| {
        let mut k = r.kernels.clone();
        k.sort();
        k.dedup();
        k
    };
    let new = &f.receipt;
    crate::baseline::host_class(old).is_some()
        && crate::baseline::host_class(old) == f.host_class
        && model(old).is_some()
        && model(old) == model(new)
        && kernels(old) == kernels(new)
        && old.backend == new.backend
}
