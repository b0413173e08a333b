//! Contract test: every kind of request the publisher makes, sent to Prism serving
//! GitHub's official OpenAPI description in validating mode (`prism mock --errors`,
//! which answers an invalid request with 422 instead of an example). Run by
//! `policy/tests/github/contract.sh`, which starts Prism and sets `RECEIPT_PRISM_URL`;
//! skipped with a message otherwise.

use std::time::Duration;

use super::check_run::{self, Annotation, AnnotationLevel, CheckRun, Conclusion};
use super::client::{Client, DEFAULT_TIMEOUT, PublishError};
use super::{Posted, comment, find_pull_request, runtime};

const REPO: &str = "octo/repo";
const SHA: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

fn prism() -> Option<String> {
    let url = std::env::var("RECEIPT_PRISM_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        println!(
            "SKIPPED: RECEIPT_PRISM_URL is not set; run policy/tests/github/contract.sh (.ci/run does)"
        );
    }
    url
}

#[test]
fn every_request_the_publisher_makes_passes_githubs_openapi_description() {
    let Some(url) = prism() else { return };
    let rt = runtime().unwrap();
    rt.block_on(async {
        let client = Client::new(
            &url,
            "ghs_contract",
            DEFAULT_TIMEOUT,
            Duration::from_secs(5),
        )
        .unwrap();

        // The validator is live: a check run without head_sha is refused.
        let invalid = client
            .post(
                &format!("/repos/{REPO}/check-runs"),
                &serde_json::json!({ "name": "x" }),
            )
            .await;
        assert!(
            matches!(invalid, Err(PublishError::Status { status: 422, .. })),
            "{invalid:?}"
        );

        // GET /user, then GET the comment list.
        let author = comment::author(&client, None).await.unwrap();
        // Prism answers with the description's example `Link` header, whose next page
        // is on api.github.com: the list request passed, and the walk refuses to
        // carry the token to another host.
        match comment::find(&client, REPO, 1, &comment::marker("contract"), &author).await {
            Err(PublishError::BadResponse { message, .. }) => {
                assert_eq!(
                    message,
                    "pagination link leads to another host, api.github.com"
                )
            }
            other => panic!("expected the example Link header to be refused, got {other:?}"),
        }
        // POST a comment.
        let body = super::comment_body(
            "contract",
            "## Verdict: pass",
            Some("https://github.com/octo/repo/actions/runs/1"),
        );
        let (path, payload) = comment::create_request(REPO, 1, &body);
        comment::create(&client, &path, &payload).await.unwrap();
        // PATCH it, as an update does.
        let (path, payload) = comment::update_request(REPO, 1, &body);
        client.patch(&path, &payload).await.unwrap();

        // POST a check run with 50 annotations, then PATCH the other 10.
        let check = CheckRun {
            name: "receipt-action".into(),
            head_sha: SHA.into(),
            conclusion: Conclusion::ActionRequired,
            title: "claims".into(),
            summary: "summary".into(),
            text: Some("text".into()),
            annotations: (1..=60)
                .map(|line| Annotation {
                    path: "docs/perf.md".into(),
                    start_line: line,
                    end_line: line,
                    level: AnnotationLevel::Notice,
                    title: "claim".into(),
                    message: "backed".into(),
                })
                .collect(),
        };
        let published = check_run::publish(
            &client,
            REPO,
            &check,
            Some("https://github.com/octo/repo/actions/runs/1"),
        )
        .await;
        assert!(matches!(published, Posted::Created(_)), "{published:?}");

        // GET the pull requests of a commit. The description's own example answer
        // for this endpoint fails its schema (`requested_teams[0]` lacks `type`),
        // which Prism reports as a 500 although the request passed: ask for an
        // answer generated from the schema instead. Any answer but an error status
        // means the request was valid.
        let dynamic = Client::with_headers(
            &url,
            "ghs_contract",
            DEFAULT_TIMEOUT,
            Duration::ZERO,
            &[(
                http::HeaderName::from_static("prefer"),
                "code=200, dynamic=true",
            )],
        )
        .unwrap();
        match find_pull_request(&dynamic, REPO, SHA).await {
            Ok(_) | Err(PublishError::BadResponse { .. }) => {}
            Err(e) => panic!("GET /commits/{{sha}}/pulls was refused: {e}"),
        }
    });
}
