//! SARIF 2.1.0, for code scanning and other SARIF viewers: one result per
//! finding that is not allowed, one rule per code that occurs.

use super::model::Report;
use crate::verdict::Level;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const DOCS: &str = "https://github.com/bitnet/receipt-action/blob/main/docs/";

pub fn sarif(report: &Report) -> String {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for r in &report.receipts {
        if let Some(e) = &r.error {
            rules.entry("unreadable-receipt".into()).or_insert_with(|| {
                rule(
                    "unreadable-receipt",
                    "The receipt could not be read.",
                    "receipts.md",
                    Level::Deny,
                )
            });
            results.push(json!({
                "ruleId": "unreadable-receipt",
                "level": "error",
                "message": { "text": e },
                "locations": [file_location(&r.path, None)],
            }));
        }
        for f in r.findings.iter().filter(|f| f.level != Level::Allow) {
            rules
                .entry(f.code.clone())
                .or_insert_with(|| rule(&f.code, code_summary(&f.code), "receipts.md", f.level));
            results.push(json!({
                "ruleId": f.code,
                "level": sarif_level(f.level),
                "message": { "text": format!("{} Fix: {}", f.message, f.fix) },
                "locations": [file_location(&r.path, None)],
                "properties": { "pointer": f.pointer, "status": r.status.as_str() },
            }));
        }
    }
    for c in report.claims.iter().filter(|c| c.is_problem()) {
        let id = format!("claim-{}", c.outcome);
        rules.entry(id.clone()).or_insert_with(|| {
            rule(
                &id,
                &format!("A performance claim is {}.", c.outcome),
                "claims.md",
                c.level,
            )
        });
        let mut message = format!("{}: {}", c.text, c.message);
        if let Some(s) = &c.suggestion {
            message.push_str(" Fix: ");
            message.push_str(s);
        }
        results.push(json!({
            "ruleId": id,
            "level": sarif_level(c.level),
            "message": { "text": message },
            "locations": [file_location(&c.path, Some((c.line, c.column)))],
        }));
    }
    let mut run = json!({
        "tool": { "driver": {
            "name": report.tool.name,
            "version": report.tool.version,
            "informationUri": "https://github.com/bitnet/receipt-action",
            "rules": rules.into_values().collect::<Vec<_>>(),
        }},
        "results": results,
    });
    if let Some(commit) = &report.commit {
        run["versionControlProvenance"] = json!([{
            "repositoryUri": report.run.as_ref().map_or_else(
                || "https://github.com/".to_string(),
                |r| format!("{}/{}", r.server_url.trim_end_matches('/'), r.repository)),
            "revisionId": commit.sha,
        }]);
    }
    let doc = json!({ "$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run] });
    let mut text = super::escape::json_pretty(&doc).expect("SARIF serializes");
    text.push('\n');
    text
}

fn rule(id: &str, summary: &str, doc: &str, level: Level) -> Value {
    json!({
        "id": id,
        "shortDescription": { "text": summary },
        "helpUri": format!("{DOCS}{doc}"),
        "help": { "text": format!("Run `policy-check explain {id}` for what it catches and how to fix it.") },
        "defaultConfiguration": { "level": sarif_level(level) },
    })
}

fn code_summary(code: &str) -> &'static str {
    crate::gates::Code::parse(code)
        .map(|c| c.summary())
        .or_else(|| crate::envelope::EnvelopeCode::parse(code).map(|c| c.summary()))
        .unwrap_or("A receipt finding.")
}

fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::Deny => "error",
        Level::Warn => "warning",
        Level::Allow => "note",
    }
}

fn file_location(path: &str, place: Option<(u32, u32)>) -> Value {
    let uri = super::markdown::url_path(path.trim_start_matches("./"));
    let mut physical = json!({ "artifactLocation": { "uri": uri } });
    if let Some((line, column)) = place {
        physical["region"] = json!({ "startLine": line.max(1), "startColumn": column.max(1) });
    }
    json!({ "physicalLocation": physical })
}
