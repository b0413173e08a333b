//! Structure gates: bytes → a typed receipt, or the findings that say why not.
//! Only a receipt that parses, has a known version and matches its schema
//! reaches the other gates.

use super::Code;
use super::GateFinding;
use crate::receipt::parse::{self, ParseProblem};
use crate::receipt::{Receipt, SchemaVersion, schema};
use serde_json::Value;

/// A receipt that passed the structure gates, and the findings that do not stop
/// the other gates (duplicate keys).
pub struct Structured {
    pub receipt: Receipt,
    pub version: SchemaVersion,
    pub findings: Vec<GateFinding>,
}

pub fn too_large(size: u64, cap: u64) -> GateFinding {
    GateFinding::new(
        Code::FileTooLarge,
        "",
        format!("the file is {size} bytes, above the {cap}-byte cap for receipts; it was not read"),
        "pass the receipt itself, not a log or model file; raise the cap with --max-size only if a receipt really is this large",
    )
}

pub fn check(bytes: &[u8]) -> Result<Structured, Vec<GateFinding>> {
    let document = parse::parse(bytes).map_err(|p| vec![parse_finding(p)])?;
    let version = schema_version(&document.value)?;
    let violations = schema::validate(version, &document.value);
    if !violations.is_empty() {
        return Err(violations
            .into_iter()
            .map(|v| violation_finding(version, v))
            .collect());
    }
    let findings: Vec<GateFinding> = document
        .duplicate_keys
        .iter()
        .map(|pointer| {
            GateFinding::new(
                Code::DuplicateKey,
                pointer.clone(),
                format!("key {pointer} appears more than once; readers disagree on which value counts (policy-check used the last)"),
                "write each key once",
            )
        })
        .collect();
    let receipt = Receipt::from_document(document.value).map_err(|e| {
        vec![GateFinding::new(
            Code::SchemaViolation,
            "",
            format!("the receipt matches its schema but cannot be read: {e}"),
            "report this as a policy-check bug, with the receipt",
        )]
    })?;
    Ok(Structured {
        receipt,
        version,
        findings,
    })
}

fn parse_finding(problem: ParseProblem) -> GateFinding {
    match problem {
        ParseProblem::Empty => GateFinding::new(
            Code::EmptyFile,
            "",
            "the file is empty",
            "rerun the benchmark and check that it writes its receipt to this path",
        ),
        ParseProblem::InvalidUtf8 {
            offset,
            line,
            column,
        } => GateFinding::new(
            Code::InvalidUtf8,
            "",
            format!("byte {offset} (line {line}, column {column}) is not valid UTF-8"),
            "write the receipt as UTF-8 JSON; binary files are not receipts",
        ),
        ParseProblem::InvalidJson {
            line,
            column,
            message,
            looks_binary,
        } => {
            let hint = if looks_binary {
                " (the file contains NUL bytes: it looks binary)"
            } else {
                ""
            };
            // A document that stops early was cut off, not written wrongly.
            let fix = if message.contains("EOF") {
                "the receipt ends before its JSON does: the benchmark was probably stopped while writing it; run it again (and write receipts atomically: to a temporary file, then rename)"
            } else {
                "write receipts with a JSON serializer; NaN and Infinity are not JSON, so a rate that could not be measured must fail the benchmark"
            };
            GateFinding::new(
                Code::InvalidJson,
                "",
                format!("not JSON at line {line}, column {column}: {message}{hint}"),
                fix,
            )
        }
        ParseProblem::TooDeep { line, column } => GateFinding::new(
            Code::NestingTooDeep,
            "",
            format!("nesting deeper than 128 levels at line {line}, column {column}"),
            "write a receipt in the documented shape (`policy-check schema receipt`)",
        ),
    }
}

fn schema_version(value: &Value) -> Result<SchemaVersion, Vec<GateFinding>> {
    let Some(object) = value.as_object() else {
        let kind = match value {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Err(vec![GateFinding::new(
            Code::NotAnObject,
            "",
            format!("the top level is {kind}, not an object"),
            "write one receipt object per file; pass several files to policy-check instead of an array",
        )]);
    };
    let known = SchemaVersion::KNOWN.join(", ");
    match object.get("schema_version") {
        None => Err(vec![GateFinding::new(
            Code::UnknownSchemaVersion,
            "/schema_version",
            "schema_version is missing",
            format!("add \"schema_version\": \"1.1.0\" (known versions: {known})"),
        )]),
        Some(Value::String(s)) => SchemaVersion::parse(s).ok_or_else(|| {
            vec![GateFinding::new(
                Code::UnknownSchemaVersion,
                "/schema_version",
                format!("schema_version \"{s}\" is not one this policy-check reads"),
                format!("write one of {known}, or update policy-check"),
            )]
        }),
        Some(other) => Err(vec![GateFinding::new(
            Code::UnknownSchemaVersion,
            "/schema_version",
            format!("schema_version is {other}, not a string"),
            format!("write it as a string, one of {known}"),
        )]),
    }
}

fn violation_finding(version: SchemaVersion, v: schema::Violation) -> GateFinding {
    if v.pointer == "/timestamp"
        && v.keyword == "format"
        && let Some(value) = v.message.split('"').nth(1)
    {
        return timestamp_finding(value);
    }
    let place = if v.pointer.is_empty() {
        "the receipt".to_string()
    } else {
        v.pointer.clone()
    };
    GateFinding::new(
        Code::SchemaViolation,
        v.pointer,
        format!(
            "{place} breaks the schema's \"{}\" rule: {}",
            v.keyword, v.message
        ),
        format!(
            "write the field as the v{version} schema says (`policy-check schema receipt --version {version}`)"
        ),
    )
}

pub(super) fn timestamp_finding(value: &str) -> GateFinding {
    GateFinding::new(
        Code::TimestampInvalid,
        "/timestamp",
        format!("timestamp \"{value}\" is not an RFC 3339 date-time with a zone"),
        "write UTC with a zone, e.g. \"2025-10-23T00:39:09Z\"",
    )
}
