//! The policy file as written: TOML text → `PolicyFile`, walking the spanned
//! document so that every error names its file, line and column and says how to
//! fix it. All errors of a file are collected, not just the first. The top level
//! and `[receipt]` are read here; each check family reads its own table
//! (`envelope::cfg`, `claims::cfg`, `conventions::cfg`, `compare::cfg`).

use super::error::{ConfigCode, Location, PolicyError};
use super::spanned::{
    Source, Value, boolean, integer, nearest, percent, string, unknown_keys, wrong_type,
};
use crate::envelope::cfg::{Envelope, Tolerance, duplicate_ids, envelope};
use crate::envelope::diags::EnvelopeCode;
use crate::gates::{self, Code};
use crate::verdict::Level;
use std::ops::Range;
use time::Duration;
use toml::de::{DeTable, DeValue};

/// The newest policy `version` this build reads.
pub const POLICY_VERSION: i64 = 1;

const TOP_KEYS: &[&str] = &[
    "version",
    "use_defaults",
    "receipt",
    "envelope",
    "claims",
    "commands",
    "compare",
    "baselines",
];

const BASELINES_KEYS: &[&str] = &["dir"];

const RECEIPT_KEYS: &[&str] = &["max_age", "levels", "regression"];

const REGRESSION_KEYS: &[&str] = &["max_drop"];

/// A gate code or an envelope code, as `levels` keys name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRef {
    Gate(Code),
    Envelope(EnvelopeCode),
}

impl CodeRef {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeRef::Gate(c) => c.as_str(),
            CodeRef::Envelope(c) => c.as_str(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LevelSetting {
    pub code: CodeRef,
    pub level: Level,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct MaxAge {
    pub text: String,
    /// `None` for "none": no age check.
    pub value: Option<Duration>,
    pub location: Location,
}

/// A policy file as written, before merging with the built-in policy.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub version: i64,
    pub use_defaults: bool,
    pub max_age: Option<MaxAge>,
    pub levels: Vec<LevelSetting>,
    pub envelopes: Vec<Envelope>,
    pub claims: Option<crate::claims::cfg::ClaimsSettings>,
    /// `[commands]`: conventions for documented command lines.
    pub commands: Option<crate::conventions::cfg::CommandsSettings>,
    /// `[receipt] regression = { max_drop = "10%" }` (baseline compare).
    pub regression: Option<Tolerance>,
    /// `[compare]`: the paired base/head comparison.
    pub compare: Option<crate::compare::cfg::CompareSettings>,
    /// `[baselines] dir`: where dated baselines live, relative to the repository root.
    pub baselines_dir: Option<String>,
}

/// Parse one policy file. `name` is how errors refer to it.
pub fn parse(name: &str, text: &str) -> Result<PolicyFile, Vec<PolicyError>> {
    let mut src = Source::new(name, text);
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if body
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(vec![PolicyError::file(
            ConfigCode::PolicyEmpty,
            name,
            "the policy file is empty (no keys)".into(),
            "write `version = 1` and your envelopes, or run `policy-check policy init` for a commented starter",
        )]);
    }
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_string();
            src.error(
                ConfigCode::PolicySyntax,
                span,
                format!("invalid TOML: {message}"),
                "fix the TOML syntax at this place (strings need quotes, tables [name], arrays of tables [[name]])".into(),
            );
            return Err(src.errors);
        }
    };
    let root = doc.get_ref();
    let file = walk_root(&mut src, root, doc.span());
    if src.errors.is_empty() {
        Ok(file)
    } else {
        Err(src.errors)
    }
}

fn walk_root(src: &mut Source, root: &DeTable, span: Range<usize>) -> PolicyFile {
    unknown_keys(src, root, TOP_KEYS, "at the top level of the policy");
    let version = match root.get("version") {
        None => {
            src.error(
                ConfigCode::PolicyVersion,
                span.start..span.start,
                "the policy has no `version`".into(),
                format!("add `version = {POLICY_VERSION}` as the first line"),
            );
            POLICY_VERSION
        }
        Some(v) => match integer(v.get_ref()) {
            Some(n) if n == POLICY_VERSION => n,
            Some(n) if n > POLICY_VERSION => {
                src.error(
                    ConfigCode::PolicyVersion,
                    v.span(),
                    format!(
                        "this policy is version {n}, but this policy-check ({}) reads version {POLICY_VERSION} only",
                        env!("CARGO_PKG_VERSION")
                    ),
                    "upgrade policy-check to a release that reads this version, or write the policy in version 1".into(),
                );
                n
            }
            Some(n) => {
                src.error(
                    ConfigCode::PolicyVersion,
                    v.span(),
                    format!("version {n} does not exist"),
                    format!("write `version = {POLICY_VERSION}`"),
                );
                n
            }
            None => {
                wrong_type(src, v, "version", "an integer", "1");
                POLICY_VERSION
            }
        },
    };
    let use_defaults = root
        .get("use_defaults")
        .and_then(|v| boolean(src, v, "use_defaults"))
        .unwrap_or(true);
    let (max_age, levels) = match root.get("receipt") {
        None => (None, Vec::new()),
        Some(v) => match v.get_ref() {
            DeValue::Table(t) => receipt_part(src, t),
            _ => {
                wrong_type(src, v, "receipt", "a table", "[receipt]");
                (None, Vec::new())
            }
        },
    };
    let regression = match root.get("receipt").map(|v| v.get_ref()) {
        Some(DeValue::Table(t)) => t.get("regression").and_then(|v| regression(src, v)),
        _ => None,
    };
    let mut envelopes = Vec::new();
    if let Some(v) = root.get("envelope") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::Table(t) => {
                            if let Some(e) = envelope(src, t, item.span()) {
                                envelopes.push(e);
                            }
                        }
                        _ => wrong_type(src, item, "envelope", "a table", "[[envelope]]"),
                    }
                }
            }
            _ => wrong_type(
                src,
                v,
                "envelope",
                "an array of tables",
                "[[envelope]] (two brackets) before each envelope",
            ),
        }
    }
    duplicate_ids(src, &envelopes);
    let claims = root.get("claims").and_then(|v| match v.get_ref() {
        DeValue::Table(t) => Some(crate::claims::cfg::parse(src, t)),
        _ => {
            wrong_type(src, v, "claims", "a table", "[claims]");
            None
        }
    });
    let commands = root.get("commands").and_then(|v| match v.get_ref() {
        DeValue::Table(t) => Some(crate::conventions::cfg::parse(src, t)),
        _ => {
            wrong_type(src, v, "commands", "a table", "[[commands.rule]]");
            None
        }
    });
    let compare = root.get("compare").and_then(|v| match v.get_ref() {
        DeValue::Table(t) => Some(crate::compare::cfg::parse(src, t)),
        _ => {
            wrong_type(src, v, "compare", "a table", "[compare]");
            None
        }
    });
    let baselines_dir = root.get("baselines").and_then(|v| match v.get_ref() {
        DeValue::Table(t) => baselines_dir(src, t),
        _ => {
            wrong_type(src, v, "baselines", "a table", "[baselines]");
            None
        }
    });
    PolicyFile {
        version,
        use_defaults,
        max_age,
        levels,
        envelopes,
        claims,
        commands,
        regression,
        compare,
        baselines_dir,
    }
}

/// `[baselines] dir = "perf/baselines"`: a folder inside the repository, written
/// with `/`, so that every command and every runner resolves it the same way.
fn baselines_dir(src: &mut Source, t: &DeTable) -> Option<String> {
    unknown_keys(src, t, BASELINES_KEYS, "in [baselines]");
    let v = t.get("dir")?;
    let text = string(src, v, "dir", "\"perf/baselines\"")?;
    let inside = !text.is_empty()
        && !text.starts_with('/')
        && !text.contains('\\')
        && !text.contains(':')
        && !text.chars().any(char::is_control)
        && text
            .trim_end_matches('/')
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !inside {
        src.error(
            ConfigCode::InvalidValue,
            v.span(),
            format!("[baselines] dir \"{text}\" is not a folder inside the repository"),
            "write a relative path with `/` and no `.` or `..` parts, e.g. dir = \"perf/baselines\"".into(),
        );
        return None;
    }
    Some(text.trim_end_matches('/').to_string())
}

/// `regression = { max_drop = "10%" }`: how far a rate may fall below the
/// latest comparable baseline before `baseline compare` fails.
fn regression(src: &mut Source, v: &Value) -> Option<Tolerance> {
    let DeValue::Table(t) = v.get_ref() else {
        wrong_type(
            src,
            v,
            "regression",
            "a table",
            "regression = { max_drop = \"10%\" }",
        );
        return None;
    };
    unknown_keys(src, t, REGRESSION_KEYS, "in `regression`");
    let drop = t.get("max_drop")?;
    percent(src, drop, "max_drop", "\"10%\"", ConfigCode::InvalidValue)
}

fn receipt_part(src: &mut Source, t: &DeTable) -> (Option<MaxAge>, Vec<LevelSetting>) {
    unknown_keys(src, t, RECEIPT_KEYS, "in [receipt]");
    let max_age = t.get("max_age").and_then(|v| {
        let text = string(src, v, "max_age", "\"30d\"")?;
        let location = src.location(v.span().start);
        if text == "none" {
            return Some(MaxAge {
                text: text.to_string(),
                value: None,
                location,
            });
        }
        match gates::environment::parse_age(text) {
            Some(d) => Some(MaxAge {
                text: text.to_string(),
                value: Some(d),
                location,
            }),
            None => {
                src.error(
                    ConfigCode::InvalidValue,
                    v.span(),
                    format!("max_age \"{text}\" is not an age"),
                    "write a number and a unit, at most a century: \"30d\", \"12h\", \"2w\", or \"none\" to skip the age check".into(),
                );
                None
            }
        }
    });
    let mut levels = Vec::new();
    if let Some(v) = t.get("levels") {
        match v.get_ref() {
            DeValue::Table(lt) => {
                for (key, value) in lt.iter() {
                    let name = key.get_ref().as_ref();
                    let code = match (Code::parse(name), super::EnvelopeCode::parse(name)) {
                        (Some(c), _) => CodeRef::Gate(c),
                        (None, Some(c)) => CodeRef::Envelope(c),
                        (None, None) => {
                            let all = Code::ALL
                                .iter()
                                .map(|c| c.as_str())
                                .chain(super::EnvelopeCode::ALL.iter().map(|c| c.as_str()));
                            let help = match nearest(name, all) {
                                Some(n) => format!(
                                    "did you mean `{n}`? (`policy-check explain` lists every code)"
                                ),
                                None => "`policy-check explain` lists every code".into(),
                            };
                            src.error(
                                ConfigCode::UnknownCode,
                                key.span(),
                                format!(
                                    "`{name}` in [receipt] levels is not a gate or envelope code"
                                ),
                                help,
                            );
                            continue;
                        }
                    };
                    let Some(text) = string(src, value, name, "\"warn\"") else {
                        continue;
                    };
                    match Level::parse(text) {
                        Some(level) => levels.push(LevelSetting {
                            code,
                            level,
                            location: src.location(key.span().start),
                        }),
                        None => src.error(
                            ConfigCode::InvalidValue,
                            value.span(),
                            format!("level \"{text}\" for `{name}` is not a level"),
                            "write \"allow\", \"warn\" or \"deny\"".into(),
                        ),
                    }
                }
            }
            _ => wrong_type(
                src,
                v,
                "levels",
                "a table",
                "levels = { duplicate-kernel = \"warn\" }",
            ),
        }
    }
    (max_age, levels)
}
