//! The policy file's `[commands]` table: the conventions documented command
//! lines must follow. Parsed with the policy's spanned reader, so errors name
//! line and column like every policy error.
//!
//! ```toml
//! [[commands.rule]]
//! id = "explicit-features"
//! match = '^cargo (build|run|test|bench)\b'
//! unless = '-p xtask'
//! require = ["--no-default-features", "--features cpu|--features gpu"]
//! forbid = ['^cargo (build|run)$']
//!
//! [[commands.rule]]
//! id = "deterministic-benchmark"
//! match = '\bbench(mark)?\b'
//! require_env = ["BITNET_DETERMINISTIC=1", "BITNET_SEED=42", "BITNET_STRICT_MODE=1"]
//! ```

use crate::config::error::ConfigCode;
use crate::config::spanned::{Source, Value, string, unknown_keys, wrong_type};
use crate::config::spanned::{quote, quote_regex};
use regex::Regex;
use toml::de::{DeTable, DeValue};

const COMMANDS_KEYS: &[&str] = &["rule"];
const RULE_KEYS: &[&str] = &["id", "match", "unless", "require", "forbid", "require_env"];
const RULE_EXAMPLE: &str = "[[commands.rule]] with id = \"explicit-features\", match = '^cargo (build|run)', require = [\"--no-default-features\"]";

/// One convention: the commands it applies to and what they must (not) have.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    /// Which commands (environment assignments stripped) the rule applies to.
    pub matches: Regex,
    /// Commands that match this are exempt (e.g. `-p xtask`, which has no features).
    pub unless: Option<Regex>,
    /// Flags each command must carry; an entry's alternatives are separated by `|`
    /// ("--features cpu|--features gpu"), the first one is the suggested form.
    pub require: Vec<Vec<String>>,
    /// Forms that are never right (e.g. a bare `cargo build`).
    pub forbid: Vec<Regex>,
    /// `NAME=value` assignments that must lead the command.
    pub require_env: Vec<(String, String)>,
}

/// What `[commands]` says: its rules, in order.
#[derive(Debug, Clone, Default)]
pub struct CommandsSettings {
    pub rules: Vec<Rule>,
}

impl CommandsSettings {
    /// `self` over `base`: a file's rules replace a rule of the same id, others add up.
    pub fn over(self, base: CommandsSettings) -> CommandsSettings {
        let mut rules = base.rules;
        for rule in self.rules {
            match rules.iter_mut().find(|r| r.id == rule.id) {
                Some(slot) => *slot = rule,
                None => rules.push(rule),
            }
        }
        CommandsSettings { rules }
    }

    /// The `[commands]` rules as `policy show` prints them (empty when there are none).
    pub fn to_toml(&self) -> String {
        let quoted = |v: &[String]| v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ");
        let mut out = String::new();
        for r in &self.rules {
            out.push_str("\n[[commands.rule]]\n");
            out.push_str(&format!("id = {}\n", quote(&r.id)));
            out.push_str(&format!("match = {}\n", quote_regex(r.matches.as_str())));
            if let Some(u) = &r.unless {
                out.push_str(&format!("unless = {}\n", quote_regex(u.as_str())));
            }
            if !r.require.is_empty() {
                let require: Vec<String> = r.require.iter().map(|alts| alts.join("|")).collect();
                out.push_str(&format!("require = [{}]\n", quoted(&require)));
            }
            if !r.forbid.is_empty() {
                let forbid: Vec<String> =
                    r.forbid.iter().map(|f| quote_regex(f.as_str())).collect();
                out.push_str(&format!("forbid = [{}]\n", forbid.join(", ")));
            }
            if !r.require_env.is_empty() {
                let env: Vec<String> = r
                    .require_env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                out.push_str(&format!("require_env = [{}]\n", quoted(&env)));
            }
        }
        out
    }
}

pub(crate) fn parse(src: &mut Source, t: &DeTable) -> CommandsSettings {
    unknown_keys(src, t, COMMANDS_KEYS, "in [commands]");
    let mut settings = CommandsSettings::default();
    let Some(v) = t.get("rule") else {
        return settings;
    };
    let DeValue::Array(items) = v.get_ref() else {
        wrong_type(src, v, "rule", "an array of tables", RULE_EXAMPLE);
        return settings;
    };
    for item in items.iter() {
        if let Some(rule) = rule(src, item) {
            if settings.rules.iter().any(|r| r.id == rule.id) {
                src.error(
                    ConfigCode::InvalidValue,
                    item.span(),
                    format!("two [[commands.rule]] tables have the id `{}`", rule.id),
                    "give each rule its own id".into(),
                );
                continue;
            }
            settings.rules.push(rule);
        }
    }
    settings
}

fn rule(src: &mut Source, item: &Value) -> Option<Rule> {
    let DeValue::Table(t) = item.get_ref() else {
        wrong_type(src, item, "rule", "a table", RULE_EXAMPLE);
        return None;
    };
    unknown_keys(src, t, RULE_KEYS, "in a [[commands.rule]]");
    let mut missing = |key: &str| {
        src.error(
            ConfigCode::MissingKey,
            item.span(),
            format!("a [[commands.rule]] has no `{key}`"),
            format!("write it like this: {RULE_EXAMPLE}"),
        );
    };
    let (Some(id_value), Some(match_value)) = (t.get("id"), t.get("match")) else {
        if t.get("id").is_none() {
            missing("id");
        }
        if t.get("match").is_none() {
            missing("match");
        }
        return None;
    };
    // Every key is read before giving up, so that one run reports every error.
    let id = string(src, id_value, "id", "\"explicit-features\"").map(str::to_string);
    let matches = regex(src, match_value, "match");
    let unless = t.get("unless").map(|v| regex(src, v, "unless"));
    let require = strings(
        src,
        t.get("require"),
        "require",
        "[\"--no-default-features\"]",
    )
    .into_iter()
    .filter_map(|(text, v)| {
        let alts: Vec<String> = text
            .split('|')
            .map(|a| a.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if alts.iter().any(String::is_empty) {
            src.error(
                ConfigCode::InvalidValue,
                v.span(),
                format!("`{text}` in `require` has an empty alternative"),
                "separate alternatives with one `|`: \"--features cpu|--features gpu\"".into(),
            );
            return None;
        }
        Some(alts)
    })
    .collect();
    let forbid = match t.get("forbid") {
        None => Vec::new(),
        Some(v) => {
            if let DeValue::Array(items) = v.get_ref() {
                items
                    .iter()
                    .filter_map(|item| regex(src, item, "forbid"))
                    .collect()
            } else {
                wrong_type(src, v, "forbid", "an array of regexes", "['^cargo build$']");
                Vec::new()
            }
        }
    };
    let require_env = strings(
        src,
        t.get("require_env"),
        "require_env",
        "[\"BITNET_DETERMINISTIC=1\"]",
    )
    .into_iter()
    .filter_map(|(text, v)| match text.split_once('=') {
        Some((name, value)) if is_env_name(name) => Some((name.to_string(), value.to_string())),
        _ => {
            src.error(
                ConfigCode::InvalidValue,
                v.span(),
                format!("`{text}` in `require_env` is not an assignment NAME=value"),
                "write it as the command line would: \"BITNET_SEED=42\"".into(),
            );
            None
        }
    })
    .collect();
    Some(Rule {
        id: id?,
        matches: matches?,
        unless: match unless {
            Some(u) => Some(u?),
            None => None,
        },
        require,
        forbid,
        require_env,
    })
}

/// An environment variable's name as a shell reads it before a command.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn regex(src: &mut Source, v: &Value, key: &str) -> Option<Regex> {
    let text = string(src, v, key, "'^cargo (build|run)'")?;
    match Regex::new(text) {
        Ok(r) => Some(r),
        Err(e) => {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or("").trim().to_string();
            src.error(
                ConfigCode::InvalidValue,
                v.span(),
                format!("`{key}` does not compile: {last}"),
                "write a Rust regex (single quotes keep backslashes literal in TOML)".into(),
            );
            None
        }
    }
}

/// An optional array of strings, each with its value for error spans.
fn strings<'v, 'i>(
    src: &mut Source,
    v: Option<&'v Value<'i>>,
    key: &str,
    example: &str,
) -> Vec<(String, &'v Value<'i>)> {
    let Some(v) = v else {
        return Vec::new();
    };
    let DeValue::Array(items) = v.get_ref() else {
        wrong_type(src, v, key, "an array of strings", example);
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| string(src, item, key, example).map(|s| (s.to_string(), item)))
        .collect()
}
