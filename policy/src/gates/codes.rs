//! The stable codes of every receipt gate: name, family, default level, and the
//! text `policy-check explain <code>` prints. Codes are part of the public contract:
//! never rename one, only add.

use crate::verdict::{Level, stable_codes};

/// Which group of gates a code belongs to (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Structure,
    Honesty,
    Environment,
    Consistency,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Structure => "structure",
            Family::Honesty => "honesty",
            Family::Environment => "environment",
            Family::Consistency => "consistency",
        }
    }
}

/// What a gate's code says: its family, default level, and the text
/// `policy-check explain <code>` prints.
pub struct GateInfo {
    pub family: Family,
    pub level: Level,
    /// One line: what the gate catches.
    pub summary: &'static str,
    /// Why the gate exists and how to fix a finding.
    pub explain: &'static str,
    /// A receipt fragment that triggers the gate.
    pub example: &'static str,
}

stable_codes! {
    /// A gate's stable kebab-case code.
    pub enum Code: GateInfo {
        FileTooLarge = "file-too-large" {
            family: Family::Structure,
            level: Level::Deny,
            summary: "The receipt file is larger than the size cap (default 16 MiB).",
            explain: "A receipt is a few kilobytes. A file above the cap is not read, so a huge or \
                      hostile file cannot exhaust memory. Fix: point policy-check at the receipt, not at a \
                      log or model file, or raise the cap with --max-size if the receipt really is that big.",
            example: "a 100 MB file passed as a receipt",
        }
        EmptyFile = "empty-file" {
            family: Family::Structure,
            level: Level::Deny,
            summary: "The receipt file is empty.",
            explain: "An empty file usually means the benchmark crashed before it wrote its receipt, or the \
                      receipt was written to another path. Fix: rerun the benchmark and check that it writes \
                      the receipt where the workflow expects it ($RECEIPT_PATH in the action).",
            example: "(zero bytes)",
        }
        InvalidUtf8 = "invalid-utf8" {
            family: Family::Structure,
            level: Level::Deny,
            summary: "The receipt is not valid UTF-8 (JSON must be UTF-8).",
            explain: "RFC 8259 requires JSON exchanged between systems to be UTF-8. The finding names the \
                      byte offset, line and column of the first bad byte. Fix: write the receipt as UTF-8; \
                      binary files (models, logs with escape codes) are not receipts.",
            example: "{\"backend\": \"cpu\\xff\"}",
        }
        InvalidJson = "invalid-json" {
            family: Family::Structure,
            level: Level::Deny,
            summary: "The receipt is not valid JSON.",
            explain: "The finding names the line and column where parsing stopped. NaN and Infinity are not \
                      JSON: a rate that could not be measured must fail the benchmark, not be written as NaN. \
                      Fix: write receipts with a JSON serializer, never by string concatenation.",
            example: "{\"tokens_per_second\": NaN}",
        }
        NestingTooDeep = "nesting-too-deep" {
            family: Family::Structure,
            level: Level::Deny,
            summary: "The receipt nests arrays or objects more than 128 levels deep.",
            explain: "No receipt needs more than a handful of levels; deeper input is refused before it can \
                      exhaust the stack. Fix: write a receipt in the documented shape.",
            example: "[[[[[[ ... 10,000 levels ... ]]]]]]",
        }
        NotAnObject = "not-an-object" {
            family: Family::Structure,
            level: Level::Deny,
            summary: "The receipt's top level is not a JSON object.",
            explain: "A receipt is one JSON object. An array of receipts or a bare string is refused. Fix: \
                      write one receipt per file; pass many files to policy-check instead.",
            example: "[{\"schema_version\": \"1.0.0\"}]",
        }
        DuplicateKey = "duplicate-key" {
            family: Family::Structure,
            level: Level::Deny,
            summary: "An object in the receipt has the same key twice.",
            explain: "RFC 8259 leaves the meaning of duplicate keys open: some readers keep the first value, \
                      some the last, so two tools can read two different rates from one file. Fix: write each \
                      key once.",
            example: "{\"tokens_per_second\": 15.3, \"tokens_per_second\": 150.0}",
        }
        UnknownSchemaVersion = "unknown-schema-version" {
            family: Family::Structure,
            level: Level::Deny,
            summary: "schema_version is missing or not one this policy-check reads (1.0.0, 1.0, 1.1.0).",
            explain: "Without a known schema version the receipt cannot be checked against its schema. Fix: \
                      write \"schema_version\": \"1.1.0\" (or \"1.0.0\" for the flat shape), or update \
                      policy-check if the receipt comes from a newer writer.",
            example: "{\"schema_version\": \"2.0\"}",
        }
        SchemaViolation = "schema-violation" {
            family: Family::Structure,
            level: Level::Deny,
            summary: "The receipt does not match its JSON Schema (a field has the wrong type, is missing, or is out of range).",
            explain: "Receipts are validated against the published JSON Schema for their version (print it \
                      with `policy-check schema receipt --version 1.1`) before any other gate runs; gates \
                      do not run on a receipt of the wrong shape. The finding names the JSON pointer and the \
                      rule. Fix: write the field with the type the schema gives.",
            example: "{\"tokens_per_second\": \"15.3\"}",
        }
        TimestampInvalid = "timestamp-invalid" {
            family: Family::Environment,
            level: Level::Deny,
            summary: "timestamp is not an RFC 3339 date-time with a zone.",
            explain: "A time without a zone is ambiguous by up to a day, so neither freshness nor 'not in the \
                      future' can be judged. Fix: write UTC with a Z, e.g. \"2025-10-23T00:39:09Z\".",
            example: "{\"timestamp\": \"2025-10-23T00:39:09\"}",
        }
        ComputePathNotReal = "compute-path-not-real" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "compute_path is not \"real\".",
            explain: "Only a real run is evidence. A mock or simulated path may be useful in tests, but its \
                      receipt must never back a performance number. Fix: benchmark the real compute path.",
            example: "{\"compute_path\": \"mock\"}",
        }
        KernelsEmpty = "kernels-empty" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "The receipt lists no kernels.",
            explain: "A run that executed no kernel measured nothing. Fix: have the engine record the kernels \
                      its dispatcher ran (counted, not copied from a list).",
            example: "{\"kernels\": []}",
        }
        KernelIdEmpty = "kernel-id-empty" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "A kernel id is empty or only whitespace.",
            explain: "Every executed kernel has a name; an empty id hides what ran. Fix: record the kernel's \
                      real id.",
            example: "{\"kernels\": [\"i2s_gemv\", \"  \"]}",
        }
        KernelIdTooLong = "kernel-id-too-long" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "A kernel id is longer than 128 characters.",
            explain: "Kernel ids are short names, not logs. Fix: record the id, put details elsewhere.",
            example: "{\"kernels\": [\"aaaa…(129 characters)\"]}",
        }
        TooManyKernels = "too-many-kernels" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "The receipt lists more than 10,000 kernel ids.",
            explain: "A real engine runs tens of distinct kernels; ten thousand ids means ids are being \
                      generated, not counted. Fix: list each distinct kernel id once.",
            example: "{\"kernels\": [\"k0\", \"k1\", … \"k10000\"]}",
        }
        MockKernel = "mock-kernel" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "A kernel id says it is not real: mock, fake, stub, dummy, simulat…, noop (in any case or look-alike letters).",
            explain: "A mock kernel computes nothing real, so the run is not evidence, whatever compute_path \
                      says. The id is read as a person reads it: full-width and Cyrillic or Greek look-alike \
                      letters count as the Latin ones, invisible characters are dropped. Fix: benchmark with \
                      the real kernels.",
            example: "{\"compute_path\": \"real\", \"kernels\": [\"mock_inference\"]}",
        }
        KernelIdInvalid = "kernel-id-invalid" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "A kernel id (or model.format, model.embedding_type) is not an ASCII identifier.",
            explain: "Every honesty gate classifies kernels by their letters, so an id with a look-alike letter \
                      (Cyrillic о), a zero-width or control character, or leading or trailing whitespace could \
                      hide a mock or a GPU kernel. Ids are ASCII letters, digits and _ . : + -, starting with a \
                      letter or digit. Fix: record the id as the dispatcher names it.",
            example: "{\"kernels\": [\"i2s_gemv\\u200b\"]}",
        }
        BackendUnknown = "backend-unknown" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "backend is not a known backend (cpu, cuda, gpu, rocm, hip, metal, vulkan, opencl, sycl, npu, webgpu).",
            explain: "Envelopes and the GPU and CPU kernel gates key on the backend; a misspelled or look-alike \
                      backend would skip them. Fix: write the backend's name; a new backend is added to \
                      policy-check, or a policy lowers this code's level.",
            example: "{\"backend\": \"cpu \"}",
        }
        MockEnvironment = "mock-environment" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "An environment variable that turns on a mock, fake, stub, dummy or simulated path is set.",
            explain: "environment records the variables the run saw; BITNET_MOCK=1 or FAKE_GPU=true means the \
                      engine may not have computed for real. Values \"\", 0, false, no and off count as unset. \
                      Fix: benchmark without the mock switch.",
            example: "{\"environment\": {\"BITNET_MOCK\": \"1\"}}",
        }
        MissingGpuKernel = "missing-gpu-kernel" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "A GPU backend (cuda, gpu) or --require-gpu-kernels, but no GPU kernel id ran.",
            explain: "A GPU receipt written by a CPU fallback is the most common lie. GPU kernel ids start \
                      with gemm_, wmma_, cublas_, cutlass_, cuda_, i2s_gpu_, tl1_gpu_ or tl2_gpu_, or end \
                      with _cuda. Fix: make sure the GPU path ran (check the device is visible), or report \
                      backend \"cpu\".",
            example: "{\"backend\": \"cuda\", \"kernels\": [\"i2s_gemv\", \"attention_cpu\"]}",
        }
        MissingQuantizedCpuKernel = "missing-quantized-cpu-kernel" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "A cpu backend, but no quantized CPU kernel ran.",
            explain: "A CPU receipt for a ternary model must show a quantized kernel: an id starting with \
                      i2s_, tl1_, tl2_, tq2_, qk256_ or bitnet32f16_ that is not a dequantizing fallback. Fix: check that \
                      the quantized path was taken (BITNET_STRICT_MODE=1 makes a fallback an error).",
            example: "{\"backend\": \"cpu\", \"kernels\": [\"gemm_f16\", \"attention_cpu\"]}",
        }
        FallbackOnly = "fallback-only" {
            family: Family::Honesty,
            level: Level::Deny,
            summary: "Every compute kernel that ran is a non-quantized fallback.",
            explain: "Fallback kernels (fp32_*, fallback_*, dequant_*, *_dequant, matmul_f32) dequantize the \
                      weights and compute in floating point: the receipt claims quantized inference but \
                      measured something else. Fix: enable the quantized kernels for this CPU/format, or run \
                      with BITNET_STRICT_MODE=1 so the fallback fails loudly.",
            example: "{\"kernels\": [\"dequant_i2s\", \"matmul_f32\"]}",
        }
        GpuKernelOnCpu = "gpu-kernel-on-cpu" {
            family: Family::Honesty,
            level: Level::Warn,
            summary: "A cpu receipt lists a GPU kernel id.",
            explain: "A CPU run should not execute GPU kernels; the receipt mixes two runs or mislabels its \
                      backend. Fix: write one receipt per backend.",
            example: "{\"backend\": \"cpu\", \"kernels\": [\"i2s_gemv\", \"gemm_fp16\"]}",
        }
        DuplicateKernel = "duplicate-kernel" {
            family: Family::Honesty,
            level: Level::Warn,
            summary: "The same kernel id is listed more than once.",
            explain: "kernels is a set of ids; counts belong in kernel_stats. Duplicates suggest a list that \
                      was assembled by hand. Fix: list each id once.",
            example: "{\"kernels\": [\"i2s_gemv\", \"i2s_gemv\"]}",
        }
        MissingEnvironmentKey = "missing-environment-key" {
            family: Family::Environment,
            level: Level::Deny,
            summary: "A required environment key is missing (v1.0: environment.BITNET_VERSION and environment.OS; v1.1: build and host).",
            explain: "A number without the build and host that produced it cannot be reproduced or compared. \
                      Fix: record them in the receipt.",
            example: "{\"schema_version\": \"1.0.0\", \"environment\": {}}",
        }
        EvidenceMissing = "evidence-missing" {
            family: Family::Environment,
            level: Level::Deny,
            summary: "A v1.1 receipt lacks the evidence its version promises: non-empty build and host, timed samples, kernel_stats.",
            explain: "A 1.1.0 receipt is checked against its own measurements: samples against the rate, \
                      kernel_stats against the kernels, build and host against the envelope. Leaving them out \
                      (or writing {}) would skip every one of those gates silently. Fix: write them, as \
                      bitnet-engine bench does, or declare schema_version 1.0.0 and be judged as a v1.0 receipt.",
            example: "{\"schema_version\": \"1.1.0\", \"build\": {}, \"host\": {}}",
        }
        TimestampInFuture = "timestamp-in-future" {
            family: Family::Environment,
            level: Level::Deny,
            summary: "timestamp is more than 5 minutes in the future.",
            explain: "A receipt from the future was hand-edited or written on a machine with a wrong clock. \
                      Fix: rerun the benchmark on a machine with a synchronised clock.",
            example: "{\"timestamp\": \"2999-01-01T00:00:00Z\"}",
        }
        StaleReceipt = "stale-receipt" {
            family: Family::Environment,
            level: Level::Warn,
            summary: "The receipt is older than the allowed age (--max-age or the policy's max_age; default 30d).",
            explain: "A receipt is evidence of one past run on one past commit; numbers drift. verify warns \
                      by default; a policy can make it deny. Fix: rerun the benchmark.",
            example: "{\"timestamp\": \"2020-01-01T00:00:00Z\"}",
        }
        NonpositiveRate = "nonpositive-rate" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "tokens_per_second is zero or negative while compute_path is \"real\".",
            explain: "A real run that generated tokens has a positive rate; 0.0 means nothing was measured. \
                      Fix: measure the rate from timed runs, and fail the benchmark if it cannot be measured.",
            example: "{\"compute_path\": \"real\", \"tokens_per_second\": 0.0}",
        }
        RateImplausible = "rate-implausible" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "tokens_per_second is above 1,000,000 tok/s.",
            explain: "No single-stream decode comes near a million tokens per second; a number that large is \
                      a unit error or a made-up value. Fix: report the decode rate in tokens per second.",
            example: "{\"tokens_per_second\": 1e300}",
        }
        TokensShort = "tokens-short" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "tokens_generated is less than tokens_requested.",
            explain: "The rate of a run that stopped early is not the rate of the run that was asked for. Fix: \
                      disable early stopping (EOS) for benchmarks, or request what is generated.",
            example: "{\"tokens_requested\": 128, \"tokens_generated\": 4}",
        }
        RateDisagreesWithSamples = "rate-disagrees-with-samples" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "tokens_per_second is not the median of measurement.samples_tokens_per_second.",
            explain: "In v1.1 the headline rate is the median of the timed runs' rates (within 0.5%). A rate \
                      that is not the median of its own samples was edited or picked. Fix: write the median.",
            example: "{\"tokens_per_second\": 30.0, \"measurement\": {\"samples_tokens_per_second\": [15.1, 15.3, 15.2]}}",
        }
        MeasurementInconsistent = "measurement-inconsistent" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "measurement's median, min, max, cv or timed_runs disagree with its samples.",
            explain: "The summary statistics must be computed from the samples they summarise: median, min \
                      and max within 0.5%, cv (population standard deviation / mean) within 0.005, timed_runs \
                      equal to the number of samples. Fix: compute them from the samples.",
            example: "{\"measurement\": {\"samples_tokens_per_second\": [15.1, 15.3], \"max\": 99.0}}",
        }
        RateExceedsWallTime = "rate-exceeds-wall-time" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "The samples imply more decode time than the measured wall time of the timed runs.",
            explain: "decode_tokens / sample is the time each run spent decoding; their sum cannot exceed \
                      measurement.wall_ms, the wall-clock time of all timed runs together (1% slack). Fix: \
                      time the runs with a monotonic clock and write the rates that clock gives.",
            example: "{\"measurement\": {\"decode_tokens\": 128, \"samples_tokens_per_second\": [1.0], \"wall_ms\": 500}}",
        }
        DeterministicWithoutSeed = "deterministic-without-seed" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "deterministic is true but no seed is recorded (run.seed or environment.BITNET_SEED).",
            explain: "A deterministic run is reproducible only with its seed. Fix: record the seed, e.g. \
                      BITNET_SEED=42.",
            example: "{\"deterministic\": true, \"environment\": {\"BITNET_VERSION\": \"0.1\", \"OS\": \"linux\"}}",
        }
        KernelStatsMismatch = "kernel-stats-mismatch" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "The ids in kernel_stats differ from kernels, or a counted kernel has zero calls.",
            explain: "kernels must be exactly the ids the dispatcher counted. An id listed but never called, \
                      or called but not listed, means the list was not derived from the counts. Fix: write \
                      kernels from kernel_stats.",
            example: "{\"kernels\": [\"i2s_gemv\", \"rmsnorm\"], \"kernel_stats\": [{\"id\": \"i2s_gemv\", \"calls\": 3840}]}",
        }
        RooflineExceeded = "roofline-exceeded" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "The rate is above 105% of what the host's measured memory bandwidth allows.",
            explain: "Decoding one token reads at least model.bytes_per_token from memory, so the rate cannot \
                      exceed mem_bw_gbps / bytes_per_token. Above 1.05 of that is physically impossible. Fix: \
                      check the rate and the bytes-per-token figure.",
            example: "{\"tokens_per_second\": 40.0, \"calibration\": {\"roofline_tokens_per_second\": 17.0, \"roofline_fraction\": 2.35}}",
        }
        CalibrationInconsistent = "calibration-inconsistent" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "calibration's roofline_tokens_per_second or roofline_fraction does not follow from its own inputs.",
            explain: "roofline_tokens_per_second = mem_bw_gbps·1e9 / model.bytes_per_token and roofline_fraction \
                      = tokens_per_second / roofline_tokens_per_second, each within 2%. Fix: compute them \
                      from the measured bandwidth.",
            example: "{\"calibration\": {\"mem_bw_gbps\": 20.0, \"roofline_tokens_per_second\": 500.0}, \"model\": {\"bytes_per_token\": 1179449920}}",
        }
        BytesPerTokenImplausible = "bytes-per-token-implausible" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "model.bytes_per_token is below what one decode step must read.",
            explain: "Each token's logits read the whole output projection (hidden × vocab weights, at least \
                      1 bit each), and a step reads at least 1/256 of the parameters at 1 bit (a mixture of \
                      experts reads few of its experts). A smaller figure would raise the roofline until no \
                      rate can exceed it. Fix: write the bytes a decode step reads.",
            example: "{\"model\": {\"hidden\": 2560, \"vocab\": 128256, \"bytes_per_token\": 1}}",
        }
        WallTimeImplausible = "wall-time-implausible" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "measurement.wall_ms is not a time the timed runs could have taken.",
            explain: "wall_ms is the wall time of all timed runs, prefill and decode; it must be finite and at \
                      most twice what the slowest sample's decode and the prefill imply, plus 5 seconds. Fix: time the \
                      runs with a monotonic clock.",
            example: "{\"measurement\": {\"decode_tokens\": 64, \"samples_tokens_per_second\": [20.0], \"wall_ms\": 1e300}}",
        }
        ModelHashMismatch = "model-hash-mismatch" {
            family: Family::Consistency,
            level: Level::Deny,
            summary: "model.sha256 is missing or differs from the model file given with --model.",
            explain: "A receipt binds itself to the exact model it ran. Fix: benchmark the model you mean, or \
                      pass the model file the receipt was made with.",
            example: "policy-check verify receipt.json --model other-model.gguf",
        }
    }
}

impl Code {
    pub fn family(self) -> Family {
        self.info().family
    }
    pub fn default_level(self) -> Level {
        self.info().level
    }
    /// One line: what the gate catches.
    pub fn summary(self) -> &'static str {
        self.info().summary
    }
    /// Why the gate exists and how to fix a finding.
    pub fn explanation(self) -> &'static str {
        self.info().explain
    }
    /// A receipt fragment that triggers the gate.
    pub fn example(self) -> &'static str {
        self.info().example
    }
}

/// What `policy-check explain <code>` prints.
pub fn explain(code: Code) -> String {
    format!(
        "{code} ({family} gate, default level {level})\n\n{summary}\n\n{explanation}\n\nExample that triggers it:\n\n    {example}\n",
        family = code.family().as_str(),
        level = code.default_level(),
        summary = code.summary(),
        explanation = code.explanation(),
        example = code.example(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_kebab_case_and_parse_back() {
        let mut seen = HashSet::new();
        for &code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "duplicate code {name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name} is not kebab-case"
            );
            assert_eq!(Code::parse(name), Some(code));
            assert!(explain(code).starts_with(name));
        }
        assert_eq!(Code::parse("no-such-code"), None);
    }
}
