//! Annotations: one per finding that is not allowed, as workflow commands
//! (`::error file=…,line=…::`) for the log and as check-run annotations. GitHub
//! shows 10 errors and 10 warnings per step from workflow commands, so at most
//! that many are written, followed by a notice that counts the rest.

use super::escape;
use super::model::Report;
use crate::verdict::{Finding, Level, Source};
use std::fmt::Write;

/// Workflow-command annotations GitHub displays per step, per level.
pub const SHOWN_PER_LEVEL: usize = 10;
/// Check-run annotations we send (50 per request): enough to see every problem
/// of a normal PR without hundreds of API calls on a pathological one.
pub const CHECK_RUN_CAP: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub path: String,
    /// 1-based; receipts have no line for a JSON pointer, so they use line 1.
    pub line: u32,
    pub column: Option<u32>,
    pub level: Level,
    pub title: String,
    pub message: String,
}

/// Every annotation the report calls for: one per finding (`Report::findings`).
pub fn annotations(report: &Report) -> Vec<Annotation> {
    report.findings().iter().map(annotation).collect()
}

fn annotation(f: &Finding) -> Annotation {
    let mut message = match &f.place.pointer {
        Some(p) if !p.is_empty() => format!("at {p}: {}", f.message),
        _ => f.message.clone(),
    };
    if !f.fix.is_empty() {
        let _ = write!(message, "\nFix: {}", f.fix);
    }
    Annotation {
        path: f.place.file.clone().unwrap_or_default(),
        line: f.place.line.unwrap_or(1).max(1),
        column: f.place.column.map(|c| c.max(1)),
        level: f.level,
        title: match f.source {
            Source::Claim => format!("{} performance claim", f.code),
            Source::Input => "unreadable receipt".into(),
            Source::Gate | Source::Envelope => f.code.clone(),
        },
        message,
    }
}

/// Workflow commands for the job log: up to 10 errors and 10 warnings, then a
/// notice with how many more there are and where to read them.
pub fn workflow_commands(report: &Report) -> String {
    let all = annotations(report);
    let mut out = String::new();
    let (mut errors, mut warnings) = (0, 0);
    for a in &all {
        let (count, command) = match a.level {
            Level::Deny => (&mut errors, "error"),
            Level::Warn => (&mut warnings, "warning"),
            Level::Allow => continue,
        };
        *count += 1;
        if *count > SHOWN_PER_LEVEL {
            continue;
        }
        let mut props = format!("file={},line={}", property(&a.path), a.line);
        if let Some(col) = a.column {
            let _ = write!(props, ",col={col}");
        }
        let _ = writeln!(
            out,
            "::{command} {props},title={}::{}",
            property(&a.title),
            data(&a.message)
        );
    }
    let hidden = errors.saturating_sub(SHOWN_PER_LEVEL) + warnings.saturating_sub(SHOWN_PER_LEVEL);
    if hidden > 0 {
        let _ = writeln!(
            out,
            "::notice title=more findings::{}",
            data(&format!(
                "{hidden} more findings are not annotated here (GitHub shows {SHOWN_PER_LEVEL} errors and {SHOWN_PER_LEVEL} warnings per step); every one is in the job summary and report.json"
            ))
        );
    }
    out
}

/// Escape a workflow command's message (GitHub's `escapeData`: `%`, CR and LF
/// percent-encoded, which the runner decodes, so a message keeps its lines).
/// Other control and invisible characters are written as visible escapes, as
/// in text output: the log renders ANSI sequences in a command's line too.
pub fn data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => escape::push_char(&mut out, c),
        }
    }
    out
}

/// Escape a workflow command's property value (GitHub's `escapeProperty`:
/// also `:` and `,`, which end a property).
pub fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `text` fenced by `::stop-commands::<token>` and `::<token>::`: the runner
/// runs no workflow command in between (annotations included), so a value that
/// escaped escaping still cannot run one. The token is random per call, so
/// text written before the run (a receipt, an artifact) cannot end the fence.
pub fn stop_commands(text: &str) -> String {
    let token = stop_token();
    let newline = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    format!("::stop-commands::{token}\n{text}{newline}::{token}::\n")
}

/// 128 bits from std's SipHash under a key the OS's random source seeded
/// (`RandomState`): no new dependency, and unguessable from outside.
fn stop_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut token = String::from("receipt-action-");
    for half in 0..2u8 {
        let mut h = state.build_hasher();
        h.write_u8(half);
        h.write_u128(now);
        h.write_u32(std::process::id());
        let _ = write!(token, "{:016x}", h.finish());
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_the_toolkit() {
        assert_eq!(data("50% of\r\nit"), "50%25 of%0D%0Ait");
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
        // Already-escaped text is escaped again, never decoded twice.
        assert_eq!(data("%0A::error::x"), "%250A::error::x");
    }

    #[test]
    fn data_cannot_end_the_command_line_or_paint_the_log() {
        let out = data("ok\n::error::x\r\x1b[2J\x1b]8;;http://evil\x07\u{202e}");
        assert_eq!(
            out,
            "ok%0A::error::x%0D\\u{1b}[2J\\u{1b}]8;;http://evil\\u{7}\\u{202e}"
        );
        assert!(!out.chars().any(|c| c.is_control()));
        let prop = property("docs/a,b:c\n::error::x.md");
        assert_eq!(prop, "docs/a%2Cb%3Ac%0A%3A%3Aerror%3A%3Ax.md");
    }

    #[test]
    fn stop_commands_fence_with_a_fresh_token() {
        let out = stop_commands("::error::from a receipt\nsecond");
        let lines: Vec<&str> = out.lines().collect();
        let token = lines[0].strip_prefix("::stop-commands::").unwrap();
        assert!(token.len() >= 32 && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_eq!(lines[1..3], ["::error::from a receipt", "second"]);
        assert_eq!(lines[3], format!("::{token}::"));
        assert_eq!(lines.len(), 4);
        let again = stop_commands("x\n");
        assert!(!again.contains(token), "a token is never reused");
        assert!(again.ends_with("::\n") && again.lines().count() == 3);
    }
}
