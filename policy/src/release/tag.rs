//! Gate item `tag`: the release's tag is `v` + a semantic version (the
//! `semver` crate's reading of semver.org) and later than every released
//! `v*` tag. A tag that already points at HEAD is this release being re-run
//! (a tag push in CI), not an earlier one, so it is left out of the comparison.

use super::{Item, ItemStatus};
use semver::Version;
use std::path::Path;
use std::process::Command;

pub const NAME: &str = "tag";

pub fn check(root: &Path, tag: Option<&str>) -> Item {
    let Some(tag) = tag else {
        return Item::new(
            NAME,
            ItemStatus::Skip,
            vec!["no --tag given: the release's version was not checked (pass --tag vX.Y.Z to check it)".into()],
        );
    };
    let version = match parse(tag) {
        Ok(v) => v,
        Err((message, fix)) => {
            return Item::new(NAME, ItemStatus::Fail, vec![message]).with_fix(fix);
        }
    };
    let listed = match git(root, &["tag", "--list", "v*"]) {
        Ok(out) => out,
        Err(e) => {
            return Item::new(NAME, ItemStatus::Fail, vec![format!("cannot list the tags: {e}")])
                .with_fix("run the gate in the git repository being released, with its tags fetched (actions/checkout with fetch-depth: 0)");
        }
    };
    let head = git(root, &["rev-parse", "HEAD"]).ok();
    let mut released: Vec<(Version, String)> = Vec::new();
    let mut not_semver = 0usize;
    for name in listed.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if name == tag {
            let at = git(root, &["rev-parse", &format!("{name}^{{commit}}")]).ok();
            if at.is_some() && at == head {
                continue;
            }
            return Item::new(
                NAME,
                ItemStatus::Fail,
                vec![format!(
                    "{tag} already exists at {}, not at HEAD {}",
                    short(at.as_deref()),
                    short(head.as_deref())
                )],
            )
            .with_fix(format!("release a new version: tag {}", next(&version)));
        }
        match parse(name) {
            Ok(v) => released.push((v, name.to_string())),
            Err(_) => not_semver += 1,
        }
    }
    let ignored = if not_semver > 0 {
        format!(" ({not_semver} v* tag(s) that are not semver ignored)")
    } else {
        String::new()
    };
    let Some((last, last_name)) = released.into_iter().max_by(|a, b| a.0.cmp(&b.0)) else {
        return Item::new(
            NAME,
            ItemStatus::Pass,
            vec![format!(
                "{tag} is semver; no earlier v* release tag{ignored}, so it is the first release"
            )],
        );
    };
    if version > last {
        Item::new(
            NAME,
            ItemStatus::Pass,
            vec![format!(
                "{tag} is semver and later than the last released tag {last_name}{ignored}"
            )],
        )
    } else {
        Item::new(
            NAME,
            ItemStatus::Fail,
            vec![format!(
                "{tag} is not later than the last released tag {last_name}{ignored}"
            )],
        )
        .with_fix(format!("tag {} or later", next(&last)))
    }
}

/// `vMAJOR.MINOR.PATCH[-pre][+build]`, or what is wrong with it and the fix.
fn parse(tag: &str) -> Result<Version, (String, String)> {
    let version = Version::parse(tag.strip_prefix('v').unwrap_or(tag)).map_err(|e| {
        (
            format!("\"{tag}\" is not a semantic version: {e}"),
            "tag the release vMAJOR.MINOR.PATCH, three numbers, e.g. v1.2.0 (semver.org)"
                .to_string(),
        )
    })?;
    if !tag.starts_with('v') {
        return Err((
            format!("\"{tag}\" does not start with v: release tags are vMAJOR.MINOR.PATCH"),
            format!("tag v{tag} instead"),
        ));
    }
    Ok(version)
}

/// The next patch release after `v`.
fn next(v: &Version) -> String {
    if v.pre.is_empty() {
        format!("v{}.{}.{}", v.major, v.minor, v.patch + 1)
    } else {
        // 1.0.0-rc.1 is followed by 1.0.0 itself.
        format!("v{}.{}.{}", v.major, v.minor, v.patch)
    }
}

fn short(sha: Option<&str>) -> String {
    sha.map_or_else(
        || "an unknown commit".into(),
        |s| s.chars().take(12).collect(),
    )
}

fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "git {} in {}: {}",
            args.join(" "),
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_must_be_v_and_three_numbers() {
        assert!(parse("v1.2.3").is_ok());
        assert!(parse("v1.0.0-rc.1").is_ok());
        let (message, fix) = parse("1.2.3").unwrap_err();
        assert!(message.contains("does not start with v"), "{message}");
        assert_eq!(fix, "tag v1.2.3 instead");
        for bad in ["1.2", "v1.2", "v1.2.3.4", "vnext"] {
            let (message, fix) = parse(bad).unwrap_err();
            assert!(message.contains("is not a semantic version"), "{message}");
            assert!(fix.contains("vMAJOR.MINOR.PATCH"), "{fix}");
        }
    }

    #[test]
    fn next_version_suggestion() {
        assert_eq!(next(&Version::parse("0.3.0").unwrap()), "v0.3.1");
        assert_eq!(next(&Version::parse("1.0.0-rc.1").unwrap()), "v1.0.0");
    }
}
