//! The sticky PR comment: one per key, found by a hidden marker on its first line
//! and by its author, updated in place, never doubled.

use serde::Deserialize;
use serde_json::json;

use super::Posted;
use super::client::{Client, PublishError};

/// GitHub refuses longer comment bodies (422 "Body is too long").
pub const COMMENT_LIMIT: usize = 65_536;
/// Whose comment is ours when the token cannot say (GITHUB_TOKEN gets 403 on GET /user).
pub const ACTIONS_BOT: &str = "github-actions[bot]";
/// Bounds the walk through comment pages (100 per page) against a looping `Link` header.
const MAX_PAGES: usize = 1_000;

#[derive(Debug, Deserialize)]
pub(crate) struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub login: String,
}

pub fn marker(key: &str) -> String {
    format!("<!-- receipt-action:{key} -->")
}

/// A key goes inside an HTML comment: keep it to characters that cannot end one.
pub(crate) fn validate_key(key: &str) -> Result<(), PublishError> {
    let ok = !key.is_empty()
        && key.len() <= 100
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-'))
        && !key.contains("--");
    if ok {
        Ok(())
    } else {
        Err(PublishError::Setup(format!(
            "comment key `{key}` must be 1 to 100 of A-Z a-z 0-9 . _ : / - (no `--`)"
        )))
    }
}

/// The body as sent: the marker as its first line, then `markdown`, cut below
/// GitHub's limit at a character boundary with a line pointing to the job summary.
pub fn comment_body(key: &str, markdown: &str, run_url: Option<&str>) -> String {
    let marker = marker(key);
    let markdown = markdown
        .strip_prefix(&marker)
        .map_or(markdown, |rest| rest.trim_start_matches(['\r', '\n']));
    let body = format!("{marker}\n{markdown}");
    if body.chars().count() <= COMMENT_LIMIT {
        return body;
    }
    let summary = match run_url {
        Some(url) => format!("[the job summary]({url})"),
        None => "the job summary of this workflow run".to_string(),
    };
    let note = format!(
        "\n\n---\n**Truncated** to fit GitHub's comment limit: the full report is in {summary}.\n"
    );
    let keep = COMMENT_LIMIT.saturating_sub(note.chars().count());
    let cut = body.char_indices().nth(keep).map_or(body.len(), |(i, _)| i);
    format!("{}{note}", &body[..cut])
}

fn is_ours(comment: &Comment, marker: &str, author: &str) -> bool {
    let first_line = comment
        .body
        .as_deref()
        .and_then(|b| b.lines().next())
        .map(str::trim_end);
    let by_author = comment
        .user
        .as_ref()
        .is_some_and(|u| u.login.eq_ignore_ascii_case(author));
    first_line == Some(marker) && by_author
}

fn same_text(a: &str, b: &str) -> bool {
    a.replace("\r\n", "\n").trim_end() == b.replace("\r\n", "\n").trim_end()
}

/// The oldest comment on `pr` with `marker` written by `author`, searching every page.
pub(crate) async fn find(
    client: &Client,
    repo: &str,
    pr: u64,
    marker: &str,
    author: &str,
) -> Result<Option<Comment>, PublishError> {
    let mut path = format!("/repos/{repo}/issues/{pr}/comments?per_page=100");
    for _ in 0..MAX_PAGES {
        let response = client.get(&path).await?;
        let page: Vec<Comment> = response.json(super::client::Method::Get, &path)?;
        if let Some(found) = page.into_iter().find(|c| is_ours(c, marker, author)) {
            return Ok(Some(found));
        }
        match response.next_link() {
            Some(next) => path = client.same_host_path(&next)?,
            None => return Ok(None),
        }
    }
    Err(PublishError::BadResponse {
        method: "GET",
        path,
        message: format!("more than {MAX_PAGES} pages of comments"),
    })
}

/// The login our comments carry: `configured`, else the token's own user, else
/// (GITHUB_TOKEN and app tokens cannot read /user) the Actions bot.
pub(crate) async fn author(
    client: &Client,
    configured: Option<&str>,
) -> Result<String, PublishError> {
    if let Some(login) = configured.filter(|l| !l.trim().is_empty()) {
        return Ok(login.trim().to_string());
    }
    match client.get("/user").await {
        Ok(response) => Ok(response
            .json::<User>(super::client::Method::Get, "/user")?
            .login),
        Err(PublishError::Status {
            status: 401 | 403 | 404,
            ..
        }) => Ok(ACTIONS_BOT.to_string()),
        Err(e) => Err(e),
    }
}

/// Creates or updates the comment for `key` on `pr`.
pub(crate) async fn upsert(
    client: &Client,
    repo: &str,
    pr: u64,
    key: &str,
    body: &str,
    author: &str,
) -> Posted {
    match upsert_inner(client, repo, pr, key, body, author).await {
        Ok(outcome) => outcome,
        Err(e) => Posted::Failed(e),
    }
}

async fn upsert_inner(
    client: &Client,
    repo: &str,
    pr: u64,
    key: &str,
    body: &str,
    author: &str,
) -> Result<Posted, PublishError> {
    let marker = marker(key);
    if let Some(existing) = find(client, repo, pr, &marker, author).await? {
        if existing.body.as_deref().is_some_and(|b| same_text(b, body)) {
            return Ok(Posted::Unchanged(existing.id));
        }
        let (path, payload) = update_request(repo, existing.id, body);
        client.patch(&path, &payload).await?;
        return Ok(Posted::Updated(existing.id));
    }
    let (path, payload) = create_request(repo, pr, body);
    // A create is tried at most twice, and the second time only after a fresh
    // listing shows the first did not land.
    match create(client, &path, &payload).await {
        Ok(id) => Ok(Posted::Created(id)),
        Err(first) if first.is_ambiguous() => {
            match find(client, repo, pr, &marker, author).await? {
                Some(landed) => Ok(Posted::Created(landed.id)),
                None => create(client, &path, &payload).await.map(Posted::Created),
            }
        }
        Err(e) => Err(e),
    }
}

/// POST: a new comment on PR (issue) `pr`.
pub(crate) fn create_request(repo: &str, pr: u64, body: &str) -> (String, serde_json::Value) {
    (
        format!("/repos/{repo}/issues/{pr}/comments"),
        json!({ "body": body }),
    )
}

/// PATCH: the comment's new body (octocrab's `update_comment` would POST).
pub(crate) fn update_request(repo: &str, id: u64, body: &str) -> (String, serde_json::Value) {
    (
        format!("/repos/{repo}/issues/comments/{id}"),
        json!({ "body": body }),
    )
}

pub(crate) async fn create(
    client: &Client,
    path: &str,
    payload: &serde_json::Value,
) -> Result<u64, PublishError> {
    let response = client.post(path, payload).await?;
    Ok(response
        .json::<Comment>(super::client::Method::Post, path)?
        .id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_the_first_line_once() {
        let body = comment_body("bench", "# Report", None);
        assert_eq!(body, "<!-- receipt-action:bench -->\n# Report");
        assert_eq!(comment_body("bench", &body, None), body);
    }

    #[test]
    fn a_long_body_is_cut_below_the_limit_at_a_char_boundary() {
        let markdown = "ü".repeat(70_000);
        let body = comment_body(
            "k",
            &markdown,
            Some("https://github.com/o/r/actions/runs/1"),
        );
        assert!(
            body.chars().count() <= COMMENT_LIMIT,
            "{}",
            body.chars().count()
        );
        assert!(body.chars().count() > COMMENT_LIMIT - 200);
        assert!(body.ends_with("[the job summary](https://github.com/o/r/actions/runs/1).\n"));
        assert!(body.starts_with("<!-- receipt-action:k -->\nüü"));
        let exact = "a".repeat(COMMENT_LIMIT - marker("k").len() - 1);
        assert_eq!(
            comment_body("k", &exact, None).chars().count(),
            COMMENT_LIMIT
        );
    }

    #[test]
    fn keys_cannot_break_out_of_the_marker() {
        assert!(validate_key("receipts/linux-x86").is_ok());
        for bad in ["", "a-->b", "a b", "x\ny", "a--b", &"k".repeat(101)] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ours_needs_marker_line_and_author() {
        let c = |body: &str, login: &str| Comment {
            id: 1,
            body: Some(body.into()),
            user: Some(User {
                login: login.into(),
            }),
        };
        let m = marker("k");
        assert!(is_ours(
            &c(&format!("{m}\nx"), "github-actions[bot]"),
            &m,
            ACTIONS_BOT
        ));
        assert!(is_ours(
            &c(&format!("{m}\r\nx"), "GitHub-Actions[bot]"),
            &m,
            ACTIONS_BOT
        ));
        assert!(!is_ours(&c(&format!("{m}\nx"), "mallory"), &m, ACTIONS_BOT));
        assert!(!is_ours(
            &c(&format!("quote:\n{m}"), "github-actions[bot]"),
            &m,
            ACTIONS_BOT
        ));
        assert!(!is_ours(
            &c(&format!("{}\nx", marker("k2")), "github-actions[bot]"),
            &m,
            ACTIONS_BOT
        ));
    }
}
