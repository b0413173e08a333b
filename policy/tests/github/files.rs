//! `$GITHUB_STEP_SUMMARY` and `$GITHUB_OUTPUT`, written as the runner reads them.

use receipt_policy::github::{STEP_SUMMARY_LIMIT, write_outputs_to, write_step_summary_to};

#[test]
fn the_summary_is_appended_and_capped_at_1_mib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.md");
    write_step_summary_to(&path, "# first").unwrap();
    write_step_summary_to(&path, "# second\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# first\n# second\n"
    );

    let huge = "€".repeat(STEP_SUMMARY_LIMIT / 2);
    write_step_summary_to(&path, &huge).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.len() <= STEP_SUMMARY_LIMIT, "{}", written.len());
    assert!(written.len() > STEP_SUMMARY_LIMIT - 200);
    assert!(written.starts_with("# first\n# second\n€"));
    assert!(
        written
            .trim_end()
            .ends_with("the full report is in `report.json`."),
        "{}",
        &written[written.len() - 200..]
    );

    // A full file takes nothing more.
    write_step_summary_to(&path, "# more").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
}

#[test]
fn outputs_use_the_delimiter_form_for_multi_line_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("output");
    write_outputs_to(
        &path,
        &[
            ("verdict", "fail".to_string()),
            ("comment", "line 1\nline 2".to_string()),
        ],
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("verdict=fail"));
    let header = lines.next().unwrap();
    let delimiter = header.strip_prefix("comment<<").unwrap();
    assert!(delimiter.len() >= 16);
    assert_eq!(lines.next(), Some("line 1"));
    assert_eq!(lines.next(), Some("line 2"));
    assert_eq!(lines.next(), Some(delimiter));
    assert_eq!(lines.next(), None);
    assert!(write_outputs_to(&path, &[("bad name", "x".to_string())]).is_err());
    assert!(write_outputs_to(&path, &[("a=b", "x".to_string())]).is_err());
}
