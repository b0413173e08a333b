//! Reading `baselines/`: every `YYYY-MM-DD/<name>.json` verified and judged
//! under the current policy, and every thing that does not belong there named
//! as a problem (file, what is wrong, how to fix it). Archived replacements
//! (`<name>.replaced-<time>.json`) and dot files are kept but not read.

use super::{Assessed, assess, format_date, parse_date};
use crate::config::Policy;
use crate::gates::GateConfig;
use crate::verdict::Status;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::Date;

/// What kind of thing is wrong in the baselines folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// The folder or a file in it cannot be read.
    Unreadable,
    /// A file that is not JSON.
    NotJson,
    /// JSON that is not a receipt (fails the structure gates).
    NotAReceipt,
    /// A folder whose name is not a YYYY-MM-DD date.
    NotADate,
    /// A dated folder later than today (UTC).
    FutureDate,
    /// Two baselines of one envelope and host class on one day.
    DuplicateDay,
    /// A baseline dated before its receipt's own timestamp.
    PredatesMeasurement,
    /// A file or folder that is not ours (not a dated folder, not a .json in
    /// one): skipped with a warning, never a reason to fail.
    Foreign,
}

/// One thing in `baselines/` that is not a usable baseline.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{path}: {message}\n  fix: {fix}")]
pub struct Problem {
    pub kind: ProblemKind,
    pub path: String,
    pub message: String,
    pub fix: String,
}

/// One dated baseline, judged under the current policy.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    #[serde(serialize_with = "date_str")]
    pub date: Date,
    pub name: String,
    pub path: String,
    /// The envelope that matches it under the current policy.
    pub envelope: Option<String>,
    pub tokens_per_second: Option<f64>,
    pub host_class: Option<String>,
    /// The current policy's verdict on it (age not checked: baselines are old by design).
    pub verdict: Status,
}

fn date_str<S: serde::Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(*d))
}

/// The baselines folder as read.
#[derive(Debug, Clone, Serialize)]
pub struct Store {
    pub dir: String,
    /// Whether the folder exists at all.
    pub exists: bool,
    /// Oldest first; by name within a day.
    pub baselines: Vec<Baseline>,
    pub problems: Vec<Problem>,
    /// Things that are not baselines (the project's own files): skipped.
    pub skipped: Vec<Problem>,
}

impl Store {
    /// The latest baseline of an envelope on a host class.
    pub fn latest(&self, envelope: &str, host_class: &str) -> Option<&Baseline> {
        self.baselines
            .iter()
            .filter(|b| {
                b.envelope.as_deref() == Some(envelope)
                    && b.host_class.as_deref() == Some(host_class)
            })
            .max_by_key(|b| b.date)
    }
}

/// Whether a file name is an archived replacement (`<name>.replaced-<time>.json`).
pub fn is_archived(file_name: &str) -> bool {
    file_name.contains(".replaced-")
}

/// `dddd-dd-dd`: meant as a date, whether or not it is one.
fn looks_like_a_date(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

fn ignored(file_name: &str) -> bool {
    file_name.starts_with('.')
}

/// The gates a stored baseline goes through: the policy's levels, no age limit.
pub fn gate_config(policy: &Policy) -> GateConfig {
    let mut config = policy.gate_config(GateConfig::default());
    config.max_age = None;
    config
}

/// Read every baseline under `dir`. Problems are collected, not fatal; an
/// unreadable folder is one problem.
pub fn load(dir: &Path, policy: &Policy, today: Date) -> Store {
    let mut store = Store {
        dir: dir.display().to_string(),
        exists: dir.is_dir(),
        baselines: Vec::new(),
        problems: Vec::new(),
        skipped: Vec::new(),
    };
    if !dir.exists() {
        return store;
    }
    let entries = match sorted_entries(dir) {
        Ok(e) => e,
        Err(problem) => {
            store.problems.push(problem);
            return store;
        }
    };
    let config = gate_config(policy);
    for (name, path) in entries {
        if ignored(&name) {
            continue;
        }
        let display = path.display().to_string();
        if !path.is_dir() {
            if name.to_ascii_lowercase().starts_with("readme") {
                continue;
            }
            store.skipped.push(Problem {
                kind: ProblemKind::Foreign,
                path: display,
                message: "not a baseline (baselines live in dated folders): skipped".into(),
                fix: format!(
                    "nothing to do if it is yours; if it is a receipt meant as a baseline, `policy-check baseline record` puts it in {}/YYYY-MM-DD/",
                    dir.display()
                ),
            });
            continue;
        }
        let Some(date) = parse_date(&name) else {
            // A name shaped like a date is a dated folder with a wrong date; any
            // other name is the project's own folder.
            if looks_like_a_date(&name) {
                store.problems.push(Problem {
                    kind: ProblemKind::NotADate,
                    path: display,
                    message: format!("folder \"{name}\" is not a real date (YYYY-MM-DD)"),
                    fix: "rename it to the UTC day its receipts were measured on, e.g. 2026-11-26"
                        .into(),
                });
                continue;
            }
            store.skipped.push(Problem {
                kind: ProblemKind::Foreign,
                path: display,
                message: format!("folder \"{name}\" is not a date (YYYY-MM-DD): skipped"),
                fix: "nothing to do if it is yours; if it holds baselines, rename it to the UTC day they were measured on, e.g. 2026-11-26".into(),
            });
            continue;
        };
        if date > today {
            store.problems.push(Problem {
                kind: ProblemKind::FutureDate,
                path: display,
                message: format!(
                    "folder {name} is dated after today ({} UTC): a baseline cannot come from the future",
                    format_date(today)
                ),
                fix: "rename the folder to the day its receipts were measured on".into(),
            });
            continue;
        }
        let (baselines, problems, skipped) = load_day(&path, date, policy, &config);
        store.skipped.extend(skipped);
        store.baselines.extend(baselines);
        store.problems.extend(problems);
    }
    store.problems.extend(duplicates(&store.baselines));
    store
}

/// The baselines in one dated folder (no duplicate check), its problems, and
/// what in it is not ours (skipped).
pub fn load_day(
    day_dir: &Path,
    date: Date,
    policy: &Policy,
    config: &GateConfig,
) -> (Vec<Baseline>, Vec<Problem>, Vec<Problem>) {
    let (mut baselines, mut problems, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    if !day_dir.exists() {
        return (baselines, problems, skipped);
    }
    let entries = match sorted_entries(day_dir) {
        Ok(e) => e,
        Err(p) => return (baselines, vec![p], skipped),
    };
    for (name, path) in entries {
        if ignored(&name) || is_archived(&name) {
            continue;
        }
        let display = path.display().to_string();
        let Some(stem) = name.strip_suffix(".json").filter(|_| path.is_file()) else {
            skipped.push(Problem {
                kind: ProblemKind::Foreign,
                path: display,
                message: "not a <name>.json baseline receipt: skipped".into(),
                fix: "nothing to do if it is yours; if it is a receipt, name it <name>.json".into(),
            });
            continue;
        };
        match read_baseline(&path, policy, config) {
            Ok(a) if a.measured_on().is_some_and(|m| m > date) => problems.push(Problem {
                kind: ProblemKind::PredatesMeasurement,
                path: display,
                message: format!(
                    "dated {} but its receipt was measured on {}: a baseline cannot predate its measurement",
                    format_date(date),
                    a.measured_on().map(format_date).unwrap_or_default()
                ),
                fix: "move it to the folder of the day it was measured".into(),
            }),
            Ok(a) => baselines.push(Baseline {
                date,
                name: stem.to_string(),
                path: display,
                envelope: a.envelope().map(str::to_string),
                tokens_per_second: a.verdict.tokens_per_second,
                host_class: a.host_class(),
                verdict: a.verdict.status,
            }),
            Err(p) => problems.push(p),
        }
    }
    (baselines, problems, skipped)
}

fn read_baseline(path: &Path, policy: &Policy, config: &GateConfig) -> Result<Assessed, Problem> {
    let display = path.display().to_string();
    let bytes =
        crate::input::read_capped(path, crate::receipt::parse::DEFAULT_MAX_BYTES).map_err(|e| {
            Problem {
                kind: ProblemKind::Unreadable,
                path: display.clone(),
                message: format!("cannot read it: {e}"),
                fix: e.fix().into(),
            }
        })?;
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        return Err(Problem {
            kind: ProblemKind::NotJson,
            path: format!("{display}:{}:{}", e.line(), e.column()),
            message: format!("not JSON: {e}"),
            fix: "restore the receipt from git (`git log -- <file>`), or delete the file and record the baseline again".into(),
        });
    }
    let a = assess(path, policy, config);
    if a.receipt.is_none() {
        let why = a
            .verdict
            .findings
            .first()
            .map(|f| format!("{}: {}", f.code, f.message))
            .unwrap_or_else(|| "it does not read as a receipt".into());
        return Err(Problem {
            kind: ProblemKind::NotAReceipt,
            path: display,
            message: format!("not a receipt ({why})"),
            fix: "a baseline is a receipt copied by `policy-check baseline record`; restore it from git or delete it".into(),
        });
    }
    Ok(a)
}

fn duplicates(baselines: &[Baseline]) -> Vec<Problem> {
    let mut groups: BTreeMap<(Date, &str, &str), Vec<&Baseline>> = BTreeMap::new();
    for b in baselines {
        if let (Some(e), Some(h)) = (&b.envelope, &b.host_class) {
            groups.entry((b.date, e, h)).or_default().push(b);
        }
    }
    groups
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|((date, envelope, host), v)| Problem {
            kind: ProblemKind::DuplicateDay,
            path: v[1].path.clone(),
            message: format!(
                "{} baselines of envelope {envelope} on {host} on {}: {}; compare could not tell which is the baseline",
                v.len(),
                format_date(date),
                v.iter().map(|b| b.path.as_str()).collect::<Vec<_>>().join(", ")
            ),
            fix: "keep one per envelope, host class and day: delete the others, or re-record with `baseline record --replace` which archives the old one".into(),
        })
        .collect()
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, Problem> {
    let read = std::fs::read_dir(dir).map_err(|e| Problem {
        kind: ProblemKind::Unreadable,
        path: dir.display().to_string(),
        message: format!("cannot read the folder: {e}"),
        fix: "make the folder readable, or pass --dir with the baselines folder".into(),
    })?;
    let mut entries: Vec<(String, PathBuf)> = read
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}
