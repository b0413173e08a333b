//! The sticky PR comment: one per key, found by a hidden marker on its first line
//! and by its author, updated in place, never doubled.
//!
//! The author is the `comment-author` input, else the token's own login (`GET
//! /user`). GITHUB_TOKEN and GitHub App tokens cannot read `/user` (403), and an
//! App's comments are by `<app>[bot]`, a login the action cannot learn: then a
//! comment is ours only if a Bot account wrote it and it carries both the marker
//! and [`SIGNATURE`]. A person's comment is never edited, whatever it contains.

use serde::Deserialize;
use serde_json::json;

use super::Posted;
use super::client::{Client, PublishError};

/// GitHub refuses longer comment bodies (422 "Body is too long").
pub const COMMENT_LIMIT: usize = 65_536;
/// The body's last line, written on every comment: with the marker and a Bot
/// author, it identifies our comment when the author's login is unknown. Keys
/// cannot contain spaces, so no marker can be mistaken for it.
pub const SIGNATURE: &str = "<!-- written by receipt-action -->";
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
    /// `User`, `Bot` or `Organization`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// Whose comments the publisher may edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Author {
    /// The `comment-author` input, or the token's own login.
    Login(String),
    /// The token cannot say (403 on `GET /user`): any Bot's comment that carries
    /// the marker and the signature.
    AnyBotWithSignature,
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

/// The body as sent: the marker as its first line, then `markdown`, then the
/// signature as the last line; cut below GitHub's limit at a character boundary
/// with a line pointing to the job summary.
pub fn comment_body(key: &str, markdown: &str, run_url: Option<&str>) -> String {
    let marker = marker(key);
    let markdown = markdown
        .strip_prefix(&marker)
        .map_or(markdown, |rest| rest.trim_start_matches(['\r', '\n']));
    let markdown = markdown.trim_end();
    let markdown = markdown
        .strip_suffix(SIGNATURE)
        .map_or(markdown, str::trim_end);
    let body = format!("{marker}\n{markdown}\n\n{SIGNATURE}");
    if body.chars().count() <= COMMENT_LIMIT {
        return body;
    }
    let summary = match run_url {
        Some(url) => format!("[the job summary]({url})"),
        None => "the job summary of this workflow run".to_string(),
    };
    let note = format!(
        "\n\n---\n**Truncated** to fit GitHub's comment limit: the full report is in {summary}.\n\n{SIGNATURE}"
    );
    let keep = COMMENT_LIMIT.saturating_sub(note.chars().count());
    let cut = body.char_indices().nth(keep).map_or(body.len(), |(i, _)| i);
    format!("{}{note}", &body[..cut])
}

fn is_ours(comment: &Comment, marker: &str, author: &Author) -> bool {
    let body = comment.body.as_deref().unwrap_or("");
    if body.lines().next().map(str::trim_end) != Some(marker) {
        return false;
    }
    let Some(user) = &comment.user else {
        return false;
    };
    match author {
        Author::Login(login) => user.login.eq_ignore_ascii_case(login),
        Author::AnyBotWithSignature => {
            user.kind.as_deref() == Some("Bot")
                && body
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::trim)
                    == Some(SIGNATURE)
        }
    }
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
    author: &Author,
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

/// Whose comments are ours: `configured`, else the token's own user, else (GITHUB_TOKEN
/// and App tokens cannot read /user) any Bot's comment with the signature.
pub(crate) async fn author(
    client: &Client,
    configured: Option<&str>,
) -> Result<Author, PublishError> {
    if let Some(login) = configured.filter(|l| !l.trim().is_empty()) {
        return Ok(Author::Login(login.trim().to_string()));
    }
    match client.get("/user").await {
        Ok(response) => Ok(Author::Login(
            response
                .json::<User>(super::client::Method::Get, "/user")?
                .login,
        )),
        Err(PublishError::Status {
            status: 401 | 403 | 404,
            ..
        }) => Ok(Author::AnyBotWithSignature),
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
    author: &Author,
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
    author: &Author,
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
    fn the_marker_is_the_first_line_and_the_signature_the_last_once() {
        let body = comment_body("bench", "# Report\n", None);
        assert_eq!(
            body,
            format!("<!-- receipt-action:bench -->\n# Report\n\n{SIGNATURE}")
        );
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
        assert!(body.ends_with(&format!(
            "[the job summary](https://github.com/o/r/actions/runs/1).\n\n{SIGNATURE}"
        )));
        assert!(body.starts_with("<!-- receipt-action:k -->\nüü"));
        let exact = "a".repeat(COMMENT_LIMIT - marker("k").len() - 3 - SIGNATURE.len());
        let fits = comment_body("k", &exact, None);
        assert_eq!(fits.chars().count(), COMMENT_LIMIT);
        assert!(!fits.contains("Truncated"));
        assert!(comment_body("k", &format!("{exact}a"), None).contains("Truncated"));
    }

    #[test]
    fn keys_cannot_break_out_of_the_marker() {
        assert!(validate_key("receipts/linux-x86").is_ok());
        for bad in ["", "a-->b", "a b", "x\ny", "a--b", &"k".repeat(101)] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
    }

    fn c(body: &str, login: &str, kind: &str) -> Comment {
        Comment {
            id: 1,
            body: Some(body.into()),
            user: Some(User {
                login: login.into(),
                kind: Some(kind.into()),
            }),
        }
    }

    #[test]
    fn a_known_author_needs_the_marker_line_and_that_login() {
        let m = marker("k");
        let me = Author::Login("github-actions[bot]".into());
        assert!(is_ours(
            &c(&format!("{m}\nx"), "github-actions[bot]", "Bot"),
            &m,
            &me
        ));
        assert!(is_ours(
            &c(&format!("{m}\r\nx"), "GitHub-Actions[bot]", "Bot"),
            &m,
            &me
        ));
        assert!(!is_ours(&c(&format!("{m}\nx"), "mallory", "User"), &m, &me));
        assert!(!is_ours(
            &c(&format!("{m}\nx"), "other-app[bot]", "Bot"),
            &m,
            &me
        ));
        assert!(!is_ours(
            &c(&format!("quote:\n{m}"), "github-actions[bot]", "Bot"),
            &m,
            &me
        ));
        assert!(!is_ours(
            &c(
                &format!("{}\nx", marker("k2")),
                "github-actions[bot]",
                "Bot"
            ),
            &m,
            &me
        ));
    }

    #[test]
    fn an_unknown_author_needs_a_bot_the_marker_and_the_signature() {
        let m = marker("k");
        let any = Author::AnyBotWithSignature;
        let signed = comment_body("k", "report", None);
        assert!(is_ours(&c(&signed, "receipt-app[bot]", "Bot"), &m, &any));
        assert!(is_ours(
            &c(&format!("{signed}\r\n"), "github-actions[bot]", "Bot"),
            &m,
            &any
        ));
        // A person's comment, even one that copies the whole body, is never ours.
        assert!(!is_ours(&c(&signed, "mallory", "User"), &m, &any));
        assert!(!is_ours(&c(&signed, "an-org", "Organization"), &m, &any));
        let mut no_kind = c(&signed, "x[bot]", "Bot");
        no_kind.user.as_mut().unwrap().kind = None;
        assert!(!is_ours(&no_kind, &m, &any));
        // A bot's comment that quotes the marker but is not ours.
        assert!(!is_ours(
            &c(&format!("{m}\nx"), "other-app[bot]", "Bot"),
            &m,
            &any
        ));
        assert!(!is_ours(
            &c(&format!("{signed}\nmore"), "other-app[bot]", "Bot"),
            &m,
            &any
        ));
        assert!(!is_ours(
            &c(&comment_body("k2", "r", None), "app[bot]", "Bot"),
            &m,
            &any
        ));
    }
}
