//! Annotations: one per finding that is not allowed, as workflow commands
//! (`::error file=…,line=…::`) for the log and as check-run annotations. GitHub
//! shows 10 errors and 10 warnings per step from workflow commands, so at most
//! that many are written, followed by a notice that counts the rest.

use super::model::Report;
use crate::verdict::Level;
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

/// Every annotation the report calls for, claims first (they point at lines
/// the PR changed), then receipt findings.
pub fn annotations(report: &Report) -> Vec<Annotation> {
    let claims = report.claims.iter().filter(|c| c.is_problem()).map(|c| {
        let mut message = format!("{} — {}", c.text, c.message);
        if let Some(s) = &c.suggestion {
            let _ = write!(message, "\nFix: {s}");
        }
        Annotation {
            path: c.path.clone(),
            line: c.line.max(1),
            column: Some(c.column.max(1)),
            level: c.level,
            title: format!("{} performance claim", c.outcome),
            message,
        }
    });
    let receipts = report.receipts.iter().flat_map(|r| {
        let error = r.error.iter().map(|e| Annotation {
            path: r.path.clone(),
            line: 1,
            column: None,
            level: Level::Deny,
            title: "unreadable receipt".into(),
            message: e.clone(),
        });
        let findings = r
            .findings
            .iter()
            .filter(|f| f.level != Level::Allow)
            .map(|f| Annotation {
                path: r.path.clone(),
                line: 1,
                column: None,
                level: f.level,
                title: f.code.clone(),
                message: format!(
                    "{}{}\nFix: {}",
                    if f.pointer.is_empty() {
                        String::new()
                    } else {
                        format!("at {}: ", f.pointer)
                    },
                    f.message,
                    f.fix
                ),
            });
        error.chain(findings)
    });
    claims.chain(receipts).collect()
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

/// Escape a workflow command's message (GitHub's `escapeData`).
pub fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow command's property value (GitHub's `escapeProperty`).
pub fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_the_toolkit() {
        assert_eq!(data("50% of\r\nit"), "50%25 of%0D%0Ait");
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
