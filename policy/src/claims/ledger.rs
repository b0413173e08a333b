//! The claims ledger (`ci/accepted-claims.json`): the claims a project has
//! accepted as they are, so that checks judge only new or changed ones (as
//! ESLint's bulk suppressions and RuboCop's todo file do).
//!
//! A claim is identified by its file and its text as written (whitespace
//! collapsed), never by its line: moving a paragraph or re-wrapping it keeps the
//! claim accepted, and changing its number makes it a new claim. Identical
//! claims in one file are counted: with more copies than the ledger accepts, every
//! copy the check sees is reported until the ledger is written again.

use super::backing::{ClaimVerdict, Outcome};
use super::scan::{ScanConfig, scan_text};
use crate::input::{self, Existing};
use crate::verdict::Level;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

/// Where `claims --accept` writes the ledger and where checks look for it.
pub const DEFAULT_LEDGER: &str = "ci/accepted-claims.json";
/// Identifies the ledger's shape.
pub const LEDGER_FORMAT: &str = "receipt-action/accepted-claims/1";
/// A ledger is a list of short records; larger files are refused unread.
const MAX_LEDGER_BYTES: u64 = 64 * 1024 * 1024;

/// One accepted claim (or `count` identical ones) in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub path: String,
    /// The claim as written, whitespace collapsed: its number is part of it.
    pub text: String,
    pub count: usize,
    /// Where the copies were when accepted (for readers; not used to match).
    pub lines: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    claims: Vec<Entry>,
}

/// The accepted claims, by file and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    entries: BTreeMap<(String, String), Entry>,
}

/// A claim's text as the ledger keys it.
fn key_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_problem(v: &ClaimVerdict) -> bool {
    matches!(
        v.outcome,
        Outcome::Unbacked | Outcome::Contradicted | Outcome::Stale
    )
}

impl Ledger {
    /// Every claim that fails now (unbacked, contradicted or stale), accepted.
    pub fn accepting(verdicts: &[ClaimVerdict]) -> Ledger {
        let mut ledger = Ledger::default();
        for v in verdicts.iter().filter(|v| is_problem(v)) {
            let key = (v.claim.path.to_string(), key_text(&v.claim.text));
            let entry = ledger.entries.entry(key.clone()).or_insert(Entry {
                path: key.0,
                text: key.1,
                count: 0,
                lines: Vec::new(),
            });
            entry.count += 1;
            entry.lines.push(v.claim.line);
        }
        ledger
    }

    /// Accepted claims in all.
    pub fn len(&self) -> usize {
        self.entries.values().map(|e| e.count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Read the ledger at `path`; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<Ledger>, String> {
        let shown = path.display();
        let bytes = match input::read_capped(path, MAX_LEDGER_BYTES) {
            Ok(b) => b,
            Err(input::ReadError::NotFound) => return Ok(None),
            Err(e) => return Err(format!("{shown}: {e}; {}", e.fix())),
        };
        let file: File = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{shown}: not a claims ledger at line {}, column {}: {e}; write it again with `policy-check claims --filter all --accept`",
                e.line(),
                e.column()
            )
        })?;
        if file.format != LEDGER_FORMAT {
            return Err(format!(
                "{shown}: format \"{}\" is not {LEDGER_FORMAT}; write it again with `policy-check claims --filter all --accept`",
                file.format
            ));
        }
        let mut ledger = Ledger::default();
        for e in file.claims {
            let key = (e.path.clone(), key_text(&e.text));
            ledger.entries.insert(key, e);
        }
        Ok(Some(ledger))
    }

    /// Write the ledger (atomically; it replaces the previous one).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        // One claim per line: half the size of pretty JSON (a large project
        // accepts tens of thousands), and a review diff shows one line per claim.
        let entries: Vec<String> = self
            .entries
            .values()
            .map(|e| {
                format!(
                    "    {}",
                    serde_json::to_string(e).expect("an entry serializes")
                )
            })
            .collect();
        let claims = match entries.is_empty() {
            true => "[]".to_string(),
            false => format!("[\n{}\n  ]", entries.join(",\n")),
        };
        let text = format!(
            "{{\n  \"format\": {},\n  \"claims\": {claims}\n}}\n",
            serde_json::to_string(LEDGER_FORMAT).expect("a string serializes"),
        );
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        input::write_atomic(path, text.as_bytes(), Existing::Replace)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Mark the failing claims the ledger accepts as `accepted` (allowed, the
    /// original reason kept in the message). `copies(path)` counts the claims of
    /// a whole file by text, so a check that sees only part of a file (a diff)
    /// still knows whether a file holds more copies than were accepted.
    pub fn apply(
        &self,
        verdicts: &mut [ClaimVerdict],
        mut copies: impl FnMut(&str) -> BTreeMap<String, usize>,
    ) {
        let mut counted: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for v in verdicts.iter_mut().filter(|v| is_problem(v)) {
            let path = v.claim.path.to_string();
            let text = key_text(&v.claim.text);
            let Some(entry) = self.entries.get(&(path.clone(), text.clone())) else {
                continue;
            };
            let now = counted
                .entry(path.clone())
                .or_insert_with(|| copies(&path))
                .get(&text)
                .copied()
                .unwrap_or(1);
            if now <= entry.count {
                v.message = Cow::Owned(format!("accepted in the claims ledger ({})", v.message));
                v.outcome = Outcome::Accepted;
                v.level = Level::Allow;
                v.suggestion = None;
            }
        }
    }

    /// Drop what is no longer in the docs: each entry keeps at most as many copies
    /// as `copies(path)` finds now. Returns how many were dropped.
    pub fn prune(&mut self, mut copies: impl FnMut(&str) -> BTreeMap<String, usize>) -> usize {
        let mut dropped = 0;
        let mut by_file: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for ((path, text), entry) in self.entries.iter_mut() {
            let now = by_file
                .entry(path.clone())
                .or_insert_with(|| copies(path))
                .get(text)
                .copied()
                .unwrap_or(0);
            if now < entry.count {
                dropped += entry.count - now;
                entry.count = now;
                entry.lines.truncate(now);
            }
        }
        self.entries.retain(|_, e| e.count > 0);
        dropped
    }
}

/// Apply the ledger at `path`, if there is one, to claims of the repository at
/// `root` (scanned with `config`).
pub fn apply_file(
    path: &Path,
    root: &Path,
    verdicts: &mut [ClaimVerdict],
    config: &ScanConfig,
) -> Result<(), String> {
    if let Some(accepted) = Ledger::load(path)? {
        accepted.apply(verdicts, |file| copies_in(root, file, config));
    }
    Ok(())
}

/// The claims of the file at `root/path`, counted by text (none when it cannot
/// be read: a deleted doc has no claims left).
pub fn copies_in(root: &Path, path: &str, config: &ScanConfig) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let Ok(bytes) = input::read_within(root, Path::new(path), crate::input::MAX_DOC_BYTES) else {
        return counts;
    };
    let text = String::from_utf8_lossy(&bytes);
    for claim in scan_text(path, &text, config) {
        *counts.entry(key_text(&claim.text)).or_insert(0) += 1;
    }
    counts
}
