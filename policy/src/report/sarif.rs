//! SARIF 2.1.0, for code scanning and other SARIF viewers: one result per
//! finding that is not allowed (`Report::findings`), one rule per code that occurs.

use super::model::Report;
use crate::verdict::{Level, Source};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const DOCS: &str = "https://github.com/bitnet/receipt-action/blob/main/docs/";

pub fn sarif(report: &Report) -> String {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for f in report.findings() {
        let (summary, doc) = match f.source {
            Source::Claim => (format!("A performance claim is {}.", f.code), "claims.md"),
            Source::Input => ("The receipt could not be read.".to_string(), "receipts.md"),
            Source::Gate | Source::Envelope => (code_summary(&f.code).to_string(), "receipts.md"),
        };
        rules
            .entry(f.code.clone())
            .or_insert_with(|| rule(&f.code, &summary, doc, f.level));
        let mut message = f.message.clone();
        if !f.fix.is_empty() {
            message.push_str(" Fix: ");
            message.push_str(&f.fix);
        }
        let file = f.place.file.as_deref().unwrap_or("");
        let region = f.place.line.map(|l| (l, f.place.column.unwrap_or(1)));
        let mut result = json!({
            "ruleId": f.code,
            "level": sarif_level(f.level),
            "message": { "text": message },
            "locations": [file_location(file, region)],
        });
        if let Some(pointer) = &f.place.pointer {
            result["properties"] = json!({ "pointer": pointer });
        }
        results.push(result);
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
