//! Which device a claim is about, from the words beside it (CPU, GPU, CUDA, an
//! NVIDIA or AMD card, Metal, ROCm, Vulkan, …), and which receipt backends run on
//! that device. A receipt measured on another device says nothing about the
//! claim, so the backer calls the claim unbacked rather than contradicted.

use regex::Regex;
use serde::{Serialize, Serializer};
use std::ops::Range;
use std::sync::OnceLock;

/// Receipt `backend` values (the `backend-unknown` gate's list), one bit each.
const BACKENDS: [&str; 11] = [
    "cpu", "cuda", "gpu", "rocm", "hip", "metal", "vulkan", "opencl", "sycl", "npu", "webgpu",
];

const fn bits(names: &[&str]) -> u16 {
    let mut mask = 0;
    let mut i = 0;
    while i < names.len() {
        let mut j = 0;
        while j < BACKENDS.len() {
            if eq(names[i].as_bytes(), BACKENDS[j].as_bytes()) {
                mask |= 1 << j;
            }
            j += 1;
        }
        i += 1;
    }
    mask
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Each family of device words and the backends that run on such a device. A
/// card names hardware, so every API that drives it counts; an API names itself
/// (and the generic `gpu`, which says no more than "a GPU").
const FAMILIES: &[(&str, u16)] = &[
    ("cpu", bits(&["cpu"])),
    (
        "gpu",
        bits(&[
            "cuda", "gpu", "rocm", "hip", "metal", "vulkan", "opencl", "sycl", "webgpu",
        ]),
    ),
    ("cuda", bits(&["cuda", "gpu"])),
    (
        "nvidia",
        bits(&["cuda", "gpu", "vulkan", "opencl", "webgpu"]),
    ),
    ("rocm", bits(&["rocm", "hip", "gpu"])),
    (
        "amd",
        bits(&["rocm", "hip", "gpu", "vulkan", "opencl", "webgpu"]),
    ),
    ("metal", bits(&["metal", "gpu"])),
    ("vulkan", bits(&["vulkan", "gpu"])),
    ("opencl", bits(&["opencl", "gpu"])),
    ("sycl", bits(&["sycl", "gpu"])),
    ("webgpu", bits(&["webgpu", "gpu"])),
    (
        "intel",
        bits(&["sycl", "gpu", "vulkan", "opencl", "webgpu"]),
    ),
    ("mobile", bits(&["vulkan", "opencl", "gpu", "webgpu"])),
    ("npu", bits(&["npu"])),
];

/// Device words, one named group per family. Words that are also common English
/// or code (`Metal`, `HIP`, `MPS`, `Arc`, `Instinct`, `Tesla`) count only as
/// written with their capitals. Apple's M-series chips are left out: "M2" names
/// a CPU and a GPU alike.
fn words() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"\b(?:(?P<cpu>(?i:cpus?|avx(?:2|-?512)?|neon|xeon|epyc|ryzen|threadripper|graviton\d?|core\s+i[3579]))|(?P<gpu>(?i:[ide]?gpus?|graphics\s+cards?))|(?P<cuda>(?i:cuda|cublas|cudnn|tensorrt))|(?P<nvidia>(?i:nvidia|geforce|(?:rtx|gtx)(?:\s+a?\d{3,4}(?:\s*ti)?)?|quadro|jetson|[ab]100|h100|a10g?|a30|a40|a[456]000|h200|h800|b200|gb200|v100|p100|p40|t4|l4|l40s?|k80)|Tesla)|(?P<rocm>(?i:rocm|hipblas)|HIP)|(?P<amd>(?i:radeon(?:\s+rx)?(?:\s+\d{3,4}(?:\s*xtx?)?)?|rx\s*\d{4}(?:\s*xtx?)?|mi\d{2,3}[ax]?)|Instinct)|(?P<metal>Metal|MPS)|(?P<vulkan>(?i:vulkan))|(?P<opencl>(?i:opencl))|(?P<sycl>(?i:sycl|oneapi))|(?P<webgpu>(?i:webgpu))|(?P<intel>(?i:intel\s+arc)|Arc\s+[AB]\d{3})|(?P<mobile>(?i:adreno|mali))|(?P<npu>(?i:npus?|ascend)))\b",
        )
        .expect("device words compile")
    })
}

/// A device word that is denied ("no GPU", "without a GPU", "non-CUDA") names
/// no device.
fn denied(before: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)(?:\bno|\bwithout(?:\s+an?|\s+the)?|\bw/o|\bnon-?|\bnot\s+on(?:\s+an?|\s+the)?)\s*$")
            .expect("denial compiles")
    })
    .is_match(before)
}

/// Where one clause ends and the next begins: a comma or semicolon, a bracket, a
/// table cell's pipe, or a word that sets two things side by side.
fn clause_breaks() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i),\s|;|\(|\)|\||\s(?:and|vs\.?|versus|while|whereas|but|than|compared\s+(?:to|with))\s|\s[–—/]\s")
            .expect("clause breaks compile")
    })
}

/// The device a claim names: the words that name it and the backends that run
/// on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The device words as written ("RTX 4090", "CPU").
    pub named: String,
    #[serde(serialize_with = "backend_names")]
    pub backends: u16,
}

fn backend_names<S: Serializer>(mask: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(names(*mask))
}

fn names(mask: u16) -> impl Iterator<Item = &'static str> {
    BACKENDS
        .iter()
        .enumerate()
        .filter(move |(i, _)| mask & (1 << i) != 0)
        .map(|(_, b)| *b)
}

impl Device {
    /// Whether a receipt with this `backend` ran on the device.
    pub fn runs_on(&self, backend: &str) -> bool {
        let backend = backend.trim().to_ascii_lowercase();
        names(self.backends).any(|b| b == backend)
    }

    /// "cuda, gpu, vulkan": the backends, for messages.
    pub fn backend_list(&self) -> String {
        names(self.backends).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug, Clone)]
struct Mention {
    range: Range<usize>,
    backends: u16,
}

/// The device words of one scope (a sentence, a row), read once for all its
/// claims, and what each clause of it names.
#[derive(Debug, Clone, Default)]
pub struct Mentions {
    /// Where the scope starts in the file; ranges below are relative to it.
    base: usize,
    text: String,
    /// Start of each clause; the first is 0.
    clauses: Vec<usize>,
    found: Vec<Mention>,
    /// Per clause, the backends all its mentions share (`None`: it names
    /// none; `Some(0)`: they disagree).
    per_clause: Vec<Option<u16>>,
    /// The same for the whole scope.
    whole: Option<u16>,
}

/// The backends every mention shares: `None` for no mention, `Some(0)` when
/// they name devices that differ ("CPU and GPU").
fn shared(mentions: &[Mention]) -> Option<u16> {
    mentions.iter().map(|m| m.backends).reduce(|a, b| a & b)
}

fn mentions_in(text: &str) -> Vec<Mention> {
    let mut out = Vec::new();
    for caps in words().captures_iter(text) {
        let whole = caps.get(0).expect("a match");
        let mut from = whole.start().saturating_sub(16);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        if denied(&text[from..whole.start()]) {
            continue;
        }
        let family = FAMILIES.iter().find(|(name, _)| caps.name(name).is_some());
        if let Some((_, backends)) = family {
            out.push(Mention {
                range: whole.range(),
                backends: *backends,
            });
        }
    }
    out
}

impl Mentions {
    /// The device words of `scope`, which starts at `base` in the file.
    pub fn read(scope: &str, base: usize) -> Mentions {
        let cleaned = without_markup(scope);
        let scope: &str = &cleaned;
        let found = mentions_in(scope);
        if found.is_empty() {
            return Mentions {
                base,
                ..Mentions::default()
            };
        }
        let mut clauses = vec![0];
        clauses.extend(clause_breaks().find_iter(scope).map(|m| m.end()));
        let mut per_clause = Vec::with_capacity(clauses.len());
        let mut next = 0;
        for (i, start) in clauses.iter().enumerate() {
            let end = clauses.get(i + 1).copied().unwrap_or(scope.len());
            let first = next;
            while next < found.len() && found[next].range.start < end {
                next += 1;
            }
            debug_assert!(found[first..next].iter().all(|m| m.range.start >= *start));
            per_clause.push(shared(&found[first..next]));
        }
        Mentions {
            base,
            text: scope.to_string(),
            whole: shared(&found),
            clauses,
            found,
            per_clause,
        }
    }

    /// The device of the claim at `start..end` in the file: the one its own
    /// clause names (the nearest word when the clause names several devices),
    /// else its column header's, else the one the whole scope names if it names
    /// only one; `None` when nothing names a device or the scope names several.
    pub fn device(&self, start: usize, end: usize, header: &str) -> Option<Device> {
        if !self.found.is_empty() {
            let at = start.saturating_sub(self.base);
            let end = end.saturating_sub(self.base).max(at);
            let c = self.clauses.partition_point(|&s| s <= at).saturating_sub(1);
            let clause_end = self.clauses.get(c + 1).copied().unwrap_or(self.text.len());
            let first = self
                .found
                .partition_point(|m| m.range.start < self.clauses[c]);
            let last = self.found.partition_point(|m| m.range.start < clause_end);
            let own = &self.found[first..last];
            match self.per_clause[c] {
                Some(0) => return self.nearest(own, at, end),
                Some(mask) => return Some(self.named(own, mask)),
                None => {}
            }
        }
        // A header is a few words; reading at most 200 bytes of it keeps a
        // hostile one from being read again for every row.
        let mut cut = header.len().min(200);
        while !header.is_char_boundary(cut) {
            cut -= 1;
        }
        let header = &header[..cut];
        let in_header = mentions_in(header);
        match shared(&in_header) {
            Some(mask) if mask != 0 => {
                return Some(Device {
                    named: join_named(header, &in_header),
                    backends: mask,
                });
            }
            _ => {}
        }
        match self.whole {
            Some(mask) if mask != 0 => Some(self.named(&self.found, mask)),
            _ => None,
        }
    }

    /// Of mentions that disagree (in text order), the one closest to the claim:
    /// the last before it or the first after it.
    fn nearest(&self, own: &[Mention], at: usize, end: usize) -> Option<Device> {
        let after = own.partition_point(|m| m.range.start < at);
        let before = after.checked_sub(1).map(|i| &own[i]);
        let next = own[after..].iter().find(|m| m.range.start >= end);
        let m = match (before, next) {
            (Some(b), Some(n)) if n.range.start - end < at.saturating_sub(b.range.end) => n,
            (Some(b), _) => b,
            (None, n) => n?,
        };
        Some(self.named(std::slice::from_ref(m), m.backends))
    }

    fn named(&self, mentions: &[Mention], mask: u16) -> Device {
        Device {
            named: join_named(&self.text, mentions),
            backends: mask,
        }
    }
}

/// `text` with HTML comments and link targets blanked out, byte for byte, so
/// that offsets stay put and a citation's path (`ci/gpu.json`) names no device.
fn without_markup(text: &str) -> std::borrow::Cow<'_, str> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE
        .get_or_init(|| Regex::new(r"(?s)<!--.*?-->|\]\([^)]*\)").expect("markup regex compiles"));
    if !text.contains("<!--") && !text.contains("](") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for m in re.find_iter(text) {
        out.push_str(&text[from..m.start()]);
        out.extend(std::iter::repeat_n(' ', m.len()));
        from = m.end();
    }
    out.push_str(&text[from..]);
    out.into()
}

/// The distinct device words as written, the first three, whitespace collapsed.
fn join_named(text: &str, mentions: &[Mention]) -> String {
    let mut seen: Vec<String> = Vec::new();
    // The first few mentions are enough to name it, however many there are.
    for m in mentions.iter().take(16) {
        let word = text[m.range.clone()]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !seen.iter().any(|w| w.eq_ignore_ascii_case(&word)) {
            seen.push(word);
        }
        if seen.len() == 3 {
            break;
        }
    }
    seen.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The device of the first `claim` in `scope`.
    fn device_of(scope: &str, claim: &str, header: &str) -> Option<(String, String)> {
        let at = scope.find(claim).expect("claim in scope");
        Mentions::read(scope, 0)
            .device(at, at + claim.len(), header)
            .map(|d| (d.named.clone(), d.backend_list()))
    }

    #[test]
    fn each_claim_takes_the_device_of_its_own_clause() {
        let s = "CPU: 10-20 tok/s, GPU: 50-100 tok/s";
        assert_eq!(device_of(s, "10-20", "").unwrap().1, "cpu");
        assert_eq!(
            device_of(s, "50-100", "").unwrap().1,
            "cuda, gpu, rocm, hip, metal, vulkan, opencl, sycl, webgpu"
        );
        let s = "Decode reaches 15 tok/s on CPU and 80 tok/s on an RTX 4090.";
        assert_eq!(device_of(s, "15 tok/s", "").unwrap().0, "CPU");
        assert_eq!(
            device_of(s, "80 tok/s", ""),
            Some((
                "RTX 4090".to_string(),
                "cuda, gpu, vulkan, opencl, webgpu".to_string()
            ))
        );
        // Lines of a list without punctuation: the nearest word in the clause.
        let s = "CPU: 10-20 tok/s\nGPU: 50-100 tok/s";
        assert_eq!(device_of(s, "10-20", "").unwrap().0, "CPU");
        assert_eq!(device_of(s, "50-100", "").unwrap().0, "GPU");
    }

    #[test]
    fn a_clause_without_a_device_takes_its_header_or_its_sentence() {
        let s = "On an A100 with CUDA 12, decode reaches 80 tok/s.";
        assert_eq!(
            device_of(s, "80 tok/s", ""),
            Some(("A100, CUDA".to_string(), "cuda, gpu".to_string()))
        );
        assert_eq!(
            device_of("| 2B | 15 | 80 |", "80", "GPU tok/s").unwrap().0,
            "GPU"
        );
        // A sentence that names two devices says nothing about a clause that names none.
        assert_eq!(
            device_of("On CPU, or with Metal, decode reaches 30 tok/s.", "30", ""),
            None
        );
        assert_eq!(device_of("Decode reaches 30 tok/s.", "30", ""), None);
    }

    #[test]
    fn denied_and_lowercase_ambiguous_words_name_nothing() {
        assert_eq!(device_of("15 tok/s without a GPU", "15", ""), None);
        assert_eq!(device_of("15 tok/s with no GPU", "15", ""), None);
        assert_eq!(device_of("a metal case, 15 tok/s", "15", ""), None);
        assert_eq!(device_of("15 tok/s at the hip", "15", ""), None);
        assert_eq!(
            device_of("15 tok/s with Metal", "15", "").unwrap().1,
            "gpu, metal"
        );
        assert_eq!(device_of("AMD EPYC: 15 tok/s", "15", "").unwrap().1, "cpu");
        assert_eq!(
            device_of("MI300X: 900 tok/s", "900", "").unwrap().1,
            "gpu, rocm, hip, vulkan, opencl, webgpu"
        );
    }

    #[test]
    fn citations_and_link_targets_name_no_device() {
        assert_eq!(
            device_of("Decode: 15 tok/s <!-- receipt: ci/gpu.json -->", "15", ""),
            None
        );
        assert_eq!(
            device_of("Decode: 15 tok/s ([CPU receipt](ci/cuda.json))", "15", "")
                .unwrap()
                .0,
            "CPU"
        );
    }

    #[test]
    fn a_device_runs_the_backends_of_its_family() {
        let d = Mentions::read("RTX 4090: 80 tok/s", 0)
            .device(10, 18, "")
            .unwrap();
        assert!(d.runs_on("cuda") && d.runs_on(" CUDA ") && d.runs_on("gpu"));
        assert!(!d.runs_on("cpu") && !d.runs_on("metal"));
    }
}
