//! The `extract` step: exports `lode:extract/extract` over `lode-extract`.
//! Untrusted bytes are parsed here, in their own component instance, so a
//! parser bug costs one request, never the caller's state.

use exports::lode::extract::extract::{Error, Extracted, Guest, Options, PageSpan};

spin_sdk::wit_bindgen::generate!({
    world: "lode:extract/extractor",
    path: "../../../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

struct Extractor;

impl Guest for Extractor {
    fn extract(bytes: Vec<u8>, media_type: String, options: Options) -> Result<Extracted, Error> {
        let opts = lode_extract::Options {
            password: options.password,
            max_pages: options.max_pages as usize,
            ..lode_extract::Options::default()
        };
        let out = lode_extract::extract(&bytes, &media_type, &opts).map_err(error)?;
        Ok(Extracted {
            pages: out
                .pages
                .iter()
                .map(|p| PageSpan {
                    page: p.page,
                    start: p.start as u32,
                    end: p.end as u32,
                })
                .collect(),
            markdown: out.markdown,
            title: out.title,
            author: out.author,
            language: out.language,
            warnings: out.warnings,
        })
    }
}

fn error(e: lode_extract::ExtractError) -> Error {
    use lode_extract::ExtractError as E;
    match e {
        E::Unsupported(m) => Error::Unsupported(m),
        E::Encrypted => Error::Encrypted,
        E::Malformed(m) => Error::Malformed(m),
        E::TooLarge(m) => Error::TooLarge(m),
        E::Encoding(m) => Error::Encoding(m),
    }
}

export!(Extractor);
