//! Policy text → a policy (merged over the built-in one unless it opts out). A
//! policy that loads must load back from what `policy show` prints for it, and
//! must judge real receipts without a panic.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use receipt_policy::check::check_bytes;
use receipt_policy::config::Policy;
use receipt_policy::config::render_errors;

/// Receipts every loaded policy judges: the engine's own, of two backends and versions.
const RECEIPTS: [&[u8]; 2] = [
    include_bytes!("../seeds/receipt/bench-2b-4t-i2s.json"),
    include_bytes!("../seeds/receipt/v1.0-minimal.json"),
];

fuzz_target!(|data: &[u8]| {
    // Policy files are read as UTF-8 before they are parsed; other bytes are refused there.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::from_text("policy.toml", text) else {
        return;
    };
    let shown = policy.to_toml();
    if let Err(errors) = Policy::from_text("shown.toml", &shown) {
        panic!(
            "`policy show` output does not load back:\n{}\n--- shown ---\n{shown}",
            render_errors(&errors)
        );
    }
    let options = common::options(&policy);
    for receipt in RECEIPTS {
        check_bytes("receipt.json".into(), receipt, &policy, &options);
    }
});
