//! What a performance claim looks like in text: a number (or range, or bound)
//! with a performance unit. Pure text in, claims out; it knows nothing about
//! markdown, files or receipts.

use super::forms;
pub use super::terms::Kind;
use regex::Regex;
use regex_automata::meta::Regex as MetaRegex;
use serde::Serialize;
use std::sync::OnceLock;

/// How the number is qualified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Qualifier {
    /// "15.3 tok/s" or a range "10-20 tok/s"
    Exact,
    /// "~15", "≈15", "about 15"
    Approximate,
    /// "≥3×", "at least", "over", "up to" (a claimed reachable peak)
    AtLeast,
    /// "≤ 30 ms/token", "under", "less than"
    AtMost,
}

/// A claim's numbers, normalised: throughput in tok/s (ms/token is converted),
/// latency in ms, memory in bytes, bandwidth in bytes/s, speed-up as a ratio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantity {
    pub kind: Kind,
    pub low: f64,
    pub high: f64,
    pub qualifier: Qualifier,
}

/// One claim found in a piece of text: byte offsets into that text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimMatch {
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// The unit as written ("tok/s", "ms/token", "×", "GB").
    pub unit: String,
    pub quantity: Quantity,
}

const NUMBER: &str = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?|\.[0-9]+";

/// The number-and-unit pattern (Rust regex syntax, which ripgrep shares). Classes,
/// case folding and word boundaries are ASCII (`-u`), which keeps the DFA small
/// and fast; the
/// qualifier before a number ("~", "about", "up to") is read separately, by
/// looking back from the match, which keeps this automaton small.
pub fn claim_pattern() -> String {
    format!(
        r"(?xi-u)
            (?P<lo>{NUMBER})(?P<plus>\+)?
            (?:\s*(?:x|×|%)?\s*(?:-|–|—|\bto\b)\s*(?P<hi>{NUMBER}))?
            \s*
            (?P<unit>
                tok(?:en)?s?\s*/\s*s(?:ec(?:ond)?)?\b
              | tokens?\s+(?:per|a|/)\s+sec(?:ond)?\b
              | t/s\b | tps\b
              | ms\s*/\s*tok(?:en)?s?\b
              | ms\s+(?:per|a)\s+tok(?:en)?\b
              | milliseconds?\s+per\s+tok(?:en)?\b
              | s(?:ec(?:ond)?s?)?\s*(?:/|per)\s*tok(?:en)?\b
              | ms\b | milliseconds?\b
              | (?:u|µ|μ)s\b | microseconds?\b
              | m\s*[0-9]{{1,2}}(?:\.[0-9]+)?\s*s\b
              | s\b | secs?\b | seconds?\b | min(?:ute)?s?\b
              | [kmgt]i?b\s*/\s*s\b | [kmgt]i?b(?:ytes?)?\b
              | x\b | × | % | times\b | 倍
            )"
    )
}

/// A qualifier written just before a number.
fn qualifier_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i-u)(?:(?:~|≈|≥|>=|≤|<=|>|<)\s*|\b(?:about|around|approx\.?|approximately|roughly|circa|up\s+to|at\s+least|at\s+most|over|more\s+than|less\s+than|under|below|above)\s+)$",
        )
        .unwrap()
    })
}

/// The pattern compiled without a literal prefilter: its only literals are the
/// ten digits, which are everywhere in docs, so a prefilter would stop at every
/// digit; the lazy DFA alone scans faster.
fn claim_regex() -> &'static MetaRegex {
    static RE: OnceLock<MetaRegex> = OnceLock::new();
    RE.get_or_init(|| {
        MetaRegex::builder()
            .configure(MetaRegex::config().auto_prefilter(false))
            .build(&claim_pattern())
            .expect("claim regex compiles")
    })
}

/// Words that make a bare `×`/`x`, `ms` or byte count a performance claim when
/// they are on the same line.
fn speed_words() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i-u)\b(?:faster|slower|quicker|speed-?ups?|throughput|performance|improvement|tok/s)\b").unwrap()
    })
}
fn latency_words() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i-u)\b(?:latency|latencies|ttft|tpot|first[- ]token|p50|p9[059]|decode|prefill|time|timings?|elapsed|took|takes?|taking|wall|replies|duration|lat)\b",
        )
        .unwrap()
    })
}
/// Words of a setting rather than a measurement: a time on their line is
/// configuration ("timeout = 500 ms").
fn config_words() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i-u)(?:\b|_)(?:time-?outs?|intervals?|delays?|sleep|wait|ttl|deadline|retry|retries|backoff|period|poll|budget|limit|default)(?:\b|_)",
        )
        .unwrap()
    })
}
fn memory_words() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i-u)\b(?:peak|memory|ram|vram|rss|footprint|resident|heap|kv[- ]cache|kv|buffers?|mem)\b|显存|内存")
            .unwrap()
    })
}

/// Does a line (a table header) hold words that make numbers below it claims?
pub fn has_context_words(line: &str) -> bool {
    speed_words().is_match(line) || latency_words().is_match(line) || memory_words().is_match(line)
}

/// A cheap test: could this text hold a claim at all?
pub fn may_contain_claim(text: &str) -> bool {
    claim_regex().is_match(text)
}

/// Every claim in `text`. The words of the line around a match decide whether a
/// bare `3×`, `70 ms` or `2 GB` is about performance. Linear in the text: each
/// line's words are read once, however many claims it holds.
pub fn find(text: &str) -> Vec<ClaimMatch> {
    let mut out = Vec::new();
    let mut line = LineWords::new(text);
    for caps in claim_regex().captures_iter(text) {
        let whole = caps.get_match().expect("a match").span();
        let group = |name| caps.get_group_by_name(name).map(|s| &text[s.range()]);
        let lo_start = caps.get_group_by_name("lo").expect("number").start;
        let unit = group("unit").expect("unit");
        let sign = forms::sign_before(text, lo_start, unit);
        if !number_starts_a_word(text, lo_start) && sign.is_none() {
            continue;
        }
        let after = &text[whole.end..];
        let line = line.around(whole.start, whole.end);
        let number = caps
            .get_group_by_name("hi")
            .or_else(|| caps.get_group_by_name("lo"))
            .expect("number");
        let unit_start = caps.get_group_by_name("unit").expect("unit").start;
        let written_as_time = number.end == unit_start || text[number.range()].contains('.');
        // A time assigned to a label in a log line ("ADD] =  51.409 ms",
        // "prediction 0, time: 1475.57ms") is a measured one unless the line
        // sets something ("timeout = 500 ms").
        let assigned = text[..whole.start]
            .trim_end_matches([' ', '\t'])
            .ends_with(['=', ':']);
        let found = match microseconds(unit, written_as_time) {
            Some(true) => Some((Kind::Latency, 0.001)),
            Some(false) => line.has(Words::Latency).then_some((Kind::Latency, 0.001)),
            None if assigned && unit.eq_ignore_ascii_case("ms") && !line.has(Words::Config) => {
                Some((Kind::Latency, 1.0))
            }
            None => match forms::classify(
                unit,
                line,
                &text[..whole.start],
                after,
                written_as_time,
                &text[number.range()],
            ) {
                Some(read) => read,
                None => classify(unit, |w| line.has(w), after),
            },
        };
        let Some((kind, scale)) = found else {
            continue;
        };
        let lo = parse_number(group("lo").expect("number"));
        let hi = group("hi").map_or(lo, parse_number);
        let (Some(lo), Some(hi)) = (lo, hi) else {
            continue;
        };
        // Look back at most 24 bytes (on a char boundary) for a qualifier.
        let mut from = whole.start.saturating_sub(24);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let (start, qualifier) = match qualifier_regex().find(&text[from..whole.start]) {
            Some(p) => (from + p.start(), qualifier(p.as_str())),
            None => (whole.start, Qualifier::Exact),
        };
        // "0.3+ tok/s" is a bound; "-25.91%" starts at its sign and is negative.
        let qualifier = match caps.get_group_by_name("plus") {
            Some(_) => Qualifier::AtLeast,
            None => qualifier,
        };
        let (start, lo, hi) = match sign {
            Some((at, s)) => (at.min(start), lo * s, hi * s),
            None => (start, lo, hi),
        };
        let (lo, hi) = forms::minutes_and_seconds(unit, lo, hi);
        let quantity = normalise(kind, unit, lo * scale, hi * scale, qualifier);
        out.push(ClaimMatch {
            start,
            end: whole.end,
            text: text[start..whole.end].trim().to_string(),
            unit: unit.split_whitespace().collect::<Vec<_>>().join(" "),
            quantity,
        });
    }
    labelled_values(text, &mut out);
    forms::prefixed_ratios(text, &mut out);
    out
}

/// Log lines that put the unit in a label before the value, as benchmark tools
/// print them: "Output token throughput (tok/s): 602.43", "P99 TTFT (ms): 4021.87".
fn labelled_values(text: &str, out: &mut Vec<ClaimMatch>) {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i-u)\((?P<unit>tok(?:en)?s?\s*/\s*s(?:ec)?|t/s|ms\s*/\s*tok(?:en)?|ms|[kmgt]i?b\s*/\s*s|[kmgt]i?b)\)\s*[:=]\s*(?P<lo>{NUMBER})"
        ))
        .expect("labelled value regex compiles")
    });
    if !text.contains("):") && !text.contains(") :") && !text.contains(")=") {
        return;
    }
    let before = out.len();
    let mut line = LineWords::new(text);
    for caps in re.captures_iter(text) {
        let (unit, number) = (&caps["unit"], caps.name("lo").expect("number"));
        let line = line.around(number.start(), number.end());
        let Some((kind, scale)) = classify(unit, |w| line.has(w), "") else {
            continue;
        };
        let Some(v) = parse_number(number.as_str()) else {
            continue;
        };
        out.push(ClaimMatch {
            start: number.start(),
            end: number.end(),
            text: format!("{} {unit}", number.as_str()),
            unit: unit.to_string(),
            quantity: normalise(kind, unit, v * scale, v * scale, Qualifier::Exact),
        });
    }
    if out.len() > before {
        out.sort_by_key(|f| f.start);
    }
}

/// A bare table cell ("~15.3", "10–20", "1,102", "3.2×") read with the unit and
/// the words of its column header, which a cell leaves out.
pub fn read_cell(cell: &str, unit: &str, header: &str) -> Option<ClaimMatch> {
    let prefixes = [
        ("≥", Qualifier::AtLeast),
        (">=", Qualifier::AtLeast),
        ("≤", Qualifier::AtMost),
        ("<=", Qualifier::AtMost),
        ("~", Qualifier::Approximate),
        ("≈", Qualifier::Approximate),
    ];
    let (body, qualifier) = prefixes
        .iter()
        .find_map(|(p, q)| cell.strip_prefix(p).map(|rest| (rest.trim_start(), *q)))
        .unwrap_or((cell, Qualifier::Exact));
    // "1618.42 ± 11.03": the claim is the mean.
    let body = body.split('±').next().unwrap_or(body).trim_end();
    let body = body.trim_end_matches(['x', '×']).trim_end();
    // "3.78863e+08" is one number, not a range.
    let scientific = body.contains(['e', 'E']);
    let (lo, hi) = match body.split_once(['-', '–', '~']).filter(|_| !scientific) {
        Some((a, b)) => (parse_number(a.trim())?, parse_number(b.trim())?),
        None => (parse_number(body)?, parse_number(body)?),
    };
    // A zero under a unit marks a run that failed or was skipped
    // (`| 0 | 0 | 0 | FAIL, core dump |`), not a measurement.
    if lo == 0.0 && hi == 0.0 {
        return None;
    }
    // A "Speedup" column holds ratios.
    let unit = unit.trim_start_matches([' ', '\t', '(']);
    let unit = if unit.to_ascii_lowercase().starts_with("speed") {
        "x"
    } else if unit.eq_ignore_ascii_case("tps") {
        // "TPS", tokens per second, as an abbreviated header or caption writes it
        "tok/s"
    } else {
        unit
    };
    // A time unit in a header says what the column measures, with or without a
    // latency word beside it ("Load Time (ms)", "T_TG s", "time (us)").
    let (kind, scale) = match header_time_unit(unit) {
        Some(scale) => (Kind::Latency, scale),
        None => classify(unit, |w| w.regex().is_match(header), "")?,
    };
    Some(ClaimMatch {
        start: 0,
        end: cell.len(),
        text: cell.to_string(),
        unit: unit.to_string(),
        quantity: normalise(kind, unit, lo * scale, hi * scale, qualifier),
    })
}

/// Milliseconds per unit of a time unit written in a table header.
fn header_time_unit(unit: &str) -> Option<f64> {
    match unit.to_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => Some(1.0),
        "s" | "sec" | "secs" | "second" | "seconds" => Some(1000.0),
        "us" | "µs" | "μs" => Some(0.001),
        _ => None,
    }
}

/// For a microsecond unit, whether it is one whatever the line says: `µs`, or
/// `us` glued to its number or after a decimal ("56.46us", "98.83 us"); a bare
/// "5 us" needs a latency word on its line (it may be the pronoun). None for
/// other units.
fn microseconds(unit: &str, written_as_time: bool) -> Option<bool> {
    let u = unit.to_lowercase();
    match u.as_str() {
        "µs" | "μs" | "microsecond" | "microseconds" => Some(true),
        "us" => Some(written_as_time),
        _ => None,
    }
}

/// A number glued to a word, path or version ("b1.58", "v2", "x86_64", "/10") is not a claim.
fn number_starts_a_word(text: &str, at: usize) -> bool {
    match text[..at].chars().next_back() {
        None => true,
        Some(c) => !(c.is_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | ':' | '#' | '=')),
    }
}

/// Words that make a bare unit a performance claim (the last six read by
/// `forms`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Words {
    Speed,
    Latency,
    Memory,
    Config,
    Realtime,
    Change,
    Share,
    Percentile,
    PlainPercent,
    Capacity,
}

const WORDS: usize = 10;

impl Words {
    fn regex(self) -> &'static Regex {
        match self {
            Words::Speed => speed_words(),
            Words::Latency => latency_words(),
            Words::Memory => memory_words(),
            Words::Config => config_words(),
            other => forms::words_regex(other),
        }
    }
}

/// The line around each match, with which words it holds. Matches come in text
/// order, so each line is found and read once: a 1 MB line of claims costs one
/// look for its ends and one search per kind of word, not one per claim.
pub(super) struct LineWords<'t> {
    text: &'t str,
    line: std::ops::Range<usize>,
    /// Per `Words`, whether the line holds one; `None` until asked.
    has: [Option<bool>; WORDS],
}

impl<'t> LineWords<'t> {
    pub(super) fn new(text: &'t str) -> LineWords<'t> {
        LineWords {
            text,
            line: 0..0,
            has: [None; WORDS],
        }
    }

    /// The lines from the one holding `start` to the one holding `end`.
    pub(super) fn around(&mut self, start: usize, end: usize) -> &mut Self {
        let (from, to) = (self.line.start, self.line.end);
        if from <= start && end <= to && from < to {
            return self;
        }
        // Where a search back for the line's start may stop: the end of the
        // line before, when the match is past it.
        let floor = if start >= to {
            to
        } else if start >= from {
            from
        } else {
            0
        };
        let from = self.text[floor..start]
            .rfind('\n')
            .map_or(floor, |i| floor + i + 1);
        let to = self.text[end..]
            .find('\n')
            .map_or(self.text.len(), |i| end + i);
        self.line = from..to;
        self.has = [None; WORDS];
        self
    }

    pub(super) fn has(&mut self, words: Words) -> bool {
        let (text, start) = (self.text, self.line.start);
        let line = &text[self.line.clone()];
        *self.has[words as usize].get_or_insert_with(|| {
            words.regex().is_match(line)
                || forms::parent_item(text, start).is_some_and(|p| words.regex().is_match(p))
        })
    }
}

/// The kind of claim and the factor to the kind's base unit, or None when the
/// unit is not about performance here. `has` says whether the claim's line (or
/// table header) holds words of a kind.
fn classify(unit: &str, mut has: impl FnMut(Words) -> bool, after: &str) -> Option<(Kind, f64)> {
    let u = unit.to_ascii_lowercase();
    let u: String = u.split_whitespace().collect::<Vec<_>>().join(" ");
    if u.starts_with("tok") || u == "t/s" {
        return Some((Kind::Throughput, 1.0));
    }
    if u.starts_with("ms") && u.contains("tok") || u.starts_with("millisecond") && u.contains("tok")
    {
        return Some((Kind::Latency, 1.0));
    }
    if u == "ms" || u.starts_with("millisecond") {
        return has(Words::Latency).then_some((Kind::Latency, 1.0));
    }
    if u == "x" || u == "×" {
        // "2x2", "x86" never get here (the regex wants a word break); a bare
        // ratio needs a speed word on its line.
        if after.starts_with(|c: char| c.is_alphanumeric()) {
            return None;
        }
        return has(Words::Speed).then_some((Kind::Speedup, 1.0));
    }
    let prefix = u.chars().next()?;
    let binary = u.contains("ib");
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let scale = match prefix {
        'k' => base,
        'm' => base.powi(2),
        'g' => base.powi(3),
        't' => base.powi(4),
        _ => return None,
    };
    if u.ends_with("/s") || u.ends_with("/ s") {
        return Some((Kind::Bandwidth, scale));
    }
    // "64gb RAM", "16 GB VRAM", "2x24GB GPUs": the size of a machine's memory,
    // a hardware spec, not what the engine used.
    let names_hardware = after
        .trim_start_matches([' ', '\t'])
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .is_some_and(|w| {
            let w = w.to_ascii_lowercase();
            matches!(w.as_str(), "ram" | "vram" | "gpu" | "gpus") || w.starts_with("ddr")
        });
    if names_hardware {
        return None;
    }
    has(Words::Memory).then_some((Kind::Memory, scale))
}

fn normalise(kind: Kind, unit: &str, lo: f64, hi: f64, q: Qualifier) -> Quantity {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let per_token_ms =
        kind == Kind::Latency && unit.to_ascii_lowercase().contains("tok") && lo > 0.0;
    if per_token_ms {
        // ms/token → tok/s: a range flips, and so does a bound.
        let qualifier = match q {
            Qualifier::AtLeast => Qualifier::AtMost,
            Qualifier::AtMost => Qualifier::AtLeast,
            other => other,
        };
        return Quantity {
            kind: Kind::Throughput,
            low: 1000.0 / hi,
            high: 1000.0 / lo,
            qualifier,
        };
    }
    Quantity {
        kind,
        low: lo,
        high: hi,
        qualifier: q,
    }
}

fn qualifier(prefix: &str) -> Qualifier {
    let p: String = prefix
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match p.as_str() {
        "~" | "≈" | "about" | "around" | "approx." | "approx" | "approximately" | "roughly"
        | "circa" => Qualifier::Approximate,
        "≥" | ">=" | ">" | "up to" | "at least" | "over" | "more than" | "above" => {
            Qualifier::AtLeast
        }
        _ => Qualifier::AtMost,
    }
}

fn parse_number(s: &str) -> Option<f64> {
    s.replace(',', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Quantity {
        let found = find(text);
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        found[0].quantity
    }

    fn none(text: &str) {
        assert!(find(text).is_empty(), "{text}: {:?}", find(text));
    }

    #[test]
    fn throughput_ranges_approximations_and_separators() {
        let q = one("CPU: ~10-20 tok/s on a laptop");
        assert_eq!((q.kind, q.low, q.high), (Kind::Throughput, 10.0, 20.0));
        assert_eq!(q.qualifier, Qualifier::Approximate);
        assert_eq!(one("50–100 tokens/sec").high, 100.0);
        assert_eq!(one("10 to 20 tokens per second").low, 10.0);
        assert_eq!(one("about 1,625.5 t/s").low, 1625.5);
        assert_eq!(one("≥ 30 tok/s").qualifier, Qualifier::AtLeast);
    }

    #[test]
    fn latency_per_token_converts_to_throughput() {
        let q = one("decode takes 29 ms/token");
        assert_eq!(q.kind, Kind::Throughput);
        assert!((q.low - 1000.0 / 29.0).abs() < 1e-9);
        let q = one("under 50 ms per token");
        assert_eq!(q.qualifier, Qualifier::AtLeast);
        let q = one("first-token latency of 70 ms");
        assert_eq!((q.kind, q.low), (Kind::Latency, 70.0));
    }

    #[test]
    fn microseconds_are_latencies_in_ms() {
        // From llamafile's wrk output, TGI's v3 notes and fastllm's docs
        // (policy/tests/claims/real/).
        let wrk: Vec<(Kind, f64)> = find("Latency    56.46us   11.03us   3.69ms")
            .iter()
            .map(|f| (f.quantity.kind, f.quantity.low))
            .collect();
        assert_eq!(
            wrk,
            vec![
                (Kind::Latency, 0.05646),
                (Kind::Latency, 0.01103),
                (Kind::Latency, 3.69)
            ]
        );
        assert!((one("The overhead of the lookup is ~5us.").low - 0.005).abs() < 1e-12);
        assert!((one("原串行 kernel 为 98.83 us，").low - 0.09883).abs() < 1e-12);
        assert_eq!(one("took 858.356µs").kind, Kind::Latency);
        assert_eq!(one("p99 latency of 40 us").kind, Kind::Latency);
        none("all 5 us agreed");
        none("a 3 US company");
    }

    #[test]
    fn timings_in_log_lines_are_latencies_and_settings_are_not() {
        // From neural-speed's profiling log (policy/tests/claims/real/) and the
        // issue's "encode time = 8582.63 ms".
        assert_eq!(
            one("perf_total_per_op_us[                     ADD] =  51.409 ms").kind,
            Kind::Latency
        );
        assert_eq!(one("encode time = 8582.63 ms").low, 8582.63);
        assert_eq!(one("prediction   1, time: 42.19ms").low, 42.19);
        assert_eq!(
            one("model_print_timings:        load time =  2691.89 ms").kind,
            Kind::Latency
        );
        assert_eq!(one("| est non-attn lat | 1226.984ms |").kind, Kind::Latency);
        none("request_timeout = 500 ms");
        none("poll interval: 250 ms");
        none("max wait = 100 ms");
    }

    #[test]
    fn a_memory_size_that_names_the_hardware_is_a_spec() {
        // From Kokoro-FastAPI's and ik_llama.cpp's docs (policy/tests/claims/real/).
        none("- 64gb RAM");
        none("with the paltry 16 GB VRAM on the RTX-4080 that I have");
        assert_eq!(one("peak memory 3.11 GB while loading").kind, Kind::Memory);
    }

    #[test]
    fn speedups_memory_and_bandwidth() {
        assert_eq!(one("2.37x to 6.17x faster").kind, Kind::Speedup);
        assert_eq!(one("a 2.5x speedup").low, 2.5);
        assert_eq!(
            one("≥3× faster than llama.cpp").qualifier,
            Qualifier::AtLeast
        );
        let q = one("uses ~500MB of memory");
        assert_eq!((q.kind, q.low), (Kind::Memory, 500e6));
        assert_eq!(one("1.8GB peak").low, 1.8e9);
        assert_eq!(one("reaches 81 GB/s").kind, Kind::Bandwidth);
    }

    #[test]
    fn units_in_a_label_before_the_value() {
        assert_eq!(
            one("Output token throughput (tok/s):         602.43").low,
            602.43
        );
        assert_eq!(one("P99 TTFT (ms): 4021.87").kind, Kind::Latency);
        none("Benchmark duration (s): 212.47");
        none("Watchdog (ms): 500");
    }

    #[test]
    fn near_misses_are_not_claims() {
        none("a 2x2 matrix");
        none("version 1.2.0, released 2025-10-23");
        none("generate 128 tokens");
        none("see Section 3.5");
        none("https://example.com/bench/10-20x");
        none("runs on x86_64 and aarch64");
        none("timeout of 500 ms");
        none("needs 10 GB of disk");
        none("bitnet-b1.58-2B-4T");
        none("3x as many files");
    }
}
