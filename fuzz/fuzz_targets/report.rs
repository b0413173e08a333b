//! Report JSON → a report (schema-validated, as `report` and `publish` read an
//! artifact), then every renderer: text, both markdown targets, SARIF and
//! workflow commands. A report that loads must load back from its own JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use receipt_policy::report::Style;
use receipt_policy::report::annotations::workflow_commands;
use receipt_policy::report::load::{parse, to_json};
use receipt_policy::report::markdown::{Target, markdown};
use receipt_policy::report::sarif::sarif;
use receipt_policy::report::text::text;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = parse(data) else {
        return;
    };
    text(&report, Style { color: false });
    markdown(&report, Target::Comment);
    markdown(&report, Target::Summary);
    let sarif = sarif(&report);
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&sarif) {
        panic!("SARIF output is not JSON ({e}):\n{sarif}");
    }
    workflow_commands(&report);
    let json = to_json(&report);
    if let Err(e) = parse(json.as_bytes()) {
        panic!("a loaded report does not load back from its own JSON: {e}\n{json}");
    }
});
