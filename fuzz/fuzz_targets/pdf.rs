//! PDF extraction (lopdf underneath) on arbitrary bytes: an error is fine,
//! a panic, a hang or unbounded memory is a finding.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = lode_extract::Options {
        // Small bounds keep each run fast; the production defaults are the
        // same code with larger numbers.
        max_pages: 50,
        max_decompressed_bytes: 4 << 20,
        ..lode_extract::Options::default()
    };
    let _ = lode_extract::extract(data, "application/pdf", &options);
});
