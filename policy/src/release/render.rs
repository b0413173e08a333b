//! The checklist as text (one block per item: status, details, fix) and as
//! JSON (`policy-check/gate/1`, the `GateResult` as it is). Refs, paths and
//! details carry data (tag names, file names, receipt strings): escaped.

use super::{GateResult, ItemStatus};
use crate::report::Style;
use crate::report::escape::{lines, plain};
use std::fmt::Write;

pub fn text(r: &GateResult, style: Style) -> String {
    let mut out = String::new();
    let commit = r
        .commit
        .as_deref()
        .map(|c| format!(" at {}", plain(crate::report::markdown::short(c))))
        .unwrap_or_default();
    let tag = r
        .tag
        .as_deref()
        .map(|t| format!(" {}", plain(t)))
        .unwrap_or_default();
    let policy = r
        .policy
        .as_ref()
        .map(|p| format!(" (policy {})", plain(&p.path)))
        .unwrap_or_default();
    let _ = writeln!(out, "release gate{tag}{commit}{policy}");
    if let Some(e) = &r.error {
        let _ = writeln!(
            out,
            "error: {}\n  fix: {}",
            lines(&e.message),
            plain(&e.fix)
        );
    }
    for item in &r.items {
        let _ = writeln!(out, "[{}] {}", mark(item.status, style), item.name);
        for line in &item.detail {
            for (i, l) in line.lines().enumerate() {
                let indent = if i == 0 { "    " } else { "      " };
                let _ = writeln!(out, "{indent}{}", plain(l));
            }
        }
        if let Some(fix) = &item.fix {
            let _ = writeln!(out, "    fix: {}", plain(fix));
        }
    }
    let failed = r
        .items
        .iter()
        .filter(|i| matches!(i.status, ItemStatus::Fail | ItemStatus::Error))
        .count();
    let skipped = r
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Skip)
        .count();
    let summary = match r.status {
        "pass" => format!(
            "{} of {} items pass{}",
            r.items.len() - skipped,
            r.items.len(),
            if skipped > 0 {
                format!(", {skipped} skipped")
            } else {
                String::new()
            }
        ),
        _ if r.items.is_empty() => "the gate could not run".to_string(),
        _ => format!("{failed} of {} items fail", r.items.len()),
    };
    let _ = writeln!(
        out,
        "release gate: {} ({summary}) → exit {}",
        r.status, r.exit_code
    );
    out
}

fn mark(s: ItemStatus, style: Style) -> String {
    let (word, color) = match s {
        ItemStatus::Pass => ("pass", "32"),
        ItemStatus::Skip => ("skip", "33"),
        ItemStatus::Fail => ("FAIL", "31"),
        ItemStatus::Error => ("ERROR", "31"),
    };
    if style.color {
        format!("\x1b[{color}m{word}\x1b[0m")
    } else {
        word.to_string()
    }
}

pub fn json(r: &GateResult) -> String {
    let mut s = crate::report::escape::json_pretty(r).unwrap_or_else(|e| {
        // Serializing plain strings and numbers cannot fail; say so if it ever does.
        format!(
            "{{\"format\":\"{}\",\"status\":\"error\",\"error\":\"{e}\"}}",
            super::FORMAT
        )
    });
    s.push('\n');
    s
}

/// The checklist as the report carries it.
impl From<&GateResult> for crate::report::model::GateEntry {
    fn from(g: &GateResult) -> Self {
        crate::report::model::GateEntry {
            status: g.status.to_string(),
            items: g
                .items
                .iter()
                .map(|i| crate::report::model::GateItemEntry {
                    name: i.name.to_string(),
                    status: i.status.as_str().to_string(),
                    detail: i.detail.clone(),
                    fix: i.fix.clone(),
                })
                .collect(),
        }
    }
}
