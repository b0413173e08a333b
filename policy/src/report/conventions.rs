//! Text and JSON for `policy-check commands`: each command that breaks a
//! convention with its place, what is wrong and the expected form, then a count.

use super::escape::plain;
use crate::conventions::Checked;
use serde::Serialize;
use std::fmt::Write;

/// Identifies the JSON shape of `commands --format json`.
pub const COMMANDS_JSON_FORMAT: &str = "policy-check/commands/1";

/// 1 when any documented command breaks a convention, else 0.
pub fn exit_code(checked: &Checked) -> i32 {
    i32::from(!checked.findings.is_empty())
}

pub fn commands_text(checked: &Checked) -> String {
    let mut out = String::new();
    for w in &checked.warnings {
        let _ = writeln!(out, "warning: {}", plain(w));
    }
    for f in &checked.findings {
        let _ = writeln!(
            out,
            "{}:{}: {}: {}",
            plain(&f.path),
            f.line,
            plain(&f.rules.join(", ")),
            plain(&f.command)
        );
        for p in &f.problems {
            let _ = writeln!(out, "    {}", plain(p));
        }
        let _ = writeln!(out, "    expected: {}", plain(&f.expected));
    }
    let code = exit_code(checked);
    let _ = writeln!(
        out,
        "\n{} command{}, {} breaking the conventions → {} (exit {code})",
        checked.commands,
        if checked.commands == 1 { "" } else { "s" },
        checked.findings.len(),
        if code == 0 { "pass" } else { "fail" }
    );
    out
}

#[derive(Serialize)]
struct CommandsJson<'a> {
    format: &'static str,
    status: &'static str,
    exit_code: i32,
    commands: usize,
    warnings: &'a [String],
    findings: &'a [crate::conventions::rules::Violation],
}

pub fn commands_json(checked: &Checked) -> String {
    let code = exit_code(checked);
    let doc = CommandsJson {
        format: COMMANDS_JSON_FORMAT,
        status: if code == 0 { "pass" } else { "fail" },
        exit_code: code,
        commands: checked.commands,
        warnings: &checked.warnings,
        findings: &checked.findings,
    };
    let mut s = super::escape::json_pretty(&doc).expect("findings serialize");
    s.push('\n');
    s
}
