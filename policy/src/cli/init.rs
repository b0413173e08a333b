//! `policy-check policy init`: the starter policy, fitted to the repository it is
//! written in. It proposes a `[claims] exclude` for folders and files whose
//! numbers are not the project's current claims (archives, vendored and generated
//! code, agent notes, changelogs), saying why for each; it adds a commented
//! `[commands]` section; and with `--from-receipt` it starts an envelope from a
//! receipt measured on this machine.

use crate::baseline;
use crate::config;
use crate::input::{self, Existing, WriteError};
use crate::report::escape::plain;
use serde_json::Value;
use std::fmt::Write;
use std::path::Path;

/// Folder names (any case) whose docs are not the project's current claims, and why.
const EXCLUDED_FOLDERS: &[(&str, &str)] = &[
    ("archive", "archived docs"),
    ("archives", "archived docs"),
    ("archived", "archived docs"),
    ("old", "old docs"),
    ("legacy", "legacy docs"),
    ("deprecated", "deprecated docs"),
    ("vendor", "vendored code: other projects' numbers"),
    ("vendored", "vendored code: other projects' numbers"),
    ("third_party", "third-party code: other projects' numbers"),
    ("third-party", "third-party code: other projects' numbers"),
    ("external", "external code: other projects' numbers"),
    ("extern", "external code: other projects' numbers"),
    ("node_modules", "installed packages"),
    ("generated", "generated files"),
    ("target", "build output"),
    ("dist", "build output"),
    (".claude", "agent notes, not docs"),
    (".cursor", "agent notes, not docs"),
    (".agents", "agent notes, not docs"),
    ("agent-notes", "agent notes, not docs"),
    ("memory-bank", "agent notes, not docs"),
];

/// File names (any case, any extension) whose numbers are history or notes.
const EXCLUDED_FILES: &[(&str, &str)] = &[
    ("changelog", "a changelog: past releases' numbers"),
    ("history", "a changelog: past releases' numbers"),
    ("news", "release news: past releases' numbers"),
    ("release_notes", "release notes: past releases' numbers"),
    ("claude", "agent instructions, not docs"),
    ("agents", "agent instructions, not docs"),
];

/// A proposed exclusion: the glob, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Exclusion {
    pub glob: String,
    pub why: &'static str,
}

/// What in `root` (two folder levels deep) the claim scan should skip.
pub fn exclusions(root: &Path) -> Vec<Exclusion> {
    let mut found = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .max_depth(2)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git");
    for entry in walker.filter_map(Result::ok) {
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
        let inside_excluded = found.iter().any(|e: &Exclusion| {
            e.glob
                .strip_suffix("/**")
                .is_some_and(|dir| rel.starts_with(&format!("{dir}/")))
        });
        if inside_excluded {
            continue;
        }
        if entry.file_type().is_dir() {
            if let Some((_, why)) = EXCLUDED_FOLDERS.iter().find(|(n, _)| *n == name) {
                found.push(Exclusion {
                    glob: format!("{rel}/**"),
                    why,
                });
            }
        } else if entry.file_type().is_file() {
            let stem = name.split('.').next().unwrap_or("");
            if let Some((_, why)) = EXCLUDED_FILES.iter().find(|(n, _)| *n == stem) {
                found.push(Exclusion {
                    glob: rel.to_string(),
                    why,
                });
            }
        }
    }
    found
}

/// The starter policy with the repository's exclusions, a commented
/// `[commands]` section and, from a receipt, a first envelope.
pub fn starter(exclusions: &[Exclusion], envelope: Option<&str>, baselines: &str) -> String {
    let mut out = config::STARTER_POLICY.to_string();
    if let Some(envelope) = envelope {
        out.push('\n');
        out.push_str(envelope);
    }
    out.push_str("\n[claims]\n");
    if exclusions.is_empty() {
        out.push_str("# Files whose numbers are not this project's claims (globs):\n# exclude = [\"CHANGELOG.md\", \"archive/**\"]\n");
    } else {
        out.push_str("# Files whose numbers are not this project's claims, found by `policy init`:\nexclude = [\n");
        for e in exclusions {
            let _ = writeln!(
                out,
                "    {},{}# {}",
                config::quote(&e.glob),
                " ".repeat(34usize.saturating_sub(e.glob.len() + 3)),
                e.why
            );
        }
        out.push_str("]\n");
    }
    out.push_str(COMMANDS_SECTION);
    out.push_str(baselines);
    out
}

/// `[baselines]`: where dated baselines go. A `baselines/` folder that already
/// holds the project's own files keeps them; ours go to `ci/baselines`.
pub fn baselines_section(root: &Path) -> String {
    let own = std::fs::read_dir(root.join(config::DEFAULT_BASELINES_DIR))
        .map(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let dated = name.to_str().and_then(baseline::parse_date).is_some();
                !(dated && e.path().is_dir())
            })
        })
        .unwrap_or(false);
    if own {
        eprintln!(
            "baselines/ holds files of its own; dated baselines go to {OWN_BASELINES_DIR} ([baselines] dir)"
        );
        format!(
            "\n# baselines/ holds this project's own files, so dated baselines go here:\n[baselines]\ndir = \"{OWN_BASELINES_DIR}\"\n"
        )
    } else {
        "\n# Where `policy-check baseline record` keeps dated baselines (default baselines):\n# [baselines]\n# dir = \"baselines\"\n".into()
    }
}

/// Where `policy init` puts dated baselines when `baselines/` is taken.
const OWN_BASELINES_DIR: &str = "ci/baselines";

const COMMANDS_SECTION: &str = r#"
# Conventions for documented command lines, checked by `policy-check commands`
# (docs/claims.md): uncomment and adapt.
# [[commands.rule]]
# id = "explicit-features"                   # named in findings
# match = '^cargo (build|run|test|bench)\b'  # the commands it applies to
# require = ["--no-default-features", "--features cpu|--features gpu"]  # alternatives with |
# forbid = ['^cargo (build|run)$']           # bare forms that are never right
#
# [[commands.rule]]
# id = "deterministic-benchmark"
# match = '\bbench\b'
# require_env = ["BITNET_DETERMINISTIC=1", "BITNET_SEED=42"]
"#;

/// An envelope for the receipt at `path`, measured on this machine: its backend
/// and format, the rate it measured with the policy's usual tolerance around it.
pub fn envelope_from(path: &Path) -> Result<String, String> {
    let shown = path.display().to_string();
    let bytes = input::read_capped(path, input::MAX_DOC_BYTES)
        .map_err(|e| format!("{shown}: {e}; {}", e.fix()))?;
    let gated = crate::gates::check_bytes(&bytes, &crate::gates::GateConfig::default());
    let blocking: Vec<&str> = gated
        .findings
        .iter()
        .filter(|f| f.level == crate::verdict::Level::Deny)
        .map(|f| f.code.as_str())
        .collect();
    if !blocking.is_empty() || gated.receipt.is_none() {
        return Err(format!(
            "{shown} does not pass the receipt gates ({}); an envelope starts from an honest receipt: run `policy-check verify {shown}` to see why",
            blocking.join(", ")
        ));
    }
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{shown}: {e}"))?;
    let backend = doc["backend"].as_str().unwrap_or("cpu");
    let format = doc["model"]["format"].as_str();
    let rate = doc["tokens_per_second"].as_f64().unwrap_or(0.0);
    if rate <= 0.0 {
        return Err(format!("{shown} measured no decode rate; measure again"));
    }
    // The built-in envelopes' tolerances: CPU runs vary less than GPU runs.
    let tolerance = if backend == "cpu" { 15 } else { 25 };
    // A host key makes the envelope more specific than the built-in one for the
    // same backend and format, so it wins on this machine and nowhere else.
    let Some((host_key, host_value)) = ["cpu_model", "simd"]
        .iter()
        .find_map(|k| Some((*k, doc["host"][k].as_str()?)))
    else {
        return Err(format!(
            "{shown} names no host.cpu_model or host.simd, so an envelope for this machine cannot be told apart from the built-in ones; write one by hand (docs/policies.md)"
        ));
    };
    let id = match format {
        Some(f) => format!("{backend}-{f}-this-machine"),
        None => format!("{backend}-this-machine"),
    };
    let mut when = format!("{{ backend = {}", config::quote(backend));
    if let Some(f) = format {
        let _ = write!(when, ", \"model.format\" = {}", config::quote(f));
    }
    let _ = write!(
        when,
        ", \"host.{host_key}\" = {} }}",
        config::quote(host_value)
    );
    let lo = rate * (100 - tolerance) as f64 / 100.0;
    let hi = rate * (100 + tolerance) as f64 / 100.0;
    Ok(format!(
        r#"# Started by `policy init --from-receipt {receipt}`: {rate:.2} tok/s measured on this
# machine. The band is the rate ± {tolerance}% ([{lo:.2}, {hi:.2}] tok/s): runs on this
# machine should land inside it. It applies only where host.{host_key} matches;
# another machine (a CI runner) needs its own envelope, or a `roofline_fraction`
# rule that judges the rate against the machine's memory bandwidth
# (docs/policies.md).
[[envelope]]
id = {id}
status = "production"
when = {when}
tokens_per_second = {{ expected = {rate:.2} }}
tolerance = "{tolerance}%"
"#,
        receipt = plain(&shown),
        id = config::quote(&id),
    ))
}

/// Write the starter policy to `path` (refusing an existing file unless `force`).
pub fn run(path: &Path, force: bool, from_receipt: Option<&Path>) -> Result<(), String> {
    let envelope = from_receipt.map(envelope_from).transpose()?;
    // `policy init` runs in the repository's root, as every command does.
    let found = exclusions(Path::new("."));
    for e in &found {
        eprintln!(
            "excluding {} from the claim scan: {}",
            plain(&e.glob),
            e.why
        );
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let existing = match force {
        true => Existing::Replace,
        false => Existing::Refuse,
    };
    let text = starter(
        &found,
        envelope.as_deref(),
        &baselines_section(Path::new(".")),
    );
    input::write_atomic(path, text.as_bytes(), existing).map_err(|e| match e {
        WriteError::Exists => format!(
            "{} already exists; not overwriting it (pass --force to replace it, or edit it)",
            path.display()
        ),
        e => format!("{}: {e}", path.display()),
    })?;
    eprintln!(
        "wrote {}; edit it, then run `policy-check policy show` to see the effective policy",
        plain(&path.display().to_string())
    );
    Ok(())
}
