//! HTML → Markdown extraction on arbitrary bytes (any encoding).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = lode_extract::Options::default();
    let _ = lode_extract::extract(data, "text/html", &options);
    let _ = lode_extract::extract(data, "text/markdown", &options);
});
