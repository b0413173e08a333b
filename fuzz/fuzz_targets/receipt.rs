//! Receipt bytes → structure checks, gates and the built-in policy's envelopes
//! (what `check` does with one file), then the check renderers over the verdict.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use receipt_policy::check::check_bytes;
use receipt_policy::config::Policy;
use receipt_policy::report::Style;
use receipt_policy::report::check::{check_json, check_text};
use receipt_policy::verify::VerifyOptions;
use std::sync::OnceLock;

fn setup() -> &'static (Policy, VerifyOptions) {
    static S: OnceLock<(Policy, VerifyOptions)> = OnceLock::new();
    S.get_or_init(|| {
        let policy = Policy::builtin().expect("the built-in policy loads");
        let options = common::options(&policy);
        (policy, options)
    })
}

fuzz_target!(|data: &[u8]| {
    let (policy, options) = setup();
    let verdicts = [check_bytes("receipt.json".into(), data, policy, options)];
    for color in [false, true] {
        check_text(&verdicts, &policy.origin, Style { color });
    }
    let json = check_json(&verdicts, &policy.origin);
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&json) {
        panic!("check --format json wrote invalid JSON ({e}):\n{json}");
    }
});
