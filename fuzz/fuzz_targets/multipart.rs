//! multipart/form-data parsing under limits: the first line of the input is
//! the Content-Type header, the rest the body.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let content_type = String::from_utf8_lossy(&data[..split]);
    let body = bytes::Bytes::copy_from_slice(data.get(split + 1..).unwrap_or_default());
    let Ok(boundary) = lode_multipart::boundary(&content_type) else {
        return;
    };
    let limits = lode_multipart::Limits {
        max_parts: 16,
        max_files: 8,
        max_file_bytes: 1 << 16,
        max_field_bytes: 1 << 12,
    };
    if let Ok(form) = lode_multipart::parse(body, &boundary, &limits) {
        assert!(form.files.len() <= limits.max_files);
    }
});
