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
                let place = match &f.place.pointer {
                    Some(p) if !p.is_empty() => format!(" at {}", code(p)),
                    _ => String::new(),
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
    use crate::compare::Change;
    let mark = match c.outcome {
        Some(Change::Regression) => "📉",
        Some(Change::Improvement) => "📈",
        Some(Change::NoChange) => "➖",
        Some(Change::InsufficientEvidence) | None => "❔",
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
    let label = format!(
        "{}:{line}",
        text(path).replace('(', "\\(").replace(')', "\\)")
    );
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
/// markdown punctuation that could open emphasis, code, a link, strikethrough,
/// math or a table cell backslash-escaped, HTML and entities written as
/// entities, no line break, and no live mention, reference or autolink.
/// Control, bidi and zero-width characters are shown as `\u{…}` escapes.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    let mut prev = None;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' => out.push(' '),
            // `_` between letters or digits never emphasises: left as it is,
            // so names like tokens_per_second read plainly in the source too.
            '_' if prev.is_some_and(char::is_alphanumeric)
                && rest.chars().next().is_some_and(char::is_alphanumeric) =>
            {
                out.push('_')
            }
            // With `[` and `]` escaped, `(`, `)` and `!` make no link or image.
            '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '|' | '$' => {
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
        prev = Some(c);
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
    fn underscores_are_escaped_only_where_they_could_emphasise() {
        assert_eq!(
            text("tokens_per_second _em_ a_ _b __x__ (confirm_runs)"),
            "tokens_per_second \\_em\\_ a\\_ \\_b \\_\\_x\\_\\_ (confirm_runs)"
        );
    }

    /// Strings a receipt, doc or file name could carry to make the comment do
    /// something: mentions, references, links, images, HTML, emphasis,
    /// headings, table breaks, terminal escapes, bidi overrides.
    pub(crate) const HOSTILE: &[&str] = &[
        "ok\n::error::x",
        "\x1b]8;;http://evil\x07click\x1b]8;;\x07",
        "\x1b[2J",
        "@octocat",
        "cc @org/team and @octocat.",
        "fixes #12 and octo/demo#3",
        "[x](http://evil)",
        "![i](http://evil/i.png)",
        "<img src=x onerror=alert(1)>",
        "&lt;b&gt; &#64;octocat",
        "**bold** __bold__ *em* _em_ ~~gone~~",
        "a | b || c",
        "`code` ``x``",
        "docs/we]ird[na(me).md",
        "<http://evil> https://evil.example/x www.evil.example WWW.EVIL.EXAMPLE",
        "mail me@evil.example",
        "# heading\n## heading\n- item\n> quote\n---",
        "mock\u{202e}lenrek \u{2066}x\u{2069} zero\u{200b}width",
        "$x^2$ and \\| escaped pipe",
        "[^1] footnote <!-- comment -->",
    ];

    /// Every inline event pulldown-cmark sees in `md` (GFM tables on).
    fn events(md: &str) -> Vec<pulldown_cmark::Event<'_>> {
        let mut options = pulldown_cmark::Options::empty();
        options.insert(pulldown_cmark::Options::ENABLE_TABLES);
        options.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
        options.insert(pulldown_cmark::Options::ENABLE_FOOTNOTES);
        options.insert(pulldown_cmark::Options::ENABLE_MATH);
        pulldown_cmark::Parser::new_ext(md, options).collect()
    }

    /// What GitHub would link or notify from text: a mention, an issue
    /// reference, a bare URL, a www. link, an email.
    pub(crate) fn live_on_github(md: &str) -> Option<String> {
        let bytes = md.as_bytes();
        for (i, w) in bytes.windows(2).enumerate() {
            if (w[0] == b'@' || w[0] == b'#') && w[1].is_ascii_alphanumeric() {
                return Some(md[i..].chars().take(20).collect());
            }
        }
        let lower = md.to_ascii_lowercase();
        ["://", "www."]
            .iter()
            .find(|p| lower.contains(*p))
            .map(|p| format!("{p} in {md}"))
    }

    #[test]
    fn hostile_text_renders_as_plain_text_only() {
        use pulldown_cmark::{Event, Tag, TagEnd};
        for s in HOSTILE {
            let md = format!("Why: {}", text(s));
            assert!(!md.contains('\n') && !md.contains('\x1b'), "{md}");
            assert_eq!(live_on_github(&md), None, "{s:?} → {md}");
            for e in events(&md) {
                assert!(
                    matches!(
                        e,
                        Event::Text(_)
                            | Event::Start(Tag::Paragraph)
                            | Event::End(TagEnd::Paragraph)
                    ),
                    "{s:?} → {md} gave {e:?}"
                );
            }
            let shown: String = events(&md)
                .into_iter()
                .filter_map(|e| match e {
                    Event::Text(t) => Some(t.into_string()),
                    _ => None,
                })
                .collect::<String>()
                .replace(WORD_JOINER, "");
            // The reader sees the value (line breaks as spaces, hidden
            // characters as escapes), not its markup.
            let expected = super::super::escape::plain(&s.replace(['\n', '\r'], " "))
                .replace("\\u{3a}", ":")
                .replace("##\\u{5b}", "##[");
            assert_eq!(shown, format!("Why: {expected}"), "{s:?}");
        }
    }

    #[test]
    fn hostile_code_is_one_code_span() {
        use pulldown_cmark::Event;
        for s in HOSTILE {
            let md = format!("x {} y", code(s));
            assert!(!md.contains('\n') && !md.contains('\x1b'), "{md}");
            let spans = events(&md)
                .into_iter()
                .filter(|e| !matches!(e, Event::Start(_) | Event::End(_) | Event::Text(_)))
                .collect::<Vec<_>>();
            assert!(
                matches!(spans.as_slice(), [Event::Code(_)]),
                "{s:?} → {md} gave {spans:?}"
            );
        }
    }

    #[test]
    fn hostile_cells_keep_the_table_whole() {
        use pulldown_cmark::{Event, Tag};
        for s in HOSTILE {
            let md = format!(
                "| a | b | c |\n|---|---|---|\n| {} | {} | {} |\n",
                text(s),
                code(s),
                place_link(&linked(), s, 3)
            );
            let cells = events(&md)
                .iter()
                .filter(|e| matches!(e, Event::Start(Tag::TableCell)))
                .count();
            assert_eq!(cells, 6, "{s:?} broke the table:\n{md}");
            for e in events(&md) {
                assert!(
                    !matches!(
                        e,
                        Event::Html(_)
                            | Event::InlineHtml(_)
                            | Event::Start(Tag::Image { .. })
                            | Event::Start(Tag::Emphasis)
                            | Event::Start(Tag::Strong)
                            | Event::Start(Tag::Heading { .. })
                    ),
                    "{s:?} → {md} gave {e:?}"
                );
            }
        }
    }

    /// A report that knows its run and commit, so claims link to their lines.
    fn linked() -> Report {
        let mut r = Report::new(
            &[],
            &[],
            &crate::config::Origin {
                path: "ci/p.toml".into(),
                sha256: "0".repeat(64),
                defaults_sha256: None,
            },
            "2026-01-01T00:00:00Z".into(),
        );
        r.commit = Some(super::super::model::Commit {
            sha: "a".repeat(40),
            base: None,
            pull_request: None,
        });
        r.run = Some(super::super::model::RunRef {
            server_url: "https://github.com".into(),
            repository: "octo/demo".into(),
            run_id: "1".into(),
            run_attempt: None,
            event: None,
            job: None,
        });
        r
    }

    #[test]
    fn place_links_escape_their_label_and_encode_their_path() {
        let md = place_link(&linked(), "docs/a](http://evil) [b.md", 7);
        assert_eq!(
            md,
            format!(
                "[docs/a\\]\\(http:{WORD_JOINER}//evil\\) \\[b.md:7](https://github.com/octo/demo/blob/{}/docs/a%5D%28http%3A//evil%29%20%5Bb.md#L7)",
                "a".repeat(40)
            )
        );
        let links: Vec<_> = events(&md)
            .into_iter()
            .filter_map(|e| match e {
                pulldown_cmark::Event::Start(pulldown_cmark::Tag::Link { dest_url, .. }) => {
                    Some(dest_url.into_string())
                }
                _ => None,
            })
            .collect();
        assert_eq!(links.len(), 1, "{md}");
        assert!(links[0].starts_with("https://github.com/octo/demo/blob/"));
        // A server URL from a report that is not http(s) gives no link.
        let mut r = linked();
        r.run.as_mut().unwrap().server_url = "javascript:alert(1)//".into();
        assert_eq!(place_link(&r, "a.md", 1), "a.md:1");
        r.run.as_mut().unwrap().server_url = "https://x.example/a) [y](z".into();
        assert!(
            place_link(&r, "a.md", 1)
                .starts_with("[a.md:1](https://x.example/a%29%20%5By%5D%28z/octo/demo/")
        );
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
