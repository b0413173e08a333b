//! Reading `report.json` back (for `policy-check report` and `publish`): size
//! capped before reading, validated against the published report schema before
//! anything in it is used, because a publisher may be reading an artifact made
//! by untrusted code (a fork's pull request).

use super::model::{REPORT_FORMAT, Report};
use crate::input::ReadError;
use jsonschema::Validator;
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

/// The published schema (policy/schema/report-v2.schema.json).
pub const REPORT_SCHEMA: &str = include_str!("../../schema/report-v2.schema.json");

/// Reports above this are refused unread: 200,000 claims fit in well under it.
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(REPORT_SCHEMA).expect("embedded report schema is valid JSON");
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("embedded report schema compiles")
    })
}

/// Read, validate and parse a report file. The error names the file, the place
/// and what to do.
pub fn load(path: &Path, max_bytes: u64) -> Result<Report, String> {
    let shown = path.display();
    // The input layer's errors, with a report's fixes (not a receipt's).
    let bytes = crate::input::read_capped(path, max_bytes).map_err(|e| match e {
        ReadError::TooLarge { cap } => format!(
            "{shown}: over the {cap}-byte limit for a report; not reading it (a report this large was not written by policy-check; pass --max-size to raise the limit)"
        ),
        ReadError::NotFound => format!(
            "{shown}: file not found; check the --report path; report.json is written by `policy-check run` or the action (in its output-dir, receipt-action/ by default)"
        ),
        ReadError::Directory => format!(
            "{shown}: is a directory, not a report file; pass the report.json file itself, e.g. receipt-action/report.json"
        ),
        other => format!("{shown}: {other}; {}", other.fix()),
    })?;
    parse(&bytes).map_err(|e| format!("{shown}: {e}"))
}

/// Validate and parse report bytes.
pub fn parse(bytes: &[u8]) -> Result<Report, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "not JSON at line {}, column {}: {e}; pass the report.json that `policy-check action` or `run` wrote",
            e.line(),
            e.column()
        )
    })?;
    // Another version's report is named as such, not as a schema violation.
    if let Some(format) = value.get("format").and_then(Value::as_str)
        && format != REPORT_FORMAT
        && format.starts_with("receipt-action/report/")
    {
        return Err(format!(
            "is a {} report, and this policy-check reads {REPORT_FORMAT}; render and publish it with the receipt-action version that wrote it (use one version in every job of the workflow)",
            super::escape::plain(format)
        ));
    }
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("at {}: {e}", if at.is_empty() { "/" } else { &at })
        })
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "does not match the report schema (policy-check schema report): {}",
            errors.join("; ")
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("does not match the report model: {e}"))
}

/// The report as pretty JSON, newline-terminated, fitted to the schema's caps
/// (a string longer than its `maxLength` ends in a marker, a list longer than its
/// `maxItems` is cut), so a report this tool writes is never one it refuses to read.
pub fn to_json(report: &Report) -> String {
    let mut value = serde_json::to_value(report).expect("a report serializes");
    let schema: Value =
        serde_json::from_str(REPORT_SCHEMA).expect("embedded report schema is valid JSON");
    fit(&mut value, &schema, &schema);
    let mut text = super::escape::json_pretty(&value).expect("a report serializes");
    text.push('\n');
    text
}

/// Ends a string cut to fit its schema cap.
pub const TRUNCATED: &str = "… [truncated]";

fn fit(value: &mut Value, node: &Value, root: &Value) {
    let node = match node.get("$ref").and_then(Value::as_str) {
        Some(pointer) => root
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or(node),
        None => node,
    };
    match value {
        Value::String(s) => {
            if let Some(max) = node.get("maxLength").and_then(Value::as_u64) {
                let max = max as usize;
                if s.chars().count() > max {
                    let keep = max.saturating_sub(TRUNCATED.chars().count());
                    *s = s.chars().take(keep).chain(TRUNCATED.chars()).collect();
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = node.get("maxItems").and_then(Value::as_u64) {
                items.truncate(max as usize);
            }
            if let Some(item) = node.get("items") {
                for v in items {
                    fit(v, item, root);
                }
            }
        }
        Value::Object(map) => {
            if let Some(props) = node.get("properties") {
                for (k, v) in map.iter_mut() {
                    if let Some(sub) = props.get(k) {
                        fit(v, sub, root);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    fn report() -> Report {
        let origin = Origin {
            path: "built-in".into(),
            sha256: "a".repeat(64),
            defaults_sha256: None,
        };
        Report::new(&[], &[], &origin, "2026-11-26T12:00:00Z".into())
    }

    #[test]
    fn schema_is_a_valid_draft_2020_12_schema() {
        let schema: Value = serde_json::from_str(REPORT_SCHEMA).unwrap();
        jsonschema::meta::validate(&schema).unwrap();
    }

    #[test]
    fn a_written_report_reads_back_identical() {
        let r = report();
        assert_eq!(parse(to_json(&r).as_bytes()).unwrap(), r);
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused_with_their_place() {
        let mut v: Value = serde_json::from_str(&to_json(&report())).unwrap();
        v["receipts"] = serde_json::json!([{"path": "x.json", "status": "great"}]);
        let err = parse(v.to_string().as_bytes()).unwrap_err();
        assert!(err.contains("/receipts/0/status"), "{err}");
        let mut v: Value = serde_json::from_str(&to_json(&report())).unwrap();
        v["pull_request_number"] = 7.into();
        let err = parse(v.to_string().as_bytes()).unwrap_err();
        assert!(err.contains("pull_request_number"), "{err}");
    }

    #[test]
    fn an_overlong_string_is_cut_to_the_schema_and_reads_back() {
        let mut r = report();
        r.notes.push("x".repeat(5000));
        let text = to_json(&r);
        let back = parse(text.as_bytes()).expect("a written report is always readable");
        let note = back.notes.last().unwrap();
        assert!(note.ends_with(TRUNCATED), "{note}");
        assert_eq!(note.chars().count(), 4096);
    }
}
