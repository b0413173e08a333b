//! Command conventions in docs (issue 9): the policy's `[commands]` rules say
//! which documented commands must carry which flags and environment (explicit
//! feature flags, the deterministic and strict settings of benchmark runs) and
//! which bare forms are never right. `extract` finds the command lines in
//! markdown, `rules` judges each, `cfg` reads the rules.

pub mod cfg;
pub mod extract;
pub mod rules;

use crate::claims::audit::{self, Request, ScanResult};
use crate::claims::scan::ScanConfig;
use cfg::CommandsSettings;
use extract::CommandLine;
use rules::Violation;

/// What `policy-check commands` saw: how many command lines, and the findings.
#[derive(Debug, Default)]
pub struct Checked {
    pub commands: usize,
    pub findings: Vec<Violation>,
    pub warnings: Vec<String>,
}

/// Check the documented commands of the requested files and lines (only
/// markdown files hold them).
pub fn check(
    request: &Request,
    config: &ScanConfig,
    settings: &CommandsSettings,
) -> Result<Checked, String> {
    let found: ScanResult<(String, CommandLine)> = audit::find_with(
        request,
        config,
        |path, text| {
            if crate::claims::Syntax::of(path) != crate::claims::Syntax::Markdown {
                return Vec::new();
            }
            extract::commands(text)
                .into_iter()
                .map(|c| (path.to_string(), c))
                .collect()
        },
        |(_, c)| (c.line, c.end_line),
    )?;
    let findings = found
        .items
        .iter()
        .filter_map(|(path, c)| rules::judge(path, c, &settings.rules))
        .collect();
    Ok(Checked {
        commands: found.items.len(),
        findings,
        warnings: found.warnings,
    })
}
