//! Markdown for the PR comment and the job summary: the verdict first, then a
//! table of receipts, then what failed (expanded), then what passed (folded).
//! Output always fits the target's size limit; what does not fit is counted in
//! an honest "N more" line that says where the rest is.
//!
//! Every string from the report is data: it goes in through [`text`] (prose)
//! or [`code`] (names, paths, ids), so it makes no mention, link, image,
//! emphasis, HTML, heading or table break; links are ours, built by [`link`].

use super::model::{ClaimEntry, Report};
use crate::verdict::{Level, Status};
use std::fmt::Write;

/// GitHub's limit on a comment body is 65,536 characters; keep room for the
/// sticky marker the publisher puts on the first line.
pub const COMMENT_BUDGET: usize = 65_000;
/// The job summary takes up to 1 MiB per step.
pub const SUMMARY_BUDGET: usize = 1_000_000;

/// Where the markdown goes, which decides its size budget and where the
/// "N more" line points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Comment,
    Summary,
}

impl Target {
    fn budget(self) -> usize {
        match self {
            Target::Comment => COMMENT_BUDGET,
            Target::Summary => SUMMARY_BUDGET,
        }
    }

    fn elsewhere(self) -> &'static str {
        match self {
            Target::Comment => "the job summary and report.json",
            Target::Summary => "report.json (the run's artifact)",
        }
    }
}

/// Room kept for the closing lines (the "N more" notes, folds and footer).
const TAIL_RESERVE: usize = 2_000;

pub fn markdown(report: &Report, target: Target) -> String {
    let limit = target.budget().saturating_sub(TAIL_RESERVE);
    let mut out = String::with_capacity(8 * 1024);
    headline(&mut out, report);
    if let Some(c) = &report.comparison {
        comparison(&mut out, c);
    }

    if let Some(gate) = &report.release_gate {
        let _ = writeln!(out, "\n### Release gate: {}\n", text(&gate.status));
        out.push_str("| | Item | What was checked |\n|---|---|---|\n");
        for item in &gate.items {
            let mut cell = item
                .detail
                .iter()
                .map(|d| text(d))
                .collect::<Vec<_>>()
                .join("<br>");
            if let Some(fix) = &item.fix {
                let _ = write!(cell, "<br>Fix: {}", text(fix));
            }
            let icon = match item.status.as_str() {
                "pass" => "✅",
                "skip" => "➖",
                _ => "❌",
            };
            let _ = writeln!(out, "| {icon} | {} | {cell} |", text(&item.name));
        }
    }

    let failing: Vec<_> = report
        .receipts
        .iter()
        .filter(|r| r.status != Status::Pass)
        .collect();
    if !report.receipts.is_empty() {
        let _ = writeln!(out, "\n### Receipts\n");
        out.push_str(
            "| | Receipt | Envelope | Rate (tok/s) | Band (tok/s) | Roofline | Kernels |\n\
             |---|---|---|---|---|---|---|\n",
        );
        let shown = rows(&mut out, limit, &report.receipts, |out, r| {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                icon(r.status),
                code(&r.path),
                envelope_cell(r),
                rate_cell(r),
                r.rate.as_ref().map_or("–".into(), |x| format!(
                    "{}–{}{}",
                    num(x.band[0]),
                    num(x.band[1]),
                    if x.reference { " (reference)" } else { "" }
                )),
                roofline_cell(r),
                kernels_cell(&r.kernels),
            );
        });
        more(&mut out, report.receipts.len() - shown, "receipts", target);
    }

    if !failing.is_empty() {
        let _ = writeln!(out, "\n### Why receipts did not pass\n");
        let shown = rows(&mut out, limit, &failing, |out, r| {
            let _ = writeln!(out, "**{} {}** {}", icon(r.status), r.status, code(&r.path));
            if let Some(e) = &r.error {
                let _ = writeln!(out, "- {}", text(e));
            }
            for f in r.findings.iter().filter(|f| f.level != Level::Allow) {
                let place = if f.pointer.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", code(&f.pointer))
                };
                let _ = writeln!(
                    out,
                    "- {} ({}){place}: {}<br>Fix: {}",
                    code(&f.code),
                    f.level,
                    text(&f.message),
                    text(&f.fix)
                );
            }
            out.push('\n');
        });
        more(&mut out, failing.len() - shown, "failing receipts", target);
    }

    let (problems, fine): (Vec<&ClaimEntry>, Vec<&ClaimEntry>) =
        report.claims.iter().partition(|c| c.is_problem());
    if !problems.is_empty() {
        let _ = writeln!(out, "\n### Claims without a receipt that backs them\n");
        claim_table(&mut out, limit, &problems, report, target, true);
    }
    if !fine.is_empty() {
        let counts: Vec<String> = report
            .claim_counts()
            .iter()
            .filter(|(o, _)| matches!(*o, "backed" | "ignored"))
            .map(|(o, n)| format!("{n} {o}"))
            .collect();
        let _ = writeln!(
            out,
            "\n<details><summary>Claims that pass: {}</summary>\n",
            text(&counts.join(", "))
        );
        claim_table(&mut out, limit, &fine, report, target, false);
        out.push_str("\n</details>\n");
    }
    if report.receipts.is_empty() && report.claims.is_empty() {
        out.push_str("\nNo receipts were judged and no claims were found.\n");
    }
    for note in &report.notes {
        let _ = writeln!(out, "\n> {}", text(note));
    }
    footer(&mut out, report);
    out
}

fn headline(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "## {} Performance receipts: {}\n",
        icon(report.verdict),
        report.verdict
    );
    let mut parts = report.count_phrases(false);
    if parts.is_empty() {
        parts.push("nothing to judge".into());
    }
    let _ = write!(out, "**{}**", text(&parts.join(" · ")));
    if let Some(c) = &report.commit {
        let _ = write!(out, " · commit {}", code(short(&c.sha)));
    }
    if let Some(run) = &report.run {
        let _ = write!(
            out,
            " · {}",
            link(&text(&format!("run {}", run.run_id)), &run.url())
        );
    }
    out.push('\n');
}

/// The answer to "did this change make it slower?", right under the verdict,
/// with the pairs folded below it.
fn comparison(out: &mut String, c: &super::model::ComparisonEntry) {
    use crate::compare::Outcome;
    let mark = match c.outcome {
        Some(Outcome::Regression) => "📉",
        Some(Outcome::Improvement) => "📈",
        Some(Outcome::NoChange) => "➖",
        Some(Outcome::InsufficientEvidence) | None => "❔",
    };
    let _ = writeln!(
        out,
        "\n### {} {mark} Against the base {}\n\n{}",
        icon(c.status),
        code(&c.base),
        text(&c.message)
    );
    if c.pairs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n<details><summary>{} pairs, base and head interleaved (ABBA) · {:.0} s measuring, {:.0} s building · {:.0}% interval</summary>\n",
        c.pairs.len(),
        c.seconds,
        c.build_seconds,
        c.confidence * 100.0
    );
    out.push_str(
        "| Pair | Order | Base (tok/s) | Head (tok/s) | Head vs base |\n|---|---|---|---|---|\n",
    );
    for (i, p) in c.pairs.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:+.1}% |",
            i + 1,
            if p.head_first {
                "head, base"
            } else {
                "base, head"
            },
            num(p.base),
            num(p.head),
            (p.head / p.base - 1.0) * 100.0
        );
    }
    out.push_str("\n</details>\n");
}

fn footer(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "\n<sub>{} {} · policy {} (sha256 {}) · exit code {} · generated {}</sub>",
        text(&report.tool.name),
        text(&report.tool.version),
        code(&report.policy.path),
        code(short(&report.policy.sha256)),
        report.exit_code,
        text(&report.generated_at)
    );
}

/// Claims as a table, as many rows as the budget allows.
fn claim_table(
    out: &mut String,
    limit: usize,
    claims: &[&ClaimEntry],
    report: &Report,
    target: Target,
    with_fix: bool,
) {
    out.push_str("| | Where | Claim | Result | Why |\n|---|---|---|---|---|\n");
    let shown = rows(out, limit, claims, |out, c| {
        let mut why = text(&c.message);
        if with_fix && let Some(s) = &c.suggestion {
            let _ = write!(why, "<br>Fix: {}", text(s));
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {why} |",
            claim_icon(c.level),
            place_link(report, &c.path, c.line),
            code(&c.text),
            text(&c.outcome),
        );
    });
    more(out, claims.len() - shown, "claims", target);
}

/// Write rows until the next would pass `limit`; returns how many were written.
fn rows<T>(
    out: &mut String,
    limit: usize,
    items: &[T],
    mut row: impl FnMut(&mut String, &T),
) -> usize {
    let mut scratch = String::new();
    for (i, item) in items.iter().enumerate() {
        scratch.clear();
        row(&mut scratch, item);
        if out.len() + scratch.len() > limit {
            return i;
        }
        out.push_str(&scratch);
    }
    items.len()
}

fn more(out: &mut String, hidden: usize, what: &str, target: Target) {
    if hidden > 0 {
        let _ = writeln!(
            out,
            "\n… and {hidden} more {what} not shown here (size limit); every one is in {}.",
            target.elsewhere()
        );
    }
}

/// A link to the file and line at the judged commit, when the report knows where.
fn place_link(report: &Report, path: &str, line: u32) -> String {
    let label = format!("{}:{line}", text(path));
    match (&report.run, &report.commit) {
        (Some(run), Some(commit)) => link(
            &label,
            &format!(
                "{}/{}/blob/{}/{}#L{line}",
                run.server_url.trim_end_matches('/'),
                run.repository,
                url_path(&commit.sha),
                url_path(path)
            ),
        ),
        _ => label,
    }
}

/// `[label](url)` for a label already escaped; the label alone when the URL is
/// not http(s). Bytes that could end the destination (space, `(`, `)`, `<`,
/// `>`, `|`, backslash, quotes, non-ASCII) are percent-encoded.
fn link(label: &str, url: &str) -> String {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return label.to_string();
    }
    let mut dest = String::with_capacity(url.len());
    for b in url.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => dest.push(b as char),
            b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b'?' | b'#' | b'=' | b'&' | b'%' | b'+'
            | b',' | b';' | b'@' | b'!' | b'$' | b'*' => dest.push(b as char),
            _ => {
                let _ = write!(dest, "%{b:02X}");
            }
        }
    }
    format!("[{label}]({dest})")
}

fn envelope_cell(r: &super::model::ReceiptEntry) -> String {
    match &r.envelope {
        Some(e) => match &e.label {
            Some(label) => format!("{} **{}**", code(&e.id), text(label)),
            None => code(&e.id),
        },
        None => "none matched".into(),
    }
}

fn arrow(outcome: &str) -> &'static str {
    match outcome {
        "above" => " ▲ above",
        "below" => " ▼ below",
        "straddles" => " ◆ on an edge",
        _ => "",
    }
}

/// "min 0.5", "[0.5, 0.9]": an envelope's roofline_fraction bounds.
pub(crate) fn fraction_bounds(x: &super::model::RooflineEntry) -> String {
    match (x.min, x.max) {
        (Some(lo), Some(hi)) => format!("bounds [{}, {}]", num(lo), num(hi)),
        (Some(lo), None) => format!("min {}", num(lo)),
        (None, Some(hi)) => format!("max {}", num(hi)),
        (None, None) => "no bounds".into(),
    }
}

/// The judged fraction with its bounds, or the receipt's own fraction.
fn roofline_cell(r: &super::model::ReceiptEntry) -> String {
    match (&r.roofline, r.roofline_fraction) {
        (Some(x), _) => format!(
            "{:.0}% of {} tok/s ({}){}",
            x.value * 100.0,
            num(x.roofline_tokens_per_second),
            fraction_bounds(x),
            arrow(&x.outcome)
        ),
        (None, Some(f)) => format!("{:.0}%", f * 100.0),
        (None, None) => "–".into(),
    }
}

fn rate_cell(r: &super::model::ReceiptEntry) -> String {
    match (&r.rate, r.tokens_per_second) {
        (Some(x), _) => {
            // A reference band judges nothing: no arrow that reads as a failure.
            let arrow = if x.reference { "" } else { arrow(&x.outcome) };
            if x.samples > 1 {
                format!(
                    "{} ({}–{}, {} runs){arrow}",
                    num(x.value),
                    num(x.interval[0]),
                    num(x.interval[1]),
                    x.samples
                )
            } else {
                format!("{}{arrow}", num(x.value))
            }
        }
        (None, Some(t)) => num(t),
        (None, None) => "–".into(),
    }
}

/// The kernels that carry the work (matrix products, GPU kernels) first.
fn kernels_cell(kernels: &[String]) -> String {
    if kernels.is_empty() {
        return "–".into();
    }
    let heavy = |k: &str| {
        ["gemv", "gemm", "matmul", "cuda", "gpu", "lm_head"]
            .iter()
            .any(|p| k.contains(p))
    };
    let mut shown: Vec<&String> = kernels.iter().filter(|k| heavy(k)).take(3).collect();
    if shown.is_empty() {
        shown = kernels.iter().take(2).collect();
    }
    let mut cell = shown.iter().map(|k| code(k)).collect::<Vec<_>>().join(", ");
    if kernels.len() > shown.len() {
        let _ = write!(cell, " +{} more", kernels.len() - shown.len());
    }
    cell
}

fn icon(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅",
        Status::Warn => "⚠️",
        Status::Incomparable | Status::InsufficientEvidence => "❔",
        Status::Fail | Status::Error => "❌",
    }
}

fn claim_icon(level: Level) -> &'static str {
    match level {
        Level::Deny => "❌",
        Level::Warn => "⚠️",
        Level::Allow => "✅",
    }
}

pub(crate) fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return "∞".into();
    }
    let s = if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Breaks what GitHub links inside text (`@user`, `@org/team`, `#123`,
/// `http://`, `www.`) without a visible change; GitHub does not strip it.
const WORD_JOINER: char = '\u{2060}';

/// Prose that reads as it is, safe anywhere inline and inside a table cell:
/// markdown punctuation backslash-escaped, HTML and entities written as
/// entities, no line break, and no live mention, reference or autolink.
/// Control, bidi and zero-width characters are shown as `\u{…}` escapes.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '~' | '|' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '@' | '#' => {
                out.push(c);
                out.push(WORD_JOINER);
            }
            ':' if rest.starts_with("//") => {
                out.push(':');
                out.push(WORD_JOINER);
            }
            'w' | 'W' if rest.get(..3).is_some_and(|r| r.eq_ignore_ascii_case("ww.")) => {
                out.push_str(&s[s.len() - rest.len() - 1..][..3]);
                out.push(WORD_JOINER);
                rest = &rest[2..];
            }
            c => super::escape::push_char(&mut out, c),
        }
    }
    out
}

/// Inline code that survives backticks and pipes in its content. Nothing in a
/// code span is a link, mention or HTML; line breaks become spaces and
/// control, bidi and zero-width characters `\u{…}` escapes.
pub(crate) fn code(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\n' | '\r' => escaped.push(' '),
            '|' => escaped.push_str("\\|"),
            c => super::escape::push_char(&mut escaped, c),
        }
    }
    let s = escaped;
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A repository path for a URL: each segment percent-encoded.
pub(crate) fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x `y` z"), "``x `y` z``");
        assert_eq!(code("`y`"), "`` `y` ``");
    }

    #[test]
    fn cell_text_has_no_html_or_breaks() {
        assert_eq!(text("<b>a|b</b>\nc"), "&lt;b&gt;a\\|b&lt;/b&gt; c");
    }

    #[test]
    fn paths_are_percent_encoded_in_links() {
        assert_eq!(url_path("docs/my file#1.md"), "docs/my%20file%231.md");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(24.038257), "24.04");
        assert_eq!(num(8.5), "8.5");
        assert_eq!(num(1234.56), "1234.6");
        assert_eq!(num(23.0), "23");
    }
}
