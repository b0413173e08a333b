//! The result model every check writes into and every renderer reads from:
//! findings with a code, a level and a place, and the status they add up to.
//! It knows nothing about how a result is printed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How much a finding matters. A policy can move a code between levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Recorded, never shown as a problem.
    Allow,
    /// Shown, does not fail the run.
    Warn,
    /// Fails the run.
    Deny,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Allow => "allow",
            Level::Warn => "warn",
            Level::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "allow" => Some(Level::Allow),
            "warn" => Some(Level::Warn),
            "deny" => Some(Level::Deny),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which check found something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The file could not be read (missing, unreadable, over a size cap).
    Input,
    /// A gate on one receipt (`policy-check explain <code>`).
    Gate,
    /// The receipt's envelope in the policy.
    Envelope,
    /// A performance claim in a doc.
    Claim,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Input => "input",
            Source::Gate => "gate",
            Source::Envelope => "envelope",
            Source::Claim => "claim",
        }
    }
}

/// Where a finding points: a file, and in it a JSON pointer (a receipt) or a
/// line and column (a doc).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// JSON pointer into the receipt ("" is the whole document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Place {
    /// A place in a receipt.
    pub fn receipt(file: &str, pointer: impl Into<String>) -> Place {
        Place {
            file: Some(file.to_string()),
            pointer: Some(pointer.into()),
            ..Place::default()
        }
    }

    /// A line and column in a text file.
    pub fn text(file: &str, line: u32, column: u32) -> Place {
        Place {
            file: Some(file.to_string()),
            line: Some(line),
            column: Some(column),
            ..Place::default()
        }
    }
}

/// One finding, in the one shape every renderer and every JSON output uses
/// (docs/reports.md). Each check keeps its own typed record while it works and
/// hands this on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// The stable code (`policy-check explain <code>`).
    pub code: String,
    pub level: Level,
    pub source: Source,
    pub place: Place,
    /// What is wrong, with the values that are wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
    /// The policy rule behind it ("file:line:column"), for envelope findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// The outcome for one receipt, and for a whole run (the worst of its parts).
/// Ordered from best to worst so that `max` gives the overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Warn,
    Incomparable,
    InsufficientEvidence,
    Fail,
    /// The input could not be read at all (missing file, directory, permissions).
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Incomparable => "incomparable",
            Status::InsufficientEvidence => "insufficient-evidence",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }

    /// The status that the levels of a set of findings add up to.
    pub fn from_levels(levels: impl IntoIterator<Item = Level>) -> Status {
        match levels.into_iter().max() {
            Some(Level::Deny) => Status::Fail,
            Some(Level::Warn) => Status::Warn,
            _ => Status::Pass,
        }
    }

    /// Process exit code, as documented in docs/receipts.md and DESIGN §5:
    /// 0 pass or warn, 1 fail, 2 usage error or unreadable input,
    /// 3 incomparable or insufficient evidence.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Pass | Status::Warn => 0,
            Status::Fail => 1,
            Status::Error => 2,
            Status::Incomparable | Status::InsufficientEvidence => 3,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exit code for usage and configuration errors, and unreadable input (DESIGN §5).
pub const EXIT_USAGE: i32 = 2;
/// Exit code for an internal error (a panic: a bug in policy-check, reported as one).
pub const EXIT_INTERNAL: i32 = 4;

/// Stable codes, derived one way for every family (gates, envelopes, policy
/// files): an enum whose variants have a kebab-case name and a `'static` record of
/// what the family says about each (`info()`), with `ALL`, `as_str`, `parse`,
/// `Display` and `Serialize` (as its name). Codes are public contract: only add.
macro_rules! stable_codes {
    (
        $(#[$meta:meta])*
        pub enum $code:ident: $info:ident {
            $( $variant:ident = $name:literal { $( $field:ident: $value:expr ),* $(,)? } )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $code { $( $variant, )* }

        impl $code {
            pub const ALL: &'static [$code] = &[ $( $code::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( $code::$variant => $name, )* }
            }

            pub fn parse(s: &str) -> Option<$code> {
                match s { $( $name => Some($code::$variant), )* _ => None }
            }

            /// What the family records about this code.
            pub fn info(self) -> &'static $info {
                match self { $( $code::$variant => &$info { $( $field: $value ),* }, )* }
            }
        }

        impl std::fmt::Display for $code {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $code {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use stable_codes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_status_wins_and_maps_to_documented_exit_codes() {
        let all = [
            Status::Pass,
            Status::Warn,
            Status::Incomparable,
            Status::Fail,
            Status::Error,
        ];
        assert_eq!(all.iter().copied().max(), Some(Status::Error));
        assert_eq!(Status::Pass.exit_code(), 0);
        assert_eq!(Status::Warn.exit_code(), 0);
        assert_eq!(Status::Fail.exit_code(), 1);
        assert_eq!(Status::Error.exit_code(), 2);
        assert_eq!(Status::InsufficientEvidence.exit_code(), 3);
    }

    #[test]
    fn levels_add_up_to_their_worst() {
        assert_eq!(
            Status::from_levels([Level::Allow, Level::Warn]),
            Status::Warn
        );
        assert_eq!(
            Status::from_levels([Level::Warn, Level::Deny]),
            Status::Fail
        );
        assert_eq!(Status::from_levels([Level::Allow]), Status::Pass);
        assert_eq!(Status::from_levels([]), Status::Pass);
    }
}
