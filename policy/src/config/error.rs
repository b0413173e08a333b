//! Configuration errors: why a policy file cannot be loaded (`ConfigCode`, always
//! exit 2), and `PolicyError`, which names the file, line and column, shows the
//! line with the place underlined, and says how to fix it.

use crate::verdict::stable_codes;
use serde::Serialize;
use std::fmt;

/// A place in a policy file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: the file as a whole (it could not be read).
        match self.line {
            0 => write!(f, "{}", self.file),
            _ => write!(f, "{}:{}:{}", self.file, self.line, self.column),
        }
    }
}

/// What a configuration code says.
pub struct ConfigInfo {
    pub summary: &'static str,
}

stable_codes! {
    /// Why a policy file could not be loaded.
    pub enum ConfigCode: ConfigInfo {
        PolicySyntax = "policy-syntax" { summary: "The policy is not valid TOML." }
        PolicyUnreadable = "policy-unreadable" { summary: "The policy file is missing, a directory, too large or not readable." }
        PolicyEmpty = "policy-empty" { summary: "The policy file is empty." }
        PolicyVersion = "policy-version" { summary: "The policy's `version` is missing or newer than this policy-check knows." }
        UnknownKey = "unknown-key" { summary: "A key the policy language does not have (typo?)." }
        MissingKey = "missing-key" { summary: "A required key is absent." }
        WrongType = "wrong-type" { summary: "A value of the wrong TOML type." }
        InvalidValue = "invalid-value" { summary: "A value of the right type that is not allowed (negative rate, unknown status, ...)." }
        InvalidTolerance = "invalid-tolerance" { summary: "A tolerance that is not a percentage from 0% to below 100%." }
        MinAboveMax = "min-above-max" { summary: "A range whose min is above its max." }
        InvalidGlob = "invalid-glob" { summary: "A glob pattern that does not compile." }
        UnknownPath = "unknown-path" { summary: "A `when` key that names no receipt field." }
        UnknownCode = "unknown-code" { summary: "A `levels` key that names no gate or envelope code." }
        DuplicateEnvelope = "duplicate-envelope" { summary: "Two envelopes with the same id in one file." }
        AmbiguousEnvelopes = "ambiguous-envelopes" { summary: "Two equally specific envelopes can match the same receipt." }
    }
}

impl ConfigCode {
    pub fn summary(self) -> &'static str {
        self.info().summary
    }

    /// `policy-check explain <code>`: what it means and how every one is fixed.
    pub fn explain(self) -> String {
        format!(
            "{} (policy file error, always exit 2)\n\n{}\n\nA policy file with an error is never half-read: every command that loads it stops with exit 2. The message names the file, line and column, shows the line with the place underlined, and ends with a `help:` line that says how to fix it. `policy-check policy show` loads the policy the same way and prints the effective rules once it loads. The policy language: docs/policies.md (\"Policy errors\" lists every code).\n",
            self.as_str(),
            self.summary()
        )
    }
}

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
    /// An error about the file as a whole (unreadable, empty): its location is
    /// the file, with no line (line 0).
    pub fn file(code: ConfigCode, file: &str, message: String, help: &str) -> PolicyError {
        PolicyError {
            code,
            location: Location {
                file: file.to_string(),
                line: 0,
                column: 0,
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
