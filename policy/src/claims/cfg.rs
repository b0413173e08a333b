//! The policy file's `[claims]` table: which files are scanned, which kinds of
//! claim count, extra patterns, and the level of each result. Parsed with the
//! policy's spanned reader, so errors name line and column like every policy error.
//!
//! ```toml
//! [claims]
//! include = ["README*", "docs/**", "*.md"]
//! exclude = ["CHANGELOG.md"]
//! code_blocks = true
//! kinds = { memory = false }
//! patterns = [{ regex = '(?P<value>\d+(?:\.\d+)?)\s*req/s', kind = "throughput" }]
//! levels = { stale = "warn" }
//! require_dated_baselines = true
//! snippet_command = "make bench TOKENS={tokens} OUT={receipt}"
//! ```

use super::terms::{Kind, Outcome};
use crate::config::error::ConfigCode;
use crate::config::spanned::{Source, Value, boolean, string, unknown_keys, wrong_type};
use crate::config::spanned::{quote, quote_regex};
use crate::verdict::Level;
use regex::Regex;
use std::collections::HashMap;
use toml::de::{DeTable, DeValue};

const CLAIMS_KEYS: &[&str] = &[
    "include",
    "exclude",
    "code_blocks",
    "kinds",
    "patterns",
    "levels",
    "require_dated_baselines",
    "snippet_command",
];
const PATTERN_KEYS: &[&str] = &["regex", "kind"];
const KINDS: &[Kind] = &[
    Kind::Throughput,
    Kind::Latency,
    Kind::Speedup,
    Kind::Memory,
    Kind::Bandwidth,
    Kind::RealTimeFactor,
    Kind::RelativeChange,
];
const OUTCOMES: &[Outcome] = &[
    Outcome::Backed,
    Outcome::Ignored,
    Outcome::Stale,
    Outcome::Unbacked,
    Outcome::Contradicted,
];

/// A user's own claim pattern: a regex whose `value` group (or first number) is
/// the claimed number, and the kind it claims.
#[derive(Debug, Clone)]
pub struct ExtraPattern {
    pub regex: Regex,
    pub kind: Kind,
}

/// What `[claims]` says; absent keys are `None` and fall back to the defaults.
#[derive(Debug, Clone, Default)]
pub struct ClaimsSettings {
    pub include: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub code_blocks: Option<bool>,
    /// Kinds switched on or off.
    pub kinds: HashMap<Kind, bool>,
    pub patterns: Vec<ExtraPattern>,
    pub levels: HashMap<Outcome, Level>,
    /// Only receipts under `baselines/YYYY-MM-DD/` back a claim (the plan's
    /// maintenance rule: a claim points at a dated, kept measurement).
    pub require_dated_baselines: Option<bool>,
    /// The project's benchmark command for `receipt snippet` (`{receipt}`, `{tokens}`).
    pub snippet_command: Option<String>,
}

impl ClaimsSettings {
    /// `self` over `base`: keys this file sets win, one by one.
    pub fn over(self, base: ClaimsSettings) -> ClaimsSettings {
        let mut kinds = base.kinds;
        kinds.extend(self.kinds);
        let mut levels = base.levels;
        levels.extend(self.levels);
        let mut patterns = base.patterns;
        patterns.extend(self.patterns);
        ClaimsSettings {
            include: self.include.or(base.include),
            exclude: self.exclude.or(base.exclude),
            code_blocks: self.code_blocks.or(base.code_blocks),
            kinds,
            patterns,
            levels,
            require_dated_baselines: self
                .require_dated_baselines
                .or(base.require_dated_baselines),
            snippet_command: self.snippet_command.or(base.snippet_command),
        }
    }

    /// The `[claims]` table as `policy show` prints it (empty when nothing is set).
    pub fn to_toml(&self) -> String {
        let quoted = |v: &[String]| v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ");
        let mut lines = Vec::new();
        if let Some(v) = &self.include {
            lines.push(format!("include = [{}]", quoted(v)));
        }
        if let Some(v) = &self.exclude {
            lines.push(format!("exclude = [{}]", quoted(v)));
        }
        if let Some(b) = self.code_blocks {
            lines.push(format!("code_blocks = {b}"));
        }
        let mut kinds: Vec<String> = KINDS
            .iter()
            .filter_map(|k| self.kinds.get(k).map(|on| format!("{} = {on}", k.as_str())))
            .collect();
        if !kinds.is_empty() {
            kinds.sort();
            lines.push(format!("kinds = {{ {} }}", kinds.join(", ")));
        }
        if !self.patterns.is_empty() {
            let patterns: Vec<String> = self
                .patterns
                .iter()
                .map(|p| {
                    format!(
                        "{{ regex = {}, kind = \"{}\" }}",
                        quote_regex(p.regex.as_str()),
                        p.kind.as_str()
                    )
                })
                .collect();
            lines.push(format!("patterns = [{}]", patterns.join(", ")));
        }
        let levels: Vec<String> = OUTCOMES
            .iter()
            .filter_map(|o| {
                self.levels
                    .get(o)
                    .map(|l| format!("{} = \"{l}\"", o.as_str()))
            })
            .collect();
        if !levels.is_empty() {
            lines.push(format!("levels = {{ {} }}", levels.join(", ")));
        }
        if let Some(b) = self.require_dated_baselines {
            lines.push(format!("require_dated_baselines = {b}"));
        }
        if let Some(c) = &self.snippet_command {
            lines.push(format!("snippet_command = {}", quote(c)));
        }
        if lines.is_empty() {
            return String::new();
        }
        format!("\n[claims]\n{}\n", lines.join("\n"))
    }
}

pub(crate) fn parse(src: &mut Source, t: &DeTable) -> ClaimsSettings {
    unknown_keys(src, t, CLAIMS_KEYS, "in [claims]");
    let mut settings = ClaimsSettings {
        include: t.get("include").and_then(|v| globs(src, v, "include")),
        exclude: t.get("exclude").and_then(|v| globs(src, v, "exclude")),
        code_blocks: t
            .get("code_blocks")
            .and_then(|v| boolean(src, v, "code_blocks")),
        require_dated_baselines: t
            .get("require_dated_baselines")
            .and_then(|v| boolean(src, v, "require_dated_baselines")),
        snippet_command: t.get("snippet_command").and_then(|v| {
            let c = string(src, v, "snippet_command", "\"make bench OUT={receipt}\"")?;
            if c.contains("{receipt}") && !c.contains(['\n', '\r', '`']) {
                return Some(c.to_string());
            }
            src.error(
                ConfigCode::InvalidValue,
                v.span(),
                "snippet_command must be one line that writes the receipt it cites".into(),
                "write `{receipt}` where the command takes its receipt path, e.g. snippet_command = \"make bench TOKENS={tokens} OUT={receipt}\"".into(),
            );
            None
        }),
        ..ClaimsSettings::default()
    };
    if let Some(v) = t.get("kinds") {
        match v.get_ref() {
            DeValue::Table(kt) => {
                for (key, value) in kt.iter() {
                    let name: &str = key.get_ref();
                    match KINDS.iter().find(|k| k.as_str() == name) {
                        Some(kind) => {
                            if let Some(on) = boolean(src, value, name) {
                                settings.kinds.insert(*kind, on);
                            }
                        }
                        None => unknown_name(
                            src,
                            key.span(),
                            name,
                            "kind",
                            KINDS.iter().map(|k| k.as_str()),
                        ),
                    }
                }
            }
            _ => wrong_type(src, v, "kinds", "a table", "kinds = { memory = false }"),
        }
    }
    if let Some(v) = t.get("levels") {
        match v.get_ref() {
            DeValue::Table(lt) => {
                for (key, value) in lt.iter() {
                    let name: &str = key.get_ref();
                    let Some(outcome) = OUTCOMES.iter().find(|o| o.as_str() == name) else {
                        unknown_name(
                            src,
                            key.span(),
                            name,
                            "result",
                            OUTCOMES.iter().map(|o| o.as_str()),
                        );
                        continue;
                    };
                    let Some(text) = string(src, value, name, "\"warn\"") else {
                        continue;
                    };
                    match Level::parse(text) {
                        Some(level) => {
                            settings.levels.insert(*outcome, level);
                        }
                        None => src.error(
                            ConfigCode::InvalidValue,
                            value.span(),
                            format!("level \"{text}\" for `{name}` is not a level"),
                            "write \"allow\", \"warn\" or \"deny\"".into(),
                        ),
                    }
                }
            }
            _ => wrong_type(src, v, "levels", "a table", "levels = { stale = \"warn\" }"),
        }
    }
    if let Some(v) = t.get("patterns") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for item in items.iter() {
                    if let Some(p) = pattern(src, item) {
                        settings.patterns.push(p);
                    }
                }
            }
            _ => wrong_type(
                src,
                v,
                "patterns",
                "an array of tables",
                "patterns = [{ regex = '(?P<value>\\d+) req/s', kind = \"throughput\" }]",
            ),
        }
    }
    settings
}

fn globs(src: &mut Source, v: &Value, key: &str) -> Option<Vec<String>> {
    let example = format!("{key} = [\"docs/**\", \"*.md\"]");
    let DeValue::Array(items) = v.get_ref() else {
        wrong_type(src, v, key, "an array of glob strings", &example);
        return None;
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let Some(glob) = string(src, item, key, &example) else {
            continue;
        };
        match globset::Glob::new(glob) {
            Ok(_) => out.push(glob.to_string()),
            Err(e) => src.error(
                ConfigCode::InvalidGlob,
                item.span(),
                format!("`{glob}` in `{key}` is not a valid glob: {e}"),
                "use *, **, ?, [abc] and {a,b}; escape a literal bracket as [[]".into(),
            ),
        }
    }
    Some(out)
}

fn pattern(src: &mut Source, item: &Value) -> Option<ExtraPattern> {
    let example = "{ regex = '(?P<value>\\d+) req/s', kind = \"throughput\" }";
    let DeValue::Table(t) = item.get_ref() else {
        wrong_type(src, item, "patterns", "a table", example);
        return None;
    };
    unknown_keys(src, t, PATTERN_KEYS, "in a [claims] pattern");
    let Some(regex_value) = t.get("regex") else {
        src.error(
            ConfigCode::MissingKey,
            item.span(),
            "a [claims] pattern has no `regex`".into(),
            format!("write it like this: {example}"),
        );
        return None;
    };
    let text = string(src, regex_value, "regex", example)?;
    let regex = match Regex::new(text) {
        Ok(r) => r,
        Err(e) => {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or("").trim().to_string();
            src.error(
                ConfigCode::InvalidValue,
                regex_value.span(),
                format!("`regex` does not compile: {last}"),
                "write a Rust regex (single quotes keep backslashes literal in TOML)".into(),
            );
            return None;
        }
    };
    let kind = match t.get("kind") {
        None => Kind::Throughput,
        Some(v) => {
            let name = string(src, v, "kind", "\"throughput\"")?;
            match KINDS.iter().find(|k| k.as_str() == name) {
                Some(k) => *k,
                None => {
                    unknown_name(
                        src,
                        v.span(),
                        name,
                        "kind",
                        KINDS.iter().map(|k| k.as_str()),
                    );
                    return None;
                }
            }
        }
    };
    Some(ExtraPattern { regex, kind })
}

fn unknown_name<'a>(
    src: &mut Source,
    span: std::ops::Range<usize>,
    name: &str,
    what: &str,
    known: impl Iterator<Item = &'a str> + Clone,
) {
    let list: Vec<&str> = known.clone().collect();
    let help = match crate::config::spanned::nearest(name, known) {
        Some(n) => format!("did you mean `{n}`? known: {}", list.join(", ")),
        None => format!("known: {}", list.join(", ")),
    };
    src.error(
        ConfigCode::InvalidValue,
        span,
        format!("`{name}` is not a claim {what}"),
        help,
    );
}
