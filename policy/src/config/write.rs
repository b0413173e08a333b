//! The TOML writer: the effective policy as text that loads back to the same
//! rules (`policy show`).

use super::spanned::quote;
use super::{DEFAULT_POLICY_NAME, POLICY_VERSION, Policy};
use crate::envelope::cfg::{KernelGlob, Pattern};
use std::fmt::Write;

impl Policy {
    /// The effective policy as TOML that loads back to the same rules.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Effective receipt policy (policy-check policy show)");
        let _ = writeln!(
            out,
            "# from: {} (sha256 {})",
            self.origin.path, self.origin.sha256
        );
        if let Some(d) = &self.origin.defaults_sha256 {
            let _ = writeln!(out, "# merged over: {DEFAULT_POLICY_NAME} (sha256 {d})");
        }
        let _ = writeln!(out, "version = {POLICY_VERSION}");
        let _ = writeln!(out, "use_defaults = false");
        let _ = writeln!(out, "\n[receipt]");
        let _ = writeln!(
            out,
            "max_age = {}  # {}",
            quote(&self.max_age.text),
            self.max_age.location
        );
        if let Some(r) = &self.regression {
            let _ = writeln!(out, "regression = {{ max_drop = {} }}", quote(&r.text));
        }
        if self.baselines_dir != super::DEFAULT_BASELINES_DIR {
            let _ = writeln!(out, "\n[baselines]\ndir = {}", quote(&self.baselines_dir));
        }
        let c = &self.compare;
        if c.max_drop.is_some()
            || c.confidence.is_some()
            || c.budget.is_some()
            || c.max_pairs.is_some()
        {
            let _ = writeln!(out, "\n[compare]");
            if let Some(d) = c.max_drop {
                let _ = writeln!(out, "max_drop = \"{d}%\"");
            }
            if let Some(x) = c.confidence {
                let _ = writeln!(out, "confidence = {x:?}");
            }
            if let Some((_, text)) = &c.budget {
                let _ = writeln!(out, "budget = {}", quote(text));
            }
            if let Some(n) = c.max_pairs {
                let _ = writeln!(out, "max_pairs = {n}");
            }
        }
        if !self.levels.is_empty() {
            let _ = writeln!(out, "\n[receipt.levels]");
            for l in &self.levels {
                let _ = writeln!(
                    out,
                    "{} = \"{}\"  # {}",
                    l.code.as_str(),
                    l.level,
                    l.location
                );
            }
        }
        for e in &self.envelopes {
            let _ = writeln!(out, "\n# {}", e.header);
            let _ = writeln!(out, "[[envelope]]");
            let _ = writeln!(out, "id = {}", quote(&e.id));
            let _ = writeln!(out, "status = \"{}\"", e.status.as_str());
            if let Some(d) = &e.description {
                let _ = writeln!(out, "description = {}", quote(d));
            }
            if !e.when.is_empty() {
                let keys: Vec<String> = e
                    .when
                    .iter()
                    .map(|k| {
                        let values: Vec<String> = k.patterns.iter().map(pattern_toml).collect();
                        let v = if values.len() == 1 {
                            values[0].clone()
                        } else {
                            format!("[{}]", values.join(", "))
                        };
                        format!("{} = {v}", quote(&k.path))
                    })
                    .collect();
                let _ = writeln!(out, "when = {{ {} }}", keys.join(", "));
            }
            if let Some(r) = &e.rate {
                let parts: Vec<String> = [("min", r.min), ("max", r.max), ("expected", r.expected)]
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k} = {v:?}")))
                    .collect();
                let band = e
                    .band()
                    .map(|[lo, hi]| format!("  # band [{lo}, {hi}]"))
                    .unwrap_or_default();
                let _ = writeln!(out, "tokens_per_second = {{ {} }}{band}", parts.join(", "));
            }
            if e.tolerance.location.is_some() {
                let _ = writeln!(out, "tolerance = {}", quote(&e.tolerance.text));
            }
            if let Some(b) = &e.roofline {
                let parts: Vec<String> = [("min", b.min), ("max", b.max)]
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k} = {v:?}")))
                    .collect();
                let _ = writeln!(out, "roofline_fraction = {{ {} }}", parts.join(", "));
            }
            if !e.require.is_empty() || !e.forbid.is_empty() {
                let list = |g: &[KernelGlob]| {
                    g.iter()
                        .map(|g| quote(&g.pattern))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = writeln!(
                    out,
                    "kernels = {{ require = [{}], forbid = [{}] }}",
                    list(&e.require),
                    list(&e.forbid)
                );
            }
            if let Some((d, _)) = e.deterministic {
                let _ = writeln!(out, "deterministic = {d}");
            }
            if let Some((n, _)) = e.max_tokens {
                let _ = writeln!(out, "max_tokens = {n}");
            }
        }
        out.push_str(&self.claims.to_toml());
        out.push_str(&self.commands.to_toml());
        out
    }
}

fn pattern_toml(p: &Pattern) -> String {
    match p {
        Pattern::Text { text, .. } => quote(text),
        Pattern::Bool(b) => b.to_string(),
        Pattern::Number(n) => format!("{n:?}"),
    }
}
