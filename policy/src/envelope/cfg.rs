//! The policy file's part of the configuration: TOML text → `PolicyFile`, walking
//! the spanned document so that every error names its file, line and column and
//! says how to fix it. All errors of a file are collected, not just the first.
//! Merging with the built-in policy and overlap checks live in `mod.rs`.

use super::diags::ConfigCode;
use super::{
    Bounds, CodeRef, Envelope, EnvelopeStatus, KernelGlob, LevelSetting, Location, MaxAge, Pattern,
    RateRule, Tolerance, WhenKey,
};
use crate::gates::{self, Code};
use crate::verdict::Level;
use globset::{GlobBuilder, GlobMatcher};
use std::fmt;
use std::ops::Range;
use toml::Spanned;
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
];
const RECEIPT_KEYS: &[&str] = &["max_age", "levels", "regression"];
const REGRESSION_KEYS: &[&str] = &["max_drop"];
const ENVELOPE_KEYS: &[&str] = &[
    "id",
    "status",
    "description",
    "when",
    "tokens_per_second",
    "tolerance",
    "roofline_fraction",
    "kernels",
    "deterministic",
    "max_tokens",
];
const RATE_KEYS: &[&str] = &["min", "max", "expected"];
const BOUNDS_KEYS: &[&str] = &["min", "max"];
const KERNEL_KEYS: &[&str] = &["require", "forbid"];

/// One reason a policy cannot be loaded, pointing into the file.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyError {
    pub code: ConfigCode,
    pub location: Location,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
    /// The source line, and the columns to underline (1-based, chars).
    pub snippet: Option<(String, usize, usize)>,
    /// Where the other half of a conflict is (duplicate ids, overlaps).
    pub note: Option<String>,
}

impl PolicyError {
    /// An error about the file as a whole (unreadable, empty).
    pub fn file(code: ConfigCode, file: &str, message: String, help: &str) -> PolicyError {
        PolicyError {
            code,
            location: Location {
                file: file.to_string(),
                line: 1,
                column: 1,
            },
            message,
            help: help.to_string(),
            snippet: None,
            note: None,
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error[{}]: {}", self.code, self.message)?;
        writeln!(f, "  --> {}", self.location)?;
        if let Some((text, start, len)) = &self.snippet {
            let number = self.location.line.to_string();
            let pad = " ".repeat(number.len());
            writeln!(f, "{pad} |")?;
            writeln!(f, "{number} | {}", shown_line(text))?;
            writeln!(
                f,
                "{pad} | {}{}",
                " ".repeat(start.saturating_sub(1)),
                "^".repeat((*len).max(1))
            )?;
        }
        if let Some(note) = &self.note {
            writeln!(f, "  = note: {note}")?;
        }
        writeln!(f, "  = help: {}", self.help)
    }
}

/// A policy line as echoed under an error: control characters written out (the
/// file may be hostile: no escape sequence reaches the terminal), at most 200
/// characters.
fn shown_line(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(200)
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// Render a list of errors, one after another, with a count at the end.
pub fn render_errors(errors: &[PolicyError]) -> String {
    let mut out = String::new();
    for e in errors {
        out.push_str(&e.to_string());
        out.push('\n');
    }
    out.push_str(&format!(
        "policy not loaded: {} error{}\n",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    ));
    out
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
}

/// Byte offsets → line and column, and the errors found so far.
pub(crate) struct Source<'a> {
    pub name: &'a str,
    text: &'a str,
    line_starts: Vec<usize>,
    pub errors: Vec<PolicyError>,
}

impl<'a> Source<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Source<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            name,
            text,
            line_starts,
            errors: Vec::new(),
        }
    }

    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        Location {
            file: self.name.to_string(),
            line: line + 1,
            column,
        }
    }

    pub(crate) fn error(
        &mut self,
        code: ConfigCode,
        span: Range<usize>,
        message: String,
        help: String,
    ) {
        let e = self.make(code, span, message, help);
        self.errors.push(e);
    }

    pub fn make(
        &self,
        code: ConfigCode,
        span: Range<usize>,
        message: String,
        help: String,
    ) -> PolicyError {
        let location = self.location(span.start);
        let line_index = location.line - 1;
        let start = self.line_starts[line_index];
        let end = self
            .line_starts
            .get(line_index + 1)
            .copied()
            .unwrap_or(self.text.len());
        let line_text = self
            .text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
            .to_string();
        let span_end = span.end.min(end).max(span.start);
        let len = self
            .text
            .get(span.start..span_end)
            .map_or(1, |s| s.trim_end_matches(['\n', '\r']).chars().count());
        PolicyError {
            code,
            location: location.clone(),
            message,
            help,
            snippet: Some((line_text, location.column, len)),
            note: None,
        }
    }
}

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

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
    }
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

fn envelope(src: &mut Source, t: &DeTable, span: Range<usize>) -> Option<Envelope> {
    unknown_keys(src, t, ENVELOPE_KEYS, "in [[envelope]]");
    let errors_before = src.errors.len();
    let location = src.location(span.start);
    let id = match t.get("id") {
        None => {
            src.error(
                ConfigCode::MissingKey,
                span.start..span.start,
                "this [[envelope]] has no `id`".into(),
                "add `id = \"cpu-i2s\"` (a short kebab-case name, unique in the file)".into(),
            );
            None
        }
        Some(v) => string(src, v, "id", "\"cpu-i2s\"").and_then(|s| {
            let ok = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                src.error(
                    ConfigCode::InvalidValue,
                    v.span(),
                    format!("envelope id \"{s}\" is empty or has characters other than letters, digits, '-', '_', '.'"),
                    "use a short kebab-case name such as \"cpu-i2s\"".into(),
                );
                return None;
            }
            Some((s.to_string(), src.location(v.span().start)))
        }),
    };
    let status = match t.get("status") {
        None => EnvelopeStatus::Production,
        Some(v) => match string(src, v, "status", "\"production\"") {
            None => EnvelopeStatus::Production,
            Some(s) => match EnvelopeStatus::parse(s) {
                Some(st) => st,
                None => {
                    let help = match nearest(s, ["production", "mvp", "experimental"].into_iter()) {
                        Some(n) => format!(
                            "did you mean \"{n}\"? write \"production\", \"mvp\" or \"experimental\""
                        ),
                        None => "write \"production\", \"mvp\" or \"experimental\"".into(),
                    };
                    src.error(
                        ConfigCode::InvalidValue,
                        v.span(),
                        format!("status \"{s}\" is not an envelope status"),
                        help,
                    );
                    EnvelopeStatus::Production
                }
            },
        },
    };
    let description = t
        .get("description")
        .and_then(|v| string(src, v, "description", "\"what this envelope is for\""))
        .map(str::to_string);
    let when = match t.get("when") {
        None => Vec::new(),
        Some(v) => match v.get_ref() {
            DeValue::Table(w) => {
                let mut keys = Vec::new();
                when_keys(src, w, "", &mut keys);
                keys
            }
            _ => {
                wrong_type(
                    src,
                    v,
                    "when",
                    "a table",
                    "when = { backend = \"cpu\", \"model.format\" = [\"i2s\"] }",
                );
                Vec::new()
            }
        },
    };
    let rate = t.get("tokens_per_second").and_then(|v| rate_rule(src, v));
    let tolerance = match t.get("tolerance") {
        None => Tolerance {
            percent: 0.0,
            text: "0%".into(),
            location: None,
        },
        Some(v) => tolerance(src, v).unwrap_or(Tolerance {
            percent: 0.0,
            text: "0%".into(),
            location: None,
        }),
    };
    let roofline = t
        .get("roofline_fraction")
        .and_then(|v| bounds(src, v, "roofline_fraction"));
    let (require, forbid) = match t.get("kernels") {
        None => (Vec::new(), Vec::new()),
        Some(v) => match v.get_ref() {
            DeValue::Table(k) => {
                unknown_keys(src, k, KERNEL_KEYS, "in `kernels`");
                (
                    k.get("require")
                        .map(|v| kernel_globs(src, v, "require"))
                        .unwrap_or_default(),
                    k.get("forbid")
                        .map(|v| kernel_globs(src, v, "forbid"))
                        .unwrap_or_default(),
                )
            }
            _ => {
                wrong_type(
                    src,
                    v,
                    "kernels",
                    "a table",
                    "kernels = { require = [\"i2s_gemv*\"], forbid = [\"*mock*\"] }",
                );
                (Vec::new(), Vec::new())
            }
        },
    };
    let deterministic = t
        .get("deterministic")
        .and_then(|v| boolean(src, v, "deterministic").map(|b| (b, src.location(v.span().start))));
    let max_tokens = t
        .get("max_tokens")
        .and_then(|v| match integer(v.get_ref()) {
            Some(n) if n > 0 => Some((n as u64, src.location(v.span().start))),
            Some(n) => {
                src.error(
                    ConfigCode::InvalidValue,
                    v.span(),
                    format!("max_tokens is {n}; a token cap is a positive number"),
                    "write e.g. `max_tokens = 8`, or remove the key for no cap".into(),
                );
                None
            }
            None => {
                wrong_type(src, v, "max_tokens", "a positive integer", "8");
                None
            }
        });
    let (id, id_location) = id?;
    if src.errors.len() > errors_before {
        return None;
    }
    Some(Envelope {
        id,
        status,
        description,
        location: id_location,
        header: location,
        when,
        rate,
        tolerance,
        roofline,
        require,
        forbid,
        deterministic,
        max_tokens,
    })
}

/// Flatten `when`: quoted dotted keys ("model.format") and nested tables
/// (model.format written unquoted, or `model = { format = ... }`) are the same path.
fn when_keys(src: &mut Source, w: &DeTable, prefix: &str, out: &mut Vec<WhenKey>) {
    for (key, value) in w.iter() {
        let path = format!("{prefix}{}", key.get_ref());
        if let DeValue::Table(inner) = value.get_ref() {
            when_keys(src, inner, &format!("{path}."), out);
            continue;
        }
        if let Err(help) = super::matching::check_path(&path) {
            src.error(
                ConfigCode::UnknownPath,
                key.span(),
                format!("`{path}` in `when` is not a receipt field"),
                help,
            );
            continue;
        }
        let items: Vec<&Value> = match value.get_ref() {
            DeValue::Array(a) => {
                if a.is_empty() {
                    src.error(
                        ConfigCode::InvalidValue,
                        value.span(),
                        format!("`when` key `{path}` has an empty list, which matches nothing"),
                        "list at least one value, or remove the key".into(),
                    );
                    continue;
                }
                a.iter().collect()
            }
            _ => vec![value],
        };
        let mut patterns = Vec::new();
        for item in items {
            match item.get_ref() {
                DeValue::String(s) => match glob(s) {
                    Ok(m) => patterns.push(Pattern::Text {
                        text: s.to_string(),
                        glob: m,
                    }),
                    Err(e) => src.error(
                        ConfigCode::InvalidGlob,
                        item.span(),
                        format!("`when` pattern \"{s}\" for `{path}` is not a valid glob: {e}"),
                        glob_help(),
                    ),
                },
                DeValue::Boolean(b) => patterns.push(Pattern::Bool(*b)),
                DeValue::Integer(_) | DeValue::Float(_) => match number(item.get_ref()) {
                    Some(n) => patterns.push(Pattern::Number(n)),
                    None => wrong_type(src, item, &path, "a finite number", "128"),
                },
                _ => wrong_type(
                    src,
                    item,
                    &path,
                    "a string, boolean, number, or a list of them",
                    "\"cpu\" or [\"i2s\", \"tq2_0\"]",
                ),
            }
        }
        if !patterns.is_empty() {
            out.push(WhenKey {
                pointer: format!("/{}", path.replace('.', "/")),
                path,
                patterns,
                location: src.location(key.span().start),
            });
        }
    }
}

fn rate_rule(src: &mut Source, v: &Value) -> Option<RateRule> {
    let DeValue::Table(t) = v.get_ref() else {
        wrong_type(
            src,
            v,
            "tokens_per_second",
            "a table",
            "tokens_per_second = { min = 10.0, max = 20.0 }",
        );
        return None;
    };
    unknown_keys(src, t, RATE_KEYS, "in `tokens_per_second`");
    let min = t.get("min").and_then(|v| rate_number(src, v, "min"));
    let max = t.get("max").and_then(|v| rate_number(src, v, "max"));
    let expected = t
        .get("expected")
        .and_then(|v| rate_number(src, v, "expected"));
    if expected.is_some() && (min.is_some() || max.is_some()) {
        src.error(
            ConfigCode::InvalidValue,
            v.span(),
            "tokens_per_second has both `expected` and `min`/`max`".into(),
            "write either `{ expected = 0.1 }` (a band around one value) or `{ min = 10.0, max = 20.0 }`".into(),
        );
        return None;
    }
    if expected.is_none() && min.is_none() && max.is_none() {
        src.error(
            ConfigCode::MissingKey,
            v.span(),
            "tokens_per_second has none of `min`, `max`, `expected`".into(),
            "write e.g. `tokens_per_second = { min = 10.0, max = 20.0 }`".into(),
        );
        return None;
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        let span = t.get("min").map_or(v.span(), |m| m.span());
        src.error(
            ConfigCode::MinAboveMax,
            span,
            format!("tokens_per_second min {lo} is above max {hi}"),
            "swap the two numbers, or fix the one that is wrong".into(),
        );
        return None;
    }
    Some(RateRule {
        min,
        max,
        expected,
        location: src.location(v.span().start),
    })
}

fn rate_number(src: &mut Source, v: &Value, key: &str) -> Option<f64> {
    let Some(n) = number(v.get_ref()) else {
        wrong_type(src, v, key, "a number of tokens per second", "10.0");
        return None;
    };
    if n < 0.0 || (key != "min" && n == 0.0) {
        src.error(
            ConfigCode::InvalidValue,
            v.span(),
            format!("tokens_per_second {key} is {n}; a rate is positive"),
            "write a positive number of tokens per second".into(),
        );
        return None;
    }
    Some(n)
}

fn bounds(src: &mut Source, v: &Value, key: &str) -> Option<Bounds> {
    let DeValue::Table(t) = v.get_ref() else {
        wrong_type(src, v, key, "a table", &format!("{key} = {{ min = 0.5 }}"));
        return None;
    };
    unknown_keys(src, t, BOUNDS_KEYS, &format!("in `{key}`"));
    let mut get = |name: &str| {
        t.get(name).and_then(|x| match number(x.get_ref()) {
            Some(n) if n >= 0.0 => Some(n),
            Some(n) => {
                src.error(
                    ConfigCode::InvalidValue,
                    x.span(),
                    format!("{key} {name} is {n}; a fraction is not negative"),
                    "write a fraction such as 0.5".into(),
                );
                None
            }
            None => {
                wrong_type(src, x, name, "a number", "0.5");
                None
            }
        })
    };
    let min = get("min");
    let max = get("max");
    if min.is_none() && max.is_none() {
        src.error(
            ConfigCode::MissingKey,
            v.span(),
            format!("{key} has neither `min` nor `max`"),
            format!("write e.g. `{key} = {{ min = 0.5 }}`"),
        );
        return None;
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        let span = t.get("min").map_or(v.span(), |m| m.span());
        src.error(
            ConfigCode::MinAboveMax,
            span,
            format!("{key} min {lo} is above max {hi}"),
            "swap the two numbers, or fix the one that is wrong".into(),
        );
        return None;
    }
    Some(Bounds {
        min,
        max,
        location: src.location(v.span().start),
    })
}

fn tolerance(src: &mut Source, v: &Value) -> Option<Tolerance> {
    percent(src, v, "tolerance", "\"15%\"", ConfigCode::InvalidTolerance)
}

/// A percentage string such as "15%", for `key`; a bad one is reported with `code`.
pub(crate) fn percent(
    src: &mut Source,
    v: &Value,
    key: &str,
    example: &str,
    code: ConfigCode,
) -> Option<Tolerance> {
    let DeValue::String(s) = v.get_ref() else {
        // A bare number was probably meant as a percentage: show it as one.
        let example = match number(v.get_ref()) {
            Some(n) if n < 1.0 => format!("\"{}%\"", n * 100.0),
            Some(n) => format!("\"{n}%\""),
            None => example.to_string(),
        };
        wrong_type(src, v, key, "a percentage string", &example);
        return None;
    };
    match parse_percent(s) {
        Ok(percent) => Some(Tolerance {
            percent,
            text: s.to_string(),
            location: Some(src.location(v.span().start)),
        }),
        Err((message, help)) => {
            src.error(code, v.span(), message.replacen("tolerance", key, 1), help);
            None
        }
    }
}

/// "15%" → 15.0. A tolerance is from 0% to below 100% (at 100% the band's lower
/// edge would be zero: every rate would pass).
pub fn parse_percent(s: &str) -> Result<f64, (String, String)> {
    let t = s.trim();
    let Some(number) = t.strip_suffix('%') else {
        let fix = match t.parse::<f64>() {
            Ok(n) if n > 0.0 && n < 1.0 => format!(
                "write the percent sign: \"{t}%\" for {t} percent, or \"{}%\" if {t} is a fraction",
                n * 100.0
            ),
            Ok(_) => format!("write the percent sign: \"{t}%\""),
            Err(_) => "write a percentage such as \"15%\"".into(),
        };
        return Err((format!("tolerance \"{s}\" has no % sign"), fix));
    };
    let n: f64 = match number.trim().parse() {
        Ok(n) if f64::is_finite(n) => n,
        _ => {
            return Err((
                format!("tolerance \"{s}\" is not a number of percent"),
                "write a percentage such as \"15%\"".into(),
            ));
        }
    };
    if n < 0.0 {
        return Err((
            format!("tolerance \"{s}\" is negative"),
            "a tolerance widens the band; write it without the minus sign, e.g. \"5%\"".into(),
        ));
    }
    if n >= 100.0 {
        return Err((
            format!("tolerance \"{s}\" is 100% or more: the band's lower edge would be at or below zero, so every rate would pass"),
            "use a tolerance below 100%, e.g. \"15%\"; widen min/max if the range really is that wide".into(),
        ));
    }
    Ok(n)
}

fn kernel_globs(src: &mut Source, v: &Value, key: &str) -> Vec<KernelGlob> {
    let DeValue::Array(items) = v.get_ref() else {
        wrong_type(
            src,
            v,
            key,
            "a list of glob strings",
            "[\"i2s_gemv*\", \"attention_*\"]",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let DeValue::String(s) = item.get_ref() else {
            wrong_type(src, item, key, "a glob string", "\"i2s_gemv*\"");
            continue;
        };
        match glob(s) {
            Ok(m) => out.push(KernelGlob {
                pattern: s.to_string(),
                matcher: m.unwrap_or_else(|| literal_matcher(s)),
                location: src.location(item.span().start),
            }),
            Err(e) => src.error(
                ConfigCode::InvalidGlob,
                item.span(),
                format!("kernels.{key} pattern \"{s}\" is not a valid glob: {e}"),
                glob_help(),
            ),
        }
    }
    out
}

fn glob_help() -> String {
    "globs take `*` (any run of characters), `?` (one character), `[abc]` (a class, closed with `]`) and `{a,b}` (alternatives, closed with `}`)".into()
}

/// A glob matcher, case-insensitive; `None` for a pattern without glob syntax
/// (compared as a plain string, which is faster).
pub(crate) fn glob(pattern: &str) -> Result<Option<GlobMatcher>, globset::Error> {
    if !pattern.contains(['*', '?', '[', ']', '{', '}', '\\']) {
        return Ok(None);
    }
    GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| Some(g.compile_matcher()))
}

fn literal_matcher(s: &str) -> GlobMatcher {
    // A literal compiles as a glob of itself; escape metacharacters so it cannot fail.
    GlobBuilder::new(&globset::escape(s))
        .case_insensitive(true)
        .build()
        .map(|g| g.compile_matcher())
        .unwrap_or_else(|_| {
            globset::Glob::new("")
                .expect("the empty glob compiles")
                .compile_matcher()
        })
}

fn duplicate_ids(src: &mut Source, envelopes: &[Envelope]) {
    for (i, e) in envelopes.iter().enumerate() {
        if let Some(first) = envelopes[..i].iter().find(|f| f.id == e.id) {
            let offset = src.offset_of(&e.location);
            let mut err = src.make(
                ConfigCode::DuplicateEnvelope,
                offset..offset + e.id.len() + 2,
                format!("envelope id \"{}\" is used twice", e.id),
                "give each envelope its own id; to change a built-in envelope, write one with its id once".into(),
            );
            err.note = Some(format!("first used at {}", first.location));
            src.errors.push(err);
        }
    }
}

impl Source<'_> {
    /// The byte offset of a location this source produced.
    pub fn offset_of(&self, location: &Location) -> usize {
        let start = self.line_starts[location.line - 1];
        self.text[start..]
            .char_indices()
            .nth(location.column - 1)
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

pub(crate) fn unknown_keys(src: &mut Source, t: &DeTable, allowed: &[&str], place: &str) {
    for (key, _) in t.iter() {
        let name: &str = key.get_ref();
        if allowed.contains(&name) {
            continue;
        }
        let help = match nearest(name, allowed.iter().copied()) {
            Some(n) => format!(
                "did you mean `{n}`? valid keys {place}: {}",
                allowed.join(", ")
            ),
            None => format!("valid keys {place}: {}", allowed.join(", ")),
        };
        src.error(
            ConfigCode::UnknownKey,
            key.span(),
            format!("unknown key `{name}` {place}"),
            help,
        );
    }
}

fn type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(crate) fn wrong_type(src: &mut Source, v: &Value, key: &str, expected: &str, example: &str) {
    src.error(
        ConfigCode::WrongType,
        v.span(),
        format!(
            "`{key}` is {}, but it must be {expected}",
            type_name(v.get_ref())
        ),
        format!("write it like this: {example}"),
    );
}

pub(crate) fn string<'v>(
    src: &mut Source,
    v: &'v Value,
    key: &str,
    example: &str,
) -> Option<&'v str> {
    match v.get_ref() {
        DeValue::String(s) => Some(s.as_ref()),
        _ => {
            wrong_type(src, v, key, "a string", example);
            None
        }
    }
}

pub(crate) fn boolean(src: &mut Source, v: &Value, key: &str) -> Option<bool> {
    match v.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        _ => {
            wrong_type(src, v, key, "true or false", "true");
            None
        }
    }
}

pub(crate) fn integer(v: &DeValue) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok(),
        _ => None,
    }
}

/// An integer or a finite float.
pub(crate) fn number(v: &DeValue) -> Option<f64> {
    match v {
        DeValue::Integer(_) => integer(v).map(|n| n as f64),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite()),
        _ => None,
    }
}

/// The candidate closest to a mistyped name, if one is close enough to be meant.
pub fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 4);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= limit)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("15%"), Ok(15.0));
        assert_eq!(parse_percent(" 2.5% "), Ok(2.5));
        assert_eq!(parse_percent("0%"), Ok(0.0));
        assert!(parse_percent("15").unwrap_err().1.contains("\"15%\""));
        assert!(parse_percent("0.15").unwrap_err().1.contains("\"15%\""));
        assert!(parse_percent("150%").unwrap_err().0.contains("100%"));
        assert!(parse_percent("100%").is_err());
        assert!(parse_percent("-5%").unwrap_err().0.contains("negative"));
        assert!(parse_percent("abc%").is_err());
        assert!(parse_percent("nan%").is_err());
    }

    #[test]
    fn nearest_names() {
        let keys = ENVELOPE_KEYS.iter().copied();
        assert_eq!(nearest("tolerence", keys.clone()), Some("tolerance"));
        assert_eq!(nearest("kernel", keys.clone()), Some("kernels"));
        assert_eq!(nearest("zzzzzzzz", keys), None);
    }

    #[test]
    fn locations_are_one_based_and_count_characters() {
        let src = Source::new("p.toml", "a = 1\nbé = \"x\"\n");
        let l = src.location(10);
        assert_eq!((l.line, l.column), (2, 4));
        assert_eq!(src.offset_of(&l), 10);
        assert_eq!(src.location(0).to_string(), "p.toml:1:1");
    }
}
