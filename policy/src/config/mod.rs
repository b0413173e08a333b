//! Configuration: the policy file model (`Policy`: the built-in policy merged
//! with `ci/receipt-policy.toml` or `--policy`), where the file is found
//! (`load`), the spanned-TOML plumbing every table's reader uses (`spanned`),
//! and configuration errors (`error`). Each check family reads its own table in
//! its `cfg.rs` (as cargo-deny keeps each check's config beside the check).

pub mod error;
pub mod file;
pub mod spanned;
pub mod write;

pub use error::{ConfigCode, Location, PolicyError, render_errors};
pub use file::{CodeRef, LevelSetting, MaxAge, POLICY_VERSION, PolicyFile};
pub use spanned::{quote, quote_regex};

use crate::envelope::cfg::{Envelope, Tolerance, ambiguities};
use crate::envelope::diags::EnvelopeCode;
use crate::gates::GateConfig;
use crate::input::ReadError;
use crate::verdict::Level;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

/// The built-in policy: the seed plan's three envelopes.
pub const DEFAULT_POLICY: &str = include_str!("../../default-policy.toml");

/// How errors and verdicts name the built-in policy.
pub const DEFAULT_POLICY_NAME: &str = "<built-in default-policy.toml>";

/// What `policy-check policy init` writes.
pub const STARTER_POLICY: &str = include_str!("../../starter-policy.toml");

/// Where `policy init` writes, and where `check` looks when `--policy` is not given.
pub const DEFAULT_POLICY_PATH: &str = "ci/receipt-policy.toml";

/// Policy files above this size are refused unread.
pub const MAX_POLICY_BYTES: u64 = 4 * 1024 * 1024;

/// Which file(s) a policy came from, and their hashes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    /// The policy file, or the built-in policy's name.
    pub path: String,
    /// sha256 of the policy file's bytes.
    pub sha256: String,
    /// sha256 of the built-in policy, when the file is merged over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults_sha256: Option<String>,
}

/// An effective policy: a file merged over the built-in one (or either alone).
#[derive(Debug, Clone)]
pub struct Policy {
    pub origin: Origin,
    pub max_age: MaxAge,
    pub levels: Vec<LevelSetting>,
    pub envelopes: Vec<Envelope>,
    envelope_levels: HashMap<EnvelopeCode, Level>,
    /// The `[claims]` settings (file over built-in, key by key).
    pub claims: crate::claims::cfg::ClaimsSettings,
    /// The `[commands]` rules (file over built-in, rule by rule).
    pub commands: crate::conventions::cfg::CommandsSettings,
    /// `[receipt] regression.max_drop`; `None` means the default (`DEFAULT_MAX_DROP`).
    pub regression: Option<Tolerance>,
    /// `[compare]` (file over built-in, key by key).
    pub compare: crate::compare::cfg::CompareSettings,
    /// `[baselines] dir`, relative to the repository root (default `baselines`).
    pub baselines_dir: String,
}

/// Where dated baselines live when the policy sets no `[baselines] dir`.
pub const DEFAULT_BASELINES_DIR: &str = "baselines";

/// The largest drop below the latest baseline that `baseline compare` lets pass
/// when the policy sets no `regression.max_drop`.
pub const DEFAULT_MAX_DROP: f64 = 10.0;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl Policy {
    /// The built-in policy alone.
    pub fn builtin() -> Result<Policy, Vec<PolicyError>> {
        let file = file::parse(DEFAULT_POLICY_NAME, DEFAULT_POLICY)?;
        let origin = Origin {
            path: DEFAULT_POLICY_NAME.into(),
            sha256: sha256_hex(DEFAULT_POLICY.as_bytes()),
            defaults_sha256: None,
        };
        Policy::assemble(origin, None, file)
    }

    /// A policy file's text, merged over the built-in policy unless it says
    /// `use_defaults = false`. `name` is how errors and verdicts refer to it.
    pub fn from_text(name: &str, text: &str) -> Result<Policy, Vec<PolicyError>> {
        let file = file::parse(name, text)?;
        let mut origin = Origin {
            path: name.into(),
            sha256: sha256_hex(text.as_bytes()),
            defaults_sha256: None,
        };
        let base = if file.use_defaults {
            origin.defaults_sha256 = Some(sha256_hex(DEFAULT_POLICY.as_bytes()));
            Some(file::parse(DEFAULT_POLICY_NAME, DEFAULT_POLICY)?)
        } else {
            None
        };
        Policy::assemble(origin, base, file)
    }

    /// Read and load a policy file (size-capped, UTF-8).
    pub fn from_file(path: &Path) -> Result<Policy, Vec<PolicyError>> {
        let name = path.display().to_string();
        let io = |message: String, help: &str| {
            vec![PolicyError::file(
                ConfigCode::PolicyUnreadable,
                &name,
                message,
                help,
            )]
        };
        // Through the input layer: a FIFO, a device or /proc cannot hang it or
        // grow it past the cap (counted while reading, not taken from metadata).
        let bytes = crate::input::read_capped(path, MAX_POLICY_BYTES).map_err(|e| match e {
            ReadError::NotFound => io(
                "the policy file does not exist".into(),
                "check the --policy path, or run `policy-check policy init` to write one",
            ),
            ReadError::Directory => io(
                "the policy path is a directory".into(),
                "pass the policy file itself, e.g. ci/receipt-policy.toml",
            ),
            ReadError::TooLarge { .. } => io(
                format!("the policy file is larger than the {MAX_POLICY_BYTES}-byte cap"),
                "a policy is a few kilobytes; check that --policy names the policy file",
            ),
            other => io(format!("the policy file {other}"), other.fix()),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let src = spanned::Source::new(
                &name,
                std::str::from_utf8(&e.as_bytes()[..offset]).unwrap_or(""),
            );
            let mut err = io(
                format!("the policy file is not UTF-8 (bad byte at offset {offset})"),
                "save the policy as UTF-8 text",
            );
            err[0].code = ConfigCode::PolicySyntax;
            err[0].location = src.location(offset);
            err
        })?;
        Policy::from_text(&name, &text)
    }

    fn assemble(
        origin: Origin,
        base: Option<file::PolicyFile>,
        file: file::PolicyFile,
    ) -> Result<Policy, Vec<PolicyError>> {
        let (
            mut max_age,
            mut levels,
            mut envelopes,
            base_claims,
            base_commands,
            base_regression,
            base_compare,
            base_baselines_dir,
        ) = match base {
            Some(b) => (
                b.max_age,
                b.levels,
                b.envelopes,
                b.claims,
                b.commands,
                b.regression,
                b.compare,
                b.baselines_dir,
            ),
            None => (None, Vec::new(), Vec::new(), None, None, None, None, None),
        };
        let baselines_dir = file
            .baselines_dir
            .or(base_baselines_dir)
            .unwrap_or_else(|| DEFAULT_BASELINES_DIR.to_string());
        let compare = match file.compare {
            Some(c) => c.merged_over(base_compare.unwrap_or_default()),
            None => base_compare.unwrap_or_default(),
        };
        let commands = match file.commands {
            Some(c) => c.over(base_commands.unwrap_or_default()),
            None => base_commands.unwrap_or_default(),
        };
        let regression = file.regression.or(base_regression);
        let claims = match file.claims {
            Some(c) => c.over(base_claims.unwrap_or_default()),
            None => base_claims.unwrap_or_default(),
        };
        if file.max_age.is_some() {
            max_age = file.max_age;
        }
        for setting in file.levels {
            levels.retain(|l| l.code != setting.code);
            levels.push(setting);
        }
        // A file envelope replaces the built-in one with the same id, in place.
        for e in file.envelopes {
            match envelopes.iter_mut().find(|b| b.id == e.id) {
                Some(slot) => *slot = e,
                None => envelopes.push(e),
            }
        }
        ambiguities(&envelopes)?;
        let envelope_levels = levels
            .iter()
            .filter_map(|l| match l.code {
                CodeRef::Envelope(c) => Some((c, l.level)),
                CodeRef::Gate(_) => None,
            })
            .collect();
        Ok(Policy {
            origin,
            max_age: max_age.unwrap_or(MaxAge {
                text: "30d".into(),
                value: Some(crate::gates::DEFAULT_MAX_AGE),
                location: Location {
                    file: DEFAULT_POLICY_NAME.into(),
                    line: 1,
                    column: 1,
                },
            }),
            levels,
            envelopes,
            envelope_levels,
            claims,
            commands,
            regression,
            compare,
            baselines_dir,
        })
    }

    /// The largest drop (percent) below the latest baseline that still passes.
    pub fn max_drop(&self) -> f64 {
        self.regression
            .as_ref()
            .map_or(DEFAULT_MAX_DROP, |r| r.percent)
    }

    /// The level the policy sets for an envelope code, if it sets one.
    pub fn envelope_level(&self, code: EnvelopeCode) -> Option<Level> {
        self.envelope_levels.get(&code).copied()
    }

    /// The gates' configuration: `[receipt]` max_age and levels over the defaults.
    pub fn gate_config(&self, mut base: GateConfig) -> GateConfig {
        base.max_age = self.max_age.value;
        for l in &self.levels {
            if let CodeRef::Gate(c) = l.code {
                base.levels.insert(c, l.level);
            }
        }
        base
    }
}

/// Which policy a command uses: the file `explicit` names, else
/// `ci/receipt-policy.toml` if it exists, else the built-in policy. On failure,
/// the rendered errors (a usage error: exit 2).
pub fn load(explicit: Option<&Path>) -> Result<Policy, String> {
    load_in(Path::new("."), explicit)
}

/// `load` for the repository at `root` (the implicit file is looked up there).
pub fn load_in(root: &Path, explicit: Option<&Path>) -> Result<Policy, String> {
    let implicit = crate::input::under(root, DEFAULT_POLICY_PATH);
    let loaded = match explicit {
        Some(p) => Policy::from_file(p),
        // Only a missing file means "built-in": a dangling symlink, a directory or a
        // link out of the repository is the repository's mistake (or an attack on
        // the runner's files) and is named, never silently replaced.
        None => match std::fs::symlink_metadata(&implicit) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Policy::builtin(),
            _ => match crate::input::resolve_within(root, &implicit) {
                Ok(_) => Policy::from_file(&implicit),
                Err(e) => {
                    return Err(format!(
                        "{DEFAULT_POLICY_PATH}: {e}; {} (or delete it to use the built-in policy)",
                        e.fix()
                    ));
                }
            },
        },
    };
    loaded.map_err(|errors| render_errors(&errors))
}
