//! The envelope table of the policy file (`[[envelope]]`): its model (which
//! receipts an envelope judges, its band, tolerance and kernel rules) and its
//! reader, with the checks that need the whole list (duplicate ids, envelopes
//! one receipt could match twice).

use crate::config::error::{ConfigCode, Location, PolicyError};
pub use crate::config::spanned::Tolerance;
use crate::config::spanned::{
    Source, Value, boolean, integer, nearest, number, percent, string, unknown_keys, wrong_type,
};
use crate::receipt::{SchemaVersion, schema};
use globset::{GlobBuilder, GlobMatcher};
use serde::Serialize;
use serde_json::Value as Json;
use std::ops::Range;
use std::sync::OnceLock;
use toml::de::{DeTable, DeValue};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvelopeStatus {
    Production,
    Mvp,
    Experimental,
}

impl EnvelopeStatus {
    pub fn parse(s: &str) -> Option<EnvelopeStatus> {
        match s {
            "production" => Some(EnvelopeStatus::Production),
            "mvp" => Some(EnvelopeStatus::Mvp),
            "experimental" => Some(EnvelopeStatus::Experimental),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeStatus::Production => "production",
            EnvelopeStatus::Mvp => "mvp",
            EnvelopeStatus::Experimental => "experimental",
        }
    }

    /// The label a verdict carries; none for production.
    pub fn label(self) -> Option<&'static str> {
        match self {
            EnvelopeStatus::Production => None,
            EnvelopeStatus::Mvp => Some("MVP — not for production"),
            EnvelopeStatus::Experimental => Some("experimental — not for production"),
        }
    }
}

/// One value a `when` key accepts.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// A string: compared case-insensitively, as a glob when it has glob syntax.
    Text {
        text: String,
        glob: Option<GlobMatcher>,
    },
    Bool(bool),
    Number(f64),
}

/// One `when` key: a dotted path into the receipt and the values it accepts.
#[derive(Debug, Clone)]
pub struct WhenKey {
    pub path: String,
    /// The path as a JSON pointer ("/model/format").
    pub pointer: String,
    pub patterns: Vec<Pattern>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct RateRule {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub expected: Option<f64>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct KernelGlob {
    pub pattern: String,
    pub matcher: GlobMatcher,
    pub location: Location,
}

/// What a healthy run looks like for one backend and format.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub id: String,
    pub status: EnvelopeStatus,
    pub description: Option<String>,
    /// Where the id is written (what findings point at).
    pub location: Location,
    /// Where the `[[envelope]]` table starts.
    pub header: Location,
    pub when: Vec<WhenKey>,
    pub rate: Option<RateRule>,
    pub tolerance: Tolerance,
    pub roofline: Option<Bounds>,
    pub require: Vec<KernelGlob>,
    pub forbid: Vec<KernelGlob>,
    /// `true` requires deterministic runs; `false` allows either.
    pub deterministic: Option<(bool, Location)>,
    pub max_tokens: Option<(u64, Location)>,
}

pub(crate) fn envelope(src: &mut Source, t: &DeTable, span: Range<usize>) -> Option<Envelope> {
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
        if let Err(help) = check_path(&path) {
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

pub(crate) fn tolerance(src: &mut Source, v: &Value) -> Option<Tolerance> {
    percent(src, v, "tolerance", "\"15%\"", ConfigCode::InvalidTolerance)
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

pub(crate) fn duplicate_ids(src: &mut Source, envelopes: &[Envelope]) {
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

/// Refuse envelopes of equal specificity that some receipt could match both of.
pub(crate) fn ambiguities(envelopes: &[Envelope]) -> Result<(), Vec<PolicyError>> {
    let mut errors = Vec::new();
    for (i, b) in envelopes.iter().enumerate() {
        for a in &envelopes[..i] {
            if a.specificity() == b.specificity() && a.may_overlap(b) {
                errors.push(PolicyError {
                    code: ConfigCode::AmbiguousEnvelopes,
                    location: b.location.clone(),
                    message: format!(
                        "envelopes \"{}\" and \"{}\" are equally specific ({} `when` key{}) and one receipt can match both",
                        a.id,
                        b.id,
                        b.specificity(),
                        if b.specificity() == 1 { "" } else { "s" }
                    ),
                    help: "make their `when` values disjoint on a shared key (e.g. different backend or model.format), or add a key to the one that should win; `policy-check policy show` lists every envelope"
                        .into(),
                    snippet: None,
                    note: Some(format!("\"{}\" is at {}", a.id, a.location)),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Whether `path` names a field of the receipt schema. Fields the schema leaves
/// open (`environment`, objects without listed properties) take any sub-key.
pub fn check_path(path: &str) -> Result<(), String> {
    static SCHEMA: OnceLock<Option<Json>> = OnceLock::new();
    let schema =
        SCHEMA.get_or_init(|| serde_json::from_str(schema::text(SchemaVersion::V1_1)).ok());
    let Some(mut node) = schema.as_ref() else {
        return Ok(());
    };
    let mut walked = String::new();
    for segment in path.split('.') {
        if segment.is_empty() {
            return Err(format!(
                "a path is field names joined by single dots, e.g. \"model.format\" (got \"{path}\")"
            ));
        }
        let Some(properties) = node.get("properties").and_then(Json::as_object) else {
            // An object the schema leaves open, or a scalar: nothing more to check.
            return Ok(());
        };
        match properties.get(segment) {
            Some(next) => node = next,
            None => {
                let known = properties.keys().map(String::as_str);
                let hint = match crate::config::spanned::nearest(segment, known.clone()) {
                    Some(n) => format!("did you mean \"{walked}{n}\"? "),
                    None => String::new(),
                };
                return Err(format!(
                    "{hint}fields {}: {}",
                    if walked.is_empty() {
                        "of a receipt".to_string()
                    } else {
                        format!("under \"{}\"", walked.trim_end_matches('.'))
                    },
                    known.collect::<Vec<_>>().join(", ")
                ));
            }
        }
        walked.push_str(segment);
        walked.push('.');
    }
    Ok(())
}
