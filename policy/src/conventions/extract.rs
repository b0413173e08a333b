//! Command lines in markdown: each line of a shell code block (fenced with no
//! language or a shell one, or indented) and each inline code span. Lines joined
//! by a trailing `\` are one command; `&&`, `||`, `;` and `|` separate commands;
//! leading `NAME=value` words are the command's environment. A code block
//! preceded or followed by `<!-- commands-ignore: reason -->`, or an inline span
//! on a line with it, is left out.

use super::cfg::is_env_name;
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use serde::Serialize;

/// One command as documented.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandLine {
    /// 1-based lines of its first and last physical line.
    pub line: u32,
    pub end_line: u32,
    /// Leading `NAME=value` assignments, in order; values as written (quotes kept).
    pub env: Vec<(String, String)>,
    /// The command without its environment, words joined by single spaces.
    pub command: String,
    /// From a code block (else an inline code span).
    pub in_code_block: bool,
}

impl CommandLine {
    /// The command as written, environment first.
    pub fn text(&self) -> String {
        let mut words: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        words.push(self.command.clone());
        words.join(" ")
    }
}

/// Languages whose code blocks are shell command lines.
const SHELL: &[&str] = &["", "bash", "sh", "shell", "zsh", "console", "shell-session"];

/// Every command line of a markdown document.
pub fn commands(text: &str) -> Vec<CommandLine> {
    let starts = line_starts(text);
    let line_of = |offset: usize| starts.partition_point(|&s| s <= offset) as u32;
    let lines: Vec<&str> = text.lines().collect();
    let marked = |line: u32| {
        line >= 1
            && lines
                .get(line as usize - 1)
                .is_some_and(|l| l.contains("<!-- commands-ignore"))
    };
    let mut out = Vec::new();
    let mut block: Option<(bool, usize, String)> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let shell = match &kind {
                    CodeBlockKind::Indented => true,
                    CodeBlockKind::Fenced(info) => {
                        let lang = info.split([' ', ',', '{']).next().unwrap_or("");
                        SHELL.contains(&lang.to_ascii_lowercase().as_str())
                    }
                };
                let first = line_of(range.start);
                let last = line_of(range.end.saturating_sub(1));
                let opted_out = marked(first - 1) || marked(last + 1);
                block = Some((shell && !opted_out, range.start, String::new()));
            }
            Event::Text(t) => {
                if let Some((_, start, body)) = block.as_mut() {
                    if body.is_empty() {
                        // The first text event starts at the block's first content line.
                        *start = range.start;
                    }
                    body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((true, start, body)) = block.take() {
                    out.extend(block_commands(&body, line_of(start)));
                }
            }
            Event::Code(code) if block.is_none() => {
                let line = line_of(range.start);
                if !marked(line) {
                    for (env, command) in split(&code) {
                        out.push(CommandLine {
                            line,
                            end_line: line,
                            env,
                            command,
                            in_code_block: false,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The commands of a code block whose first line is `first_line`.
fn block_commands(body: &str, first_line: u32) -> Vec<CommandLine> {
    let mut out = Vec::new();
    let mut joined = String::new();
    let mut start = first_line;
    for (i, raw) in body.lines().enumerate() {
        let line = first_line + i as u32;
        let mut text = raw.trim();
        if joined.is_empty() {
            start = line;
            text = text.strip_prefix("$ ").unwrap_or(text);
            if text.starts_with('#') {
                continue;
            }
        }
        match text.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
            }
            None => {
                joined.push_str(text);
                for (env, command) in split(&joined) {
                    out.push(CommandLine {
                        line: start,
                        end_line: line,
                        env,
                        command,
                        in_code_block: true,
                    });
                }
                joined.clear();
            }
        }
    }
    out
}

/// A command line → its commands, each as (environment, command words).
fn split(line: &str) -> Vec<(Vec<(String, String)>, String)> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut flush = |words: &mut Vec<String>| {
        let mut env = Vec::new();
        let mut rest = words.drain(..).peekable();
        if rest.peek().is_some_and(|w| w == "env") {
            rest.next();
        }
        while let Some(w) = rest.next_if(|w| assignment(w).is_some()) {
            env.push(assignment(&w).expect("checked"));
        }
        let command: Vec<String> = rest.collect();
        if !command.is_empty() {
            out.push((env, command.join(" ")));
        }
    };
    for word in shell_words(line) {
        match word.as_str() {
            "&&" | "||" | ";" | "|" => flush(&mut words),
            w if w.ends_with(';') && !w.ends_with("\\;") => {
                words.push(w.trim_end_matches(';').to_string());
                flush(&mut words);
            }
            // A trailing comment is not part of the command.
            w if w.starts_with('#') => break,
            _ => words.push(word),
        }
    }
    flush(&mut words);
    out
}

fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    is_env_name(name).then(|| (name.to_string(), value.to_string()))
}

/// A word as the shell passes it on: one pair of surrounding quotes removed.
pub fn unquote(word: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = word.strip_prefix(q).and_then(|w| w.strip_suffix(q)) {
            return inner;
        }
    }
    word
}

/// A value as a shell word: quoted when it holds anything a shell would split
/// or expand.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/=+@%".contains(c));
    match plain {
        true => value.to_string(),
        false => format!("'{}'", value.replace('\'', "'\\''")),
    }
}

/// Whitespace-separated words; quotes keep spaces inside a word (and are kept).
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                word.push(c);
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.push(c);
            }
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(md: &str) -> Vec<(u32, u32, String, bool)> {
        commands(md)
            .into_iter()
            .map(|c| (c.line, c.end_line, c.text(), c.in_code_block))
            .collect()
    }

    #[test]
    fn joined_lines_env_and_separators() {
        let md = "# T\n\n```bash\n# a comment\nBITNET_SEED=42 \\\ncargo run -p xtask -- benchmark \\\n  --tokens 128\n$ cd x && cargo build # why\n```\n\nRun `cargo test --no-default-features` here.\n";
        assert_eq!(
            texts(md),
            vec![
                (
                    5,
                    7,
                    "BITNET_SEED=42 cargo run -p xtask -- benchmark --tokens 128".into(),
                    true
                ),
                (8, 8, "cd x".into(), true),
                (8, 8, "cargo build".into(), true),
                (11, 11, "cargo test --no-default-features".into(), false),
            ]
        );
    }

    #[test]
    fn other_languages_and_opted_out_blocks_are_left_out() {
        let md = "```toml\ncargo = 1\n```\n\n<!-- commands-ignore: historical -->\n```sh\ncargo build\n```\n\n```\ncargo run\n```\n<!-- commands-ignore: shown as the wrong way -->\n\nAvoid `cargo build` <!-- commands-ignore: the bare form, named -->\n";
        assert!(texts(md).is_empty(), "{:?}", texts(md));
    }

    #[test]
    fn quoted_words_keep_their_spaces() {
        let md = "```sh\nRUSTFLAGS=\"-C target-cpu=native\" cargo build --release\n```\n";
        let c = &commands(md)[0];
        // Kept as written, so the expected form still pastes into a shell.
        assert_eq!(
            c.env,
            vec![(
                "RUSTFLAGS".to_string(),
                "\"-C target-cpu=native\"".to_string()
            )]
        );
        assert_eq!(c.command, "cargo build --release");
        assert_eq!(unquote(&c.env[0].1), "-C target-cpu=native");
        assert_eq!(quote("-C target-cpu=native"), "'-C target-cpu=native'");
        assert_eq!(quote("42"), "42");
    }
}
