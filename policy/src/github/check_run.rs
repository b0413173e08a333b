//! The check run: created completed on the head commit, then extended with
//! annotations, 50 per request (GitHub's limit).

use serde::Serialize;
use serde_json::json;

use super::Posted;
use super::client::{Client, Method, PublishError};

/// GitHub takes at most this many annotations per create or update request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// Check-run output `summary` and `text` are each at most this many characters.
pub const OUTPUT_LIMIT: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Neutral,
    ActionRequired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Relative to the repository root.
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub level: AnnotationLevel,
    pub title: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRun {
    pub name: String,
    /// For a pull request, its head commit (the event's), not `GITHUB_SHA`.
    pub head_sha: String,
    pub conclusion: Conclusion,
    pub title: String,
    pub summary: String,
    pub text: Option<String>,
    pub annotations: Vec<Annotation>,
}

/// `text` cut to `limit` characters at a character boundary, with a closing note.
fn cap(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    const NOTE: &str =
        "\n\n**Truncated** to fit GitHub's check-run limit; the full report is in the job summary.";
    let keep = limit.saturating_sub(NOTE.chars().count());
    let cut = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    format!("{}{NOTE}", &text[..cut])
}

fn annotation_json(a: &Annotation) -> serde_json::Value {
    // GitHub rejects line 0 and an end before the start.
    let start = a.start_line.max(1);
    let mut value = json!({
        "path": a.path,
        "start_line": start,
        "end_line": a.end_line.max(start),
        "annotation_level": a.level,
        "message": cap(&a.message, OUTPUT_LIMIT),
    });
    if !a.title.is_empty() {
        value["title"] = json!(cap(&a.title, 255));
    }
    value
}

fn is_commit_sha(sha: &str) -> bool {
    matches!(sha.len(), 40 | 64) && sha.chars().all(|c| c.is_ascii_hexdigit())
}

pub(crate) async fn publish(
    client: &Client,
    repo: &str,
    check: &CheckRun,
    run_url: Option<&str>,
) -> Posted {
    if !is_commit_sha(&check.head_sha) {
        return Posted::Failed(PublishError::Setup(format!(
            "check run head_sha `{}` is not a commit sha",
            check.head_sha
        )));
    }
    if check.name.trim().is_empty() {
        return Posted::Failed(PublishError::Setup("check run name is empty".into()));
    }
    let title = cap(&check.title, 1_000);
    let summary = cap(&check.summary, OUTPUT_LIMIT);
    let mut batches = check.annotations.chunks(ANNOTATIONS_PER_REQUEST);
    let first: Vec<_> = batches
        .next()
        .unwrap_or_default()
        .iter()
        .map(annotation_json)
        .collect();
    let mut output = json!({ "title": title, "summary": summary, "annotations": first });
    if let Some(text) = &check.text {
        output["text"] = json!(cap(text, OUTPUT_LIMIT));
    }
    let completed_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut body = json!({
        "name": check.name,
        "head_sha": check.head_sha,
        "status": "completed",
        "conclusion": check.conclusion,
        "output": output,
    });
    if !completed_at.is_empty() {
        body["completed_at"] = json!(completed_at);
    }
    if let Some(url) = run_url {
        body["details_url"] = json!(url);
    }
    let path = format!("/repos/{repo}/check-runs");
    // Not retried: a second POST would make a second check run.
    let id = match client
        .post(&path, &body)
        .await
        .and_then(|r| r.json::<Created>(Method::Post, &path))
    {
        Ok(created) => created.id,
        Err(e) => return Posted::Failed(e),
    };
    let total = check.annotations.len();
    let mut sent = total.min(ANNOTATIONS_PER_REQUEST);
    let update_path = format!("/repos/{repo}/check-runs/{id}");
    for batch in batches {
        // Each update appends its annotations to those already on the run.
        let annotations: Vec<_> = batch.iter().map(annotation_json).collect();
        let update =
            json!({ "output": { "title": title, "summary": summary, "annotations": annotations } });
        if let Err(e) = client.patch(&update_path, &update).await {
            return Posted::Failed(PublishError::Incomplete {
                id,
                sent,
                total,
                source: Box::new(e),
            });
        }
        sent += batch.len();
    }
    Posted::Created(id)
}

#[derive(serde::Deserialize)]
struct Created {
    id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_text_is_capped_at_a_char_boundary() {
        let long = "ß".repeat(OUTPUT_LIMIT + 10);
        let capped = cap(&long, OUTPUT_LIMIT);
        assert_eq!(capped.chars().count(), OUTPUT_LIMIT);
        assert!(capped.ends_with("full report is in the job summary."));
        assert_eq!(cap("short", OUTPUT_LIMIT), "short");
    }

    #[test]
    fn annotation_lines_are_made_valid() {
        let a = Annotation {
            path: "docs/x.md".into(),
            start_line: 0,
            end_line: 0,
            level: AnnotationLevel::Failure,
            title: String::new(),
            message: "m".into(),
        };
        let v = annotation_json(&a);
        assert_eq!(v["start_line"], 1);
        assert_eq!(v["end_line"], 1);
        assert_eq!(v["annotation_level"], "failure");
        assert!(v.get("title").is_none());
    }

    #[test]
    fn conclusions_serialize_as_github_spells_them() {
        assert_eq!(json!(Conclusion::ActionRequired), json!("action_required"));
        assert!(is_commit_sha(&"a".repeat(40)) && !is_commit_sha("HEAD"));
    }
}
