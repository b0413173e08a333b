//! Diff text → the changed files and added lines `claims` filters on (the parser
//! of `git diff --unified=0` output), then the filters over every parsed line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use receipt_policy::claims::scan::{ScanConfig, candidate_files};
use receipt_policy::diff::parse;
use receipt_policy::diff::{Filter, keeps};
use std::sync::OnceLock;

fn config() -> &'static ScanConfig {
    static C: OnceLock<ScanConfig> = OnceLock::new();
    C.get_or_init(ScanConfig::default)
}

fuzz_target!(|data: &[u8]| {
    let diff = parse(data);
    for file in candidate_files(&diff, config()) {
        let lines = file.added.iter().map(|a| a.line);
        let bounds = file.hunks.iter().flat_map(|h| [*h.start(), *h.end()]);
        for line in lines.chain(bounds) {
            for filter in [Filter::Added, Filter::DiffContext, Filter::File] {
                keeps(filter, file, line);
            }
        }
    }
});
