//! The forms of a claim that need more than a unit and a word on its line
//! (docs/claims.md, "What counts as a claim"): times in seconds and in minutes
//! and seconds, seconds per token, `tps`, percentages read as relative changes,
//! ratios read as real-time factors or as speed-ups without a speed word,
//! `N times faster`, `N 倍`, and the prefixed `x3`. The matcher finds the number
//! and asks here first; `None` leaves the unit to its own rules.

use super::matcher::{ClaimMatch, Kind, LineWords, Qualifier, Quantity, Words};
use super::{Cell, re};
use regex::Regex;
use std::sync::OnceLock;

/// A `+`, `-` or `−` written right before a percentage ("-25.91%", "+30%"):
/// where it starts and the sign. A sign glued to a word ("x-5%") is not one.
pub(super) fn sign_before(text: &str, at: usize, unit: &str) -> Option<(usize, f64)> {
    if unit != "%" {
        return None;
    }
    let c = text[..at].chars().next_back()?;
    let sign = match c {
        '+' => 1.0,
        '-' | '−' => -1.0,
        _ => return None,
    };
    let from = at - c.len_utf8();
    let glued = text[..from]
        .chars()
        .next_back()
        .is_some_and(|b| b.is_alphanumeric() || b == '.');
    (!glued).then_some((from, sign))
}

/// The kind of a claim in one of these forms and the factor to its base unit:
/// `Some(None)` when the form says it is not a claim, `None` when the unit is
/// not one of these forms.
pub(super) fn classify(
    unit: &str,
    line: &mut LineWords,
    before: &str,
    after: &str,
    written_as_time: bool,
    number: &str,
) -> Option<Option<(Kind, f64)>> {
    let u = unit.to_lowercase();
    let u: String = u.split_whitespace().collect::<Vec<_>>().join(" ");
    // Only the words next to the number matter: keep each look short, so a long
    // line of claims is not re-read once per claim.
    let before = &before[floor_boundary(before, before.len().saturating_sub(REACH))..];
    let after = &after[..ceil_boundary(after, REACH.min(after.len()))];
    let time = |line: &mut LineWords, scale: f64| -> Option<(Kind, f64)> {
        if workload(after) || line.has(Words::Config) {
            return None;
        }
        let elapsed = written_as_time && re(&ELAPSED, ELAPSED_RE).is_match(before);
        (line.has(Words::Latency) || elapsed || line.has(Words::Percentile))
            .then_some((Kind::Latency, scale))
    };
    Some(match u.as_str() {
        "tps" => Some((Kind::Throughput, 1.0)),
        // seconds per token: a per-token time, read as tok/s like ms/token
        _ if u.starts_with('s') && u.contains("tok") => Some((Kind::Latency, 1000.0)),
        "s" | "sec" | "secs" | "second" | "seconds" => time(line, 1000.0),
        "min" | "mins" | "minute" | "minutes" => time(line, 60_000.0),
        _ if is_minutes_and_seconds(&u) => time(line, 1000.0),
        // A time in ms with no latency word: "Loaded model in 590.069732ms",
        // or a percentile row of a latency distribution ("  99%   25.43ms").
        "ms" | "millisecond" | "milliseconds" => {
            let elapsed = written_as_time && re(&ELAPSED, ELAPSED_RE).is_match(before);
            if (elapsed || line.has(Words::Percentile)) && !line.has(Words::Config) {
                Some((Kind::Latency, 1.0))
            } else {
                return None;
            }
        }
        "%" => percent(line, before, after),
        "x" | "×" => return ratio(line, before, after, number),
        "times" => re(&MORE, MORE_RE)
            .is_match(after)
            .then_some((Kind::Speedup, 1.0)),
        "倍" => {
            (line.has(Words::Speed) || line.has(Words::Change)).then_some((Kind::Speedup, 1.0))
        }
        _ => return None,
    })
}

/// "2m23s": minutes, then seconds.
fn is_minutes_and_seconds(u: &str) -> bool {
    u.starts_with('m') && u.ends_with('s') && u.chars().any(|c| c.is_ascii_digit())
}

/// A number read with a minutes-and-seconds unit ("2m23s": 2 and "m23s")
/// becomes seconds; any other comes back as it is.
pub(super) fn minutes_and_seconds(unit: &str, lo: f64, hi: f64) -> (f64, f64) {
    let u: String = unit.to_lowercase().split_whitespace().collect();
    if !is_minutes_and_seconds(&u) {
        return (lo, hi);
    }
    let seconds: f64 = u[1..u.len() - 1].parse().unwrap_or(0.0);
    (lo * 60.0 + seconds, hi * 60.0 + seconds)
}

/// A time that is the size of the work, not how long it took ("6s audio",
/// "13 minutes of audio").
fn workload(after: &str) -> bool {
    re(&WORKLOAD, WORKLOAD_RE).is_match(after)
}

/// A percentage is a relative change when it is signed or its line speaks of
/// speed or change, and not a share of a total or a quality figure (said in
/// its sentence: a line may hold both "35% faster" and "17.8% of the time").
fn percent(line: &mut LineWords, before: &str, after: &str) -> Option<(Kind, f64)> {
    if re(&SHARE_OF, SHARE_OF_RE).is_match(after) {
        return None;
    }
    let (head, tail) = sentence(before, after);
    let share = words_regex(Words::Share);
    if share.is_match(head) || share.is_match(tail) {
        return None;
    }
    // A signed percentage beside plain ones ("| 21.8% | 20.9% | -0.9% |") is a
    // difference of percentages (an accuracy, a share), not a change of speed.
    let signed = before.ends_with(['+', '-', '−']) && !line.has(Words::PlainPercent);
    (signed || line.has(Words::Speed) || line.has(Words::Change))
        .then_some((Kind::RelativeChange, 1.0))
}

/// A ratio: a real-time factor when its line or the words after it say real
/// time; a speed-up with a speed word on its line, a performance noun right
/// after it ("3x more tokens", "~2x latency"), or written with decimals
/// ("1.81x (x86)"); never a ratio of sizes ("4X smaller on disk", "reducing
/// the checkpoint size by 4X").
fn ratio(
    line: &mut LineWords,
    before: &str,
    after: &str,
    number: &str,
) -> Option<Option<(Kind, f64)>> {
    if after.starts_with(|c: char| c.is_alphanumeric()) {
        return Some(None);
    }
    if re(&REALTIME_AFTER, REALTIME_AFTER_RE).is_match(after) || line.has(Words::Realtime) {
        return Some(Some((Kind::RealTimeFactor, 1.0)));
    }
    let near_before = &before[floor_boundary(before, before.len().saturating_sub(40))..];
    if re(&SIZE_AFTER, SIZE_AFTER_RE).is_match(after)
        || re(&SIZE_BEFORE, SIZE_BEFORE_RE).is_match(near_before)
    {
        return Some(None);
    }
    if line.has(Words::Speed) || re(&PERF_NOUN, PERF_NOUN_RE).is_match(after) {
        return Some(Some((Kind::Speedup, 1.0)));
    }
    // Left to the matcher's rule (a speed word) unless written with decimals;
    // a capacity ("Maximum concurrency …: 20.17x") is not a speed-up.
    if line.has(Words::Capacity) {
        return Some(None);
    }
    number.contains('.').then_some(Some((Kind::Speedup, 1.0)))
}

/// The part of a claim's sentence before it and after it, within its line.
fn sentence<'a>(before: &'a str, after: &'a str) -> (&'a str, &'a str) {
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let before = &before[line_start..];
    let stops = [". ", "? ", "! ", "。"];
    let from = stops
        .iter()
        .filter_map(|s| before.rfind(s).map(|i| i + s.len()))
        .max()
        .unwrap_or(0);
    let line_end = after.find('\n').unwrap_or(after.len());
    let after = &after[..line_end];
    let to = stops
        .iter()
        .filter_map(|s| after.find(s))
        .min()
        .unwrap_or(after.len());
    (&before[from..], &after[..to])
}

/// How far before and after a number its words are read.
const REACH: usize = 400;

fn ceil_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// A ratio written before its number ("more than x3 faster", "x2 or x3
/// real-time"): a speed-up with a speed word on its line, a real-time factor
/// with real-time words.
pub(super) fn prefixed_ratios(text: &str, out: &mut Vec<ClaimMatch>) {
    if !text.contains(['x', 'X']) {
        return;
    }
    let before = out.len();
    let mut line = LineWords::new(text);
    for caps in re(&PREFIXED, PREFIXED_RE).captures_iter(text) {
        let whole = caps.get(0).expect("match");
        let number = caps.name("n").expect("number");
        let start = whole.start();
        // The `x` starts a word: "x3", "(x3", "~x3"; not "0x3f" or "max3".
        let starts_word = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || matches!(c, '(' | '~'));
        // "x86", "x64", "x32" name architectures, not ratios.
        if !starts_word || matches!(number.as_str(), "86" | "64" | "32") {
            continue;
        }
        let line = line.around(start, whole.end());
        let kind = if line.has(Words::Realtime) {
            Kind::RealTimeFactor
        } else if line.has(Words::Speed) {
            Kind::Speedup
        } else {
            continue;
        };
        let Ok(v) = number.as_str().parse::<f64>() else {
            continue;
        };
        let lookback = &text[floor_boundary(text, start.saturating_sub(24))..start];
        let qualifier = if re(&AT_LEAST, AT_LEAST_RE).is_match(lookback) {
            Qualifier::AtLeast
        } else {
            Qualifier::Exact
        };
        out.push(ClaimMatch {
            start,
            end: whole.end(),
            text: text[start..whole.end()].to_string(),
            unit: "x".into(),
            quantity: Quantity {
                kind,
                low: v,
                high: v,
                qualifier,
            },
        });
    }
    if out.len() > before {
        out.sort_by_key(|f| f.start);
    }
}

/// An indented list item's parent item (the nearest less-indented item above),
/// whose words a nested item shares: "- First token latency" over "  - ~300ms".
pub(super) fn parent_item(text: &str, line_start: usize) -> Option<&str> {
    let line = text[line_start..].split('\n').next().unwrap_or("");
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent == 0 || !is_item(line.trim_start()) {
        return None;
    }
    let mut end = line_start;
    for _ in 0..32 {
        let above = text[..end.checked_sub(1)?].rfind('\n').map_or(0, |i| i + 1);
        let candidate = &text[above..end - 1];
        let own = candidate.len() - candidate.trim_start_matches(' ').len();
        if candidate.trim().is_empty() {
            return None;
        }
        if own < indent && is_item(candidate.trim_start()) {
            return Some(candidate);
        }
        end = above;
    }
    None
}

fn is_item(trimmed: &str) -> bool {
    ["- ", "* ", "+ "].iter().any(|m| trimmed.starts_with(m))
}

pub(super) fn words_regex(words: Words) -> &'static Regex {
    match words {
        Words::Realtime => re(&REALTIME, REALTIME_RE),
        Words::Change => re(&CHANGE, CHANGE_RE),
        Words::Share => re(&SHARE, SHARE_RE),
        Words::Percentile => re(&PERCENTILE, PERCENTILE_RE),
        Words::PlainPercent => re(&PLAIN_PERCENT, PLAIN_PERCENT_RE),
        Words::Capacity => re(&CAPACITY, CAPACITY_RE),
        _ => unreachable!("the matcher's own words"),
    }
}

static ELAPSED: Cell = OnceLock::new();
const ELAPSED_RE: &str = r"(?i-u)\b(?:in|took|takes?|after)\s*(?:~|≈|about\s+|only\s+)?$";
static WORKLOAD: Cell = OnceLock::new();
const WORKLOAD_RE: &str = r"(?i)^[*_\]]*(?:\([^)\s]*\))?\s*(?:(?:of\s+)?(?:audio|video|speech|clips?|recording)|per\s+[kmgt]i?b)(?-u:\b)";
static SHARE_OF: Cell = OnceLock::new();
const SHARE_OF_RE: &str = r"(?i-u)^\s*of\b";
static MORE: Cell = OnceLock::new();
const MORE_RE: &str =
    r"(?i-u)^\s*(?:faster|slower|quicker|more|less|fewer|higher|lower|the (?:speed|throughput))\b";
static REALTIME_AFTER: Cell = OnceLock::new();
const REALTIME_AFTER_RE: &str = r"(?i-u)^\s*(?:rtf?|real-?time)\b";
static SIZE_AFTER: Cell = OnceLock::new();
const SIZE_AFTER_RE: &str =
    r"(?i-u)^\s*(?:smaller|larger|bigger|less (?:disk|storage)|compression|on disk)\b";
static SIZE_BEFORE: Cell = OnceLock::new();
const SIZE_BEFORE_RE: &str =
    r"(?i)(?-u:\b)(?:size|disk|file|checkpoint|compress\w*)(?-u:\b)[^.,;]*(?-u:\b)by\s*$";
static PERF_NOUN: Cell = OnceLock::new();
const PERF_NOUN_RE: &str = r"(?i-u)^\s*(?:(?:more|fewer|less|higher|lower|better)\s+)?(?:tokens|throughput|latency|speed|bandwidth|requests)\b";
static PREFIXED: Cell = OnceLock::new();
const PREFIXED_RE: &str = r"[xX](?P<n>[0-9]+(?:\.[0-9]+)?)(?-u:\b)";
static AT_LEAST: Cell = OnceLock::new();
const AT_LEAST_RE: &str = r"(?i-u)\b(?:more than|over|at least|up to)\s*$";
static REALTIME: Cell = OnceLock::new();
const REALTIME_RE: &str = r"(?i-u)\b(?:real-?time|rtf)\b";
static CHANGE: Cell = OnceLock::new();
const CHANGE_RE: &str = r"(?i-u)\b(?:overhead|regression|slowdown|lower|higher|gain|boost|increase[sd]?|decrease[sd]?|reduc(?:e|es|ed|tion)|improve[sd]?|drop|decode|prefill|pp|tg|speed|delta)\b|提升|下降|加速|降低|变化|快|慢";
static SHARE: Cell = OnceLock::new();
const SHARE_RE: &str = r"(?i-u)\b(?:share|fraction|utili[sz]ation|util|occupancy|perplexity|ppl|accuracy|wer|cer|bleu|score|pass@\d*|mmlu|kld|hit[- ]rate|coverage|sparsity|progress|saturate[sd]?|probability|confidence|energy|power|watts?|joules?)\b|\bof\s+(?:the\s+)?(?:\w+\s+)?(?:total|time|all|runtime)\b";
static CAPACITY: Cell = OnceLock::new();
const CAPACITY_RE: &str = r"(?i-u)\b(?:maximum|max|capacity|concurrency)\b";
static PLAIN_PERCENT: Cell = OnceLock::new();
const PLAIN_PERCENT_RE: &str = r"(?:^|[\s|(])[0-9]+(?:\.[0-9]+)?\s*%";
static PERCENTILE: Cell = OnceLock::new();
const PERCENTILE_RE: &str =
    r"(?i-u)^\s*(?:p\d{2,3}|\d{1,2}(?:\.\d+)?%)\s+[0-9.]+\s*(?:ms|us|µs|s)\s*$";

#[cfg(test)]
mod tests {
    use super::super::matcher::find;
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, f64)> {
        find(text)
            .iter()
            .map(|f| (f.quantity.kind, f.quantity.low))
            .collect()
    }

    #[test]
    fn seconds_minutes_and_seconds_per_token() {
        // From TGI's v3 notes, faster-whisper's and llama2.c's READMEs
        // (policy/tests/claims/real/).
        assert_eq!(
            kinds("conversation replies take 27.5s in vLLM, while it takes only 2s in TGI"),
            vec![(Kind::Latency, 27500.0), (Kind::Latency, 2000.0)]
        );
        assert_eq!(kinds("| Time | 2m23s |"), vec![(Kind::Latency, 143000.0)]);
        let q = find("about 30 seconds per token")[0].quantity;
        assert_eq!(q.kind, Kind::Throughput);
        assert!((q.low - 1.0 / 30.0).abs() < 1e-9);
        assert_eq!(
            kinds("Loaded model and tokenizers in 590.069732ms"),
            vec![(Kind::Latency, 590.069732)]
        );
        assert_eq!(kinds("     99%   25.43ms"), vec![(Kind::Latency, 25.43)]);
        assert_eq!(
            kinds("Short (6s audio) took 2 minutes"),
            vec![(Kind::Latency, 120_000.0)]
        );
        assert!(kinds("to transcribe [**13 minutes**](https://y.com/v) of audio").is_empty());
        assert!(kinds("a timeout of 30 s").is_empty());
        assert!(kinds("5 s").is_empty());
        let q = find("over 0.3+ tok/s")[0].quantity;
        assert_eq!(q.qualifier, Qualifier::AtLeast);
        assert_eq!(kinds("20+ tps on a 4090"), vec![(Kind::Throughput, 20.0)]);
    }

    #[test]
    fn percentages_are_relative_changes_unless_shares_or_quality() {
        // From ik_llama.cpp, CTranslate2 and fastllm docs (policy/tests/claims/real/).
        assert_eq!(
            kinds("FA is 26% slower"),
            vec![(Kind::RelativeChange, 26.0)]
        );
        assert_eq!(
            kinds("| Output tok/s | 376.48 | 439.94 | vLLM -13.25% |")
                .into_iter()
                .filter(|(k, _)| *k == Kind::RelativeChange)
                .collect::<Vec<_>>(),
            vec![(Kind::RelativeChange, -13.25)]
        );
        assert_eq!(kinds("+30% at 16K"), vec![(Kind::RelativeChange, 30.0)]);
        assert_eq!(
            kinds("~15% decode overhead"),
            vec![(Kind::RelativeChange, 15.0)]
        );
        assert!(kinds("17.8% of the time is SOFT_MAX").is_empty());
        assert!(kinds("perplexity is +0.7% higher").is_empty());
        assert!(kinds("| Accuracy | 91.67% |").is_empty());
        assert!(kinds("50% of users").is_empty());
    }

    #[test]
    fn ratios_real_time_factors_and_prefixed_forms() {
        // From Kokoro-FastAPI's, TGI's and llama2.c's READMEs and fastllm's docs
        // (policy/tests/claims/real/), and the issue's "more than x3 faster".
        assert_eq!(
            kinds("Realtime Speed: Ranges between 35x-100x"),
            vec![(Kind::RealTimeFactor, 35.0)]
        );
        assert_eq!(kinds("| 36.4x rt |"), vec![(Kind::RealTimeFactor, 36.4)]);
        assert_eq!(
            kinds("TGI processes 3x more tokens"),
            vec![(Kind::Speedup, 3.0)]
        );
        assert_eq!(kinds("~2x latency"), vec![(Kind::Speedup, 2.0)]);
        assert_eq!(kinds("1.81x (x86) and 1.79x (ARM)").len(), 2);
        assert!(kinds("reducing the checkpoint size by 4X.").is_empty());
        assert!(kinds("4X smaller on disk").is_empty());
        assert!(kinds("3x as many files").is_empty());
        assert!(kinds("2x A100").is_empty());
        assert_eq!(
            kinds("up to 4 times faster than whisper"),
            vec![(Kind::Speedup, 4.0)]
        );
        assert!(kinds("run it 4 times").is_empty());
        assert_eq!(kinds("约快 8 倍"), vec![(Kind::Speedup, 8.0)]);
        let mut out = Vec::new();
        prefixed_ratios("it is more than x3 faster; x2 or x3 real-time", &mut out);
        let got: Vec<(Kind, f64, Qualifier)> = out
            .iter()
            .map(|f| (f.quantity.kind, f.quantity.low, f.quantity.qualifier))
            .collect();
        assert_eq!(
            got,
            vec![
                (Kind::RealTimeFactor, 3.0, Qualifier::AtLeast),
                (Kind::RealTimeFactor, 2.0, Qualifier::Exact),
                (Kind::RealTimeFactor, 3.0, Qualifier::Exact),
            ]
        );
        let mut out = Vec::new();
        prefixed_ratios("more than x3 faster\nx86 and x2 boards", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].quantity.kind, Kind::Speedup);
    }

    #[test]
    fn a_nested_list_item_shares_its_parents_words() {
        let md = "- First token latency @ chunksize\n    - ~300ms  (GPU) @ 400\n- ~300ms\n";
        let got = kinds(md);
        assert_eq!(got, vec![(Kind::Latency, 300.0)]);
    }
}
