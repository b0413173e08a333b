//! Numbers in table cells, read with what says what they measure (docs/claims.md,
//! "Tables"): a column's quantity and unit come from its header, else from a
//! label row inside the table (`|2nd run ||**TGI v3** (time in s)|`), else from
//! the row's own label (`| Input tok/s | 7143.79 |`), else from the table's
//! caption (the heading, bold line or short line right above it, or the
//! paragraph before). Emphasis, links and inline HTML in a cell are text; a
//! cell holding only a time with its unit (`+4.9s`, `4.46 s`) is a latency;
//! the rows of a table of settings (first cell an option or an environment
//! variable) hold no claims.

use super::blocks::{Block, BlockKind};
use super::context;
use super::matcher::{self, ClaimMatch};
use super::normalise::normalise;
use regex::Regex;
use std::sync::OnceLock;

/// Should a table that holds no claim found in running text be parsed: does
/// its header, a row, or its caption name a unit or a performance word?
pub fn worth_reading(text: &str, at: usize, table: &str) -> bool {
    header_unit().is_match(table)
        || matcher::has_context_words(table)
        || caption(text, at).is_some()
}

/// Claims read from table cells with their column's unit, in text order, each
/// with the index of its block.
pub fn column_claims(
    text: &str,
    blocks: &[Block],
    placed: &[(usize, usize, ClaimMatch)],
) -> Vec<(usize, usize, ClaimMatch)> {
    let mut out = Vec::new();
    // Per table: its caption and the headers a label row set.
    let mut table_end = usize::MAX;
    let mut caption_text: Option<String> = None;
    let mut labels: Vec<String> = Vec::new();
    // Whether a header of the table names a unit: then a unitless column is not
    // a measurement, and the caption gives it none.
    let mut headers_have_units = false;
    for (i, block) in blocks.iter().enumerate() {
        if block.kind != BlockKind::TableRow || block.cells.is_empty() {
            continue;
        }
        // Rows of one table are separated by nothing but the delimiter row.
        let new_table = table_end == usize::MAX
            || block.range.start < table_end
            || !text[table_end..block.range.start]
                .chars()
                .all(|c| matches!(c, '|' | '-' | ':' | '>' | ' ' | '\t' | '\n' | '\r'));
        if new_table {
            caption_text = caption(text, block.range.start);
            labels.clear();
            headers_have_units = block.cells.iter().any(|(_, h)| header_unit().is_match(h));
        }
        table_end = block.range.end;
        let cells: Vec<String> = block
            .cells
            .iter()
            .map(|(cell, _)| cell_text(&text[cell.clone()]))
            .collect();
        if is_label_row(&cells) {
            labels = cells;
            continue;
        }
        if in_setting_row(text, block) {
            continue;
        }
        // The row's label names a unit ("Input tok/s") when it is not a number.
        let row_label = cells
            .first()
            .filter(|c| !numeric_cell().is_match(c) && header_unit().is_match(c))
            .cloned();
        for (column, (cell, header)) in block.cells.iter().enumerate() {
            let header = match labels.get(column).filter(|l| !l.is_empty()) {
                Some(label) => label.as_str(),
                None => header.as_str(),
            };
            let read = Column {
                header,
                row_label: row_label.as_deref().filter(|_| column > 0),
                caption: caption_text.as_deref().filter(|_| !headers_have_units),
            };
            if let Some((at, f)) = read_cell(text, cell.clone(), &read, placed) {
                out.push((i, at, f));
            }
        }
    }
    out
}

/// Is a table row one of a table of settings (`context::setting_row`)?
pub fn in_setting_row(text: &str, block: &Block) -> bool {
    let Some((first, _)) = block.cells.first() else {
        return false;
    };
    // The header decides first: most tables are not tables of settings, and
    // their first cell is then never read.
    let header: Vec<&str> = block.cells.iter().map(|(_, h)| h.as_str()).collect();
    let header = header.join(" | ");
    context::settings_header(&header)
        && context::setting_row(&cell_text(&text[first.clone()]), &header)
}

/// What a column's cells are read with.
struct Column<'a> {
    header: &'a str,
    row_label: Option<&'a str>,
    caption: Option<&'a str>,
}

fn read_cell(
    text: &str,
    cell: std::ops::Range<usize>,
    column: &Column,
    placed: &[(usize, usize, ClaimMatch)],
) -> Option<(usize, ClaimMatch)> {
    let raw = &text[cell.clone()];
    let shown = cell_text(raw);
    let shown = shown.as_str();
    let uncommented = html_comment().replace_all(raw, "");
    let trimmed = uncommented.trim().trim_matches('|').trim();
    let at = cell.start + raw.find(trimmed).unwrap_or(0);
    // `placed` is in text order: is any claim already inside this cell?
    let first_after = placed.partition_point(|(_, o, _)| *o < cell.start);
    let taken = placed
        .get(first_after)
        .is_some_and(|(_, o, _)| cell.contains(o));
    if taken || !numeric_cell().is_match(shown) {
        return None;
    }
    let header = column.header;
    let mut found = None;
    if bare_number().is_match(shown) {
        // The unit from the header, else the row's label, else the caption
        // (not for a column of settings or counts, which a caption does not measure).
        let from_caption = column
            .caption
            .filter(|_| !setting_column().is_match(header) && !header.is_empty());
        let source = [Some(header), column.row_label, from_caption]
            .into_iter()
            .flatten()
            .find_map(|s| header_unit().find(s).map(|u| (u.as_str(), s)));
        if let Some((unit, words)) = source {
            found = matcher::read_cell(shown, unit, words);
        }
    } else if let Some(caps) = time_cell().captures(shown) {
        found = matcher::read_cell(&caps["n"], &caps["unit"], "time");
    }
    if found.is_none() {
        // The cell has its own unit; the header (and caption) may add the words.
        let words = match column.caption {
            Some(c) => format!("{shown} ({header}; {c})"),
            None => format!("{shown} ({header})"),
        };
        found = matcher::find(&words).into_iter().find(|f| f.start == 0);
    }
    let mut f = found?;
    f.text = format!("{shown} (column \"{header}\")");
    Some((at, f))
}

/// A cell as a reader sees it: comments out, links as their text, emphasis and
/// inline tags dropped, pipes and spaces trimmed.
fn cell_text(raw: &str) -> String {
    let t = html_comment().replace_all(raw, "");
    let t = link().replace_all(&t, "$text");
    let t = t.trim().trim_matches('|').trim();
    let t = normalise(t).text.into_owned();
    t.trim().trim_matches(['*', '_']).trim().to_string()
}

/// A row of labels inside a table (a second header): no cell is a number and
/// some cell names a unit.
fn is_label_row(cells: &[String]) -> bool {
    cells.iter().all(|c| !bare_number().is_match(c))
        && cells
            .iter()
            .any(|c| !numeric_cell().is_match(c) && header_unit().is_match(c))
}

/// The table's caption: the line right above it when it is a heading, a bold
/// line or a short line that names a unit or a performance word; else the
/// paragraph before it when that does. Images and HTML between are skipped.
pub fn caption(text: &str, table_start: usize) -> Option<String> {
    let mut end = table_start;
    for _ in 0..4 {
        let before = text[..end].trim_end();
        if before.is_empty() {
            return None;
        }
        let para_start = before.rfind("\n\n").map_or(0, |i| i + 2);
        let para = &before[para_start..];
        let last = para.lines().last().unwrap_or("").trim();
        if last.starts_with('<') || last.starts_with("![") {
            end = para_start;
            continue;
        }
        let names = |s: &str| header_unit().is_match(s) || matcher::has_context_words(s);
        let short = last.starts_with('#') || last.starts_with("**") || last.len() <= 80;
        if short && names(last) {
            return Some(last.to_string());
        }
        if para.len() <= 1200 && names(para) {
            return Some(para.to_string());
        }
        return None;
    }
    None
}

fn numeric_cell() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(?:~|≈|≥|≤|>=|<=|\+)?\s*\d").unwrap())
}

pub fn header_unit() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i-u)tok(?:en)?s?\s*/\s*s(?:ec(?:ond)?)?\b|tokens?\s+per\s+second|\bt/s\b|\btps\b|ms\s*/\s*tok(?:en)?\b|[kmgt]i?b\s*/\s*s\b|\bspeed-?ups?\b|\bms\b|\bmilliseconds?\b|\b[kmgt]i?b\b|(?:^|[\s(])(?:s|secs?|seconds?|us|µs|μs)\b")
            .unwrap()
    })
}

/// Columns that hold settings or counts, not measurements.
fn setting_column() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i-u)\b(?:threads?|batch|size|params?|bits?|bpw|model|ctx|context|n_\w+|beam|precision|amount|req|requests|count|wer|cer|bleu|accuracy|ppl|perplexity|test|input|chars|length|layers?|quant\w*|type|gpus?|cores?)\b")
            .unwrap()
    })
}

fn time_cell() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^\+?(?P<n>(?:~|≈)?\s*\d[\d,]*(?:\.\d+)?)\s*(?P<unit>ms|s|sec|secs|seconds|us|µs|μs)$",
        )
        .unwrap()
    })
}

fn html_comment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?s)<!--.*?-->").unwrap())
}

fn link() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\[(?P<text>[^\]]*)\]\([^)]*\)").unwrap())
}

fn bare_number() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^(?:~|≈|≥|≤|>=|<=)?\s*\d[\d,]*(?:\.\d+)?(?:[eE][+-]?\d+|\s*[-–~]\s*\d[\d,]*(?:\.\d+)?)?\s*[x×]?(?:\s*±\s*\d[\d,]*(?:\.\d+)?)?$",
        )
        .unwrap()
    })
}

#[cfg(test)]
mod tests {
    use super::super::Kind;
    use super::super::scan::{ScanConfig, scan_text};

    fn claims(md: &str) -> Vec<(u32, Kind, f64)> {
        scan_text("a.md", md, &ScanConfig::default())
            .iter()
            .map(|c| (c.line, c.quantity.kind, c.quantity.low))
            .collect()
    }

    #[test]
    fn a_label_row_inside_a_table_gives_the_columns_below_their_unit() {
        // From TGI's v3 notes (policy/tests/claims/real/).
        let md = "|   |   |   |   |\n|---|---|---|---|\n|2nd run ||**TGI v3** (time in s)|**Amount of req**|\n|**Llama**|Small test|17.5|200|\n";
        assert_eq!(claims(md), vec![(4, Kind::Latency, 17500.0)]);
    }

    #[test]
    fn a_caption_or_the_row_label_gives_bare_cells_their_unit() {
        let md = "**Q8 prefill TPS**\n\n| model | threads | llama.cpp | ours |\n|---|---|---|---|\n| 7B | 16 | 25.1 | **30.2** |\n";
        assert_eq!(
            claims(md),
            vec![(5, Kind::Throughput, 25.1), (5, Kind::Throughput, 30.2)]
        );
        // From fastllm's agent benchmark (policy/tests/claims/real/).
        let md = "| Metric | fastllm | vLLM |\n|---|---|---|\n| Input tok/s | 7143.79 | [7911.01](r.md) |\n| Items/s | 5.38 | 6.11 |\n";
        assert_eq!(
            claims(md),
            vec![
                (3, Kind::Throughput, 7143.79),
                (3, Kind::Throughput, 7911.01)
            ]
        );
        let md = "Memory used, per workload:\n\n<p><img src=\"a.png\"></p>\n\n| Workload | Loaded | Reload |\n| --- | --- | --- |\n| Short (6s audio) | 3.11 GB | +4.9s |\n";
        assert_eq!(
            claims(md),
            vec![(7, Kind::Memory, 3.11e9), (7, Kind::Latency, 4900.0)]
        );
        // abbreviated headers: `Mem`, `TPS`, `Latency (us)`
        let md = "| engine | Mem | TPS | Latency (us) |\n|---|---|---|---|\n| ours | 3.2 GB | 41.5 | 870 |\n";
        assert_eq!(
            claims(md),
            vec![
                (3, Kind::Memory, 3.2e9),
                (3, Kind::Throughput, 41.5),
                (3, Kind::Latency, 0.87)
            ]
        );
        // no caption: a bare number stays unread
        assert!(claims("| a | b |\n|---|---|\n| x | 25.1 |\n").is_empty());
    }

    #[test]
    fn a_table_of_settings_holds_no_claims() {
        // The issue's `| --lora-max-bytes | 8 GiB | Maximum memory …|`.
        let md = "| Option | Default | Meaning |\n|---|---|---|\n| --lora-max-bytes | 8 GiB | Maximum memory for adapters |\n| `LLAMA_CACHE_MB` | 512 MB | cache memory |\n";
        assert!(claims(md).is_empty());
    }
}
