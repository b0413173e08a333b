//! Statements that hold a number with a performance unit but claim nothing of
//! the project (docs/claims.md, "Not claims"): what a machine has (hardware),
//! what a setting is (configuration), what a transfer or a build printed
//! (downloads, build output, error messages), and numbers the text itself calls
//! estimates. The matcher finds the number; this decides from the words around
//! it, read in the claim's line, sentence or clause.

use super::Kind;
use super::{Cell, re};
use std::sync::OnceLock;

/// Why a found number is not a claim of the project, or None when it is one.
/// `start..end` is the number and its unit in `text`.
pub fn not_a_claim(text: &str, start: usize, end: usize, kind: Kind) -> Option<&'static str> {
    let line = line_at(text, start, end);
    let (_, sentence) = sentence_at(line.text, start - line.start, end - line.start);
    let before = &text[line.start..start];
    let after = &text[end..line.start + line.text.len()];
    let sizes = matches!(kind, Kind::Memory | Kind::Bandwidth);
    if kind != Kind::Throughput && re(&TRANSFER, TRANSFER_RE).is_match(line.text) {
        return Some("a download or transfer, not the engine's performance");
    }
    if kind == Kind::Latency && re(&BUILD, BUILD_RE).is_match(line.text) {
        return Some("a build tool's own time");
    }
    if kind == Kind::Latency && re(&RUN_LENGTH, RUN_LENGTH_RE).is_match(tail(before, 80)) {
        return Some("a load generator's run length (`N requests in 1.00s`), which the tester set");
    }
    if kind == Kind::Memory && re(&ERROR, ERROR_RE).is_match(line.text) {
        return Some("a size in an error message");
    }
    if re(&ESTIMATE, ESTIMATE_RE).is_match(sentence)
        || re(&COMPUTED, COMPUTED_RE).is_match(tail(before, 40))
    {
        return Some("an estimate or a hypothesis, not a measurement");
    }
    if sizes && hardware(before, after) {
        return Some("what the hardware has or can do, not what the engine did");
    }
    if matches!(kind, Kind::Memory | Kind::Latency | Kind::RelativeChange)
        && re(&SETTING, SETTING_RE).is_match(sentence)
    {
        return Some("a setting's value, not a measurement");
    }
    // "(±15%)", "a tolerance of 15%": a band around a number, not a change of it.
    if kind == Kind::RelativeChange
        && (before.trim_end().ends_with('±') || re(&BAND, BAND_RE).is_match(sentence))
    {
        return Some("a tolerance or threshold, not a change");
    }
    if kind == Kind::Memory {
        if !re(&MEMORY, MEMORY_RE).is_match(sentence) {
            return Some("no memory word in its sentence: a size, not memory used");
        }
        if re(&MOVING, MOVING_RE).is_match(sentence) {
            return Some("a volume of data moved, not memory used");
        }
        let near_before = tail(before, 48);
        let of_thing = re(&THING_AFTER, THING_AFTER_RE).is_match(head(after, 32))
            || re(&THING_BEFORE, THING_BEFORE_RE).is_match(near_before);
        // "Model weights take 2.61 GiB of memory" is memory used.
        let rest_of_clause = head(after, 32)
            .split(['.', ',', ';', '('])
            .next()
            .unwrap_or("");
        let memory_near = re(&MEMORY, MEMORY_RE).is_match(near_before)
            || re(&MEMORY, MEMORY_RE).is_match(rest_of_clause);
        if of_thing && !memory_near {
            return Some("the size of a model, file or tensor, not memory used");
        }
    }
    None
}

/// Does a table's header name options, parameters, flags or defaults?
pub fn settings_header(header: &str) -> bool {
    re(&SETTINGS_HEADER, SETTINGS_HEADER_RE).is_match(header)
}

/// A row of a table of settings (its header names options, parameters or
/// defaults) whose first cell names a command-line option or an environment
/// variable documents a setting: none of its numbers is a claim. (A benchmark
/// table whose rows are configurations, `| -mla 1 -fa | 37.55 |`, is not one.)
pub fn setting_row(first_cell: &str, header: &str) -> bool {
    if !re(&SETTINGS_HEADER, SETTINGS_HEADER_RE).is_match(header) {
        return false;
    }
    let cell = first_cell.trim().trim_matches(['`', '*', '_']).trim();
    cell.starts_with("--")
        || (cell.starts_with('-') && cell[1..].starts_with(|c: char| c.is_ascii_alphabetic()))
        || re(&ENV_VAR, r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$").is_match(cell)
}

struct Line<'t> {
    start: usize,
    text: &'t str,
}

/// The claim's line, at most `REACH` bytes either side of it: a line of a
/// million claims costs each claim the same short look, not the whole line.
fn line_at(text: &str, start: usize, end: usize) -> Line<'_> {
    const REACH: usize = 1024;
    let floor = boundary_up(text, start.saturating_sub(REACH));
    let ceiling = boundary_down(text, (end + REACH).min(text.len()));
    let from = text[floor..start]
        .rfind('\n')
        .map_or(floor, |i| floor + i + 1);
    let to = text[end..ceiling].find('\n').map_or(ceiling, |i| end + i);
    Line {
        start: from,
        text: &text[from..to],
    }
}

/// The sentence of `line` around `start..end` (cut at ". ", "? ", "! ") and
/// where it starts in the line.
fn sentence_at(line: &str, start: usize, end: usize) -> (usize, &str) {
    let stops = [". ", "? ", "! ", "。", "；"];
    let from = stops
        .iter()
        .filter_map(|s| line[..start].rfind(s).map(|i| i + s.len()))
        .max()
        .unwrap_or(0);
    let to = stops
        .iter()
        .filter_map(|s| line[end..].find(s).map(|i| end + i))
        .min()
        .unwrap_or(line.len());
    (from, &line[from..to])
}

/// A size or rate that belongs to a machine: "L4 (24GB)", "RTX 3070 Ti 8GB",
/// "the 30 GiB/s the CPU can do", "30 GiB/s is the limit on this CPU",
/// "the theoretical maximum 200GB/sec".
fn hardware(before: &str, after: &str) -> bool {
    let near_before = tail(before, 40);
    let near_after = head(after, 48);
    let of_ram = re(&OF_RAM, OF_RAM_RE).is_match(near_after)
        && !re(&REQUIRED, REQUIRED_RE).is_match(near_after);
    of_ram
        || re(&SPEC_PAREN, SPEC_PAREN_RE).is_match(near_before) && near_after.starts_with(')')
        || re(&DEVICE_BEFORE, DEVICE_BEFORE_RE).is_match(near_before)
        || re(&CAPACITY_AFTER, CAPACITY_AFTER_RE).is_match(near_after)
        || re(&CAPACITY_BEFORE, CAPACITY_BEFORE_RE).is_match(near_before)
}

fn boundary_up(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at += 1;
    }
    at
}

fn boundary_down(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn tail(s: &str, n: usize) -> &str {
    let mut from = s.len().saturating_sub(n);
    while !s.is_char_boundary(from) {
        from += 1;
    }
    &s[from..]
}

fn head(s: &str, n: usize) -> &str {
    let mut to = n.min(s.len());
    while !s.is_char_boundary(to) {
        to -= 1;
    }
    &s[..to]
}

static TRANSFER: Cell = OnceLock::new();
const TRANSFER_RE: &str = r"(?i)(?-u:\b)(?:download(?:s|ing|ed)?|wget|curl)(?-u:\b)|%\|[█▏▎▍▌▋▊▉ #=]|\[=*>|(?-u:\b)\d+(?:\.\d+)?\s*[kmg]i?b/s\s+in\s+\d";
static BUILD: Cell = OnceLock::new();
const BUILD_RE: &str = r"^\s*(?:Finished|Compiling|Checking|Building|Built|Installed|Installing|Collecting)(?-u:\b)|(?i)(?-u:\b)(?:cargo (?:test|build)|test[- ]suite)(?-u:\b)";
static RUN_LENGTH: Cell = OnceLock::new();
const RUN_LENGTH_RE: &str =
    r"(?i)(?-u:\b)requests\s+in\s*$|(?-u:\b)requests:.*(?-u:\b)duration:\s*$";
static ERROR: Cell = OnceLock::new();
const ERROR_RE: &str =
    r"(?i-u)\b(?:failed to allocate|cannot allocate|could not allocate|out of memory|oom)\b";
static COMPUTED: Cell = OnceLock::new();
const COMPUTED_RE: &str = r"[*×/]\s*[0-9.]+\s*[A-Za-z]*\s*=\s*$";
static ESTIMATE: Cell = OnceLock::new();
const ESTIMATE_RE: &str = r"(?i-u)\b(?:should (?:have|be|get|give|reach)|would (?:be|have|need|require|take|give|get|measure)|for instance|for example|imagine|suppose|will (?:require|need|take)|theoretical(?:ly)?|in theory|estimated?|estimates|napkin|back[- ]of[- ](?:the[- ])?envelope|assum(?:e|ing)|expected to|could (?:be|reach|get))\b";
static SETTING: Cell = OnceLock::new();
const SETTING_RE: &str = r"(?i-u)\b(?:defaults?(?: to| is|:)?|by default|set (?:it )?to|configur(?:e|ed|able))\b|\(default";
static BAND: Cell = OnceLock::new();
const BAND_RE: &str = r"(?i-u)\b(?:tolerance|threshold|max_drop|band|fails?)\b";
static MOVING: Cell = OnceLock::new();
const MOVING_RE: &str = r"(?i-u)\b(?:load(?:s|ed|ing)? from|stor(?:e|es|ed|ing)|writ(?:e|es|ing|ten)|read(?:s|ing)? (?:from|back)|transferr?(?:ed|ing|s)?|copie[sd]|copying)\b";
static OF_RAM: Cell = OnceLock::new();
const OF_RAM_RE: &str = r"(?i-u)^\s*of\s+(?:v?ram|system memory)\b";
static REQUIRED: Cell = OnceLock::new();
const REQUIRED_RE: &str =
    r"(?i-u)^\s*of\s+v?ram\s+(?:for|to run|is needed|needed|required|recommended)\b";
static THING_AFTER: Cell = OnceLock::new();
const THING_AFTER_RE: &str = r"(?i-u)^\s*(?:of\s+)?(?:model|weights|checkpoints?|files?|download|images?|packages?|wheels?|on disk)\b";
static THING_BEFORE: Cell = OnceLock::new();
const THING_BEFORE_RE: &str = r"(?i)(?-u:\b)(?:model|weights|checkpoints?|files?|logits|tensors?|images?|packages?)(?-u:\b)[^,;.]{0,24}(?:(?-u:\b)is|(?-u:\b)are|(?-u:\b)takes?|(?-u:\b)by)\s*$";
static MEMORY: Cell = OnceLock::new();
const MEMORY_RE: &str = r"(?i-u)\b(?:peak|memory|ram|vram|rss|footprint|resident|heap|kv|cache|buffers?|usage|used|uses)\b|显存|内存";
static SPEC_PAREN: Cell = OnceLock::new();
const SPEC_PAREN_RE: &str = r"(?-u:\b)[A-Za-z]*[0-9][A-Za-z0-9-]*\s*\(\s*$";
static DEVICE_BEFORE: Cell = OnceLock::new();
const DEVICE_BEFORE_RE: &str = r"(?i-u)\b(?:rtx|gtx|radeon|geforce|quadro|tesla|a100|h100|h200|l4|t4|v100|mi\d{3}x?)\b[\w -]{0,12}$";
static CAPACITY_AFTER: Cell = OnceLock::new();
const CAPACITY_AFTER_RE: &str = r"(?i)^(?:[^,.;0-9]|[0-9]+[a-z][\w-]*){0,40}?(?-u:\b)(?:can do|can deliver|can reach|is the (?:limit|maximum|max|peak)|theoretical)(?-u:\b)";
static CAPACITY_BEFORE: Cell = OnceLock::new();
const CAPACITY_BEFORE_RE: &str = r"(?i-u)\b(?:theoretical|rated|spec(?:ified)?)\b[\w -]{0,20}$";
static ENV_VAR: Cell = OnceLock::new();
static SETTINGS_HEADER: Cell = OnceLock::new();
const SETTINGS_HEADER_RE: &str = r"(?i-u)\b(?:options?|parameters?|params?|flags?|arguments?|args?|defaults?|description|variables?|settings?|env)\b";

#[cfg(test)]
mod tests {
    use super::*;

    /// The reason for the claim at `number` (its first occurrence, to the end
    /// of its unit) in `text`.
    fn why(text: &str, number: &str, unit: &str, kind: Kind) -> Option<&'static str> {
        let start = text.find(number).expect("number in text");
        let end = start + text[start..].find(unit).expect("unit") + unit.len();
        not_a_claim(text, start, end, kind)
    }

    #[test]
    fn hardware_statements_are_not_claims() {
        // From TGI's v3 notes and ik_llama.cpp's discussions (policy/tests/claims/real/).
        let l4 = "A single L4 (24GB) can handle 30k tokens on llama 3.1-8B.";
        assert!(why(l4, "24", "GB", Kind::Memory).is_some());
        let can = "about 25 GiB/s, which is pretty close to the 30 GiB/s the Ryzen-7950X CPU can do in the benchmark";
        assert!(why(can, "30", "GiB/s", Kind::Bandwidth).is_some());
        assert!(why(can, "25", "GiB/s", Kind::Bandwidth).is_none());
        let limit = "We are at ~16 GiB/s and 30 GiB/s is the limit on this CPU";
        assert!(why(limit, "30", "GiB/s", Kind::Bandwidth).is_some());
        assert!(why(limit, "16", "GiB/s", Kind::Bandwidth).is_none());
        let spec =
            "none of this comes close to the theoretical maximum 200GB/sec memory bandwidth.";
        assert!(why(spec, "200", "GB", Kind::Memory).is_some());
        assert!(why("on a NVIDIA RTX 3070 Ti 8GB.", "8", "GB", Kind::Memory).is_some());
        assert!(why("peak memory (1.8 GB)", "1.8", "GB", Kind::Memory).is_none());
    }

    #[test]
    fn configuration_rows_and_settings_are_not_claims() {
        let header = "Option | Default | Description";
        assert!(setting_row(" --lora-max-bytes ", header));
        assert!(setting_row("`-c`", header));
        assert!(setting_row("LLAMA_ARG_CACHE_RAM", header));
        assert!(!setting_row("Peak RSS", header));
        assert!(!setting_row("-", header));
        // a benchmark's configurations and operators are not settings tables
        assert!(!setting_row(
            "-mla 1 -fa",
            "Configuration | Prompt Eval Time (tokens/s)"
        ));
        assert!(!setting_row("MUL_MAT", "operation | time (us)"));
        let set = "The cache defaults to 8 GiB of memory.";
        assert!(why(set, "8", "GiB", Kind::Memory).is_some());
        assert!(
            why(
                "peak memory 3.11 GB while loading",
                "3.11",
                "GB",
                Kind::Memory
            )
            .is_none()
        );
        let drop = "# 0% to below 100%; default 10%";
        assert!(why(drop, "10", "%", Kind::RelativeChange).is_some());
        let band = "the envelope's band is 8.5–23 tok/s (±15%).";
        assert!(why(band, "15", "%", Kind::RelativeChange).is_some());
        assert!(why("decode is 15% faster", "15", "%", Kind::RelativeChange).is_none());
    }

    #[test]
    fn downloads_builds_and_errors_are_not_claims() {
        let wget = "model.gguf  100%[====>]  1.2G  5.41MB/s in 22s";
        assert!(why(wget, "5.41", "MB/s", Kind::Bandwidth).is_some());
        let cargo = "    Finished `release` profile [optimized] target(s) in 0.11s";
        assert!(why(cargo, "0.11", "s", Kind::Latency).is_some());
        let oom = "failed to allocate 0.49 MiB of pinned memory";
        assert!(why(oom, "0.49", "MiB", Kind::Memory).is_some());
        assert!(why("output buffer size = 0.49 MiB", "0.49", "MiB", Kind::Memory).is_none());
    }

    #[test]
    fn estimates_volumes_and_sizes_of_things_are_not_claims() {
        // From ik_llama.cpp's discussions and TGI's v3 notes (policy/tests/claims/real/).
        let est = "so we should be getting in the range of 8-9 t/s for TG. We measured 4.8 t/s.";
        assert!(why(est, "8-9", "t/s", Kind::Throughput).is_some());
        assert!(why(est, "4.8", "t/s", Kind::Throughput).is_none());
        let moved = "we also need to load from/store back to RAM 2080 GiB while computing";
        assert!(why(moved, "2080", "GiB", Kind::Memory).is_some());
        let model = "which is more than the full model which is 16GB. Peak memory was 18GB.";
        assert!(why(model, "16", "GB", Kind::Memory).is_some());
        assert!(why(model, "18", "GB", Kind::Memory).is_none());
    }
}
