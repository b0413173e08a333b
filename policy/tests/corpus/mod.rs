//! The real-docs claim corpus (policy/tests/claims/real/): reads each project's
//! hand labels, runs `policy-check claims --filter all` over its excerpts, and
//! scores the claims found against the labels, per project. Shared by the test
//! (tests/claims_corpus.rs, which asserts the floors) and the benchmark
//! (benches/claims.rs, which prints the same table); it asserts nothing itself.
// The test and the benchmark each use a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Kinds a label may carry: the scanner's five, the two the issue adds
/// (real-time factor, relative change), and `none` for a number read and judged
/// not a claim.
pub const KINDS: &[&str] = &[
    "throughput",
    "latency",
    "speedup",
    "memory",
    "bandwidth",
    "real-time-factor",
    "relative-change",
    "none",
];

/// policy/tests/claims/real
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/claims/real")
}

/// One labelled row: a claim of `kind` on `line`, or `none`.
#[derive(Debug, Clone)]
pub struct Label {
    pub line: u32,
    pub kind: String,
    pub note: String,
}

/// One excerpt and its labels.
#[derive(Debug)]
pub struct Excerpt {
    /// `project/name.md`, relative to the corpus root.
    pub path: String,
    pub text: String,
    pub labels: Vec<Label>,
}

/// A claim the scanner reported.
#[derive(Debug, Clone)]
pub struct Found {
    pub line: u32,
    pub kind: String,
    pub text: String,
}

/// A project's score.
#[derive(Debug, Default)]
pub struct Score {
    pub project: String,
    pub files: usize,
    /// Labelled claims (rows other than `none`) and distinct lines holding one.
    pub claims: usize,
    pub claim_lines: usize,
    /// Lines that carry only `none` rows: looked at, judged not a claim.
    pub negative_lines: usize,
    pub found: usize,
    pub true_positives: usize,
    /// `file:line kind — note` of each labelled claim the scanner missed.
    pub misses: Vec<String>,
    /// `file:line kind "text"` of each claim found beyond the labels.
    pub false_positives: Vec<String>,
}

impl Score {
    pub fn false_positives_count(&self) -> usize {
        self.found - self.true_positives
    }

    pub fn false_negatives_count(&self) -> usize {
        self.claims - self.true_positives
    }

    /// TP / found; 1 when nothing was found (no false claim was made).
    pub fn precision(&self) -> f64 {
        if self.found == 0 {
            1.0
        } else {
            self.true_positives as f64 / self.found as f64
        }
    }

    /// TP / labelled claims.
    pub fn recall(&self) -> f64 {
        if self.claims == 0 {
            1.0
        } else {
            self.true_positives as f64 / self.claims as f64
        }
    }
}

/// The project folders of the corpus, sorted.
pub fn projects() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root())
        .expect("the corpus folder exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// A project's excerpts with their labels; Err names the file and line of a
/// malformed label file.
pub fn excerpts(project: &str) -> Result<Vec<Excerpt>, String> {
    let dir = root().join(project);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let path = format!("{project}/{name}");
        let text = std::fs::read_to_string(dir.join(&name)).map_err(|e| format!("{path}: {e}"))?;
        let tsv_name = name.replace(".md", ".tsv");
        let tsv = std::fs::read_to_string(dir.join(&tsv_name))
            .map_err(|e| format!("{project}/{tsv_name}: {e} (every excerpt has a label file)"))?;
        let labels = parse_labels(&format!("{project}/{tsv_name}"), &tsv)?;
        out.push(Excerpt { path, text, labels });
    }
    Ok(out)
}

/// `# comment` lines, a `line kind low high note` header, then rows.
fn parse_labels(name: &str, tsv: &str) -> Result<Vec<Label>, String> {
    let mut labels = Vec::new();
    let mut header = false;
    for (i, row) in tsv.lines().enumerate() {
        if row.starts_with('#') || row.trim().is_empty() {
            continue;
        }
        if !header {
            if !row.starts_with("line\tkind") {
                return Err(format!("{name}:{}: expected the header line", i + 1));
            }
            header = true;
            continue;
        }
        let cols: Vec<&str> = row.split('\t').collect();
        let line = cols[0]
            .parse()
            .map_err(|_| format!("{name}:{}: line number \"{}\"", i + 1, cols[0]))?;
        let kind = cols.get(1).copied().unwrap_or_default().to_string();
        if !KINDS.contains(&kind.as_str()) {
            return Err(format!("{name}:{}: unknown kind \"{kind}\"", i + 1));
        }
        labels.push(Label {
            line,
            kind,
            note: cols.get(4).copied().unwrap_or_default().to_string(),
        });
    }
    if !header {
        return Err(format!("{name}: no header line"));
    }
    Ok(labels)
}

/// Labels that cannot be right whatever the scanner does: a row on a line the
/// excerpt does not have, or on a line without a digit.
pub fn label_errors(excerpt: &Excerpt) -> Vec<String> {
    let lines: Vec<&str> = excerpt.text.lines().collect();
    excerpt
        .labels
        .iter()
        .filter_map(|l| match lines.get(l.line as usize - 1) {
            None => Some(format!(
                "{}:{}: past the end of the file",
                excerpt.path, l.line
            )),
            Some(text) if !text.chars().any(|c| c.is_ascii_digit()) => Some(format!(
                "{}:{}: labelled {} but the line holds no number",
                excerpt.path, l.line, l.kind
            )),
            _ => None,
        })
        .collect()
}

/// What `policy-check claims --filter all` reports for these excerpts, per path.
pub fn scan(binary: &str, excerpts: &[Excerpt]) -> BTreeMap<String, Vec<Found>> {
    let out = Command::new(binary)
        .current_dir(root())
        .args(["claims", "--filter", "all", "--format", "json"])
        .args(excerpts.iter().map(|e| e.path.as_str()))
        .output()
        .expect("policy-check runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    let mut found: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for c in doc["claims"].as_array().expect("a claims array") {
        let path = c["path"].as_str().unwrap_or_default();
        // The report's path is the repository's; the excerpt's ends it.
        let Some(excerpt) = excerpts.iter().find(|e| path.ends_with(&e.path)) else {
            continue;
        };
        found.entry(excerpt.path.clone()).or_default().push(Found {
            line: c["line"].as_u64().unwrap_or_default() as u32,
            kind: c["quantity"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            text: c["text"].as_str().unwrap_or_default().to_string(),
        });
    }
    found
}

/// Score a project: claims and labels match by (file, line, kind), several on a
/// line counted apart (as the synthetic corpus's `precision_recall` does).
pub fn score(project: &str, binary: &str) -> Result<Score, String> {
    let excerpts = excerpts(project)?;
    let found = scan(binary, &excerpts);
    let mut s = Score {
        project: project.to_string(),
        files: excerpts.len(),
        ..Score::default()
    };
    for e in &excerpts {
        let mut labelled: BTreeMap<(u32, &str), Vec<&Label>> = BTreeMap::new();
        let mut negative: BTreeMap<u32, bool> = BTreeMap::new();
        for l in &e.labels {
            if l.kind == "none" {
                negative.entry(l.line).or_insert(true);
            } else {
                negative.insert(l.line, false);
                labelled
                    .entry((l.line, l.kind.as_str()))
                    .or_default()
                    .push(l);
            }
        }
        s.claims += labelled.values().map(Vec::len).sum::<usize>();
        s.claim_lines += labelled
            .keys()
            .map(|(line, _)| line)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        s.negative_lines += negative.values().filter(|only_none| **only_none).count();
        let empty = Vec::new();
        let got = found.get(&e.path).unwrap_or(&empty);
        s.found += got.len();
        let mut by_key: BTreeMap<(u32, &str), Vec<&Found>> = BTreeMap::new();
        for f in got {
            by_key.entry((f.line, f.kind.as_str())).or_default().push(f);
        }
        for (key, labels) in &labelled {
            let hits = by_key.get(key).map_or(0, Vec::len);
            s.true_positives += hits.min(labels.len());
            for l in labels.iter().skip(hits) {
                s.misses
                    .push(format!("{}:{} {} — {}", e.path, key.0, key.1, l.note));
            }
        }
        for (key, claims) in &by_key {
            let wanted = labelled.get(key).map_or(0, Vec::len);
            for f in claims.iter().skip(wanted) {
                s.false_positives
                    .push(format!("{}:{} {} \"{}\"", e.path, key.0, key.1, f.text));
            }
        }
    }
    Ok(s)
}

/// The per-project table (with the floors when given), then every miss and
/// false positive by file and line.
pub fn report(scores: &[Score], floors: Option<&[(&str, f64, f64)]>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<15} {:>5} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>9} {:>7}{}",
        "project",
        "files",
        "claims",
        "lines",
        "neg.",
        "found",
        "TP",
        "FP",
        "FN",
        "precision",
        "recall",
        if floors.is_some() { "   floor P/R" } else { "" }
    );
    let mut total = Score::default();
    for s in scores {
        let floor = floors
            .and_then(|f| f.iter().find(|(p, _, _)| *p == s.project))
            .map_or(String::new(), |(_, p, r)| format!("   {p:.2}/{r:.2}"));
        let _ = writeln!(
            out,
            "{:<15} {:>5} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>9.3} {:>7.3}{floor}",
            s.project,
            s.files,
            s.claims,
            s.claim_lines,
            s.negative_lines,
            s.found,
            s.true_positives,
            s.false_positives_count(),
            s.false_negatives_count(),
            s.precision(),
            s.recall(),
        );
        total.files += s.files;
        total.claims += s.claims;
        total.claim_lines += s.claim_lines;
        total.negative_lines += s.negative_lines;
        total.found += s.found;
        total.true_positives += s.true_positives;
    }
    let _ = writeln!(
        out,
        "{:<15} {:>5} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>9.3} {:>7.3}",
        "all",
        total.files,
        total.claims,
        total.claim_lines,
        total.negative_lines,
        total.found,
        total.true_positives,
        total.false_positives_count(),
        total.false_negatives_count(),
        total.precision(),
        total.recall(),
    );
    let _ = writeln!(
        out,
        "(claims: labelled claims; lines: lines holding one; neg.: lines with numbers judged not claims)"
    );
    for s in scores {
        for m in &s.misses {
            let _ = writeln!(out, "missed  {m}");
        }
        for f in &s.false_positives {
            let _ = writeln!(out, "false   {f}");
        }
    }
    out
}
