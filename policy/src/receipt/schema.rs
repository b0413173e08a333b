//! The published receipt schemas (policy/schema/), embedded in the binary and
//! compiled once. Every receipt is validated against the schema of its version,
//! formats included, before any gate runs.

use super::SchemaVersion;
use jsonschema::Validator;
use serde_json::Value;
use std::sync::OnceLock;

pub const RECEIPT_V1_0: &str = include_str!("../../schema/receipt-v1.0.schema.json");
pub const RECEIPT_V1_1: &str = include_str!("../../schema/receipt-v1.1.schema.json");

/// The schema text for a version, as `policy-check schema receipt` prints it.
pub fn text(version: SchemaVersion) -> &'static str {
    match version {
        SchemaVersion::V1_0 => RECEIPT_V1_0,
        SchemaVersion::V1_1 => RECEIPT_V1_1,
    }
}

fn compile(text: &str) -> Validator {
    let schema: Value = serde_json::from_str(text).expect("embedded receipt schema is valid JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("embedded receipt schema compiles")
}

fn validator(version: SchemaVersion) -> &'static Validator {
    static V1_0: OnceLock<Validator> = OnceLock::new();
    static V1_1: OnceLock<Validator> = OnceLock::new();
    match version {
        SchemaVersion::V1_0 => V1_0.get_or_init(|| compile(RECEIPT_V1_0)),
        SchemaVersion::V1_1 => V1_1.get_or_init(|| compile(RECEIPT_V1_1)),
    }
}

/// One schema violation: where in the receipt, which keyword, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub pointer: String,
    /// The failing keyword ("type", "required", "format", ...).
    pub keyword: String,
    pub message: String,
}

/// Validate a document against its version's schema; empty when it conforms.
pub fn validate(version: SchemaVersion, document: &Value) -> Vec<Violation> {
    let validator = validator(version);
    if validator.is_valid(document) {
        return Vec::new();
    }
    validator
        .iter_errors(document)
        .map(|e| Violation {
            pointer: e.instance_path().to_string(),
            keyword: e
                .schema_path()
                .to_string()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            message: e.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_schemas_are_valid_draft_2020_12_schemas() {
        for text in [RECEIPT_V1_0, RECEIPT_V1_1] {
            let schema: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            if let Err(e) = jsonschema::meta::validate(&schema) {
                panic!("schema does not conform to its meta-schema: {e}");
            }
        }
    }

    #[test]
    fn meta_validation_would_catch_a_broken_schema() {
        let broken =
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "receipt"});
        assert!(jsonschema::meta::validate(&broken).is_err());
    }

    #[test]
    fn formats_are_validated() {
        let doc = json!({
            "schema_version": "1.0.0", "timestamp": "2025-10-23T00:39:09",
            "compute_path": "real", "backend": "cpu", "kernels": ["i2s_gemv"],
            "tokens_per_second": 15.3
        });
        let v = validate(SchemaVersion::V1_0, &doc);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].pointer, "/timestamp");
        assert_eq!(v[0].keyword, "format");
    }

    #[test]
    fn wrong_types_are_reported_at_their_pointer() {
        let doc = json!({
            "schema_version": "1.1.0", "timestamp": "2025-10-23T00:39:09Z",
            "compute_path": "real", "backend": "cpu", "kernels": ["i2s_gemv", 3],
            "tokens_per_second": "15.3", "tokens_requested": -1
        });
        let mut pointers: Vec<_> = validate(SchemaVersion::V1_1, &doc)
            .into_iter()
            .map(|v| (v.pointer, v.keyword))
            .collect();
        pointers.sort();
        assert_eq!(
            pointers,
            vec![
                ("/kernels/1".to_string(), "type".to_string()),
                ("/tokens_per_second".to_string(), "type".to_string()),
                ("/tokens_requested".to_string(), "minimum".to_string()),
            ]
        );
    }
}
