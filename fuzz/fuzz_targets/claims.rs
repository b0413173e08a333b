//! Doc text → claims (as markdown, Rust doc comments or plain text, chosen by the
//! first byte), each judged against a repository holding one real receipt, then
//! the claims renderer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use receipt_policy::claims::backing::Backer;
use receipt_policy::claims::scan::{ScanConfig, scan_text};
use receipt_policy::config::Policy;
use receipt_policy::report::Style;
use receipt_policy::report::claims::claims_text;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Setup {
    policy: Policy,
    config: ScanConfig,
    /// A throwaway repository: `receipt.json` and `baselines/r.json` for citations to find.
    root: PathBuf,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let root =
            std::env::temp_dir().join(format!("receipt-action-fuzz-claims-{}", std::process::id()));
        std::fs::create_dir_all(root.join("baselines")).expect("a temp dir");
        let receipt = include_bytes!("../seeds/receipt/bench-2b-4t-i2s.json");
        std::fs::write(root.join("receipt.json"), receipt).expect("a temp file");
        std::fs::write(root.join("baselines/r.json"), receipt).expect("a temp file");
        Setup {
            policy: Policy::builtin().expect("the built-in policy loads"),
            config: ScanConfig::default(),
            root,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&syntax, rest)) = data.split_first() else {
        return;
    };
    // Docs are read as UTF-8; other bytes are refused before the scan.
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let path = match syntax % 3 {
        0 => "docs/perf.md",
        1 => "src/lib.rs",
        _ => "docs/notes.txt",
    };
    let s = setup();
    let claims = scan_text(path, text, &s.config);
    let backer = Backer::new(&s.policy, &s.root, HashMap::new());
    let verdicts: Vec<_> = claims.into_iter().map(|c| backer.judge(c)).collect();
    claims_text(&verdicts, &[], Style { color: false });
});
