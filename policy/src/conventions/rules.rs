//! A documented command against the policy's conventions: which rules apply,
//! what each finds missing or forbidden, and the form the command should take.

use super::cfg::Rule;
use super::extract::{CommandLine, quote, shell_words, unquote};
use serde::Serialize;

/// One command that breaks one or more rules.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub path: String,
    pub line: u32,
    pub end_line: u32,
    /// The command as written (environment first, `\`-joined lines as one).
    pub command: String,
    /// The ids of the rules it breaks.
    pub rules: Vec<String>,
    /// What is wrong, one entry per problem.
    pub problems: Vec<String>,
    /// The command with the missing environment and flags added.
    pub expected: String,
}

/// The rules' verdict on one command: `None` when it follows all of them.
pub fn judge(path: &str, c: &CommandLine, rules: &[Rule]) -> Option<Violation> {
    let mut broken = Vec::new();
    let mut problems = Vec::new();
    let mut env = c.env.clone();
    // Missing flags, and whether each goes before the command's ` -- `.
    let mut missing_flags: Vec<(&str, bool)> = Vec::new();
    let words = shell_words(&c.command);
    for rule in rules {
        if !rule.matches.is_match(&c.command)
            || rule.unless.as_ref().is_some_and(|u| u.is_match(&c.command))
        {
            continue;
        }
        let before = problems.len();
        // A flag goes into the part of the command the rule is about: before ` -- `
        // when that part alone matches (cargo's flags), else at the end (the program's).
        let before_dashes = c
            .command
            .find(" -- ")
            .is_some_and(|i| rule.matches.is_match(&c.command[..i]));
        for re in &rule.forbid {
            if re.is_match(&c.command) {
                problems.push(format!(
                    "`{}` is a forbidden form (`{}`)",
                    c.command,
                    re.as_str()
                ));
            }
        }
        for alternatives in &rule.require {
            if !alternatives.iter().any(|a| carries(&words, a)) {
                problems.push(format!("lacks `{}`", alternatives.join("` or `")));
                if !missing_flags.iter().any(|(f, _)| *f == alternatives[0]) {
                    missing_flags.push((&alternatives[0], before_dashes));
                }
            }
        }
        for (name, value) in &rule.require_env {
            match c.env.iter().find(|(k, _)| k == name) {
                Some((_, v)) if unquote(v) == value => {}
                Some((_, v)) => {
                    problems.push(format!("sets {name}={v}; the convention is {name}={value}"));
                    if let Some(slot) = env.iter_mut().find(|(k, _)| k == name) {
                        slot.1 = quote(value);
                    }
                }
                None => {
                    problems.push(format!("lacks {name}={value} before the command"));
                    if !env.iter().any(|(k, _)| k == name) {
                        env.push((name.clone(), quote(value)));
                    }
                }
            }
        }
        if problems.len() > before {
            broken.push(rule.id.clone());
        }
    }
    if problems.is_empty() {
        return None;
    }
    Some(Violation {
        path: path.to_string(),
        line: c.line,
        end_line: c.end_line,
        command: c.text(),
        rules: broken,
        problems,
        expected: expected(&env, &c.command, &missing_flags),
    })
}

/// Whether the command's words carry `required` (one or more words) in order;
/// a cargo feature (`--features X`, `-F X`) is found in any feature list:
/// comma- or space-separated, `--features=…`, quoted, or a repeated flag.
fn carries(words: &[String], required: &str) -> bool {
    let needed: Vec<&str> = required.split_whitespace().collect();
    if let ["--features" | "-F", feature] = needed[..] {
        return features(words).any(|f| f == feature);
    }
    !needed.is_empty()
        && words
            .windows(needed.len())
            .any(|w| w.iter().map(|s| unquote(s)).eq(needed.iter().copied()))
}

/// Every feature the command's `--features` / `-F` flags name.
fn features(words: &[String]) -> impl Iterator<Item = &str> {
    let mut lists: Vec<&str> = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w == "--features" || w == "-F" {
            lists.extend(it.next().map(String::as_str));
        } else if let Some(list) = w.strip_prefix("--features=") {
            lists.push(list);
        }
    }
    lists
        .into_iter()
        .flat_map(|l| unquote(l).split([',', ' ']))
        .filter(|f| !f.is_empty())
}

/// The environment, then the command with each missing flag where it belongs:
/// before the command's `--` (cargo's own flags) or at the end (the program's).
fn expected(env: &[(String, String)], command: &str, flags: &[(&str, bool)]) -> String {
    let mut words: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (mut head, mut tail) = match command.find(" -- ") {
        Some(i) => (command[..i].to_string(), command[i..].to_string()),
        None => (command.to_string(), String::new()),
    };
    for (flag, before_dashes) in flags {
        if *before_dashes {
            head.push(' ');
            head.push_str(flag);
        } else {
            tail.push(' ');
            tail.push_str(flag);
        }
    }
    words.push(head + &tail);
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn rules() -> Vec<Rule> {
        vec![
            Rule {
                id: "explicit-features".into(),
                matches: Regex::new(r"^cargo (build|run|test|bench)\b").unwrap(),
                unless: Some(Regex::new("-p xtask").unwrap()),
                require: vec![
                    vec!["--no-default-features".into()],
                    vec!["--features cpu".into(), "--features gpu".into()],
                ],
                forbid: vec![Regex::new("^cargo (build|run)$").unwrap()],
                require_env: Vec::new(),
            },
            Rule {
                id: "deterministic-benchmark".into(),
                matches: Regex::new(r"\bbench(mark)?\b").unwrap(),
                unless: None,
                require: Vec::new(),
                forbid: Vec::new(),
                require_env: vec![
                    ("BITNET_DETERMINISTIC".into(), "1".into()),
                    ("BITNET_SEED".into(), "42".into()),
                ],
            },
        ]
    }

    fn line(env: &[(&str, &str)], command: &str) -> CommandLine {
        CommandLine {
            line: 3,
            end_line: 3,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            command: command.into(),
            in_code_block: true,
        }
    }

    #[test]
    fn missing_flags_go_before_the_double_dash_and_env_in_front() {
        let f = judge(
            "a.md",
            &line(
                &[("BITNET_SEED", "7")],
                "cargo run --release -- bench --model m",
            ),
            &rules(),
        )
        .unwrap();
        assert_eq!(
            f.rules,
            vec!["explicit-features", "deterministic-benchmark"]
        );
        assert_eq!(
            f.expected,
            "BITNET_SEED=42 BITNET_DETERMINISTIC=1 cargo run --release --no-default-features --features cpu -- bench --model m"
        );
        assert!(
            f.problems
                .contains(&"sets BITNET_SEED=7; the convention is BITNET_SEED=42".to_string())
        );
    }

    #[test]
    fn bare_forms_and_exemptions() {
        let f = judge("a.md", &line(&[], "cargo build"), &rules()).unwrap();
        assert!(f.problems[0].contains("forbidden form"), "{:?}", f.problems);
        assert_eq!(
            f.expected,
            "cargo build --no-default-features --features cpu"
        );
        assert!(judge("a.md", &line(&[], "cargo run -p xtask -- check"), &rules()).is_none());
        assert!(
            judge(
                "a.md",
                &line(&[], "cargo build --no-default-features --features gpu"),
                &rules()
            )
            .is_none()
        );
        assert!(judge("a.md", &line(&[], "git status"), &rules()).is_none());
    }

    #[test]
    fn feature_lists_in_every_form_carry_their_features() {
        let w = |s: &str| shell_words(s);
        for cmd in [
            "cargo build --no-default-features --features cpu,full-cli",
            "cargo build --no-default-features --features full-cli,cpu",
            "cargo build --no-default-features --features=cpu",
            "cargo build --no-default-features --features \"cpu full-cli\"",
            "cargo build --no-default-features --features full-cli --features cpu",
            "cargo build --no-default-features -F cpu",
        ] {
            assert!(carries(&w(cmd), "--features cpu"), "{cmd}");
            assert!(carries(&w(cmd), "--no-default-features"), "{cmd}");
        }
        assert!(!carries(
            &w("cargo build --features cpu-extra"),
            "--features cpu"
        ));
        assert!(!carries(&w("cargo build --features gpu"), "--features cpu"));
    }

    #[test]
    fn a_feature_list_with_the_required_feature_is_not_a_finding() {
        let c = CommandLine {
            line: 1,
            end_line: 1,
            env: Vec::new(),
            command: "cargo build --no-default-features --features cpu,full-cli".into(),
            in_code_block: true,
        };
        assert!(judge("README.md", &c, &rules()).is_none());
    }

    #[test]
    fn the_expected_form_keeps_quoting_and_quotes_what_it_adds() {
        let mut rule = rules().remove(0);
        rule.require = Vec::new();
        rule.forbid = Vec::new();
        rule.require_env = vec![("RUSTFLAGS".into(), "-C target-cpu=native".into())];
        let c = CommandLine {
            line: 1,
            end_line: 1,
            env: vec![("BITNET_NOTE".into(), "'two words'".into())],
            command: "cargo build --release".into(),
            in_code_block: true,
        };
        let v = judge("README.md", &c, &[rule]).unwrap();
        assert_eq!(
            v.expected,
            "BITNET_NOTE='two words' RUSTFLAGS='-C target-cpu=native' cargo build --release"
        );
    }
}
