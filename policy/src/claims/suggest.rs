//! Which receipt would back a claim: the audit's last column. For a claim that
//! is not backed, the receipts the project already has (its dated baselines,
//! newest first, then every receipt cited anywhere in the audit) are tried in
//! turn as if the claim cited them; the first that backs it is the answer.

use super::backing::{Backer, ClaimVerdict, Outcome};
use super::repo_relative;
use crate::baseline::store;
use crate::config::Policy;
use rayon::prelude::*;
use std::path::Path;
use time::OffsetDateTime;

/// Receipts worth trying, as paths relative to the repository root.
pub fn candidates(
    root: &Path,
    policy: &Policy,
    backer: &Backer,
    verdicts: &[ClaimVerdict],
) -> Vec<String> {
    let today = OffsetDateTime::now_utc().date();
    let dir = root.join(&policy.baselines_dir);
    let stored = store::load(&dir, policy, today);
    let mut out: Vec<String> = stored
        .baselines
        .iter()
        .rev()
        .filter_map(|b| repo_relative(root, Path::new(&b.path)))
        .collect();
    for v in verdicts {
        for cited in &v.claim.citations {
            let resolved = backer.resolve(&v.claim.path, cited);
            if let Some(rel) = resolved
                .filter(|p| p.is_file())
                .and_then(|p| repo_relative(root, &p))
                && !out.contains(&rel)
            {
                out.push(rel);
            }
        }
    }
    out
}

/// For each verdict: the receipt that backs it, or would if it were cited.
pub fn would_back(
    verdicts: &[ClaimVerdict],
    backer: &Backer,
    candidates: &[String],
) -> Vec<Option<String>> {
    verdicts
        .par_iter()
        .map(|v| match v.outcome {
            Outcome::Backed => v.receipt.clone(),
            Outcome::Ignored => None,
            _ => candidates.iter().find_map(|candidate| {
                let mut claim = v.claim.clone();
                // Rooted, so that the candidate resolves whatever file cites it.
                claim.citations = vec![format!("/{candidate}")];
                claim.ignore = None;
                (backer.judge(claim).outcome == Outcome::Backed).then(|| candidate.clone())
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_lexically_normal() {
        let root = Path::new("./repo");
        assert_eq!(
            repo_relative(root, Path::new("./repo/docs/../ci/a.json")),
            Some("ci/a.json".into())
        );
        assert_eq!(repo_relative(root, Path::new("./repo/../x.json")), None);
        assert_eq!(repo_relative(root, Path::new("/elsewhere/x.json")), None);
    }
}
