//! Identifier gates: kernel ids, the backend and format names are ASCII words.
//! Why: every honesty gate classifies ids by their letters, so a letter that only
//! looks Latin (Cyrillic `о` in `mоck`), a zero-width space, a trailing blank or a
//! newline would let a mock kernel pass as real, or a GPU id hide from the GPU
//! check. An id is checked against a strict grammar; a rejected id is also read
//! the way a person would read it (full-width and look-alike letters folded,
//! invisible characters dropped) so the finding can say what it pretends to be.

use super::Code;
use super::GateFinding;
use crate::receipt::Receipt;

/// Backends a receipt may name (compared without case).
pub const KNOWN_BACKENDS: &[&str] = &[
    "cpu", "cuda", "gpu", "rocm", "hip", "metal", "vulkan", "opencl", "sycl", "npu", "webgpu",
];

/// Words that say a kernel did not really compute (checked on the folded id).
const SUSPICIOUS_WORDS: &[&str] = &["mock", "fake", "stub", "dummy", "simulat", "noop"];

/// The grammar: an ASCII letter or digit, then letters, digits, `_ . : + -`.
pub fn is_identifier(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '+' | '-'))
}

/// The id as a reader sees it: compatibility forms (full-width letters) and common
/// Cyrillic and Greek look-alikes folded to ASCII, invisible characters dropped,
/// lower case. Used for messages and for the suspicious-word check, never to accept.
pub fn skeleton(id: &str) -> String {
    id.chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| match c {
            // Full-width ASCII (NFKC folds these to their ASCII forms).
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => look_alike(c).unwrap_or(c),
        })
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}')
}

/// Letters that render like Latin ones (after Unicode's confusables list).
fn look_alike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'п' | 'η' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ս' => 'u',
        'ν' | 'ѵ' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'А' | 'Α' => 'A',
        'В' | 'Β' => 'B',
        'С' => 'C',
        'Е' | 'Ε' => 'E',
        'Н' | 'Η' => 'H',
        'І' | 'Ι' => 'I',
        'К' | 'Κ' => 'K',
        'М' | 'Μ' => 'M',
        'О' | 'Ο' => 'O',
        'Р' | 'Ρ' => 'P',
        'Т' | 'Τ' => 'T',
        'Х' | 'Χ' => 'X',
        'Υ' | 'Ү' => 'Y',
        'Ζ' => 'Z',
        _ => return None,
    })
}

/// The suspicious word an id spells, once folded, if any.
pub fn suspicious_word(id: &str) -> Option<&'static str> {
    let spells = |text: &[u8], word: &str| {
        text.windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    // Every id is checked: ASCII ones (nearly all) need no folding.
    if id.is_ascii() {
        return SUSPICIOUS_WORDS
            .iter()
            .copied()
            .find(|w| spells(id.as_bytes(), w));
    }
    let folded = skeleton(id);
    SUSPICIOUS_WORDS
        .iter()
        .copied()
        .find(|w| spells(folded.as_bytes(), w))
}

/// The id written so every character shows (`\u{200b}`, `\n`), for messages.
pub fn shown(id: &str) -> String {
    id.chars()
        .flat_map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                vec![c]
            } else {
                c.escape_unicode().collect()
            }
        })
        .collect()
}

/// Why an id breaks the grammar, in words.
fn why_not(id: &str) -> String {
    let folded = skeleton(id);
    if id.trim() != id {
        "it has leading or trailing whitespace".into()
    } else if id.chars().any(is_invisible) {
        format!(
            "it has invisible characters (reads as \"{}\")",
            shown(&folded)
        )
    } else if id.chars().any(char::is_control) {
        "it has control characters".into()
    } else if !id.is_ascii() {
        format!("it has non-ASCII letters (reads as \"{}\")", shown(&folded))
    } else {
        "ids are ASCII letters, digits and _ . : + - and start with a letter or digit".into()
    }
}

pub fn check(receipt: &Receipt, findings: &mut Vec<GateFinding>) {
    let stats = receipt.kernel_stats.iter().flatten();
    let ids = receipt
        .kernels
        .iter()
        .enumerate()
        .map(|(i, id)| (format!("/kernels/{i}"), id.as_str()))
        .chain(
            stats
                .enumerate()
                .map(|(i, s)| (format!("/kernel_stats/{i}/id"), s.id.as_str())),
        );
    let mut invalid = 0usize;
    for (pointer, id) in ids {
        if id.trim().is_empty() || is_identifier(id) {
            continue; // an empty id has its own gate
        }
        invalid += 1;
        if invalid <= 10 {
            findings.push(GateFinding::new(
                Code::KernelIdInvalid,
                pointer,
                format!(
                    "kernel id \"{}\" is not an identifier: {}",
                    shown(id),
                    why_not(id)
                ),
                "record the kernel's real ASCII id as the dispatcher names it",
            ));
        }
    }
    if invalid > 10 {
        findings.push(GateFinding::new(
            Code::KernelIdInvalid,
            "/kernels",
            format!(
                "… and {} more kernel ids that are not identifiers",
                invalid - 10
            ),
            "see the findings above",
        ));
    }
    let backend = receipt.backend.as_str();
    if !KNOWN_BACKENDS
        .iter()
        .any(|b| b.eq_ignore_ascii_case(backend))
    {
        let reads = skeleton(backend);
        let hint =
            if reads != backend.to_ascii_lowercase() && KNOWN_BACKENDS.contains(&reads.as_str()) {
                format!(" (it reads as \"{reads}\" but is spelled with other characters)")
            } else {
                String::new()
            };
        findings.push(GateFinding::new(
            Code::BackendUnknown,
            "/backend",
            format!(
                "backend \"{}\" is not a known backend{hint}",
                shown(backend)
            ),
            format!("write one of {}", KNOWN_BACKENDS.join(", ")),
        ));
    }
    if let Some(model) = &receipt.model {
        for (field, value) in [
            ("format", &model.format),
            ("embedding_type", &model.embedding_type),
        ] {
            if let Some(v) = value
                && !is_identifier(v)
            {
                findings.push(GateFinding::new(
                    Code::KernelIdInvalid,
                    format!("/model/{field}"),
                    format!(
                        "model.{field} \"{}\" is not an identifier: {}",
                        shown(v),
                        why_not(v)
                    ),
                    format!("write the {field} as its ASCII name, e.g. \"i2s\""),
                ));
            }
        }
    }
}

/// Environment variables that switch an engine to a mock, fake or simulated path,
/// set to anything but off.
pub fn mock_flags(receipt: &Receipt) -> Vec<(String, String)> {
    let Some(env) = &receipt.environment else {
        return Vec::new();
    };
    env.iter()
        .filter(|(key, _)| suspicious_word(key).is_some())
        .filter_map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => return None,
                other => other.to_string(),
            };
            let off = matches!(
                text.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "off"
            );
            (!off).then(|| (key.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar() {
        for ok in [
            "i2s_gemv_avx2",
            "lm_head_f16_avx512",
            "cutlass_80_tensorop_s1688gemm",
            "a.b:c+d-e",
        ] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            " i2s",
            "i2s ",
            "i2s\n",
            "i2s\u{200b}_gemv",
            "mоck_gemv",
            "_x",
            "a/b",
            "ｍｏｃｋ",
        ] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }

    #[test]
    fn look_alikes_read_as_what_they_pretend() {
        assert_eq!(suspicious_word("mоck_gemv"), Some("mock")); // Cyrillic о
        assert_eq!(suspicious_word("ｍｏｃｋ_gemv"), Some("mock")); // full-width
        assert_eq!(suspicious_word("m\u{200b}ock"), Some("mock"));
        assert_eq!(suspicious_word("i2s_gemv_fake_simulated"), Some("fake"));
        assert_eq!(suspicious_word("StubKernel"), Some("stub"));
        assert_eq!(suspicious_word("i2s_gemv_avx2"), None);
        assert_eq!(skeleton("сuda"), "cuda");
        assert_eq!(shown("a\u{200b}b\n"), "a\\u{200b}b\\u{a}");
    }
}
