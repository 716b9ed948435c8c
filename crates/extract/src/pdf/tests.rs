//! End-to-end tests of PDF extraction on small documents built with lopdf:
//! text, fonts, columns, forms, encryption, limits and damaged input.

use super::*;
use lopdf::{Stream, dictionary};

/// Builds a PDF with one Helvetica page per content stream, the second
/// font carrying a ToUnicode CMap that maps code 0x01 to "ﬁ".
pub(crate) fn build_pdf(pages: &[&str]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
        /CMapName /Test def 1 begincodespacerange <00> <FF> endcodespacerange\n\
        2 beginbfchar <01> <FB01> <20> <0020> endbfchar\n\
        1 beginbfrange <41> <5A> <0041> endbfrange\n\
        endcmap CMapName currentdict /CMap defineresource pop end end"
        .to_vec();
    let cmap_id = doc.add_object(Stream::new(dictionary! {}, cmap));
    let lig_font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "ToUnicode" => cmap_id,
    });
    let cid_cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
        /CMapName /Test2 def 1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
        2 beginbfchar <0001> <0048> <0002> <0069> endbfchar\n\
        1 beginbfrange <0010> <0012> <00E0> endbfrange\n\
        endcmap CMapName currentdict /CMap defineresource pop end end"
        .to_vec();
    let cid_cmap_id = doc.add_object(Stream::new(dictionary! {}, cid_cmap));
    let cid_font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type0",
        "BaseFont" => "Test-Identity",
        "Encoding" => "Identity-H",
        "DescendantFonts" => vec![Object::Dictionary(dictionary! {
            "Type" => "Font",
            "Subtype" => "CIDFontType2",
            "BaseFont" => "Test-Identity",
            "DW" => 1000,
            "W" => vec![1.into(), vec![Object::Integer(700), Object::Integer(250)].into()],
        })],
        "ToUnicode" => cid_cmap_id,
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id, "F2" => lig_font_id, "F3" => cid_font_id },
    });
    let mut kids = Vec::new();
    for content in pages {
        let mut stream = Stream::new(dictionary! {}, content.as_bytes().to_vec());
        stream.compress().ok();
        let content_id = doc.add_object(stream);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        }),
    );
    let info_id = doc.add_object(dictionary! {
        "Title" => Object::String(b"\xFE\xFF\x00T\x00e\x00s\x00t\x00 \x00\xe9".to_vec(), lopdf::StringFormat::Literal),
        "Author" => Object::string_literal("Jane Roe"),
    });
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
        "Lang" => Object::string_literal("en-US"),
    });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("Info", info_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

fn run(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    crate::extract(bytes, "application/pdf", &Options::default())
}

#[test]
fn two_pages_with_spans_metadata_and_ligature() {
    let pdf = build_pdf(&[
        "BT /F1 12 Tf 72 720 Td (Hello World) Tj 0 -14 Td (second line) Tj ET",
        "BT /F2 12 Tf 72 720 Td <4F01434500> Tj ET BT /F1 12 Tf 72 690 Td [(exam-)] TJ 0 -14 Td (ple) Tj ET",
    ]);
    let out = run(&pdf).unwrap();
    assert_eq!(out.markdown, "Hello World\nsecond line\n\nOfiCE\n\nexample");
    assert_eq!(out.pages.len(), 2);
    let p1 = out.pages[0];
    let p2 = out.pages[1];
    assert_eq!((p1.page, p2.page), (1, 2));
    assert_eq!(&out.markdown[p1.start..p1.end], "Hello World\nsecond line");
    assert_eq!(&out.markdown[p2.start..p2.end], "OfiCE\n\nexample");
    assert_eq!(out.title.as_deref(), Some("Test é"));
    assert_eq!(out.author.as_deref(), Some("Jane Roe"));
    assert_eq!(out.language.as_deref(), Some("en-US"));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

#[test]
fn two_byte_cid_font_with_to_unicode() {
    let pdf = build_pdf(&["BT /F3 12 Tf 72 720 Td <0001000200100011> Tj ET"]);
    let out = run(&pdf).unwrap();
    assert_eq!(out.markdown, "Hiàá");
}

#[test]
fn tj_spacing_and_positioning() {
    let pdf = build_pdf(&[
        "BT /F1 10 Tf 14 TL 72 720 Td [(Word)-250(space)-20(kern)] TJ T* (next) Tj (line) ' ET",
    ]);
    let out = run(&pdf).unwrap();
    assert_eq!(out.markdown, "Word spacekern\nnext\nline");
}

#[test]
fn two_columns_are_not_interleaved() {
    let mut content = String::from("BT /F1 10 Tf ");
    for i in 0..10 {
        let y = 700 - i * 12;
        content.push_str(&format!(
            "1 0 0 1 72 {y} Tm (left column line number {i} here) Tj \
             1 0 0 1 320 {y} Tm (right column line number {i} here) Tj "
        ));
    }
    content.push_str("ET");
    let pdf = build_pdf(&[&content]);
    let out = run(&pdf).unwrap();
    let left_last = out.markdown.find("left column line number 9").unwrap();
    let right_first = out.markdown.find("right column line number 0").unwrap();
    assert!(left_last < right_first, "{}", out.markdown);
}

#[test]
fn form_xobject_recursion_is_bounded() {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let form_id = doc.new_object_id();
    let form = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Form",
            "Resources" => dictionary! {
                "Font" => dictionary! { "F1" => font_id },
                "XObject" => dictionary! { "X" => form_id },
            },
        },
        b"BT /F1 10 Tf 72 700 Td (inside) Tj ET /X Do".to_vec(),
    );
    doc.objects.insert(form_id, Object::Stream(form));
    let content_id = doc.add_object(Stream::new(dictionary! {}, b"/X Do /X Do".to_vec()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => dictionary! { "X" => form_id } },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
        ),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let out = run(&bytes).unwrap();
    assert_eq!(out.markdown, "inside");
}

fn encrypted(user_password: &str) -> Vec<u8> {
    let plain = build_pdf(&["BT /F1 12 Tf 72 720 Td (Secret words) Tj ET"]);
    let mut doc = Document::load_mem(&plain).unwrap();
    let id = Object::String(
        b"0123456789abcdef".to_vec(),
        lopdf::StringFormat::Hexadecimal,
    );
    doc.trailer.set("ID", Object::Array(vec![id.clone(), id]));
    let version = lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner-secret",
        user_password,
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    };
    let state = lopdf::EncryptionState::try_from(version).unwrap();
    doc.encrypt(&state).unwrap();
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn encrypted_with_empty_user_password_opens() {
    let out = run(&encrypted("")).unwrap();
    assert_eq!(out.markdown, "Secret words");
}

#[test]
fn encrypted_needs_the_password() {
    let pdf = encrypted("hunter2");
    assert_eq!(run(&pdf).unwrap_err(), ExtractError::Encrypted);
    let wrong = Options {
        password: Some("nope".into()),
        ..Options::default()
    };
    assert_eq!(
        crate::extract(&pdf, "application/pdf", &wrong).unwrap_err(),
        ExtractError::Encrypted
    );
    let right = Options {
        password: Some("hunter2".into()),
        ..Options::default()
    };
    let out = crate::extract(&pdf, "application/pdf", &right).unwrap();
    assert_eq!(out.markdown, "Secret words");
}

#[test]
fn decompression_bomb_is_too_large() {
    let big = format!("BT /F1 12 Tf 72 720 Td ({}) Tj ET", "A".repeat(200_000));
    let pdf = build_pdf(&[&big]);
    let opts = Options {
        max_decompressed_bytes: 10_000,
        ..Options::default()
    };
    let err = crate::extract(&pdf, "application/pdf", &opts).unwrap_err();
    assert!(matches!(err, ExtractError::TooLarge(_)), "{err:?}");
}

#[test]
fn garbage_is_malformed() {
    let err = run(b"this is not a pdf at all").unwrap_err();
    assert!(matches!(err, ExtractError::Malformed(_)), "{err:?}");
    let noise: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut with_header = b"%PDF-1.4\n".to_vec();
    with_header.extend_from_slice(&noise);
    assert!(run(&with_header).is_err());
}

#[test]
fn mutated_pdfs_do_not_panic() {
    let pdf = build_pdf(&[
        "BT /F1 12 Tf 72 720 Td [(Hello)-300(World)] TJ 0 -14 Td (second line) Tj ET",
        "BT /F2 12 Tf 72 720 Td <4F01434500> Tj /F3 10 Tf <00010002> Tj ET",
    ]);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..400 {
        let mut bytes = pdf.clone();
        for _ in 0..(next() % 8 + 1) {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => bytes.truncate(at.max(1)),
                _ => bytes.insert(at, b"()<>[]/ 0123456789RobjTjTf"[(next() % 26) as usize]),
            }
        }
        if let Ok(out) = run(&bytes) {
            for span in &out.pages {
                assert!(span.start <= span.end && span.end <= out.markdown.len());
            }
        }
    }
}

#[test]
fn truncated_pdf_does_not_panic() {
    let pdf = build_pdf(&[
        "BT /F1 12 Tf 72 720 Td (Hello World) Tj ET",
        "BT /F1 12 Tf 72 720 Td (Page two) Tj ET",
    ]);
    for cut in [
        10,
        pdf.len() / 4,
        pdf.len() / 2,
        pdf.len() * 3 / 4,
        pdf.len() - 10,
    ] {
        let result = run(&pdf[..cut]);
        if let Ok(out) = &result {
            for span in &out.pages {
                assert!(span.start <= span.end && span.end <= out.markdown.len());
            }
        }
    }
}

#[test]
fn scanned_page_warns() {
    let pdf = build_pdf(&[
        "q 100 0 0 100 0 0 cm Q",
        "BT /F1 12 Tf 72 720 Td (text) Tj ET",
    ]);
    let out = run(&pdf).unwrap();
    assert_eq!(out.markdown, "text");
    assert_eq!(
        out.pages[0],
        PageSpan {
            page: 1,
            start: 0,
            end: 0
        }
    );
    assert!(
        out.warnings.iter().any(|w| w == "page 1 has no text layer"),
        "{:?}",
        out.warnings
    );
}

#[test]
fn operator_limit_truncates() {
    let mut content = String::from("BT /F1 12 Tf 72 720 Td (first) Tj ");
    for _ in 0..100 {
        content.push_str("0 0 Td ");
    }
    content.push_str("(last) Tj ET");
    let pdf = build_pdf(&[&content]);
    let opts = Options {
        max_ops_per_page: 50,
        ..Options::default()
    };
    let out = crate::extract(&pdf, "application/pdf", &opts).unwrap();
    assert_eq!(out.markdown, "first");
    assert!(out.warnings.iter().any(|w| w.contains("operators")));
}

#[test]
fn page_limit() {
    let pdf = build_pdf(&["BT ET", "BT ET", "BT ET"]);
    let opts = Options {
        max_pages: 2,
        ..Options::default()
    };
    let err = crate::extract(&pdf, "application/pdf", &opts).unwrap_err();
    assert!(matches!(err, ExtractError::TooLarge(_)));
}
