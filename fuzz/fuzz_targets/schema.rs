//! The schema front end on arbitrary text: never panics, never hangs, and
//! anything it refuses comes with at least one error diagnostic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tagwire_compiler::{FrontEnd, LockMode};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let output = FrontEnd::new()
        .schema_text("/nonexistent-tagwire-fuzz/fuzz.schema", text)
        .lock_mode(LockMode::Preview)
        .run();
    if output.schema.is_none() {
        assert!(output.has_errors(), "refused without an error");
    }
    let _ = output.render_text();
});
