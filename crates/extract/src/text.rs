//! Markdown and plain text: decoded, line endings normalised to `\n`, NFC,
//! and otherwise passed through with their structure kept.

use encoding_rs::Encoding;
use unicode_normalization::UnicodeNormalization;

use crate::{ExtractError, Extracted};

/// Longest title we take from the first line of plain text, in characters.
const MAX_TITLE_CHARS: usize = 200;

/// Decodes `bytes` (BOM, then `charset`, then UTF-8, then a guess) and
/// normalises it; `markdown` only changes how the title is found.
pub(crate) fn extract(
    bytes: &[u8],
    charset: Option<&str>,
    markdown: bool,
) -> Result<Extracted, ExtractError> {
    let declared = match charset {
        Some(label) => Some(
            Encoding::for_label(label.as_bytes())
                .ok_or_else(|| ExtractError::Encoding(format!("unknown charset {label:?}")))?,
        ),
        None => None,
    };
    let decoded = decode_text(bytes, declared)?;
    if looks_binary(&decoded) {
        return Err(ExtractError::Encoding(
            "the content looks binary, not text".into(),
        ));
    }
    let text = normalize(&decoded);
    let title = if markdown {
        markdown_title(&text)
    } else {
        first_line_title(&text)
    };
    Ok(Extracted {
        markdown: text,
        title,
        ..Extracted::default()
    })
}

/// Decodes text: a BOM wins, then a declared encoding, then UTF-8 when the
/// bytes are valid UTF-8, then `chardetng`'s guess. Undecodable bytes under
/// a guessed encoding are an [`ExtractError::Encoding`].
pub(crate) fn decode_text(
    bytes: &[u8],
    declared: Option<&'static Encoding>,
) -> Result<String, ExtractError> {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let body = bytes.get(bom_len..).unwrap_or_default();
        let (text, had_errors) = encoding.decode_without_bom_handling(body);
        if had_errors {
            return Err(ExtractError::Encoding(format!(
                "invalid {} after its byte order mark",
                encoding.name()
            )));
        }
        return Ok(text.into_owned());
    }
    if let Some(encoding) = declared {
        // A declared encoding is the sender's word: decode with replacement
        // characters rather than refuse a document over a few bad bytes.
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        return Ok(text.into_owned());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_string());
    }
    // The bytes are not UTF-8, so the guess may not be UTF-8 either.
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let encoding = detector.guess(None, chardetng::Utf8Detection::Deny);
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors || encoding == encoding_rs::UTF_8 {
        return Err(ExtractError::Encoding(format!(
            "text is neither valid UTF-8 nor decodable as the guessed {}",
            encoding.name()
        )));
    }
    Ok(text.into_owned())
}

/// True when more than 1% of the characters are control characters other
/// than tab, newline, carriage return and form feed: binary data, not text.
fn looks_binary(text: &str) -> bool {
    let mut total = 0usize;
    let mut control = 0usize;
    for c in text.chars() {
        total += 1;
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c') {
            control += 1;
        }
    }
    control > 0 && control.saturating_mul(100) > total
}

/// Line endings to `\n` and NFC, so that equal text compares and embeds equal.
pub(crate) fn normalize(text: &str) -> String {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    unified.nfc().collect()
}

/// The first non-empty line, trimmed and cut to [`MAX_TITLE_CHARS`].
fn first_line_title(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(MAX_TITLE_CHARS).collect())
}

/// The first ATX heading of level 1 (`# Title`), else the first non-empty
/// line; a YAML front matter block is skipped.
fn markdown_title(text: &str) -> Option<String> {
    let mut lines = text.lines().peekable();
    if lines.peek().map(|l| l.trim_end()) == Some("---") {
        lines.next();
        for line in lines.by_ref() {
            if matches!(line.trim_end(), "---" | "...") {
                break;
            }
        }
    }
    let rest: Vec<&str> = lines.collect();
    let mut in_fence = false;
    for line in &rest {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence && let Some(heading) = trimmed.strip_prefix("# ") {
            let heading = heading.trim().trim_end_matches('#').trim();
            if !heading.is_empty() {
                return Some(heading.chars().take(MAX_TITLE_CHARS).collect());
            }
        }
    }
    first_line_title(&rest.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, extract as extract_any};

    #[test]
    fn markdown_passes_through() {
        let md = "\u{feff}# Title\r\n\r\nSome *text* here.\r\n\r\n- a\r\n- b\r\n";
        let out = extract_any(md.as_bytes(), "text/markdown", &Options::default()).unwrap();
        assert_eq!(out.markdown, "# Title\n\nSome *text* here.\n\n- a\n- b\n");
        assert_eq!(out.title.as_deref(), Some("Title"));
        assert!(out.pages.is_empty());
    }

    #[test]
    fn markdown_title_skips_front_matter_and_code() {
        let md = "---\ntitle: x\n---\n```\n# not a title\n```\n# Real\n";
        assert_eq!(markdown_title(md).as_deref(), Some("Real"));
    }

    #[test]
    fn plain_text_title_and_nfc() {
        let text = "\n\n   Cafe\u{301} menu  \rline two\n";
        let out = extract_any(text.as_bytes(), "text/plain", &Options::default()).unwrap();
        assert_eq!(out.title.as_deref(), Some("Café menu"));
        assert_eq!(out.markdown, "\n\n   Café menu  \nline two\n");
    }

    #[test]
    fn long_first_line_is_cut() {
        let text = "x".repeat(500);
        let out = extract_any(text.as_bytes(), "text/plain", &Options::default()).unwrap();
        assert_eq!(out.title.unwrap().chars().count(), 200);
    }

    #[test]
    fn latin1_is_detected() {
        let bytes =
            b"Caf\xe9 au lait, cr\xe8me br\xfbl\xe9e et na\xefvet\xe9 \xe0 la fran\xe7aise.";
        let out = extract_any(bytes, "text/plain", &Options::default()).unwrap();
        assert!(
            out.markdown.starts_with("Café au lait, crème brûlée"),
            "{}",
            out.markdown
        );
    }

    #[test]
    fn declared_charset_wins() {
        let out = extract_any(
            b"Gr\xfc\xdfe",
            "text/plain; charset=iso-8859-1",
            &Options::default(),
        )
        .unwrap();
        assert_eq!(out.markdown, "Grüße");
        let err = extract_any(b"x", "text/plain; charset=nonsense", &Options::default());
        assert!(matches!(err, Err(ExtractError::Encoding(_))));
    }

    #[test]
    fn utf16_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "hi there".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let out = extract_any(&bytes, "text/plain", &Options::default()).unwrap();
        assert_eq!(out.markdown, "hi there");
    }

    #[test]
    fn binary_is_an_encoding_error() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let err = extract_any(&bytes, "text/plain", &Options::default()).unwrap_err();
        assert!(matches!(err, ExtractError::Encoding(_)), "{err:?}");
    }
}
