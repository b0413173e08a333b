//! `publish` against the stateful fake: the sticky comment, its faults, and the check run.

use std::time::{Duration, Instant};

use receipt_policy::github::{
    Annotation, AnnotationLevel, CheckRun, Conclusion, Context, Posted, Publication, PublishError,
    comment_body, marker, publish, pull_request_for_sha, write_step_summary_to,
};

use crate::fake::{BOT, Fake, REPO};

const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

fn ctx(fake: &Fake) -> Context {
    Context {
        api_url: fake.server.uri(),
        token: Some("ghs_test".into()),
        repository: REPO.into(),
        comment_author: None,
        run_url: Some("https://github.com/octo/repo/actions/runs/42".into()),
        max_wait: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
    }
}

fn comment_only(pr: u64, markdown: &str) -> Publication {
    Publication {
        key: "bench".into(),
        pr_number: Some(pr),
        comment: Some(markdown.into()),
        check: None,
    }
}

fn check(annotations: usize) -> CheckRun {
    CheckRun {
        name: "receipt-action".into(),
        head_sha: HEAD.into(),
        conclusion: Conclusion::Failure,
        title: "1 receipt failed".into(),
        summary: "## Verdict: fail".into(),
        text: Some("details".into()),
        annotations: (0..annotations)
            .map(|i| Annotation {
                path: "docs/perf.md".into(),
                start_line: u32::try_from(i).unwrap() + 1,
                end_line: u32::try_from(i).unwrap() + 1,
                level: AnnotationLevel::Warning,
                title: "unbacked claim".into(),
                message: format!("claim {i} has no receipt"),
            })
            .collect(),
    }
}

fn created(outcome: &Posted) -> u64 {
    match outcome {
        Posted::Created(id) => *id,
        other => panic!("expected Created, got {other:?}"),
    }
}

#[test]
fn second_publish_updates_the_same_comment() {
    let fake = Fake::start();
    let ctx = ctx(&fake);
    let first = publish(&ctx, &comment_only(5, "verdict: fail"));
    let id = created(&first.comment);
    assert_eq!(
        first.check,
        Posted::Skipped("no check run requested".into())
    );
    let second = publish(&ctx, &comment_only(5, "verdict: pass"));
    assert_eq!(second.comment, Posted::Updated(id));
    let s = fake.state();
    assert_eq!(s.comments.len(), 1);
    assert_eq!(
        s.comments[0].body,
        comment_body("bench", "verdict: pass", None)
    );
    assert_eq!(s.count("POST "), 1);
    assert_eq!(
        s.count(&format!("PATCH /repos/octo/repo/issues/comments/{id}")),
        1
    );
}

#[test]
fn an_unchanged_report_makes_no_write() {
    let fake = Fake::start();
    let ctx = ctx(&fake);
    let id = created(&publish(&ctx, &comment_only(5, "same")).comment);
    let writes = fake.state().writes();
    assert_eq!(
        publish(&ctx, &comment_only(5, "same")).comment,
        Posted::Unchanged(id)
    );
    assert_eq!(fake.state().writes(), writes);
}

#[test]
fn another_users_comment_with_the_marker_is_left_alone() {
    let fake = Fake::start();
    let theirs_body = format!("{}\nI copied your marker", marker("bench"));
    let theirs = fake.seed_comment(5, "mallory", &theirs_body);
    let ours = created(&publish(&ctx(&fake), &comment_only(5, "report")).comment);
    assert_ne!(ours, theirs);
    let s = fake.state();
    assert_eq!(s.comments.len(), 2);
    let kept = s.comments.iter().find(|c| c.id == theirs).unwrap();
    assert_eq!(kept.body, theirs_body);
    assert_eq!(s.count("PATCH "), 0);
}

#[test]
fn comments_over_two_pages_are_searched() {
    let fake = Fake::start();
    for i in 0..119 {
        fake.seed_comment(5, "someone", &format!("comment {i}"));
    }
    let ours = fake.seed_comment(5, BOT, &comment_body("bench", "old report", None));
    let published = publish(&ctx(&fake), &comment_only(5, "new report"));
    assert_eq!(published.comment, Posted::Updated(ours));
    let s = fake.state();
    assert_eq!(s.comments.len(), 120);
    assert_eq!(s.count("POST "), 0);
    assert_eq!(
        s.count("GET /repos/octo/repo/issues/5/comments?per_page=100&page=2"),
        1
    );
    assert_eq!(
        s.count("GET /repos/octo/repo/issues/5/comments?per_page=100"),
        2
    );
}

#[test]
fn a_500_after_the_create_succeeded_makes_no_second_comment() {
    let fake = Fake::start();
    fake.state().fail_after_create = true;
    let published = publish(&ctx(&fake), &comment_only(5, "report"));
    let id = created(&published.comment);
    let s = fake.state();
    assert_eq!(s.comments.len(), 1);
    assert_eq!(s.comments[0].id, id);
    assert_eq!(s.count("POST "), 1, "{:?}", s.log);
}

#[test]
fn a_500_before_the_create_landed_creates_once_after_relisting() {
    let fake = Fake::start();
    fake.state().fail_before_create = true;
    let id = created(&publish(&ctx(&fake), &comment_only(5, "report")).comment);
    let s = fake.state();
    assert_eq!(s.comments.len(), 1);
    assert_eq!(s.comments[0].id, id);
    // list, create (500), list again, create.
    let kinds: Vec<&str> = s
        .log
        .iter()
        .map(|l| l.split_once('?').map_or(l.as_str(), |(p, _)| p))
        .collect();
    assert_eq!(
        kinds[1..],
        [
            "GET /repos/octo/repo/issues/5/comments",
            "POST /repos/octo/repo/issues/5/comments",
            "GET /repos/octo/repo/issues/5/comments",
            "POST /repos/octo/repo/issues/5/comments",
        ]
    );
}

#[test]
fn a_create_that_timed_out_but_landed_is_not_repeated() {
    let fake = Fake::start();
    fake.state().slow_create = Some(Duration::from_secs(3));
    let mut ctx = ctx(&fake);
    ctx.timeout = Duration::from_millis(500);
    let id = created(&publish(&ctx, &comment_only(5, "report")).comment);
    let s = fake.state();
    assert_eq!(s.comments.len(), 1);
    assert_eq!(s.comments[0].id, id);
    assert_eq!(s.count("POST "), 1);
}

#[test]
fn a_429_with_retry_after_is_waited_out() {
    let fake = Fake::start();
    fake.state().throttle = 1;
    let started = Instant::now();
    let published = publish(&ctx(&fake), &comment_only(5, "report"));
    created(&published.comment);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.state().comments.len(), 1);
}

#[test]
fn a_rate_limit_403_is_backed_off_not_reported_as_read_only() {
    let fake = Fake::start();
    fake.state().exhausted = 1;
    let published = publish(&ctx(&fake), &comment_only(5, "report"));
    created(&published.comment);
}

#[test]
fn a_wait_beyond_the_cap_gives_up_without_writing() {
    let fake = Fake::start();
    fake.state().throttle = 100;
    let mut ctx = ctx(&fake);
    ctx.max_wait = Duration::from_millis(500);
    let started = Instant::now();
    let published = publish(
        &ctx,
        &Publication {
            check: Some(check(1)),
            ..comment_only(5, "report")
        },
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    for outcome in [&published.comment, &published.check] {
        match outcome {
            Posted::Failed(e @ PublishError::RateLimited { .. }) => {
                assert!(e.to_string().contains("beyond the 0.5 s cap"), "{e}")
            }
            other => panic!("expected a rate-limit failure, got {other:?}"),
        }
    }
    assert_eq!(fake.state().comments.len(), 0);
}

#[test]
fn a_403_is_reported_and_the_summary_still_written() {
    let fake = Fake::start();
    fake.state().read_only = true;
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let publication = Publication {
        check: Some(check(3)),
        ..comment_only(5, "report")
    };
    // The caller's order: the summary first, then publishing.
    write_step_summary_to(&summary, "# Report\nverdict: fail\n").unwrap();
    let published = publish(&ctx(&fake), &publication);
    for outcome in [&published.comment, &published.check] {
        let Posted::Failed(e) = outcome else {
            panic!("expected a failure, got {outcome:?}")
        };
        assert!(
            e.to_string().starts_with(
                "GitHub refused the write (403 Resource not accessible by integration): this token is \
                 read-only, as on pull requests from forks; publish from a workflow_run job (docs/action.md)"
            ),
            "{e}"
        );
    }
    assert_eq!(published.errors().count(), 2);
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        "# Report\nverdict: fail\n"
    );
    assert!(fake.state().comments.is_empty() && fake.state().checks.is_empty());
}

#[test]
fn annotations_go_in_batches_of_50() {
    let fake = Fake::start();
    let published = publish(
        &ctx(&fake),
        &Publication {
            key: "bench".into(),
            pr_number: None,
            comment: None,
            check: Some(check(120)),
        },
    );
    let id = created(&published.check);
    assert_eq!(
        published.comment,
        Posted::Skipped("no comment requested".into())
    );
    let s = fake.state();
    assert_eq!(s.checks.len(), 1);
    let run = &s.checks[0];
    assert_eq!(run.id, id);
    assert_eq!(run.batches, [50, 50, 20]);
    assert_eq!(run.annotations.len(), 120);
    assert_eq!(run.annotations[119]["message"], "claim 119 has no receipt");
    assert_eq!(run.head_sha, HEAD);
    assert_eq!(run.conclusion, "failure");
    assert_eq!(run.title, "1 receipt failed");
    assert_eq!(
        s.count(&format!("PATCH /repos/octo/repo/check-runs/{id}")),
        2
    );
}

#[test]
fn the_author_is_the_tokens_user_when_it_can_be_read() {
    let fake = Fake::start();
    fake.state().user_login = Some("octo-pat".into());
    // A bot comment with the marker is someone else's when we publish as octo-pat.
    let bots = fake.seed_comment(5, BOT, &format!("{}\nbot report", marker("bench")));
    let ours = created(&publish(&ctx(&fake), &comment_only(5, "report")).comment);
    assert_ne!(ours, bots);
    assert_eq!(fake.state().count("GET /user"), 1);

    // A configured author skips GET /user.
    let fake = Fake::start();
    let mut ctx = ctx(&fake);
    ctx.comment_author = Some("release-bot".into());
    let theirs = fake.seed_comment(5, "release-bot", &format!("{}\nold", marker("bench")));
    assert_eq!(
        publish(&ctx, &comment_only(5, "new")).comment,
        Posted::Updated(theirs)
    );
    assert_eq!(fake.state().count("GET /user"), 0);
}

#[test]
fn an_app_token_run_twice_leaves_exactly_one_comment() {
    // An installation token: GET /user is 403 and comments are by receipt-app[bot],
    // a login the publisher is not told.
    let fake = Fake::start();
    fake.state().app_login = Some("receipt-app[bot]".into());
    // Another App's comment and github-actions' unsigned one, both with the marker,
    // are not ours either.
    let other = fake.seed_comment(5, "other-app[bot]", &format!("{}\nx", marker("bench")));
    let id = created(&publish(&ctx(&fake), &comment_only(5, "verdict: fail")).comment);
    assert_ne!(id, other);
    assert_eq!(
        publish(&ctx(&fake), &comment_only(5, "verdict: pass")).comment,
        Posted::Updated(id)
    );
    let s = fake.state();
    let ours: Vec<_> = s
        .comments
        .iter()
        .filter(|c| c.login == "receipt-app[bot]")
        .collect();
    assert_eq!(ours.len(), 1, "{:?}", s.comments);
    assert_eq!(ours[0].body, comment_body("bench", "verdict: pass", None));
    assert_eq!(s.comments.len(), 2);
    assert_eq!(s.count("POST "), 1);
    assert_eq!(s.count("GET /user"), 2);
}

#[test]
fn a_persons_comment_with_the_marker_and_signature_is_never_edited() {
    let fake = Fake::start();
    fake.state().app_login = Some("receipt-app[bot]".into());
    // A person pasted a whole report of ours, marker and signature included.
    let pasted = comment_body("bench", "verdict: pass (trust me)", None);
    let theirs = fake.seed_comment(5, "mallory", &pasted);
    let ours = created(&publish(&ctx(&fake), &comment_only(5, "verdict: fail")).comment);
    assert_ne!(ours, theirs);
    assert_eq!(
        publish(&ctx(&fake), &comment_only(5, "verdict: warn")).comment,
        Posted::Updated(ours)
    );
    let s = fake.state();
    assert_eq!(
        s.comments.iter().find(|c| c.id == theirs).unwrap().body,
        pasted
    );
    assert_eq!(
        s.count(&format!("PATCH /repos/octo/repo/issues/comments/{theirs}")),
        0
    );
    assert_eq!(s.comments.len(), 2);
}

#[test]
fn a_configured_app_author_is_matched_by_login_without_get_user() {
    let fake = Fake::start();
    fake.state().app_login = Some("receipt-app[bot]".into());
    let mut ctx = ctx(&fake);
    ctx.comment_author = Some("receipt-app[bot]".into());
    let id = created(&publish(&ctx, &comment_only(5, "one")).comment);
    assert_eq!(
        publish(&ctx, &comment_only(5, "two")).comment,
        Posted::Updated(id)
    );
    let s = fake.state();
    assert_eq!(s.comments.len(), 1);
    assert_eq!(s.count("GET /user"), 0);
}

#[test]
fn a_fork_result_finds_its_pull_request_from_the_head_sha() {
    let fake = Fake::start();
    fake.state().pulls = vec![(7, HEAD.into())];
    assert_eq!(pull_request_for_sha(&ctx(&fake), HEAD), Ok(Some(7)));
    assert_eq!(pull_request_for_sha(&ctx(&fake), &"b".repeat(40)), Ok(None));
    let publication = Publication {
        key: "bench".into(),
        pr_number: None,
        comment: Some("r".into()),
        check: Some(check(0)),
    };
    let published = publish(&ctx(&fake), &publication);
    created(&published.comment);
    created(&published.check);
    assert_eq!(fake.state().comments[0].pr, 7);
}

#[test]
fn without_a_token_nothing_is_sent() {
    let fake = Fake::start();
    let mut ctx = ctx(&fake);
    ctx.token = None;
    let published = publish(
        &ctx,
        &Publication {
            check: Some(check(1)),
            ..comment_only(5, "r")
        },
    );
    assert!(matches!(published.comment, Posted::Skipped(_)));
    assert!(matches!(published.check, Posted::Skipped(_)));
    assert!(fake.state().log.is_empty());
}

#[test]
fn a_body_over_the_limit_is_truncated_before_sending() {
    let fake = Fake::start();
    let huge = "x".repeat(100_000);
    created(&publish(&ctx(&fake), &comment_only(5, &huge)).comment);
    let s = fake.state();
    let body = &s.comments[0].body;
    assert!(body.chars().count() <= 65_536);
    assert!(body.contains("[the job summary](https://github.com/octo/repo/actions/runs/42)"));
}

#[test]
fn publish_inside_a_runtime_fails_instead_of_panicking() {
    let fake = Fake::start();
    let ctx = ctx(&fake);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let published = rt.block_on(async { publish(&ctx, &comment_only(5, "r")) });
    assert!(matches!(
        published.comment,
        Posted::Failed(PublishError::Setup(_))
    ));
    let published = rt.block_on(receipt_policy::github::publish_async(
        &ctx,
        &comment_only(5, "r"),
    ));
    created(&published.comment);
}
