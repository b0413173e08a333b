//! The event that started the workflow, read from `$GITHUB_EVENT_PATH`: only the
//! fields publishing needs (which commit, which PR, whether it comes from a fork).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The webhook payload is at most this large (GitHub caps deliveries at 25 MB).
const MAX_EVENT_BYTES: u64 = 25 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `pull_request` and `pull_request_target`.
    PullRequest {
        number: u64,
        /// The PR's head commit: check runs go here, never on `GITHUB_SHA` (a merge commit).
        head_sha: String,
        base_sha: String,
        base_ref: String,
        /// `owner/name` of the head repository; empty when that repository was deleted.
        head_repo: String,
        /// The head is in another repository: the token is read-only.
        fork: bool,
    },
    Push {
        sha: String,
        git_ref: String,
    },
    Release {
        tag: String,
        /// From `GITHUB_SHA` (the payload names a branch or a commit in `target_commitish`).
        sha: Option<String>,
    },
    WorkflowRun {
        head_sha: String,
        head_branch: String,
        /// The event of the run that finished (`pull_request` for a fork PR's measuring job).
        triggering_event: String,
        head_repo: String,
        fork: bool,
    },
    WorkflowDispatch {
        git_ref: String,
        /// From `GITHUB_SHA`; the payload has none.
        sha: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("{0} is not set (it is set on GitHub Actions)")]
    MissingVariable(&'static str),
    #[error("cannot read the event payload {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the event payload {} is larger than {} bytes", .path.display(), MAX_EVENT_BYTES)]
    TooLarge { path: PathBuf },
    #[error("the event payload {} is not JSON: {source}", .path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the {event} event payload has no {field}")]
    Missing { event: String, field: &'static str },
    #[error(
        "event `{0}` is not one receipt-action publishes for (pull_request, pull_request_target, \
         push, release, workflow_run, workflow_dispatch)"
    )]
    Unsupported(String),
}

impl Event {
    /// Reads `GITHUB_EVENT_NAME` and `GITHUB_EVENT_PATH`; `GITHUB_SHA` fills the
    /// commit that release and workflow_dispatch payloads do not carry.
    pub fn from_env() -> Result<Event, EventError> {
        let name = std::env::var("GITHUB_EVENT_NAME")
            .map_err(|_| EventError::MissingVariable("GITHUB_EVENT_NAME"))?;
        let path = std::env::var_os("GITHUB_EVENT_PATH")
            .ok_or(EventError::MissingVariable("GITHUB_EVENT_PATH"))?;
        let event = Event::load(Path::new(&path), &name)?;
        Ok(event.with_sha(std::env::var("GITHUB_SHA").ok()))
    }

    /// Parses the payload at `path` as event `event_name`.
    pub fn load(path: &Path, event_name: &str) -> Result<Event, EventError> {
        let read = |source| EventError::Read {
            path: path.to_path_buf(),
            source,
        };
        let text = crate::input::read_capped(path, MAX_EVENT_BYTES).map_err(|e| match e {
            crate::input::ReadError::TooLarge { .. } => EventError::TooLarge {
                path: path.to_path_buf(),
            },
            crate::input::ReadError::Io(source) => read(source),
            other => read(std::io::Error::other(format!("{other}; {}", other.fix()))),
        })?;
        let payload: Value = serde_json::from_slice(&text).map_err(|source| EventError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        Event::from_payload(event_name, &payload)
    }

    /// Parses an already-read payload.
    pub fn from_payload(event_name: &str, payload: &Value) -> Result<Event, EventError> {
        let field = Fields {
            event: event_name,
            payload,
        };
        match event_name {
            "pull_request" | "pull_request_target" => {
                let head_repo = field.opt_str("/pull_request/head/repo/full_name");
                let base_repo = field.str("/pull_request/base/repo/full_name")?;
                Ok(Event::PullRequest {
                    number: field.u64("/pull_request/number")?,
                    head_sha: field.str("/pull_request/head/sha")?,
                    base_sha: field.str("/pull_request/base/sha")?,
                    base_ref: field.str("/pull_request/base/ref")?,
                    // A deleted head repository (null) can only have been a fork.
                    fork: head_repo.as_deref() != Some(base_repo.as_str()),
                    head_repo: head_repo.unwrap_or_default(),
                })
            }
            "push" => Ok(Event::Push {
                sha: field.str("/after")?,
                git_ref: field.str("/ref")?,
            }),
            "release" => Ok(Event::Release {
                tag: field.str("/release/tag_name")?,
                sha: None,
            }),
            "workflow_run" => {
                let head_repo = field.opt_str("/workflow_run/head_repository/full_name");
                let repo = field.str("/workflow_run/repository/full_name")?;
                Ok(Event::WorkflowRun {
                    head_sha: field.str("/workflow_run/head_sha")?,
                    head_branch: field
                        .opt_str("/workflow_run/head_branch")
                        .unwrap_or_default(),
                    triggering_event: field.str("/workflow_run/event")?,
                    fork: head_repo.as_deref() != Some(repo.as_str()),
                    head_repo: head_repo.unwrap_or_default(),
                })
            }
            "workflow_dispatch" => Ok(Event::WorkflowDispatch {
                git_ref: field.str("/ref")?,
                sha: None,
            }),
            other => Err(EventError::Unsupported(other.to_string())),
        }
    }

    /// Fills the commit of events whose payload lacks it (from `GITHUB_SHA`).
    pub fn with_sha(self, github_sha: Option<String>) -> Event {
        match self {
            Event::Release { tag, sha: None } => Event::Release {
                tag,
                sha: github_sha,
            },
            Event::WorkflowDispatch { git_ref, sha: None } => Event::WorkflowDispatch {
                git_ref,
                sha: github_sha,
            },
            other => other,
        }
    }

    /// The commit results are about: a PR's head, never the merge commit.
    pub fn head_sha(&self) -> Option<&str> {
        match self {
            Event::PullRequest { head_sha, .. } | Event::WorkflowRun { head_sha, .. } => {
                Some(head_sha)
            }
            Event::Push { sha, .. } => Some(sha),
            Event::Release { sha, .. } | Event::WorkflowDispatch { sha, .. } => sha.as_deref(),
        }
    }

    /// The pull request number, when the payload names one.
    pub fn pr_number(&self) -> Option<u64> {
        match self {
            Event::PullRequest { number, .. } => Some(*number),
            _ => None,
        }
    }
}

struct Fields<'a> {
    event: &'a str,
    payload: &'a Value,
}

impl Fields<'_> {
    fn missing(&self, field: &'static str) -> EventError {
        EventError::Missing {
            event: self.event.to_string(),
            field,
        }
    }

    fn opt_str(&self, pointer: &'static str) -> Option<String> {
        self.payload
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn str(&self, pointer: &'static str) -> Result<String, EventError> {
        self.opt_str(pointer).ok_or_else(|| self.missing(pointer))
    }

    fn u64(&self, pointer: &'static str) -> Result<u64, EventError> {
        self.payload
            .pointer(pointer)
            .and_then(Value::as_u64)
            .ok_or_else(|| self.missing(pointer))
    }
}
