//! The runner's environment: where the API is, which repository, and the two
//! files a step writes its results to (`$GITHUB_STEP_SUMMARY`, `$GITHUB_OUTPUT`).

use std::collections::hash_map::RandomState;
use std::fs::OpenOptions;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use super::client::{DEFAULT_MAX_WAIT, DEFAULT_TIMEOUT};

/// GitHub shows at most this much of one step's summary (1 MiB).
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// Where and as whom to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// `GITHUB_API_URL`; `https://api.github.com` by default, another host on GitHub Enterprise.
    pub api_url: String,
    pub token: Option<String>,
    /// `owner/name`.
    pub repository: String,
    /// The login whose comment is ours; found through the API when absent.
    pub comment_author: Option<String>,
    /// This workflow run's page (`$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`):
    /// truncated comments point to its job summary; check runs link to it.
    pub run_url: Option<String>,
    /// The most all rate-limit and retry waits of one `publish` may add up to.
    pub max_wait: Duration,
    /// The most one request may take.
    pub timeout: Duration,
}

impl Context {
    /// Reads `GITHUB_API_URL`, `GITHUB_REPOSITORY`, `GITHUB_SERVER_URL` and `GITHUB_RUN_ID`.
    pub fn from_env(token: Option<String>) -> Result<Context, String> {
        Context::from_vars(token, |name| std::env::var(name).ok())
    }

    /// `from_env` over any variable source (tests pass a map).
    pub fn from_vars(
        token: Option<String>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Context, String> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let repository = set("GITHUB_REPOSITORY")
            .ok_or("GITHUB_REPOSITORY is not set (it is `owner/name` on GitHub Actions)")?;
        validate_repository(&repository)?;
        let api_url = set("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
        let run_url = match (set("GITHUB_SERVER_URL"), set("GITHUB_RUN_ID")) {
            (Some(server), Some(run)) => Some(format!(
                "{}/{repository}/actions/runs/{run}",
                server.trim_end_matches('/')
            )),
            _ => None,
        };
        Ok(Context {
            api_url: api_url.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.trim().is_empty()),
            repository,
            comment_author: None,
            run_url,
            max_wait: DEFAULT_MAX_WAIT,
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

/// `owner/name`, each part as GitHub allows it, so it can go into a URL path as is.
pub(crate) fn validate_repository(repository: &str) -> Result<(), String> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repository.split_once('/') {
        Some((owner, name)) if ok_part(owner) && ok_part(name) => Ok(()),
        _ => Err(format!(
            "GITHUB_REPOSITORY `{repository}` is not `owner/name`"
        )),
    }
}

/// Appends `markdown` to `$GITHUB_STEP_SUMMARY`. `Ok(false)` when the variable is unset
/// (not on GitHub Actions).
pub fn write_step_summary(markdown: &str) -> io::Result<bool> {
    match std::env::var_os("GITHUB_STEP_SUMMARY") {
        Some(path) if !path.is_empty() => {
            write_step_summary_to(Path::new(&path), markdown).map(|()| true)
        }
        _ => Ok(false),
    }
}

/// Appends `markdown` to the summary file, keeping the whole file within 1 MiB:
/// what does not fit is cut at a character boundary and a last line says so.
pub fn write_step_summary_to(path: &Path, markdown: &str) -> io::Result<()> {
    let existing = match std::fs::metadata(path) {
        Ok(m) => usize::try_from(m.len()).unwrap_or(usize::MAX),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let room = STEP_SUMMARY_LIMIT.saturating_sub(existing);
    let text = fit_summary(markdown, room);
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())?;
    if !text.is_empty() && !text.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    Ok(())
}

const SUMMARY_CUT_NOTE: &str = "\n\n**Truncated:** GitHub keeps at most 1 MiB of a step's summary; the full report is in `report.json`.\n";

/// `markdown` cut to `room` bytes, trailing newline included.
fn fit_summary(markdown: &str, room: usize) -> String {
    if markdown.len() + usize::from(!markdown.ends_with('\n')) <= room {
        return markdown.to_string();
    }
    if room < SUMMARY_CUT_NOTE.len() {
        return String::new();
    }
    let mut cut = room - SUMMARY_CUT_NOTE.len();
    while !markdown.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{SUMMARY_CUT_NOTE}", &markdown[..cut])
}

/// Appends step outputs to `$GITHUB_OUTPUT`. `Ok(false)` when the variable is unset.
pub fn write_outputs(pairs: &[(&str, String)]) -> io::Result<bool> {
    match std::env::var_os("GITHUB_OUTPUT") {
        Some(path) if !path.is_empty() => write_outputs_to(Path::new(&path), pairs).map(|()| true),
        _ => Ok(false),
    }
}

/// Appends `name=value` lines; a multi-line value uses the `name<<DELIMITER` form
/// with a random delimiter that does not occur in the value.
pub fn write_outputs_to(path: &Path, pairs: &[(&str, String)]) -> io::Result<()> {
    let mut text = String::new();
    for (name, value) in pairs {
        let bad_name = name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if bad_name {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("output name `{name}` must be letters, digits, `_` or `-`"),
            ));
        }
        if value.contains('\n') || value.contains('\r') {
            let delimiter = delimiter_for(value);
            text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

fn delimiter_for(value: &str) -> String {
    let state = RandomState::new();
    let mut counter = 0u64;
    loop {
        // RandomState is seeded randomly per process and per instance.
        let mut hasher = state.build_hasher();
        hasher.write_u64(counter);
        let delimiter = format!("ghadelimiter_{:016x}", hasher.finish());
        if !value.contains(&delimiter) {
            return delimiter;
        }
        counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_is_cut_at_a_char_boundary_with_a_note() {
        let text = "é".repeat(100);
        let cut = fit_summary(&text, SUMMARY_CUT_NOTE.len() + 11);
        assert!(cut.len() <= SUMMARY_CUT_NOTE.len() + 11);
        assert!(cut.starts_with(&"é".repeat(5)) && !cut.starts_with(&"é".repeat(6)));
        assert!(cut.ends_with(SUMMARY_CUT_NOTE));
        assert_eq!(fit_summary("short", 100), "short");
        assert_eq!(fit_summary("short", 3), "");
    }

    #[test]
    fn the_delimiter_never_occurs_in_the_value() {
        let first = delimiter_for("");
        let value = format!("a\n{first}\nb");
        let second = delimiter_for(&value);
        assert!(!value.contains(&second));
        assert!(second.starts_with("ghadelimiter_"));
    }

    #[test]
    fn context_reads_the_runner_variables() {
        let vars = |name: &str| match name {
            "GITHUB_REPOSITORY" => Some("octo/repo".to_string()),
            "GITHUB_API_URL" => Some("https://ghe.example.com/api/v3/".to_string()),
            "GITHUB_SERVER_URL" => Some("https://ghe.example.com".to_string()),
            "GITHUB_RUN_ID" => Some("42".to_string()),
            _ => None,
        };
        let ctx = Context::from_vars(Some("t".into()), vars).unwrap();
        assert_eq!(ctx.api_url, "https://ghe.example.com/api/v3");
        assert_eq!(
            ctx.run_url.as_deref(),
            Some("https://ghe.example.com/octo/repo/actions/runs/42")
        );
        let default =
            Context::from_vars(None, |n| (n == "GITHUB_REPOSITORY").then(|| "a/b".into())).unwrap();
        assert_eq!(default.api_url, "https://api.github.com");
        assert_eq!(default.token, None);
        assert!(Context::from_vars(None, |_| None).is_err());
        assert!(Context::from_vars(None, |_| Some("no-slash".into())).is_err());
        assert!(Context::from_vars(None, |_| Some("a/b/../c".into())).is_err());
    }
}
