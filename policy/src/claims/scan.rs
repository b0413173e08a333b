//! Finding claims in files: which files (include/exclude globs), which lines
//! (the filter mode against a diff), and the claims in them, in parallel.

use super::blocks::{self, BlockKind, Syntax};
use super::cfg::{ClaimsSettings, ExtraPattern};
use super::normalise::normalise;
use super::scope::Scopes;
use super::{Claim, Kind, context, matcher, tables};
use crate::diff::{Diff, FileDiff};
use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use regex::Regex;
use std::sync::{Arc, OnceLock};

/// Which files are scanned and what counts (the policy's `[claims]` table).
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Report claims inside fenced or indented code blocks.
    pub code_blocks: bool,
    /// Kinds switched off by the policy.
    pub disabled: Vec<Kind>,
    /// The policy's own claim patterns.
    pub patterns: Vec<ExtraPattern>,
    include_set: GlobSet,
    exclude_set: GlobSet,
}

/// DESIGN §6 defaults: READMEs, docs/, every markdown file.
pub const DEFAULT_INCLUDE: &[&str] = &["README*", "**/README*", "docs/**", "*.md"];

impl ScanConfig {
    pub fn new(
        include: Vec<String>,
        exclude: Vec<String>,
        code_blocks: bool,
    ) -> Result<ScanConfig, String> {
        let set = |patterns: &[String]| -> Result<GlobSet, String> {
            let mut b = GlobSetBuilder::new();
            for p in patterns {
                b.add(Glob::new(p).map_err(|e| format!("invalid glob \"{p}\": {e}"))?);
            }
            b.build().map_err(|e| e.to_string())
        };
        Ok(ScanConfig {
            include_set: set(&include)?,
            exclude_set: set(&exclude)?,
            include,
            exclude,
            code_blocks,
            disabled: Vec::new(),
            patterns: Vec::new(),
        })
    }

    /// From the policy's `[claims]`, with command-line globs (when given) winning.
    pub fn from_settings(
        settings: &ClaimsSettings,
        include: Vec<String>,
        exclude: Vec<String>,
        no_code_blocks: bool,
    ) -> Result<ScanConfig, String> {
        let or = |cli: Vec<String>, policy: &Option<Vec<String>>, default: &[&str]| {
            if !cli.is_empty() {
                cli
            } else if let Some(p) = policy {
                p.clone()
            } else {
                default.iter().map(|s| s.to_string()).collect()
            }
        };
        let mut config = ScanConfig::new(
            or(include, &settings.include, DEFAULT_INCLUDE),
            or(exclude, &settings.exclude, &[]),
            !no_code_blocks && settings.code_blocks.unwrap_or(true),
        )?;
        config.disabled = settings
            .kinds
            .iter()
            .filter(|(_, on)| !**on)
            .map(|(k, _)| *k)
            .collect();
        config.patterns = settings.patterns.clone();
        Ok(config)
    }

    pub fn includes(&self, path: &str) -> bool {
        self.include_set.is_match(path) && !self.exclude_set.is_match(path)
    }
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig::new(
            DEFAULT_INCLUDE.iter().map(|s| s.to_string()).collect(),
            Vec::new(),
            true,
        )
        .expect("default globs are valid")
    }
}

/// Every claim in one file's text, in order.
pub fn scan_text(path: &str, text: &str, config: &ScanConfig) -> Vec<Claim> {
    // One pass of the claim pattern over the whole text, as a reader sees it
    // (`normalise`), with offsets mapped back to the file's; blocks are parsed
    // only when there is something to place in them.
    let seen = normalise(text);
    let mut found = matcher::find(&seen.text);
    if !config.patterns.is_empty() {
        found.extend(
            config
                .patterns
                .iter()
                .flat_map(|p| extra_claims(p, &seen.text)),
        );
        found.sort_by_key(|f| f.start);
    }
    found.retain(|f| {
        !config.disabled.contains(&f.quantity.kind)
            && context::not_a_claim(&seen.text, f.start, f.end, f.quantity.kind).is_none()
    });
    for f in &mut found {
        f.start = seen.original(f.start);
        f.end = seen.original_end(f.end);
    }
    let blocks = match Syntax::of(path) {
        Syntax::Markdown => {
            let offsets: Vec<usize> = found.iter().map(|f| f.start).collect();
            blocks::markdown_blocks_near(text, &offsets, |at, table| {
                tables::worth_reading(text, at, table)
            })
        }
        _ if found.is_empty() => return Vec::new(),
        syntax => blocks::blocks(text, syntax),
    };
    let mut placed: Vec<(usize, usize, matcher::ClaimMatch)> = Vec::with_capacity(found.len());
    for f in found {
        // The block that starts last at or before the claim, if it contains it.
        let i = blocks.partition_point(|b| b.range.start <= f.start);
        if i > 0 && blocks[i - 1].range.contains(&f.start) {
            placed.push((i - 1, f.start, f));
        }
    }
    let from_columns = tables::column_claims(text, &blocks, &placed);
    placed.extend(from_columns);
    placed.sort_by_key(|(_, at, _)| *at);

    let mut lines = LineIndex::new(text);
    let shared_path: Arc<str> = Arc::from(path);
    let mut out = Vec::with_capacity(placed.len());
    let mut scopes = Scopes::new(text, &blocks);
    for (i, at, f) in placed {
        let block = &blocks[i];
        if block.kind == BlockKind::CodeBlock && !config.code_blocks {
            continue;
        }
        // A row of a table of settings documents a value, not a measurement.
        if block.kind == BlockKind::TableRow && tables::in_setting_row(text, block) {
            continue;
        }
        let covered = scopes.claim(i, at, at + (f.end - f.start));
        let (line, column) = lines.locate(text, at);
        out.push(Claim {
            path: shared_path.clone(),
            line,
            column,
            text: f.text,
            unit: f.unit,
            block: block.kind,
            quantity: f.quantity,
            citations: covered.citations,
            ignore: covered.ignore,
            device: covered.device,
        });
    }
    out
}

/// Claims from one of the policy's own patterns: the `value` group (or the first
/// number in the match) is the claimed number.
fn extra_claims(pattern: &ExtraPattern, text: &str) -> Vec<matcher::ClaimMatch> {
    static NUMBER: OnceLock<Regex> = OnceLock::new();
    let number = NUMBER.get_or_init(|| Regex::new(r"[0-9][0-9,]*(?:\.[0-9]+)?").unwrap());
    pattern
        .regex
        .captures_iter(text)
        .filter_map(|caps| {
            let whole = caps.get(0)?;
            let value = caps
                .name("value")
                .map(|m| m.as_str())
                .or_else(|| number.find(whole.as_str()).map(|m| m.as_str()))?;
            let v: f64 = value.replace(',', "").parse().ok()?;
            Some(matcher::ClaimMatch {
                start: whole.start(),
                end: whole.end(),
                text: whole.as_str().to_string(),
                unit: "pattern".into(),
                quantity: matcher::Quantity {
                    kind: pattern.kind,
                    low: v,
                    high: v,
                    qualifier: matcher::Qualifier::Exact,
                },
            })
        })
        .collect()
}

/// Byte offset → 1-based line and character column.
struct LineIndex {
    starts: Vec<usize>,
    /// The last offset located, its line (0-based) and column: offsets asked in
    /// text order count only the characters since the last one, so a long line
    /// of claims is counted once, not once per claim.
    last: (usize, usize, usize),
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            starts,
            last: (0, 0, 1),
        }
    }

    fn locate(&mut self, text: &str, offset: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let (last, last_line, last_column) = self.last;
        let column = if last_line == line && last <= offset {
            last_column + text[last..offset].chars().count()
        } else {
            text[self.starts[line]..offset].chars().count() + 1
        };
        self.last = (offset, line, column);
        (line as u32 + 1, column as u32)
    }
}

/// The files of a diff that can hold claims: included, with text, not deleted.
pub fn candidate_files<'d>(diff: &'d Diff, config: &ScanConfig) -> Vec<&'d FileDiff> {
    diff.files
        .iter()
        .filter(|f| !f.deleted && !f.binary && !f.submodule && config.includes(&f.path))
        .collect()
}

/// Scan many (path, text) pairs in parallel; claims come back in input order.
pub fn scan_all(files: &[(String, String)], config: &ScanConfig) -> Vec<Claim> {
    files
        .par_iter()
        .flat_map_iter(|(path, text)| scan_text(path, text, config))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_know_their_line_column_block_and_citations() {
        let md = "# Perf\n\nIntro.\n\nCPU: ~10-20 tok/s and GPU 50-100 tok/s,\nsee [receipt](ci/inference.json).\n\n| engine | decode tok/s |\n|---|---|\n| ours | 15.3 <!-- receipt: ci/r.json --> |\n| theirs | 9 |\n\n- peak RSS 1.8 GB <!-- receipt-ignore: from the paper -->\n";
        let claims = scan_text("README.md", md, &ScanConfig::default());
        let got: Vec<(u32, u32, &str, BlockKind, Vec<&str>)> = claims
            .iter()
            .map(|c| {
                let cited = c.citations.iter().map(String::as_str).collect();
                (c.line, c.column, c.text.as_str(), c.block, cited)
            })
            .collect();
        let table = BlockKind::TableRow;
        assert_eq!(
            got,
            vec![
                (
                    5,
                    6,
                    "~10-20 tok/s",
                    BlockKind::Paragraph,
                    vec!["ci/inference.json"]
                ),
                (
                    5,
                    27,
                    "50-100 tok/s",
                    BlockKind::Paragraph,
                    vec!["ci/inference.json"]
                ),
                (
                    10,
                    10,
                    "15.3 (column \"decode tok/s\")",
                    table,
                    vec!["ci/r.json"]
                ),
                (11, 12, "9 (column \"decode tok/s\")", table, vec![]),
                (13, 12, "1.8 GB", BlockKind::ListItem, vec![]),
            ]
        );
        assert_eq!(claims[4].ignore.as_deref(), Some("from the paper"));
    }

    #[test]
    fn markers_after_a_code_block_or_table_apply_to_it_but_markers_inside_code_do_not() {
        let md = "```\nout: 15 tok/s <!-- receipt: a.json -->\n```\n<!-- receipt-ignore: sample output -->\n\n| x | tok/s |\n|---|---|\n| a | 9 |\n| b | 8 |\n<!-- receipt: ci/r.json -->\n\n```\n20 tok/s <!-- receipt-ignore: literal -->\n```\n";
        let claims = scan_text("a.md", md, &ScanConfig::default());
        let got: Vec<(u32, Option<&str>, Vec<String>)> = claims
            .iter()
            .map(|c| (c.line, c.ignore.as_deref(), c.citations.clone()))
            .collect();
        let cited = vec!["ci/r.json".to_string()];
        assert_eq!(
            got,
            vec![
                (2, Some("sample output"), vec![]),
                (8, None, cited.clone()),
                (9, None, cited),
                (13, None, vec![]),
            ]
        );
    }

    #[test]
    fn table_cells_with_an_error_bar_claim_their_mean() {
        let md = "| test | t/s |\n|---|---:|\n| tg128 | 70.95 ± 0.41 |\n";
        let claims = scan_text("a.md", md, &ScanConfig::default());
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].quantity.low, 70.95);
    }

    #[test]
    fn a_header_that_spells_out_tokens_per_second_gives_its_column_the_unit() {
        // From a thread in ikawrakow/ik_llama.cpp (policy/tests/claims/real/).
        // A failed run's zeros are not claims.
        let md = "| KV Quant | Tokens/Second (Prompt Eval) | Tokens/Second (Eval) |\n| -- | -- | -- |\n| Q8 | 43.22 | 1.68 |\n|  | 0 | 0 |\n";
        let claims = scan_text("a.md", md, &ScanConfig::default());
        let got: Vec<(u32, Kind, f64)> = claims
            .iter()
            .map(|c| (c.line, c.quantity.kind, c.quantity.low))
            .collect();
        assert_eq!(
            got,
            vec![(3, Kind::Throughput, 43.22), (3, Kind::Throughput, 1.68)]
        );
    }

    #[test]
    fn a_time_unit_in_a_header_makes_its_bare_cells_latencies() {
        // Headers from threads in ikawrakow/ik_llama.cpp (policy/tests/claims/real/):
        // ms, seconds and microseconds, the last in scientific notation.
        let md = "| Load Time (ms) | T_TG s (llama.cpp) | time (us) | Speed (iter/s) | threads |\n| -- | -- | -- | -- | -- |\n| 87751 | 92.1 | 3.78863e+08 | 0.83 | 16 |\n";
        let claims = scan_text("a.md", md, &ScanConfig::default());
        let got: Vec<(Kind, f64)> = claims
            .iter()
            .map(|c| (c.quantity.kind, c.quantity.low))
            .collect();
        // in ms; iterations per second and a thread count are not claims
        assert_eq!(
            got,
            vec![
                (Kind::Latency, 87751.0),
                (Kind::Latency, 92100.0),
                (Kind::Latency, 378863.0)
            ]
        );
    }

    #[test]
    fn a_long_line_of_claims_is_read_whole_with_its_columns() {
        // Every claim kind that reads its line's words, 4,000 times on one line.
        let piece = "decode 15.3 tok/s, 2.5x faster, p50 latency 70 ms, peak 1.8 GB; ";
        let n = 4000;
        let md = format!("# Perf\n\n{}\n", piece.repeat(n));
        let claims = scan_text("a.md", &md, &ScanConfig::default());
        assert_eq!(claims.len(), 4 * n);
        let last = claims.last().unwrap();
        let column = piece.len() * (n - 1) + piece.find("1.8").unwrap() + 1;
        assert_eq!((last.line, last.column as usize), (3, column));
        assert_eq!(last.text, "1.8 GB");
    }

    #[test]
    fn columns_count_characters_of_the_original_line() {
        // a zero-width space, an NBSP and emphasis before the claims
        let md = "é\u{200B} **15** tok/s, 16\u{A0}tok/s\n";
        let claims = scan_text("a.md", md, &ScanConfig::default());
        let got: Vec<(u32, &str)> = claims.iter().map(|c| (c.column, c.text.as_str())).collect();
        assert_eq!(got, vec![(6, "15 tok/s"), (18, "16 tok/s")]);
    }

    #[test]
    fn default_paths_and_code_block_switch() {
        let c = ScanConfig::default();
        assert!(c.includes("README.md") && c.includes("docs/perf/x.txt") && c.includes("a/b/c.md"));
        assert!(!c.includes("src/main.rs"));
        let md = "```\nbench: 15 tok/s\n```\n";
        assert_eq!(scan_text("a.md", md, &c).len(), 1);
        let no_code = ScanConfig::new(vec!["*.md".into()], vec![], false).unwrap();
        assert!(scan_text("a.md", md, &no_code).is_empty());
        assert!(ScanConfig::new(vec!["[".into()], vec![], true).is_err());
    }
}
