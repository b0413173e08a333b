//! Envelope policies (DESIGN §4): the policy language (`cfg`), its codes
//! (`diags`), which envelope judges a receipt (`matching`), and judging
//! (`judge`). Takes typed receipts that have passed through the gates; it never
//! reads receipt files and never prints.

pub mod cfg;
pub mod diags;
pub mod judge;
pub mod matching;

pub use cfg::{POLICY_VERSION, PolicyError, render_errors};
pub use diags::{ConfigCode, EnvelopeCode};
pub use judge::{
    CONFIDENCE, EnvelopeFinding, EnvelopeRef, Judgement, RateJudgement, RooflineJudgement, judge,
};

use crate::gates::{Code, GateConfig};
use crate::input::ReadError;
use crate::verdict::Level;
use globset::GlobMatcher;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::{self, Write};
use std::path::Path;
use time::Duration;

/// The built-in policy: the seed plan's three envelopes.
pub const DEFAULT_POLICY: &str = include_str!("../../default-policy.toml");
/// How errors and verdicts name the built-in policy.
pub const DEFAULT_POLICY_NAME: &str = "<built-in default-policy.toml>";
/// What `policy-check policy init` writes.
pub const STARTER_POLICY: &str = include_str!("../../starter-policy.toml");
/// Where `policy init` writes, and where `check` looks when `--policy` is not given.
pub const DEFAULT_POLICY_PATH: &str = "ci/receipt-policy.toml";
/// Policy files above this size are refused unread.
pub const MAX_POLICY_BYTES: u64 = 4 * 1024 * 1024;

/// A place in a policy file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

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
pub struct Tolerance {
    /// Percent, 0 ≤ p < 100.
    pub percent: f64,
    pub text: String,
    pub location: Option<Location>,
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

/// Which file(s) a policy came from, and their hashes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    /// The policy file, or the built-in policy's name.
    pub path: String,
    /// sha256 of the policy file's bytes.
    pub sha256: String,
    /// sha256 of the built-in policy, when the file is merged over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults_sha256: Option<String>,
}

/// An effective policy: a file merged over the built-in one (or either alone).
#[derive(Debug, Clone)]
pub struct Policy {
    pub origin: Origin,
    pub max_age: MaxAge,
    pub levels: Vec<LevelSetting>,
    pub envelopes: Vec<Envelope>,
    envelope_levels: HashMap<EnvelopeCode, Level>,
    /// The `[claims]` settings (file over built-in, key by key).
    pub claims: crate::claims::cfg::ClaimsSettings,
    /// The `[commands]` rules (file over built-in, rule by rule).
    pub commands: crate::conventions::cfg::CommandsSettings,
    /// `[receipt] regression.max_drop`; `None` means the default (`DEFAULT_MAX_DROP`).
    pub regression: Option<Tolerance>,
    /// `[compare]` (file over built-in, key by key).
    pub compare: crate::compare::cfg::CompareSettings,
}

/// The largest drop below the latest baseline that `baseline compare` lets pass
/// when the policy sets no `regression.max_drop`.
pub const DEFAULT_MAX_DROP: f64 = 10.0;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl Policy {
    /// The built-in policy alone.
    pub fn builtin() -> Result<Policy, Vec<PolicyError>> {
        let file = cfg::parse(DEFAULT_POLICY_NAME, DEFAULT_POLICY)?;
        let origin = Origin {
            path: DEFAULT_POLICY_NAME.into(),
            sha256: sha256_hex(DEFAULT_POLICY.as_bytes()),
            defaults_sha256: None,
        };
        Policy::assemble(origin, None, file)
    }

    /// A policy file's text, merged over the built-in policy unless it says
    /// `use_defaults = false`. `name` is how errors and verdicts refer to it.
    pub fn from_text(name: &str, text: &str) -> Result<Policy, Vec<PolicyError>> {
        let file = cfg::parse(name, text)?;
        let mut origin = Origin {
            path: name.into(),
            sha256: sha256_hex(text.as_bytes()),
            defaults_sha256: None,
        };
        let base = if file.use_defaults {
            origin.defaults_sha256 = Some(sha256_hex(DEFAULT_POLICY.as_bytes()));
            Some(cfg::parse(DEFAULT_POLICY_NAME, DEFAULT_POLICY)?)
        } else {
            None
        };
        Policy::assemble(origin, base, file)
    }

    /// Read and load a policy file (size-capped, UTF-8).
    pub fn from_file(path: &Path) -> Result<Policy, Vec<PolicyError>> {
        let name = path.display().to_string();
        let io = |message: String, help: &str| {
            vec![PolicyError::file(
                ConfigCode::PolicySyntax,
                &name,
                message,
                help,
            )]
        };
        // Through the input layer: a FIFO, a device or /proc cannot hang it or
        // grow it past the cap (counted while reading, not taken from metadata).
        let bytes = crate::input::read_capped(path, MAX_POLICY_BYTES).map_err(|e| match e {
            ReadError::NotFound => io(
                "the policy file does not exist".into(),
                "check the --policy path, or run `policy-check policy init` to write one",
            ),
            ReadError::Directory => io(
                "the policy path is a directory".into(),
                "pass the policy file itself, e.g. ci/receipt-policy.toml",
            ),
            ReadError::TooLarge { .. } => io(
                format!("the policy file is larger than the {MAX_POLICY_BYTES}-byte cap"),
                "a policy is a few kilobytes; check that --policy names the policy file",
            ),
            other => io(format!("the policy file {other}"), other.fix()),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let src = cfg::Source::new(
                &name,
                std::str::from_utf8(&e.as_bytes()[..offset]).unwrap_or(""),
            );
            let mut err = io(
                format!("the policy file is not UTF-8 (bad byte at offset {offset})"),
                "save the policy as UTF-8 text",
            );
            err[0].location = src.location(offset);
            err
        })?;
        Policy::from_text(&name, &text)
    }

    fn assemble(
        origin: Origin,
        base: Option<cfg::PolicyFile>,
        file: cfg::PolicyFile,
    ) -> Result<Policy, Vec<PolicyError>> {
        let (
            mut max_age,
            mut levels,
            mut envelopes,
            base_claims,
            base_commands,
            base_regression,
            base_compare,
        ) = match base {
            Some(b) => (
                b.max_age,
                b.levels,
                b.envelopes,
                b.claims,
                b.commands,
                b.regression,
                b.compare,
            ),
            None => (None, Vec::new(), Vec::new(), None, None, None, None),
        };
        let compare = match file.compare {
            Some(c) => c.merged_over(base_compare.unwrap_or_default()),
            None => base_compare.unwrap_or_default(),
        };
        let commands = match file.commands {
            Some(c) => c.over(base_commands.unwrap_or_default()),
            None => base_commands.unwrap_or_default(),
        };
        let regression = file.regression.or(base_regression);
        let claims = match file.claims {
            Some(c) => c.over(base_claims.unwrap_or_default()),
            None => base_claims.unwrap_or_default(),
        };
        if file.max_age.is_some() {
            max_age = file.max_age;
        }
        for setting in file.levels {
            levels.retain(|l| l.code != setting.code);
            levels.push(setting);
        }
        // A file envelope replaces the built-in one with the same id, in place.
        for e in file.envelopes {
            match envelopes.iter_mut().find(|b| b.id == e.id) {
                Some(slot) => *slot = e,
                None => envelopes.push(e),
            }
        }
        ambiguities(&envelopes)?;
        let envelope_levels = levels
            .iter()
            .filter_map(|l| match l.code {
                CodeRef::Envelope(c) => Some((c, l.level)),
                CodeRef::Gate(_) => None,
            })
            .collect();
        Ok(Policy {
            origin,
            max_age: max_age.unwrap_or(MaxAge {
                text: "30d".into(),
                value: Some(crate::gates::DEFAULT_MAX_AGE),
                location: Location {
                    file: DEFAULT_POLICY_NAME.into(),
                    line: 1,
                    column: 1,
                },
            }),
            levels,
            envelopes,
            envelope_levels,
            claims,
            commands,
            regression,
            compare,
        })
    }

    /// The largest drop (percent) below the latest baseline that still passes.
    pub fn max_drop(&self) -> f64 {
        self.regression
            .as_ref()
            .map_or(DEFAULT_MAX_DROP, |r| r.percent)
    }

    /// The level the policy sets for an envelope code, if it sets one.
    pub fn envelope_level(&self, code: EnvelopeCode) -> Option<Level> {
        self.envelope_levels.get(&code).copied()
    }

    /// The gates' configuration: `[receipt]` max_age and levels over the defaults.
    pub fn gate_config(&self, mut base: GateConfig) -> GateConfig {
        base.max_age = self.max_age.value;
        for l in &self.levels {
            if let CodeRef::Gate(c) = l.code {
                base.levels.insert(c, l.level);
            }
        }
        base
    }

    /// The effective policy as TOML that loads back to the same rules.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Effective receipt policy (policy-check policy show)");
        let _ = writeln!(
            out,
            "# from: {} (sha256 {})",
            self.origin.path, self.origin.sha256
        );
        if let Some(d) = &self.origin.defaults_sha256 {
            let _ = writeln!(out, "# merged over: {DEFAULT_POLICY_NAME} (sha256 {d})");
        }
        let _ = writeln!(out, "version = {POLICY_VERSION}");
        let _ = writeln!(out, "use_defaults = false");
        let _ = writeln!(out, "\n[receipt]");
        let _ = writeln!(
            out,
            "max_age = {}  # {}",
            quote(&self.max_age.text),
            self.max_age.location
        );
        if let Some(r) = &self.regression {
            let _ = writeln!(out, "regression = {{ max_drop = {} }}", quote(&r.text));
        }
        let c = &self.compare;
        if c.max_drop.is_some()
            || c.confidence.is_some()
            || c.budget.is_some()
            || c.max_pairs.is_some()
        {
            let _ = writeln!(out, "\n[compare]");
            if let Some(d) = c.max_drop {
                let _ = writeln!(out, "max_drop = \"{d}%\"");
            }
            if let Some(x) = c.confidence {
                let _ = writeln!(out, "confidence = {x:?}");
            }
            if let Some((_, text)) = &c.budget {
                let _ = writeln!(out, "budget = {}", quote(text));
            }
            if let Some(n) = c.max_pairs {
                let _ = writeln!(out, "max_pairs = {n}");
            }
        }
        if !self.levels.is_empty() {
            let _ = writeln!(out, "\n[receipt.levels]");
            for l in &self.levels {
                let _ = writeln!(
                    out,
                    "{} = \"{}\"  # {}",
                    l.code.as_str(),
                    l.level,
                    l.location
                );
            }
        }
        for e in &self.envelopes {
            let _ = writeln!(out, "\n# {}", e.header);
            let _ = writeln!(out, "[[envelope]]");
            let _ = writeln!(out, "id = {}", quote(&e.id));
            let _ = writeln!(out, "status = \"{}\"", e.status.as_str());
            if let Some(d) = &e.description {
                let _ = writeln!(out, "description = {}", quote(d));
            }
            if !e.when.is_empty() {
                let keys: Vec<String> = e
                    .when
                    .iter()
                    .map(|k| {
                        let values: Vec<String> = k.patterns.iter().map(pattern_toml).collect();
                        let v = if values.len() == 1 {
                            values[0].clone()
                        } else {
                            format!("[{}]", values.join(", "))
                        };
                        format!("{} = {v}", quote(&k.path))
                    })
                    .collect();
                let _ = writeln!(out, "when = {{ {} }}", keys.join(", "));
            }
            if let Some(r) = &e.rate {
                let parts: Vec<String> = [("min", r.min), ("max", r.max), ("expected", r.expected)]
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k} = {v:?}")))
                    .collect();
                let band = e
                    .band()
                    .map(|[lo, hi]| format!("  # band [{lo}, {hi}]"))
                    .unwrap_or_default();
                let _ = writeln!(out, "tokens_per_second = {{ {} }}{band}", parts.join(", "));
            }
            if e.tolerance.location.is_some() {
                let _ = writeln!(out, "tolerance = {}", quote(&e.tolerance.text));
            }
            if let Some(b) = &e.roofline {
                let parts: Vec<String> = [("min", b.min), ("max", b.max)]
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k} = {v:?}")))
                    .collect();
                let _ = writeln!(out, "roofline_fraction = {{ {} }}", parts.join(", "));
            }
            if !e.require.is_empty() || !e.forbid.is_empty() {
                let list = |g: &[KernelGlob]| {
                    g.iter()
                        .map(|g| quote(&g.pattern))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = writeln!(
                    out,
                    "kernels = {{ require = [{}], forbid = [{}] }}",
                    list(&e.require),
                    list(&e.forbid)
                );
            }
            if let Some((d, _)) = e.deterministic {
                let _ = writeln!(out, "deterministic = {d}");
            }
            if let Some((n, _)) = e.max_tokens {
                let _ = writeln!(out, "max_tokens = {n}");
            }
        }
        out.push_str(&self.claims.to_toml());
        out.push_str(&self.commands.to_toml());
        out
    }
}

/// `s` as a TOML basic string: what `policy show` prints must load back, whatever
/// a policy's strings hold (TOML allows no raw control character, DEL included).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A regex as a TOML literal string (its backslashes stay readable) when it can
/// be one, else as a basic string.
pub(crate) fn quote_regex(s: &str) -> String {
    if s.contains('\'') || s.chars().any(char::is_control) {
        quote(s)
    } else {
        format!("'{s}'")
    }
}

fn pattern_toml(p: &Pattern) -> String {
    match p {
        Pattern::Text { text, .. } => quote(text),
        Pattern::Bool(b) => b.to_string(),
        Pattern::Number(n) => format!("{n:?}"),
    }
}

/// Refuse envelopes of equal specificity that some receipt could match both of.
fn ambiguities(envelopes: &[Envelope]) -> Result<(), Vec<PolicyError>> {
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
