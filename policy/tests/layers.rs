//! The policy crate's module layers (docs/architecture.md): a module may use
//! only modules of its own layer or lower ones, and no two modules may use each
//! other, directly or round a cycle. Reads every `crate::` and `super::` path in
//! policy/src and checks them against the declared list below, so a new module
//! must be placed in a layer before it builds green.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A unit is a module path; a file belongs to the longest unit
/// that is a prefix of its module path. Each check family's configuration
/// (`cfg`, its codes in `diags`, and envelope `matching`) sits below the policy
/// file model that gathers them, as cargo-deny keeps each check's config apart.
const LAYERS: &[&[&str]] = &[
    &["input", "stats", "verdict"],
    &["receipt", "config::error", "config::spanned"],
    &["gates", "verify"],
    &[
        "envelope::cfg",
        "envelope::diags",
        "envelope::matching",
        "claims::cfg",
        "claims::terms",
        "conventions::cfg",
        "compare::cfg",
    ],
    &["config"],
    &["envelope", "compare", "check", "diff"],
    &["claims", "conventions", "baseline"],
    &["report", "artifact", "snippet"],
    &["measure", "github"],
    &["release", "action"],
    &["cli"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every .rs file under `dir`, with its module path (`config::spanned`).
fn modules(dir: &Path, prefix: &[String], out: &mut Vec<(Vec<String>, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            let mut p = prefix.to_vec();
            p.push(name);
            modules(&path, &p, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut p = prefix.to_vec();
            if !matches!(name.as_str(), "mod" | "lib" | "main") {
                p.push(name);
            }
            out.push((p, path));
        }
    }
}

/// The module paths a file names: `crate::a::b` and `super::x` (resolved), in
/// `use` lines and inline alike; `use crate::{a, b::c}` groups expanded.
fn references(module: &[String], text: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    // Comments out, lines joined: a `use` group may span lines.
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    for (start, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        if let Some(before) = code[..start].chars().last()
            && (before.is_alphanumeric() || before == '_' || before == ':')
        {
            continue;
        }
        let rest = &code[start..];
        let (base, tail) = match rest.strip_prefix("crate::") {
            Some(t) => (Vec::new(), t),
            None => {
                // `super` is the module holding this one (for a mod.rs, the
                // directory's parent; for a file, its directory's module).
                let mut base = module.to_vec();
                base.pop();
                let mut up = &rest["super::".len()..];
                while let Some(t) = up.strip_prefix("super::") {
                    base.pop();
                    up = t;
                }
                (base, up)
            }
        };
        for path in expand(tail) {
            let mut full = base.clone();
            full.extend(path);
            out.insert(full);
        }
    }
    out
}

/// `a::b::{c, d::e}` → [a,b,c], [a,b,d,e]; identifiers only.
fn expand(tail: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut path = Vec::new();
    let mut rest = tail;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            if inner.trim().is_empty() {
                return vec![path];
            }
            return inner
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|item| {
                    let mut p = path.clone();
                    p.extend(item.split("::").map(ident).filter(|s| !s.is_empty()));
                    p
                })
                .collect();
        }
        let name = ident(rest);
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        path.push(name);
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    vec![path]
}

/// The declared unit a module path belongs to (longest prefix), and its layer.
fn unit_of(path: &[String]) -> Option<(String, usize)> {
    (1..=path.len()).rev().find_map(|n| {
        let name = path[..n].join("::");
        LAYERS
            .iter()
            .position(|layer| layer.contains(&name.as_str()))
            .map(|layer| (name, layer))
    })
}

/// Every layer violation and cycle among `files` (module path, source text).
fn problems(files: &[(Vec<String>, String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, shown, text) in files {
        if module.is_empty() {
            continue; // lib.rs and main.rs declare and wire: they are the crate itself
        }
        let Some((unit, layer)) = unit_of(module) else {
            problems.push(format!(
                "{shown}: module `{}` is in no layer; add it to LAYERS in tests/layers.rs and docs/architecture.md",
                module.join("::")
            ));
            continue;
        };
        // Tests inside a module may reach anywhere.
        let text = text.split("#[cfg(test)]").next().unwrap();
        for target in references(module, text) {
            let Some((to, to_layer)) = unit_of(&target) else {
                continue; // a crate item at the root, or not a module path
            };
            if to == unit {
                continue;
            }
            if to_layer > layer {
                problems.push(format!(
                    "{shown}: `{unit}` (layer {layer}) uses `{}` of the higher `{to}` (layer {to_layer})",
                    target.join("::")
                ));
            }
            edges.entry(unit.clone()).or_default().insert(to);
        }
    }
    // Cycles among units (same-layer uses are allowed, round trips are not).
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, trail)) = stack.pop() {
            for next in edges.get(&at).into_iter().flatten() {
                if next == start {
                    problems.push(format!("cycle: {} -> {start}", trail.join(" -> ")));
                } else if seen.insert(next.clone()) {
                    let mut t = trail.clone();
                    t.push(next.clone());
                    stack.push((next.clone(), t));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

fn source_files() -> Vec<(Vec<String>, String, String)> {
    let mut files = Vec::new();
    modules(&src(), &[], &mut files);
    files
        .into_iter()
        .map(|(module, path)| {
            let shown = path.strip_prefix(src()).unwrap().display().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            (module, shown, text)
        })
        .collect()
}

#[test]
fn modules_use_only_their_own_layer_or_lower_and_no_cycles() {
    let problems = problems(&source_files());
    assert!(
        problems.is_empty(),
        "{} layer problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn an_upward_use_a_cycle_and_an_unplaced_module_are_reported() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let file = |module: &str, text: &str| (m(module), format!("{module}.rs"), text.to_string());
    let found = problems(&[
        file("verdict", "use crate::cli::Cli;"),
        file("envelope", "use crate::compare::Change;"),
        file("compare", "fn f() { crate::envelope::judge(); }"),
        file("newthing", ""),
        file("gates", "#[cfg(test)]\nmod tests { use crate::cli::Cli; }"),
    ]);
    assert!(
        found
            .iter()
            .any(|p| p.contains("`verdict` (layer 0) uses `cli::Cli`")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("cycle: compare -> envelope")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("`newthing` is in no layer")),
        "{found:?}"
    );
    assert!(!found.iter().any(|p| p.starts_with("gates")), "{found:?}");
}

#[test]
fn every_declared_unit_exists() {
    let mut files = Vec::new();
    modules(&src(), &[], &mut files);
    let present: BTreeSet<String> = files.iter().map(|(m, _)| m.join("::")).collect();
    for unit in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            present.contains(*unit),
            "LAYERS names `{unit}`, which is not a module of policy/src"
        );
    }
}

#[test]
fn paths_are_resolved_as_rust_resolves_them() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let refs = references(
        &m("config::file"),
        "use super::spanned::{Source, nearest};\nuse crate::{input, gates::{self, Code}};\nlet x = crate::stats::median(&v);",
    );
    assert!(refs.contains(&m("config::spanned::Source")));
    assert!(refs.contains(&m("input")));
    assert!(refs.contains(&m("stats::median")));
    let refs = references(&m("cli"), "use super::verdict::Level;");
    assert!(refs.contains(&m("verdict::Level")), "{refs:?}");
}
