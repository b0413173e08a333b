//! The action's inputs, read from `INPUT_<NAME>` variables the way the runner
//! sets them (upper case, hyphens kept, empty when unset). Every input is checked
//! here, and all bad inputs are reported at once, each with its fix.

use crate::measure::{Engine, Spec, parse_kernels};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Measure, check, scan the PR's diff, publish.
    Pr,
    /// Measure and check; write receipts and report.json (no token needed).
    Measure,
    /// Publish reports written by measure jobs (workflow_run, matrix fan-in).
    Publish,
    /// The release gate.
    Release,
    /// Check existing receipts only.
    Verify,
}

impl Mode {
    pub const NAMES: &'static str = "pr, measure, publish, release, verify";

    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "pr" => Mode::Pr,
            "measure" => Mode::Measure,
            "publish" => Mode::Publish,
            "release" => Mode::Release,
            "verify" => Mode::Verify,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Pr => "pr",
            Mode::Measure => "measure",
            Mode::Publish => "publish",
            Mode::Release => "release",
            Mode::Verify => "verify",
        }
    }

    /// Whether the mode runs an engine.
    pub fn measures(self) -> bool {
        matches!(self, Mode::Pr | Mode::Measure)
    }
}

/// Input `compare`: measure the change against its base, side by side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// In `pr` mode, when the change touches the engine's inputs.
    Auto,
    /// Always (in modes that measure), against the pull request's base or input `base`.
    Base,
    Off,
    /// `policy-check run --compare <ref>`: against this commit.
    Ref(String),
}

/// Everything the action was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub mode: Mode,
    /// What to measure and how (engine, model, tokens, runs, threads, …).
    pub measure: Spec,
    /// Whether (and against what) to run the paired comparison with the base.
    pub compare: Compare,
    pub receipts: Vec<String>,
    pub policy: Option<PathBuf>,
    pub claims: bool,
    pub base: Option<String>,
    pub token: Option<String>,
    pub comment: bool,
    pub check_run: bool,
    pub comment_key: String,
    /// The login whose comments are ours (a GitHub App's `<app>[bot]`); none: the
    /// token's own login, else any Bot's comment with the action's signature.
    pub comment_author: Option<String>,
    pub confirm_runs: u32,
    pub fail_on_publish_error: bool,
    pub output_dir: PathBuf,
    /// Where the measured receipt goes (default: `output-dir`/receipt.json).
    pub receipt: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub tag: Option<String>,
}

impl Inputs {
    /// Read every input through `get` (the environment in production, a map in
    /// tests); all problems at once.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Inputs, Vec<String>> {
        let mut errors = Vec::new();
        let value = |name: &str| -> Option<String> {
            get(&format!("INPUT_{}", name.to_ascii_uppercase()))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let text = |name: &str, default: &str| value(name).unwrap_or_else(|| default.into());
        let mode_text = text("mode", "pr");
        let mode = Mode::parse(&mode_text).unwrap_or_else(|| {
            errors.push(format!(
                "input `mode` is \"{mode_text}\"; use one of {}",
                Mode::NAMES
            ));
            Mode::Pr
        });
        let engine = match text("engine", "builtin").as_str() {
            "builtin" => Engine::Builtin,
            "command" => match value("bench-command") {
                Some(bench) => Engine::Command {
                    build: value("build-command"),
                    bench,
                },
                None => {
                    errors.push(
                        "input `engine` is \"command\" but `bench-command` is empty; give the command that runs your benchmark and writes its receipt to $RECEIPT_PATH".into(),
                    );
                    Engine::Builtin
                }
            },
            other => {
                errors.push(format!(
                    "input `engine` is \"{other}\"; use builtin (bitnet-engine) or command (your build-command and bench-command)"
                ));
                Engine::Builtin
            }
        };
        let kernels = parse_kernels(&text("kernels", "auto")).unwrap_or_else(|e| {
            errors.push(format!("input {e}"));
            None
        });
        let compare = match text("compare", "auto").as_str() {
            "auto" => Compare::Auto,
            "base" => Compare::Base,
            "off" => Compare::Off,
            other => {
                errors.push(format!(
                    "input `compare` is \"{other}\"; use auto (pr mode, when the engine's inputs change), base (always) or off"
                ));
                Compare::Off
            }
        };
        let backend = text("backend", "cpu");
        if !matches!(backend.as_str(), "cpu" | "cuda") {
            errors.push(format!("input `backend` is \"{backend}\"; use cpu or cuda"));
        }
        let mut number = |name: &str, default: u64, min: u64, max: u64| -> u64 {
            let raw = value(name).unwrap_or_else(|| default.to_string());
            match raw.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    errors.push(format!(
                        "input `{name}` is \"{raw}\"; use a whole number from {min} to {max}"
                    ));
                    default
                }
            }
        };
        let tokens = number("tokens", 128, 1, 4096) as u32;
        let runs = number("runs", 5, 1, 100) as u32;
        let threads = number("threads", 1, 1, 1024) as u32;
        let seed = number("seed", 42, 0, u64::MAX);
        let confirm_runs = number("confirm-runs", 1, 0, 10) as u32;
        let mut flag = |name: &str, default: bool| -> bool {
            match value(name).as_deref() {
                None => default,
                Some("true" | "True" | "TRUE") => true,
                Some("false" | "False" | "FALSE") => false,
                Some(other) => {
                    errors.push(format!("input `{name}` is \"{other}\"; use true or false"));
                    default
                }
            }
        };
        let deterministic = flag("deterministic", true);
        let strict = flag("strict", true);
        let claims = flag("claims", true);
        let comment = flag("comment", true);
        let check_run = flag("check-run", true);
        let fail_on_publish_error = flag("fail-on-publish-error", false);
        let comment_key = text("comment-key", "receipt-action");
        if !comment_key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            errors.push(format!(
                "input `comment-key` is \"{comment_key}\"; use letters, digits, '-', '_' or '.' (it goes into a hidden HTML comment)"
            ));
        }
        let comment_author = value("comment-author");
        if let Some(login) = &comment_author {
            // GitHub logins: letters, digits and single hyphens, at most 39; an
            // App's bot adds `[bot]`. Checked so that a typo is an error, not a
            // comment that is silently never found.
            let name = login.strip_suffix("[bot]").unwrap_or(login);
            let ok = !name.is_empty()
                && name.len() <= 39
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !name.starts_with('-')
                && !name.ends_with('-')
                && !name.contains("--");
            if !ok {
                errors.push(format!(
                    "input `comment-author` is \"{login}\"; use a GitHub login such as my-app[bot] (letters, digits, single hyphens; `[bot]` for an App)"
                ));
            }
        }
        let receipts = value("receipts")
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let inputs = Inputs {
            mode,
            measure: Spec {
                engine,
                model: text("model", "synthetic:2b-4t"),
                backend,
                kernels,
                tokens,
                runs,
                threads,
                seed,
                deterministic,
                strict,
            },
            compare,
            receipts,
            policy: value("policy").map(PathBuf::from),
            claims,
            base: value("base"),
            token: value("github-token"),
            comment,
            check_run,
            comment_key,
            comment_author,
            confirm_runs,
            fail_on_publish_error,
            output_dir: PathBuf::from(text("output-dir", "receipt-action")),
            receipt: None,
            report: value("report").map(PathBuf::from),
            tag: value("tag"),
        };
        if inputs.mode == Mode::Verify && inputs.receipts.is_empty() {
            errors.push(
                "mode `verify` checks existing receipts, but input `receipts` is empty; list receipt files or globs".into(),
            );
        }
        if errors.is_empty() {
            Ok(inputs)
        } else {
            Err(errors)
        }
    }

    /// Every input at its default (`mode: pr`, the built-in engine on synthetic:2b-4t).
    pub fn defaults() -> Inputs {
        Inputs::read(|_| None).expect("the inputs' defaults are valid")
    }

    pub fn from_env() -> Result<Inputs, Vec<String>> {
        Inputs::read(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<Inputs, Vec<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Inputs::read(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_seed_plans() {
        let i = read(&[]).unwrap();
        assert_eq!(i.mode, Mode::Pr);
        assert_eq!(i.measure.engine, Engine::Builtin);
        assert_eq!(i.measure.model, "synthetic:2b-4t");
        assert_eq!(
            (
                i.measure.tokens,
                i.measure.runs,
                i.measure.threads,
                i.measure.seed
            ),
            (128, 5, 1, 42)
        );
        let env = i.measure.engine_env();
        assert!(env.contains(&("BITNET_DETERMINISTIC", "1".into())));
        assert!(env.contains(&("RAYON_NUM_THREADS", "1".into())));
        assert!(env.contains(&("BITNET_STRICT_MODE", "1".into())));
    }

    #[test]
    fn hyphenated_names_and_empty_values_read_like_the_runner_sets_them() {
        let i = read(&[
            ("INPUT_GITHUB-TOKEN", "t0k"),
            ("INPUT_CHECK-RUN", "false"),
            ("INPUT_COMMENT-AUTHOR", " receipt-app[bot] "),
            ("INPUT_MODEL", ""),
            ("INPUT_RECEIPTS", "a.json\n b/*.json"),
        ])
        .unwrap();
        assert_eq!(i.token.as_deref(), Some("t0k"));
        assert!(!i.check_run);
        assert_eq!(i.comment_author.as_deref(), Some("receipt-app[bot]"));
        assert_eq!(read(&[]).unwrap().comment_author, None);
        assert_eq!(i.measure.model, "synthetic:2b-4t");
        assert_eq!(i.receipts, ["a.json", "b/*.json"]);
    }

    #[test]
    fn every_bad_input_is_reported_at_once() {
        let errors = read(&[
            ("INPUT_MODE", "deploy"),
            ("INPUT_TOKENS", "0"),
            ("INPUT_COMMENT", "yes"),
            ("INPUT_ENGINE", "command"),
            ("INPUT_COMMENT-AUTHOR", "@my app"),
        ])
        .unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("`comment-author`")));
        assert!(errors[0].contains("pr, measure"));
        assert!(errors.iter().any(|e| e.contains("bench-command")));
        assert!(errors.iter().any(|e| e.contains("`tokens`")));
        assert!(errors.iter().any(|e| e.contains("true or false")));
    }
}
