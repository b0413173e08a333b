//! HTTP to the GitHub REST API: one request at a time, each with a timeout, and
//! our own retry policy. octocrab supplies the TLS client, the base URI (GitHub
//! Enterprise included) and the token; its retry layer is not compiled in (it
//! re-sends POSTs, which can double a comment), so every decision to send a
//! request again is made here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Uri};
use octocrab::Octocrab;
use serde::de::DeserializeOwned;

/// How long one request may take, answer body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a whole `publish` waits for rate limits and retries, all together.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(60);
/// GitHub's advice for a rate-limit answer that says nothing about when to come back.
const UNSPECIFIED_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Extra tries for requests that are safe to repeat (GET, PATCH) after a 5xx,
/// a timeout or a broken connection. POSTs get none.
const IDEMPOTENT_RETRIES: u32 = 2;

/// What went wrong while talking to GitHub.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error(
        "GitHub refused the write ({status} {message}): this token is read-only, as on pull \
         requests from forks; publish from a workflow_run job (docs/action.md). On a \
         same-repository run, give the job `pull-requests: write` and `checks: write`"
    )]
    ReadOnlyToken { status: u16, message: String },
    #[error(
        "GitHub rate limit on {method} {path}: waited {:.1} s in all, and GitHub asks for \
         {:.1} s more, beyond the {:.1} s cap",
        .waited.as_secs_f64(), .wanted.as_secs_f64(), .cap.as_secs_f64()
    )]
    RateLimited {
        method: &'static str,
        path: String,
        waited: Duration,
        wanted: Duration,
        cap: Duration,
    },
    #[error("GitHub answered {status} to {method} {path}: {message}")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{method} {path}: no answer from GitHub within {} s", .after.as_secs())]
    Timeout {
        method: &'static str,
        path: String,
        after: Duration,
    },
    #[error("{method} {path}: {message}")]
    Transport {
        method: &'static str,
        path: String,
        message: String,
    },
    #[error("GitHub's answer to {method} {path} is not what the API describes: {message}")]
    BadResponse {
        method: &'static str,
        path: String,
        message: String,
    },
    #[error("cannot publish to GitHub: {0}")]
    Setup(String),
    #[error(
        "check run {id} was created, but only {sent} of its {total} annotations reached it: {source}"
    )]
    Incomplete {
        id: u64,
        sent: usize,
        total: usize,
        source: Box<PublishError>,
    },
}

impl PublishError {
    /// True when the request may have taken effect although it reported failure:
    /// a 5xx, a timeout or a broken connection. A 4xx or a rate limit did not.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            PublishError::Status { status, .. } => *status >= 500,
            PublishError::Timeout { .. } | PublishError::Transport { .. } => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// A 2xx answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub headers: HeaderMap,
    pub body: String,
}

impl Response {
    pub fn json<T: DeserializeOwned>(&self, method: Method, path: &str) -> Result<T, PublishError> {
        serde_json::from_str(&self.body).map_err(|e| PublishError::BadResponse {
            method: method.as_str(),
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    /// The `rel="next"` target of the `Link` header, if any.
    pub fn next_link(&self) -> Option<String> {
        let link = self.headers.get(http::header::LINK)?.to_str().ok()?;
        link.split(',').find_map(|part| {
            let (target, params) = part.split_once(';')?;
            let is_next = params
                .split(';')
                .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| target.to_string())
        })
    }
}

pub(crate) struct Client {
    crab: Octocrab,
    base: Uri,
    timeout: Duration,
    max_wait: Duration,
    /// Milliseconds already spent waiting, shared by every request of one publish.
    waited_ms: AtomicU64,
}

impl Client {
    /// Must run inside a Tokio runtime: octocrab spawns its worker there.
    pub fn new(
        api_url: &str,
        token: &str,
        timeout: Duration,
        max_wait: Duration,
    ) -> Result<Client, PublishError> {
        Client::with_headers(api_url, token, timeout, max_wait, &[])
    }

    /// `new`, with more headers on every request (the contract test asks its mock
    /// for generated answers this way).
    pub fn with_headers(
        api_url: &str,
        token: &str,
        timeout: Duration,
        max_wait: Duration,
        extra: &[(http::HeaderName, &str)],
    ) -> Result<Client, PublishError> {
        let base: Uri = api_url.trim_end_matches('/').parse().map_err(|e| {
            PublishError::Setup(format!("GITHUB_API_URL `{api_url}` is not a URL: {e}"))
        })?;
        if base.scheme().is_none() || base.authority().is_none() {
            return Err(PublishError::Setup(format!(
                "GITHUB_API_URL `{api_url}` needs a scheme and a host"
            )));
        }
        let token = token.trim();
        // octocrab unwraps the header it builds from the token: check it here instead.
        if token.is_empty() || http::HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(PublishError::Setup(
                "the GitHub token is empty or holds characters a header cannot carry".into(),
            ));
        }
        let mut builder = Octocrab::builder()
            .base_uri(base.clone())
            .map_err(|e| PublishError::Setup(format!("GITHUB_API_URL `{api_url}`: {e}")))?
            .personal_token(token.to_string())
            // GitHub's recommended type, then the one its OpenAPI description declares
            // (a validating mock of that description answers 406 to the first alone).
            .add_header(
                http::header::ACCEPT,
                "application/vnd.github+json, application/json".into(),
            );
        for (name, value) in extra {
            builder = builder.add_header(name.clone(), (*value).to_string());
        }
        let crab = builder
            .build()
            .map_err(|e| PublishError::Setup(format!("building the HTTP client: {e}")))?;
        Ok(Client {
            crab,
            base,
            timeout,
            max_wait,
            waited_ms: AtomicU64::new(0),
        })
    }

    /// Turns a `Link` target into a path on the API host; refuses other hosts,
    /// which would otherwise receive the token.
    pub fn same_host_path(&self, url: &str) -> Result<String, PublishError> {
        let bad = |message: String| PublishError::BadResponse {
            method: "GET",
            path: url.to_string(),
            message,
        };
        let uri: Uri = url
            .parse()
            .map_err(|e| bad(format!("pagination link: {e}")))?;
        match uri.authority() {
            None => {}
            Some(a) if Some(a) == self.base.authority() => {}
            Some(a) => return Err(bad(format!("pagination link leads to another host, {a}"))),
        }
        uri.path_and_query()
            .map(|pq| pq.as_str().to_string())
            .ok_or_else(|| bad("pagination link has no path".into()))
    }

    pub async fn get(&self, path: &str) -> Result<Response, PublishError> {
        self.send(Method::Get, path, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Response, PublishError> {
        self.send(Method::Post, path, Some(body)).await
    }

    pub async fn patch(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Response, PublishError> {
        self.send(Method::Patch, path, Some(body)).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, PublishError> {
        let mut retries = 0;
        loop {
            let error = match self.once(method, path, body).await {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    return Ok(Response {
                        headers: answer.headers,
                        body: answer.body,
                    });
                }
                Ok(answer) => {
                    // A rate-limited request was not carried out, so any method may repeat it.
                    if let Some(wanted) = rate_limit_wait(&answer) {
                        self.wait(method, path, wanted).await?;
                        continue;
                    }
                    classify(method, path, answer)
                }
                Err(e) => e,
            };
            if method != Method::Post && error.is_ambiguous() && retries < IDEMPOTENT_RETRIES {
                retries += 1;
                self.wait(method, path, Duration::from_secs(u64::from(retries)))
                    .await
                    .map_err(|_| error.clone())?;
                continue;
            }
            return Err(error);
        }
    }

    async fn wait(&self, method: Method, path: &str, wanted: Duration) -> Result<(), PublishError> {
        let waited = Duration::from_millis(self.waited_ms.load(Ordering::Relaxed));
        if waited + wanted > self.max_wait {
            return Err(PublishError::RateLimited {
                method: method.as_str(),
                path: path.to_string(),
                waited,
                wanted,
                cap: self.max_wait,
            });
        }
        tokio::time::sleep(wanted).await;
        let ms = u64::try_from(wanted.as_millis()).unwrap_or(u64::MAX);
        self.waited_ms.fetch_add(ms, Ordering::Relaxed);
        Ok(())
    }

    async fn once(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, PublishError> {
        let transport = |e: octocrab::Error| PublishError::Transport {
            method: method.as_str(),
            path: path.to_string(),
            message: e.to_string(),
        };
        let request = async {
            let response = match method {
                Method::Get => self.crab._get(path).await,
                Method::Post => self.crab._post(path, body).await,
                Method::Patch => self.crab._patch(path, body).await,
            }
            .map_err(transport)?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = self
                .crab
                .body_to_string(response)
                .await
                .map_err(transport)?;
            Ok(Answer {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, request).await {
            Ok(result) => result,
            Err(_) => Err(PublishError::Timeout {
                method: method.as_str(),
                path: path.to_string(),
                after: self.timeout,
            }),
        }
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long GitHub asks us to wait, if this answer is a rate limit (429, or a
/// 403 that says so in its headers or message) rather than a refusal.
fn rate_limit_wait(answer: &Answer) -> Option<Duration> {
    if answer.status != 429 && answer.status != 403 {
        return None;
    }
    if let Some(secs) = header_u64(&answer.headers, "retry-after") {
        return Some(Duration::from_secs(secs.max(1)));
    }
    if header_u64(&answer.headers, "x-ratelimit-remaining") == Some(0) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let reset = header_u64(&answer.headers, "x-ratelimit-reset").unwrap_or(now);
        // One second more: the reset time is rounded down.
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    let secondary = answer.body.to_ascii_lowercase().contains("rate limit");
    (answer.status == 429 || secondary).then_some(UNSPECIFIED_RATE_LIMIT_WAIT)
}

fn classify(method: Method, path: &str, answer: Answer) -> PublishError {
    let message = serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| answer.body.chars().take(200).collect());
    if answer.status == 403 && method != Method::Get {
        return PublishError::ReadOnlyToken {
            status: answer.status,
            message,
        };
    }
    PublishError::Status {
        method: method.as_str(),
        path: path.to_string(),
        status: answer.status,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        Answer {
            status,
            headers: map,
            body: body.to_string(),
        }
    }

    #[test]
    fn rate_limits_are_told_apart_from_refusals() {
        assert_eq!(
            rate_limit_wait(&answer(429, &[("retry-after", "3")], "")),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            rate_limit_wait(&answer(429, &[], "")),
            Some(UNSPECIFIED_RATE_LIMIT_WAIT)
        );
        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 5;
        let primary = answer(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset.to_string()),
            ],
            r#"{"message":"API rate limit exceeded"}"#,
        );
        let wait = rate_limit_wait(&primary).unwrap();
        assert!(
            wait >= Duration::from_secs(5) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        let secondary = answer(
            403,
            &[],
            r#"{"message":"You have exceeded a secondary rate limit"}"#,
        );
        assert_eq!(
            rate_limit_wait(&secondary),
            Some(UNSPECIFIED_RATE_LIMIT_WAIT)
        );
        let refused = answer(
            403,
            &[("x-ratelimit-remaining", "4999")],
            r#"{"message":"Resource not accessible by integration"}"#,
        );
        assert_eq!(rate_limit_wait(&refused), None);
        assert_eq!(
            rate_limit_wait(&answer(500, &[("retry-after", "1")], "")),
            None
        );
    }

    #[test]
    fn a_refused_write_names_the_read_only_token() {
        let refused = answer(
            403,
            &[],
            r#"{"message":"Resource not accessible by integration"}"#,
        );
        let error = classify(Method::Post, "/repos/o/r/issues/1/comments", refused);
        assert_eq!(
            error.to_string().split(": this").next(),
            Some("GitHub refused the write (403 Resource not accessible by integration)")
        );
        assert!(error.to_string().contains("workflow_run"));
        let read = classify(
            Method::Get,
            "/user",
            answer(403, &[], r#"{"message":"nope"}"#),
        );
        assert!(matches!(read, PublishError::Status { status: 403, .. }));
    }

    #[test]
    fn the_next_link_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::LINK,
            r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next", <https://api.github.com/x?page=9>; rel="last""#
                .parse()
                .unwrap(),
        );
        let response = Response {
            headers,
            body: String::new(),
        };
        assert_eq!(
            response.next_link().as_deref(),
            Some("https://api.github.com/x?page=3")
        );
        let last = Response {
            headers: HeaderMap::new(),
            body: String::new(),
        };
        assert_eq!(last.next_link(), None);
    }
}
