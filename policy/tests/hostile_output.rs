//! Hostile strings in output, end to end: receipts, file names, docs and
//! reports whose strings carry workflow commands, terminal escapes, bidi
//! overrides, mentions, links, images, HTML and table breaks, run through every
//! command and output format. The log never gets a raw escape or a line that
//! runs a workflow command we did not write; markdown never gets a live
//! mention, link, image or HTML from data; JSON and SARIF keep the data exact,
//! with hidden characters as `\uXXXX` escapes.

mod common;

use serde_json::{Value, json};
use std::path::Path;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Everything at once: a newline and a CR that start workflow commands, the
/// older `##[` syntax, ANSI clear-screen, an OSC 8 hyperlink, C1 CSI, bidi
/// override and isolate, zero-width space, and markdown that mentions, links,
/// shows images, runs HTML, emphasises and breaks tables.
const PAYLOAD: &str = "x\n::error::injected\r::warning title=t::cr \u{1b}[2J\u{1b}]8;;http://evil\u{7}link\u{1b}]8;;\u{7} \u{9b}31m @octocat @org/team #12 [x](http://evil) ![i](http://evil/i.png) <img src=x> &amp; **bold** a|b `tick` ]brk[ \u{202e}desrever\u{202c} \u{2066}iso\u{2069} zero\u{200b}width ##[add-mask]secret www.evil.example";

/// The same for a file name: no `/`, no NUL.
const FILE_PAYLOAD: &str = "r\n::error::x\r::warning::y \u{1b}[2J\u{1b}]8;;evil\u{7} \u{9b}31m @octocat #12 [x](y) <img> **b** |\u{202e}nosj ##[add-mask]z";

/// The same within the report schema's 64-character fields.
const SHORT: &str = "b\n::error::x\r\u{1b}[2J\u{9b}1m @octocat #1 [x](y) <b> **b** |\u{202e}";

/// What the runner would run, or a terminal would obey, that we did not write.
fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Log text is safe: no raw control, bidi or zero-width character, and no line
/// that runs a workflow command except those starting with one of `ours`.
fn assert_log_safe(what: &str, out: &str, ours: &[&str]) {
    if let Some(c) = out.chars().find(|&c| hidden(c)) {
        panic!("{what}: raw {c:?} in\n{out}");
    }
    for line in out.lines() {
        let t = line.trim_start();
        let is_ours = ours.iter().any(|p| t.starts_with(p));
        assert!(
            is_ours || (!t.starts_with("::") && !line.contains("##[")),
            "{what}: a line runs a workflow command: {line}\n{out}"
        );
    }
}

/// The payload reached the output, escaped (so the test is not passing on an
/// output that simply left the value out).
fn assert_shown_escaped(what: &str, out: &str) {
    for shown in ["\\u{1b}[2J", "\\u{202e}", "\\u{9b}31m"] {
        assert!(out.contains(shown), "{what}: {shown} missing in\n{out}");
    }
}

fn recent() -> String {
    (OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&Rfc3339)
        .unwrap()
}

/// A receipt whose free-form strings carry the payload.
fn hostile_receipt() -> Value {
    json!({
        "schema_version": "1.1.0",
        "timestamp": recent(),
        "compute_path": PAYLOAD,
        "backend": PAYLOAD,
        "deterministic": true,
        "kernels": [PAYLOAD, "mock_gemv"],
        "environment": {"BITNET_SEED": "42"},
        "tokens_requested": 8,
        "tokens_generated": 8,
        "tokens_per_second": 20.0,
        "model": {"source": PAYLOAD, "preset": "2b-4t", "format": PAYLOAD},
        "build": {"engine": PAYLOAD, "engine_version": "0.1.0"},
        "host": {"os": "linux", "arch": "x86_64", "threads": 2, "simd": "avx2"},
        "run": {"seed": 42, "strict": true}
    })
}

/// A directory with the hostile receipt under a hostile file name.
fn receipts() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{FILE_PAYLOAD}.json");
    std::fs::write(
        dir.path().join(&name),
        serde_json::to_vec(&hostile_receipt()).unwrap(),
    )
    .unwrap();
    (dir, name)
}

#[test]
fn check_and_verify_text_escape_receipt_strings_and_file_names() {
    let (dir, name) = receipts();
    for cmd in ["check", "verify"] {
        let (code, out, err) = common::policy_check_in(dir.path(), &[cmd, &name]);
        assert!(code >= 1, "{cmd}: {out}{err}");
        assert_log_safe(cmd, &out, &[]);
        assert_log_safe(cmd, &err, &[]);
        assert!(
            out.contains("r\\n::error::x\\r::warning::y \\u{1b}[2J"),
            "{cmd}: the file name, escaped: {out}"
        );
        assert_shown_escaped(cmd, &out);
    }
}

#[test]
fn check_and_verify_json_keep_the_strings_exact() {
    let (dir, name) = receipts();
    for cmd in ["check", "verify"] {
        let (_, out, _) = common::policy_check_in(dir.path(), &[cmd, "--format", "json", &name]);
        assert!(
            !out.chars().any(hidden),
            "{cmd}: a raw hidden character in {out}"
        );
        let doc: Value = serde_json::from_str(&out).unwrap();
        let list = if cmd == "check" {
            "verdicts"
        } else {
            "receipts"
        };
        assert_eq!(
            doc[list][0]["path"],
            name.as_str(),
            "{cmd}: data kept exact"
        );
    }
}

/// A report.json whose every free-form string is the payload, consistent
/// (its verdict is what its findings make it).
fn hostile_report() -> Value {
    json!({
        "format": "receipt-action/report/2",
        "verdict": "fail",
        "exit_code": 1,
        "generated_at": "2026-11-26T12:00:00Z",
        "tool": {"name": "policy-check", "version": "0.1.0"},
        "policy": {"path": PAYLOAD, "sha256": "0".repeat(64)},
        "commit": {"sha": "a".repeat(40)},
        "run": {"server_url": "https://github.com", "repository": "octo/repo", "run_id": "77"},
        "receipts": [{
            "path": PAYLOAD,
            "status": "fail",
            "backend": SHORT,
            "tokens_per_second": 20.0,
            "envelope": {"id": SHORT, "status": "production", "label": SHORT},
            "kernels": [PAYLOAD, "i2s_gemv_avx2"],
            "findings": [{
                "code": "mock-kernel",
                "level": "deny",
                "source": "gate",
                "place": {"file": PAYLOAD, "pointer": PAYLOAD},
                "message": PAYLOAD,
                "fix": PAYLOAD
            }],
            "error": PAYLOAD
        }],
        "claims": [{
            "path": PAYLOAD,
            "line": 3,
            "column": 1,
            "text": PAYLOAD,
            "outcome": "unbacked",
            "level": "deny",
            "message": PAYLOAD,
            "suggestion": PAYLOAD
        }],
        "notes": [PAYLOAD],
        "release_gate": {
            "status": "fail",
            "items": [{"name": SHORT, "status": "fail", "detail": [PAYLOAD], "fix": PAYLOAD}]
        },
        "comparison": {
            "status": "incomparable",
            "base": PAYLOAD,
            "confidence": 0.95,
            "max_drop": 0.05,
            "pairs": [],
            "seconds": 0.0,
            "build_seconds": 0.0,
            "message": PAYLOAD
        }
    })
}

fn write_report(dir: &Path) {
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_vec_pretty(&hostile_report()).unwrap(),
    )
    .unwrap();
}

fn report(dir: &Path, format: &str) -> String {
    let (code, out, err) = common::policy_check_in(
        dir,
        &["report", "--report", "report.json", "--format", format],
    );
    // Judged again from the artifact, whose hostile receipt path names no file:
    // an error (exit 2), its strings still rendered.
    assert_eq!(code, 2, "{format}: {err}");
    out
}

#[test]
fn report_text_escapes_every_string() {
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path());
    let out = report(dir.path(), "text");
    assert_log_safe("report text", &out, &[]);
    assert_shown_escaped("report text", &out);
}

#[test]
fn report_annotations_are_only_our_commands_one_per_line() {
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path());
    let out = report(dir.path(), "annotations");
    assert_log_safe("annotations", &out, &["::error ", "::warning "]);
    // A claim and the receipt the artifact does not carry (judged again, its
    // written-in findings are gone): two commands, two lines, the file names and
    // the claim's message escaped in each.
    assert_eq!(out.lines().count(), 2, "{out}");
    for line in out.lines() {
        assert!(line.starts_with("::error file=x%0A%3A%3Aerror"), "{line}");
    }
    assert!(
        out.lines()
            .any(|l| l
                .contains("title=unbacked performance claim::x%0A::error::injected%0D::warning")),
        "{out}"
    );
}

#[test]
fn report_sarif_and_json_keep_the_data_exact_and_escaped_as_json() {
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path());
    let sarif = report(dir.path(), "sarif");
    assert!(!sarif.chars().any(hidden), "{sarif}");
    let doc: Value = serde_json::from_str(&sarif).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["message"]["text"].as_str().unwrap().starts_with(PAYLOAD)),
        "the message is the data itself, JSON-escaped: {sarif}"
    );
    let json = report(dir.path(), "json");
    assert!(!json.chars().any(hidden), "{json}");
    let back: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["receipts"][0]["path"], PAYLOAD);
}

/// No mention, issue reference, URL or www. autolink in a run of text.
fn assert_inert(t: &str) {
    for (i, w) in t.as_bytes().windows(2).enumerate() {
        assert!(
            !((w[0] == b'@' || w[0] == b'#') && w[1].is_ascii_alphanumeric()),
            "live mention or reference at {:?}",
            &t[i..]
        );
    }
    let lower = t.to_ascii_lowercase();
    assert!(
        !lower.contains("://") && !lower.contains("www."),
        "autolink in {t:?}"
    );
}

/// Markdown is safe: every text node is free of mentions, references and
/// autolinks; no HTML but ours, no image, links only to the run and the lines;
/// every table row has its header's number of cells.
fn assert_markdown_safe(md: &str) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    if let Some(c) = md.chars().find(|&c| hidden(c)) {
        panic!("raw {c:?} in\n{md}");
    }
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut text = String::new();
    // GitHub links mentions and URLs in a run of text, which the parser may
    // hand over in pieces: each run is checked whole.
    let mut run = String::new();
    let (mut cells, mut widths) = (0, Vec::new());
    for e in Parser::new_ext(md, options) {
        if !matches!(e, Event::Text(_)) {
            assert_inert(&std::mem::take(&mut run));
        }
        match e {
            Event::Text(t) => {
                run.push_str(&t);
                text.push_str(&t);
            }
            Event::Html(h) | Event::InlineHtml(h) => {
                let h = h.trim();
                assert!(
                    [
                        "<details>",
                        "</details>",
                        "<summary>",
                        "</summary>",
                        "<br>",
                        "<sub>",
                        "</sub>"
                    ]
                    .iter()
                    .any(|ours| h.starts_with(ours)),
                    "HTML from data: {h}"
                );
            }
            Event::Start(Tag::Image { .. }) => panic!("an image in\n{md}"),
            Event::Start(Tag::Link { dest_url, .. }) => assert!(
                dest_url.starts_with("https://github.com/octo/repo/"),
                "a link to {dest_url}"
            ),
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                widths.push(std::mem::take(&mut cells))
            }
            Event::End(TagEnd::Table) => {
                assert!(
                    widths.windows(2).all(|w| w[0] == w[1]),
                    "a row broke its table: {widths:?}\n{md}"
                );
                widths.clear();
            }
            _ => {}
        }
    }
    // The reader sees the markup as text: the value reached the output, inert.
    let seen = text.replace('\u{2060}', "");
    for inert in [
        "[x](http://evil)",
        "![i](http://evil/i.png)",
        "<img src=x>",
        "**bold**",
        "@octocat",
    ] {
        assert!(seen.contains(inert), "{inert} not shown as text in\n{md}");
    }
}

#[test]
fn report_markdown_makes_no_mention_link_image_or_html_from_data() {
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path());
    for target in ["comment", "summary"] {
        let (code, md, err) = common::policy_check_in(
            dir.path(),
            &[
                "report",
                "--report",
                "report.json",
                "--format",
                "markdown",
                "--target",
                target,
            ],
        );
        assert_eq!(code, 2, "{err}"); // the artifact lacks its receipt: an error
        assert_markdown_safe(&md);
    }
}

/// A doc under a hostile file name with one unbacked claim and one citing a
/// hostile receipt path.
fn claims_repo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{FILE_PAYLOAD}.md");
    std::fs::write(
        dir.path().join(&name),
        "# Speed\n\nIt decodes at 15 tok/s.\n\nAnd 16 tok/s <!-- receipt: @octocat/[x](y).json -->.\n",
    )
    .unwrap();
    (dir, name)
}

#[test]
fn claims_text_and_markdown_escape_doc_names() {
    let (dir, name) = claims_repo();
    let (code, out, err) = common::policy_check_in(
        dir.path(),
        &["claims", "--filter", "all", "--include", "*.md", &name],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert_log_safe("claims text", &out, &[]);
    assert_log_safe("claims text", &err, &[]);
    assert!(
        out.contains("r\\n::error::x\\r::warning::y \\u{1b}[2J"),
        "{out}"
    );

    let (_, json, _) = common::policy_check_in(
        dir.path(),
        &[
            "claims",
            "--filter",
            "all",
            "--include",
            "*.md",
            "--format",
            "json",
            &name,
        ],
    );
    assert!(!json.chars().any(hidden), "{json}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["claims"][0]["path"], name.as_str(), "{json}");

    let (code, md, err) = common::policy_check_in(
        dir.path(),
        &[
            "claims",
            "--filter",
            "all",
            "--include",
            "*.md",
            "--format",
            "markdown",
            &name,
        ],
    );
    assert_eq!(code, 1, "{md}{err}");
    if let Some(c) = md.chars().find(|&c| hidden(c)) {
        panic!("raw {c:?} in\n{md}");
    }
    let mut options = pulldown_cmark::Options::empty();
    options.insert(pulldown_cmark::Options::ENABLE_TABLES);
    for e in pulldown_cmark::Parser::new_ext(&md, options) {
        if let pulldown_cmark::Event::Text(t) = &e {
            assert_inert(t);
        }
        assert!(
            !matches!(
                e,
                pulldown_cmark::Event::Html(_)
                    | pulldown_cmark::Event::InlineHtml(_)
                    | pulldown_cmark::Event::Start(pulldown_cmark::Tag::Link { .. })
            ),
            "{e:?} in\n{md}"
        );
    }
}

#[cfg(feature = "github")]
#[allow(dead_code)]
#[path = "github/fake.rs"]
mod fake;

/// `policy-check publish` on GitHub (GITHUB_ACTIONS=true) with a fork's hostile
/// artifact: the report's text is fenced by `::stop-commands::<token>`, our
/// annotations come after the fence, and the comment has no live mention.
#[cfg(feature = "github")]
#[test]
fn publish_fences_the_artifacts_text_and_annotates_after_the_fence() {
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path());
    let head = "a".repeat(40);
    let event = json!({
        "workflow_run": {
            "head_sha": head,
            "event": "pull_request",
            "head_repository": {"full_name": "someone/fork"},
            "repository": {"full_name": fake::REPO}
        },
        "repository": {"full_name": fake::REPO}
    });
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let fake = fake::Fake::start();
    fake.state().pulls.push((9, head.clone()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_policy-check"))
        .args(["publish", "--report", "report.json"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "workflow_run")
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_API_URL", fake.server.uri())
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", fake::REPO)
        .env("GITHUB_RUN_ID", "78")
        .env("GITHUB_TOKEN", "test-token")
        .env("GITHUB_STEP_SUMMARY", dir.path().join("summary.md"))
        .env("GITHUB_OUTPUT", dir.path().join("outputs.txt"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    // The artifact's receipt is not in it: judged again, an error (exit 2).
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");

    let lines: Vec<&str> = stdout.lines().collect();
    let token = lines[0]
        .strip_prefix("::stop-commands::")
        .unwrap_or_else(|| panic!("the log opens with the fence:\n{stdout}"));
    assert!(token.len() >= 32, "{token}");
    let end = lines
        .iter()
        .position(|l| *l == format!("::{token}::"))
        .expect("the fence is closed");
    let fenced = lines[1..end].join("\n");
    assert!(
        fenced.contains("x\\n::error::injected"),
        "the report's text: {fenced}"
    );
    assert_log_safe("fenced text", &fenced, &[]);
    let after = lines[end + 1..].join("\n");
    assert_log_safe(
        "after the fence",
        &after,
        &["::error file=", "::warning file="],
    );
    assert!(
        after.starts_with("::error file="),
        "annotations after the fence: {after}"
    );
    assert_log_safe("stderr", &stderr, &[]);

    // The first line is the job's marker and the last the action's signature:
    // both ours; everything between is checked.
    let comment = fake.state().comments[0].body.clone();
    let body = comment
        .split_once('\n')
        .map_or(comment.as_str(), |(_, rest)| rest);
    let body = body
        .trim_end()
        .strip_suffix("<!-- written by receipt-action -->")
        .expect("the comment ends with the action's signature");
    assert_markdown_safe(body);
    assert_markdown_safe(&std::fs::read_to_string(dir.path().join("summary.md")).unwrap());
}
