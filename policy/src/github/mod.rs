//! Publishing to GitHub (feature `github`): the sticky PR comment, the check run,
//! the job summary and step outputs, and the event that started the workflow.
//!
//! Publishing never decides the verdict: a failure comes back as
//! [`Posted::Failed`] with a [`PublishError`] that says what happened, and the
//! caller has already written the job summary and `report.json` (see
//! docs/reports.md, "Publishing to GitHub").

mod check_run;
mod client;
mod comment;
#[cfg(test)]
mod contract;
mod env;
pub mod event;

pub use check_run::{
    ANNOTATIONS_PER_REQUEST, Annotation, AnnotationLevel, CheckRun, Conclusion, OUTPUT_LIMIT,
};
pub use client::{DEFAULT_MAX_WAIT, DEFAULT_TIMEOUT, PublishError};
pub use comment::{COMMENT_LIMIT, SIGNATURE, comment_body, marker};
pub use env::{
    Context, STEP_SUMMARY_LIMIT, write_outputs, write_outputs_to, write_step_summary,
    write_step_summary_to,
};
pub use event::{Event, EventError};

use client::{Client, Method};

/// What to publish for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Tells this comment apart from other receipt-action comments on the same PR.
    pub key: String,
    /// The PR to comment on. When absent, the PR is looked up from the check
    /// run's head sha (a `workflow_run` job publishing a fork's results).
    pub pr_number: Option<u64>,
    /// Markdown body of the sticky comment.
    pub comment: Option<String>,
    pub check: Option<CheckRun>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Created(u64),
    Updated(u64),
    /// The comment already says exactly this; nothing was written.
    Unchanged(u64),
    Skipped(String),
    Failed(PublishError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub comment: Posted,
    pub check: Posted,
}

impl Published {
    fn both(outcome: Posted) -> Published {
        Published {
            comment: outcome.clone(),
            check: outcome,
        }
    }

    /// The errors, for a caller that reports them (or fails on them).
    pub fn errors(&self) -> impl Iterator<Item = &PublishError> {
        [&self.comment, &self.check]
            .into_iter()
            .filter_map(|o| match o {
                Posted::Failed(e) => Some(e),
                _ => None,
            })
    }
}

/// Publishes the comment and the check run. Blocking: runs its own
/// current-thread runtime, so call it from synchronous code (from async code,
/// use [`publish_async`]).
pub fn publish(ctx: &Context, publication: &Publication) -> Published {
    match runtime() {
        Ok(rt) => rt.block_on(publish_async(ctx, publication)),
        Err(e) => Published::both(Posted::Failed(e)),
    }
}

/// [`publish`] for callers already inside a Tokio runtime.
pub async fn publish_async(ctx: &Context, publication: &Publication) -> Published {
    if publication.comment.is_none() && publication.check.is_none() {
        return Published::both(Posted::Skipped("nothing to publish".into()));
    }
    let client = match connect(ctx) {
        Ok(client) => client,
        Err(Connect::NoToken) => {
            return Published::both(Posted::Skipped(
                "no GitHub token: the report is in the job summary only".into(),
            ));
        }
        Err(Connect::Failed(e)) => return Published::both(Posted::Failed(e)),
    };
    let comment = publish_comment(&client, ctx, publication).await;
    let check = match &publication.check {
        Some(check) => {
            check_run::publish(&client, &ctx.repository, check, ctx.run_url.as_deref()).await
        }
        None => Posted::Skipped("no check run requested".into()),
    };
    Published { comment, check }
}

async fn publish_comment(client: &Client, ctx: &Context, publication: &Publication) -> Posted {
    let Some(markdown) = &publication.comment else {
        return Posted::Skipped("no comment requested".into());
    };
    if let Err(e) = comment::validate_key(&publication.key) {
        return Posted::Failed(e);
    }
    let pr = match (publication.pr_number, &publication.check) {
        (Some(pr), _) => pr,
        (None, Some(check)) => {
            match find_pull_request(client, &ctx.repository, &check.head_sha).await {
                Ok(Some(pr)) => pr,
                Ok(None) => {
                    return Posted::Skipped(format!(
                        "no open pull request has head commit {}",
                        check.head_sha
                    ));
                }
                Err(e) => return Posted::Failed(e),
            }
        }
        (None, None) => return Posted::Skipped("no pull request to comment on".into()),
    };
    let author = match comment::author(client, ctx.comment_author.as_deref()).await {
        Ok(author) => author,
        Err(e) => return Posted::Failed(e),
    };
    let body = comment_body(&publication.key, markdown, ctx.run_url.as_deref());
    comment::upsert(
        client,
        &ctx.repository,
        pr,
        &publication.key,
        &body,
        &author,
    )
    .await
}

/// The open pull request whose head is `head_sha` (GET /repos/{o}/{r}/commits/{sha}/pulls).
/// Blocking, like [`publish`].
pub fn pull_request_for_sha(ctx: &Context, head_sha: &str) -> Result<Option<u64>, PublishError> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = match connect(ctx) {
            Ok(client) => client,
            Err(Connect::NoToken) => {
                return Err(PublishError::Setup(
                    "no GitHub token to look the pull request up with".into(),
                ));
            }
            Err(Connect::Failed(e)) => return Err(e),
        };
        find_pull_request(&client, &ctx.repository, head_sha).await
    })
}

#[derive(serde::Deserialize)]
struct PullSummary {
    number: u64,
    state: String,
    head: PullHead,
}

#[derive(serde::Deserialize)]
struct PullHead {
    sha: String,
}

async fn find_pull_request(
    client: &Client,
    repo: &str,
    head_sha: &str,
) -> Result<Option<u64>, PublishError> {
    if !(head_sha.len() >= 7
        && head_sha.len() <= 64
        && head_sha.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(PublishError::Setup(format!(
            "`{head_sha}` is not a commit sha"
        )));
    }
    let path = format!("/repos/{repo}/commits/{head_sha}/pulls?per_page=100");
    let pulls: Vec<PullSummary> = client.get(&path).await?.json(Method::Get, &path)?;
    // The commit may also be in merged or unrelated PRs: only an open PR whose
    // head it is receives the results.
    Ok(pulls
        .into_iter()
        .find(|p| p.state == "open" && p.head.sha.eq_ignore_ascii_case(head_sha))
        .map(|p| p.number))
}

enum Connect {
    NoToken,
    Failed(PublishError),
}

fn connect(ctx: &Context) -> Result<Client, Connect> {
    let token = ctx
        .token
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .ok_or(Connect::NoToken)?;
    env::validate_repository(&ctx.repository)
        .map_err(|e| Connect::Failed(PublishError::Setup(e)))?;
    Client::new(&ctx.api_url, token, ctx.timeout, ctx.max_wait).map_err(Connect::Failed)
}

fn runtime() -> Result<tokio::runtime::Runtime, PublishError> {
    // block_on inside a runtime panics; say so instead.
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(PublishError::Setup(
            "publish is blocking and was called inside a Tokio runtime; use publish_async".into(),
        ));
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PublishError::Setup(format!("starting the async runtime: {e}")))
}
