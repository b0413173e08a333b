//! Events parsed from GitHub's own example payloads (npm `@octokit/webhooks-examples`,
//! installed on first use by `common::npm_fixture`).

use receipt_policy::github::{Event, EventError};
use serde_json::Value;

/// Every example payload of `event`.
fn examples(event: &str) -> Vec<Value> {
    let path = crate::common::npm_fixture("@octokit/webhooks-examples/api.github.com/index.json");
    let text = std::fs::read_to_string(path).unwrap();
    let index: Vec<Value> =
        serde_json::from_str(&text).expect("webhooks-examples index.json is JSON");
    let entry = index
        .into_iter()
        .find(|e| e["name"] == event)
        .expect("the event is in the examples");
    let examples = entry["examples"].as_array().cloned().unwrap_or_default();
    assert!(!examples.is_empty(), "no examples for {event}");
    examples
}

fn with_action(examples: &[Value], action: &str) -> Value {
    examples
        .iter()
        .find(|e| e["action"] == action)
        .cloned()
        .expect("an example with this action")
}

/// Parses through a file, as `$GITHUB_EVENT_PATH` is read.
fn load(event: &str, payload: &Value) -> Result<Event, EventError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, serde_json::to_vec(payload).unwrap()).unwrap();
    Event::load(&path, event)
}

#[test]
fn every_example_of_every_supported_event_parses() {
    for name in [
        "pull_request",
        "push",
        "release",
        "workflow_run",
        "workflow_dispatch",
    ] {
        let all = examples(name);
        for (i, payload) in all.iter().enumerate() {
            if let Err(e) = load(name, payload) {
                panic!("{name} example {i}: {e}");
            }
        }
    }
}

#[test]
fn pull_request_opened_and_synchronize() {
    let all = examples("pull_request");
    for action in ["opened", "synchronize"] {
        let payload = with_action(&all, action);
        let event = load("pull_request", &payload).unwrap();
        assert_eq!(
            event,
            Event::PullRequest {
                number: 2,
                head_sha: payload["pull_request"]["head"]["sha"]
                    .as_str()
                    .unwrap()
                    .into(),
                base_sha: payload["pull_request"]["base"]["sha"]
                    .as_str()
                    .unwrap()
                    .into(),
                base_ref: "master".into(),
                head_repo: "Codertocat/Hello-World".into(),
                fork: false,
            },
            "{action}"
        );
        assert_eq!(
            event.head_sha(),
            Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821")
        );
        assert_eq!(event.pr_number(), Some(2));
        // pull_request_target carries the same payload.
        assert_eq!(load("pull_request_target", &payload).unwrap(), event);
    }
}

#[test]
fn a_fork_pull_request_is_detected_as_a_fork() {
    let all = examples("pull_request");
    let mut payload = with_action(&all, "opened");
    payload["pull_request"]["head"]["repo"]["full_name"] = "forker/Hello-World".into();
    let Event::PullRequest {
        fork, head_repo, ..
    } = load("pull_request", &payload).unwrap()
    else {
        panic!("not a pull request")
    };
    assert!(fork);
    assert_eq!(head_repo, "forker/Hello-World");
    // A fork deleted after the PR was opened leaves `head.repo` null.
    payload["pull_request"]["head"]["repo"] = Value::Null;
    let Event::PullRequest {
        fork, head_repo, ..
    } = load("pull_request", &payload).unwrap()
    else {
        panic!("not a pull request")
    };
    assert!(fork);
    assert_eq!(head_repo, "");
}

#[test]
fn push_names_the_pushed_commit_and_ref() {
    let all = examples("push");
    let branch = all
        .iter()
        .find(|e| e["ref"] == "refs/heads/master")
        .unwrap();
    assert_eq!(
        load("push", branch).unwrap(),
        Event::Push {
            sha: "6113728f27ae82c7b1a177c8d03f9e96e0adf246".into(),
            git_ref: "refs/heads/master".into()
        }
    );
}

#[test]
fn release_names_its_tag_and_takes_the_sha_from_the_runner() {
    let all = examples("release");
    let event = load("release", &with_action(&all, "published")).unwrap();
    assert_eq!(
        event,
        Event::Release {
            tag: "0.0.1".into(),
            sha: None
        }
    );
    let sha = "a".repeat(40);
    assert_eq!(
        event.with_sha(Some(sha.clone())),
        Event::Release {
            tag: "0.0.1".into(),
            sha: Some(sha)
        }
    );
}

#[test]
fn workflow_run_names_the_run_it_follows() {
    let all = examples("workflow_run");
    let payload = with_action(&all, "completed");
    let run = &payload["workflow_run"];
    let event = load("workflow_run", &payload).unwrap();
    assert_eq!(
        event,
        Event::WorkflowRun {
            head_sha: run["head_sha"].as_str().unwrap().into(),
            head_branch: run["head_branch"].as_str().unwrap().into(),
            triggering_event: run["event"].as_str().unwrap().into(),
            head_repo: "octo-org/octo-repo".into(),
            fork: false,
        }
    );
    assert_eq!(event.pr_number(), None);
    // The run of a fork's pull request: its head repository is the fork.
    let mut forked = payload.clone();
    forked["workflow_run"]["event"] = "pull_request".into();
    forked["workflow_run"]["head_repository"]["full_name"] = "forker/octo-repo".into();
    let Event::WorkflowRun {
        fork,
        triggering_event,
        ..
    } = load("workflow_run", &forked).unwrap()
    else {
        panic!("not a workflow_run")
    };
    assert!(fork);
    assert_eq!(triggering_event, "pull_request");
}

#[test]
fn workflow_dispatch_names_its_ref() {
    let all = examples("workflow_dispatch");
    let event = load("workflow_dispatch", &all[0]).unwrap();
    assert_eq!(
        event,
        Event::WorkflowDispatch {
            git_ref: "refs/heads/main".into(),
            sha: None
        }
    );
    assert_eq!(
        event.with_sha(Some("c".repeat(40))).head_sha(),
        Some("c".repeat(40).as_str())
    );
}

#[test]
fn unsupported_and_incomplete_payloads_are_errors() {
    let all = examples("pull_request");
    let mut payload = with_action(&all, "opened");
    assert!(
        matches!(load("issues", &payload), Err(EventError::Unsupported(name)) if name == "issues")
    );
    payload["pull_request"]["head"]
        .as_object_mut()
        .unwrap()
        .remove("sha");
    let error = load("pull_request", &payload).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the pull_request event payload has no /pull_request/head/sha"
    );
}

#[test]
fn unreadable_payloads_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("event.json");
    std::fs::write(&bad, "{not json").unwrap();
    assert!(matches!(
        Event::load(&bad, "push"),
        Err(EventError::Parse { .. })
    ));
    assert!(matches!(
        Event::load(&dir.path().join("absent.json"), "push"),
        Err(EventError::Read { .. })
    ));
}
