//! A stateful in-process GitHub: one wiremock server whose single responder
//! routes the endpoints the publisher uses and keeps comments and check runs in
//! memory, with switches for the faults the tests inject.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

pub const REPO: &str = "octo/repo";
pub const BOT: &str = "github-actions[bot]";

#[derive(Debug, Clone)]
pub struct StoredComment {
    pub id: u64,
    pub pr: u64,
    pub login: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct StoredCheck {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub conclusion: String,
    pub title: String,
    pub annotations: Vec<Value>,
    /// Annotations per request: the create first, then each update.
    pub batches: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct State {
    pub uri: String,
    pub comments: Vec<StoredComment>,
    pub checks: Vec<StoredCheck>,
    pub next_id: u64,
    /// `METHOD path?query` of every request, in order.
    pub log: Vec<String>,
    /// The login GET /user answers with; `None` answers 403 as GITHUB_TOKEN does.
    pub user_login: Option<String>,
    /// A GitHub App's installation token: GET /user answers 403 and comments are
    /// created as this login (`<app>[bot]`), not as github-actions[bot].
    pub app_login: Option<String>,
    /// Open PRs by head sha, for GET /commits/{sha}/pulls.
    pub pulls: Vec<(u64, String)>,
    /// The next comment create is stored, then answered with a 500.
    pub fail_after_create: bool,
    /// The next comment create is answered with a 500 and not stored.
    pub fail_before_create: bool,
    /// The next comment create is stored and answered after this delay.
    pub slow_create: Option<Duration>,
    /// The next this-many requests get 429 with `retry-after: 1`.
    pub throttle: u32,
    /// The next this-many requests get a primary rate-limit 403 that resets in a second.
    pub exhausted: u32,
    /// Every write gets 403 "Resource not accessible by integration" (a fork's token).
    pub read_only: bool,
}

impl State {
    pub fn writes(&self) -> usize {
        self.log.iter().filter(|l| !l.starts_with("GET ")).count()
    }

    pub fn count(&self, prefix: &str) -> usize {
        self.log.iter().filter(|l| l.starts_with(prefix)).count()
    }
}

pub struct Fake {
    pub server: MockServer,
    pub state: Arc<Mutex<State>>,
    // Keeps the runtime the server was started from alive; the server itself
    // runs on its own thread, so blocking `publish` calls can reach it.
    _rt: tokio::runtime::Runtime,
}

impl Fake {
    pub fn start() -> Fake {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            ..State::default()
        }));
        let server = rt.block_on(async {
            let server = MockServer::start().await;
            Mock::given(any())
                .respond_with(Api(state.clone()))
                .mount(&server)
                .await;
            server
        });
        state.lock().unwrap().uri = server.uri();
        Fake {
            server,
            state,
            _rt: rt,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn seed_comment(&self, pr: u64, login: &str, body: &str) -> u64 {
        let mut s = self.state();
        s.next_id += 1;
        let id = s.next_id;
        s.comments.push(StoredComment {
            id,
            pr,
            login: login.into(),
            body: body.into(),
        });
        id
    }
}

struct Api(Arc<Mutex<State>>);

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "message": message }))
}

fn comment_json(uri: &str, c: &StoredComment) -> Value {
    json!({
        "id": c.id,
        "body": c.body,
        // GitHub's bot accounts, and only they, have logins ending in [bot].
        "user": {
            "login": c.login,
            "id": 1,
            "type": if c.login.ends_with("[bot]") { "Bot" } else { "User" },
        },
        "html_url": format!("{uri}/octo/repo/pull/{}#issuecomment-{}", c.pr, c.id),
    })
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Respond for Api {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let method = request.method.as_str().to_string();
        let path = request.url.path().to_string();
        let line = match request.url.query() {
            Some(q) => format!("{method} {path}?{q}"),
            None => format!("{method} {path}"),
        };
        s.log.push(line);
        let authorized = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer "));
        if !authorized {
            return error(401, "Requires authentication");
        }
        if s.throttle > 0 {
            s.throttle -= 1;
            return error(429, "Too many requests").insert_header("retry-after", "1");
        }
        if s.exhausted > 0 {
            s.exhausted -= 1;
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 1;
            return error(403, "API rate limit exceeded")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str());
        }
        if s.read_only && method != "GET" {
            return error(403, "Resource not accessible by integration");
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["user"]) => match &s.user_login {
                Some(login) => {
                    ResponseTemplate::new(200).set_body_json(json!({ "login": login, "id": 7 }))
                }
                None => error(403, "Resource not accessible by integration"),
            },
            ("GET", ["repos", "octo", "repo", "issues", pr, "comments"]) => {
                let pr: u64 = pr.parse().unwrap_or(0);
                let per_page: usize = query(request, "per_page")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(30);
                let page: usize = query(request, "page")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                let all: Vec<&StoredComment> = s.comments.iter().filter(|c| c.pr == pr).collect();
                let start = (page - 1) * per_page;
                let items: Vec<Value> = all
                    .iter()
                    .skip(start)
                    .take(per_page)
                    .map(|c| comment_json(&s.uri, c))
                    .collect();
                let mut response = ResponseTemplate::new(200).set_body_json(items);
                if start + per_page < all.len() {
                    let next = format!(
                        "<{}/repos/octo/repo/issues/{pr}/comments?per_page={per_page}&page={}>; rel=\"next\"",
                        s.uri,
                        page + 1
                    );
                    response = response.insert_header("link", next.as_str());
                }
                response
            }
            ("POST", ["repos", "octo", "repo", "issues", pr, "comments"]) => {
                let Some(text) = body.get("body").and_then(Value::as_str) else {
                    return error(422, "body is missing");
                };
                if text.chars().count() > 65_536 {
                    return error(422, "Body is too long (maximum is 65536 characters)");
                }
                if std::mem::take(&mut s.fail_before_create) {
                    return error(500, "Internal Server Error");
                }
                s.next_id += 1;
                let c = StoredComment {
                    id: s.next_id,
                    pr: pr.parse().unwrap_or(0),
                    login: s
                        .app_login
                        .clone()
                        .or_else(|| s.user_login.clone())
                        .unwrap_or_else(|| BOT.into()),
                    body: text.into(),
                };
                let answer = comment_json(&s.uri, &c);
                s.comments.push(c);
                if std::mem::take(&mut s.fail_after_create) {
                    return error(500, "Internal Server Error");
                }
                let response = ResponseTemplate::new(201).set_body_json(answer);
                match s.slow_create.take() {
                    Some(delay) => response.set_delay(delay),
                    None => response,
                }
            }
            ("PATCH", ["repos", "octo", "repo", "issues", "comments", id]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let Some(text) = body.get("body").and_then(Value::as_str).map(str::to_string)
                else {
                    return error(422, "body is missing");
                };
                let uri = s.uri.clone();
                match s.comments.iter_mut().find(|c| c.id == id) {
                    Some(c) => {
                        c.body = text;
                        ResponseTemplate::new(200).set_body_json(comment_json(&uri, c))
                    }
                    None => error(404, "Not Found"),
                }
            }
            ("POST", ["repos", "octo", "repo", "check-runs"]) => {
                let annotations = body
                    .pointer("/output/annotations")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if annotations.len() > 50 {
                    return error(422, "Only 50 annotations are allowed per request");
                }
                let (Some(name), Some(head_sha)) =
                    (body["name"].as_str(), body["head_sha"].as_str())
                else {
                    return error(422, "name and head_sha are required");
                };
                s.next_id += 1;
                let check = StoredCheck {
                    id: s.next_id,
                    name: name.into(),
                    head_sha: head_sha.into(),
                    conclusion: body["conclusion"].as_str().unwrap_or_default().into(),
                    title: body
                        .pointer("/output/title")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    batches: vec![annotations.len()],
                    annotations,
                };
                let answer =
                    json!({ "id": check.id, "head_sha": check.head_sha, "name": check.name });
                s.checks.push(check);
                ResponseTemplate::new(201).set_body_json(answer)
            }
            ("PATCH", ["repos", "octo", "repo", "check-runs", id]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let annotations = body
                    .pointer("/output/annotations")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if annotations.len() > 50 {
                    return error(422, "Only 50 annotations are allowed per request");
                }
                match s.checks.iter_mut().find(|c| c.id == id) {
                    Some(c) => {
                        c.batches.push(annotations.len());
                        c.annotations.extend(annotations);
                        ResponseTemplate::new(200).set_body_json(json!({ "id": c.id }))
                    }
                    None => error(404, "Not Found"),
                }
            }
            ("GET", ["repos", "octo", "repo", "commits", sha, "pulls"]) => {
                let pulls: Vec<Value> = s
                    .pulls
                    .iter()
                    .filter(|(_, head)| head == sha)
                    .map(|(n, head)| json!({ "number": n, "state": "open", "head": { "sha": head } }))
                    .collect();
                ResponseTemplate::new(200).set_body_json(pulls)
            }
            _ => error(404, "Not Found"),
        }
    }
}
