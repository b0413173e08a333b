//! `baseline record`: verify a receipt, then copy its bytes to
//! `baselines/YYYY-MM-DD/<name>.json` atomically (a temp file in the same
//! folder, then a link or rename), never overwriting one silently.

use super::store::{self, Baseline};
use super::{Refusal, assess, format_date};
use crate::config::Policy;
use crate::gates::GateConfig;
use crate::verdict::Status;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::{Date, OffsetDateTime};

/// What to record.
#[derive(Debug, Clone)]
pub struct Request {
    pub receipt: PathBuf,
    pub name: Option<String>,
    pub date: Option<Date>,
    pub replace: bool,
    pub dir: PathBuf,
    /// The time the command runs at (UTC): today's date and the archive suffix.
    pub now: OffsetDateTime,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: PathBuf,
    /// Where the replaced baseline was kept, with `--replace`.
    pub archived: Option<PathBuf>,
    pub baseline: Baseline,
}

/// A name is a plain file stem: letters, digits, `.`, `_`, `-`; no leading dot.
pub fn check_name(name: &str) -> Result<(), Refusal> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && !name.contains(".replaced-")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Refusal::new(
            2,
            format!("--name \"{name}\" is not a baseline name"),
            "use letters, digits, '.', '_' and '-' only (no leading dot, no \".replaced-\"), e.g. cpu-i2s",
        ))
    }
}

/// Verify the receipt and write it as a dated baseline.
pub fn record(req: &Request, policy: &Policy) -> Result<Recorded, Refusal> {
    let today = req.now.date();
    let shown = req.receipt.display();
    let config = policy.gate_config(GateConfig {
        now: req.now,
        ..GateConfig::default()
    });
    let a = assess(&req.receipt, policy, &config);
    match a.verdict.status {
        Status::Pass | Status::Warn => {}
        Status::Error => {
            let e = a.verdict.error.clone();
            return Err(Refusal::new(
                2,
                format!(
                    "{shown}: {}",
                    e.as_ref().map_or("cannot read it", |e| e.message.as_str())
                ),
                e.map_or_else(|| "check the path".to_string(), |e| e.fix),
            ));
        }
        Status::Fail => {
            return Err(Refusal::new(
                1,
                format!(
                    "{shown} fails its gates or envelope, so it cannot be a baseline:\n{}",
                    a.failing_findings()
                ),
                format!(
                    "fix the run and measure again; `policy-check check {shown}` shows every finding"
                ),
            ));
        }
        s @ (Status::Incomparable | Status::InsufficientEvidence) => {
            return Err(Refusal::new(
                3,
                format!("{shown} is {s} under the policy, so it cannot be a baseline"),
                "a baseline must match an envelope and clear its band; `policy-check check` says why it does not",
            ));
        }
    }
    let envelope = a.envelope().map(str::to_string);
    let Some(host) = a.host_class() else {
        return Err(Refusal::new(
            2,
            format!("{shown} names no host class, so no later receipt could be compared with it"),
            super::NO_HOST_CLASS_FIX,
        ));
    };
    let name = match (&req.name, &envelope) {
        (Some(n), _) => n.clone(),
        (None, Some(e)) => e.clone(),
        (None, None) => {
            return Err(Refusal::new(
                2,
                format!("{shown} matched no envelope, so there is no default name"),
                "pass --name",
            ));
        }
    };
    check_name(&name)?;
    let date = req.date.unwrap_or(today);
    if date > today {
        return Err(Refusal::new(
            2,
            format!(
                "--date {} is after today ({} UTC): a baseline cannot come from the future",
                format_date(date),
                format_date(today)
            ),
            "leave --date out to record it for today, or give the day it was measured",
        ));
    }
    if let Some(measured) = a.measured_on().filter(|m| *m > date) {
        return Err(Refusal::new(
            2,
            format!(
                "--date {} is before the receipt was measured ({}): a baseline cannot predate its measurement",
                format_date(date),
                format_date(measured)
            ),
            format!(
                "record it for {} or later (the default is today)",
                format_date(measured)
            ),
        ));
    }
    let day = req.dir.join(format_date(date));
    let target = day.join(format!("{name}.json"));
    // One baseline per envelope, host class and day: a second under another name is refused.
    let (existing, _, _) = store::load_day(&day, date, policy, &store::gate_config(policy));
    if let Some(other) = existing.iter().find(|b| {
        b.name != name && b.envelope == envelope && b.host_class.as_deref() == Some(host.as_str())
    }) {
        return Err(Refusal::new(
            2,
            format!(
                "{} is already the {} baseline for {host} on {}",
                other.path,
                envelope.as_deref().unwrap_or("-"),
                format_date(date)
            ),
            format!(
                "one baseline per envelope, host class and day: pass --name {} --replace to replace it",
                other.name
            ),
        ));
    }
    if target.exists() && !req.replace {
        return Err(Refusal::new(
            2,
            format!(
                "{} already exists; a baseline is never overwritten silently",
                target.display()
            ),
            "pass --replace to replace it (the old one is kept beside it as <name>.replaced-<time>.json), or record under another --name or --date",
        ));
    }
    std::fs::create_dir_all(&day).map_err(|e| {
        Refusal::new(
            2,
            format!("cannot create {}: {e}", day.display()),
            "check the --dir path and its permissions",
        )
    })?;
    let archived = write_atomically(&day, &name, &target, &a.bytes, req)?;
    let baseline = Baseline {
        date,
        name,
        path: target.display().to_string(),
        envelope,
        tokens_per_second: a.verdict.tokens_per_second,
        host_class: Some(host),
        verdict: a.verdict.status,
    };
    Ok(Recorded {
        path: target,
        archived,
        baseline,
    })
}

fn io_refusal(what: &str, path: &Path, e: std::io::Error) -> Refusal {
    Refusal::new(
        2,
        format!("cannot {what} {}: {e}", path.display()),
        "check the folder's permissions and free space; nothing was replaced",
    )
}

/// Write to a temp file in the target's folder, then put it in place: a hard
/// link (which fails if the target appeared meanwhile) or, with --replace, a
/// rename after the old file is moved aside.
fn write_atomically(
    day: &Path,
    name: &str,
    target: &Path,
    bytes: &[u8],
    req: &Request,
) -> Result<Option<PathBuf>, Refusal> {
    let stamp = req
        .now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .expect("a time always formats");
    let tmp = day.join(format!(".{name}.json.tmp-{}-{stamp}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_refusal("write", &tmp, e));
    }
    let result = if req.replace && target.exists() {
        let archive = day.join(format!("{name}.replaced-{stamp}.json"));
        if archive.exists() {
            let _ = std::fs::remove_file(&tmp);
            return Err(Refusal::new(
                2,
                format!("{} already exists", archive.display()),
                "wait a second and run it again (the archive name has the time to the second)",
            ));
        }
        std::fs::rename(target, &archive)
            .map_err(|e| io_refusal("move aside", target, e))
            .and_then(|()| {
                std::fs::rename(&tmp, target)
                    .map_err(|e| io_refusal("rename into", target, e))
                    .map(|()| Some(archive))
            })
    } else {
        match std::fs::hard_link(&tmp, target) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Refusal::new(
                2,
                format!(
                    "{} appeared while recording; not overwriting it",
                    target.display()
                ),
                "pass --replace to replace it",
            )),
            // File systems without hard links: check, then rename.
            Err(_) if !target.exists() => std::fs::rename(&tmp, target)
                .map(|()| None)
                .map_err(|e| io_refusal("rename into", target, e)),
            Err(e) => Err(io_refusal("link", target, e)),
        }
    };
    let _ = std::fs::remove_file(&tmp);
    result
}
