//! Hostile PDFs that are small on disk and huge in work: each must be
//! refused as too large having done no more work than the document budget
//! allows (work is counted by the budget, not timed).
//!
//! The files are written by hand (PDF syntax and an xref table, streams
//! deflated with flate2) rather than with lopdf, the parser under test.

use std::io::Write;

use super::{Budget, extract_within};
use crate::{ExtractError, Options};

/// A PDF under construction: objects are numbered from 1 in the order added.
#[derive(Default)]
struct Pdf {
    objects: Vec<Vec<u8>>,
}

impl Pdf {
    /// The number the next object will get.
    fn next(&self) -> usize {
        self.objects.len() + 1
    }

    fn add(&mut self, body: impl Into<Vec<u8>>) -> usize {
        self.objects.push(body.into());
        self.objects.len()
    }

    /// A FlateDecode stream holding `plain`, with extra dictionary entries.
    fn stream(&mut self, extra: &str, plain: &[u8]) -> usize {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(plain).unwrap();
        let data = z.finish().unwrap();
        let mut body = format!(
            "<< {extra} /Filter /FlateDecode /Length {} >>\nstream\n",
            data.len()
        )
        .into_bytes();
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\nendstream");
        self.add(body)
    }

    /// The file, with `root` as the catalog.
    fn finish(&self, root: usize) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in self.objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
        );
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root {root} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                self.objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    /// A document of `pages` pages, each given by `page(i)` as the inside of
    /// its dictionary; returns the file.
    fn pages(mut self, pages: usize, page: impl Fn(usize) -> String) -> Vec<u8> {
        let tree = self.next() + pages;
        let first = self.next();
        for i in 0..pages {
            self.add(format!(
                "<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 612 792] {} >>",
                page(i)
            ));
        }
        let kids: Vec<String> = (first..first + pages).map(|n| format!("{n} 0 R")).collect();
        let tree = self.add(format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        ));
        let root = self.add(format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
        self.finish(root)
    }
}

const MIB: usize = 1024 * 1024;

/// One page whose content draws the form holding `form` `times` times.
fn form_drawn(form: &[u8], times: usize) -> Vec<u8> {
    let mut pdf = Pdf::default();
    let form = pdf.stream("/Type /XObject /Subtype /Form /BBox [0 0 10 10]", form);
    let content = pdf.stream("", "/X0 Do\n".repeat(times).as_bytes());
    pdf.pages(1, |_| {
        format!("/Contents {content} 0 R /Resources << /XObject << /X0 {form} 0 R >> >>")
    })
}

/// Refused as too large, and the work done stayed within the budget.
fn assert_refused_within_budget(name: &str, pdf: &[u8]) -> Budget {
    let opts = Options::default();
    let mut budget = Budget::new(&opts);
    let out = extract_within(pdf, &opts, &mut budget);
    assert!(
        matches!(out, Err(ExtractError::TooLarge(_))),
        "{name} ({} bytes): {out:?}",
        pdf.len()
    );
    assert!(
        budget.content <= opts.max_document_content_bytes,
        "{name}: {} content bytes",
        budget.content
    );
    assert!(
        budget.inflated <= opts.max_document_decompressed_bytes,
        "{name}: inflated {}",
        budget.inflated
    );
    assert!(
        budget.ops <= opts.max_document_ops,
        "{name}: {} operators",
        budget.ops
    );
    assert!(
        budget.forms <= opts.max_document_forms,
        "{name}: {} forms",
        budget.forms
    );
    budget
}

/// A few KB of `/X0 Do` drawing a 32 MiB form of spaces a thousand times:
/// the form is inflated once and each draw is charged its size.
#[test]
fn one_large_form_drawn_many_times_is_refused() {
    let bytes = form_drawn(&vec![b' '; 32 * MIB], 1000);
    assert!(bytes.len() < 64 * 1024, "{} bytes", bytes.len());
    let budget = assert_refused_within_budget("form drawn 1000 times", &bytes);
    assert!(
        budget.inflated <= 33 * MIB,
        "the form was inflated once: {}",
        budget.inflated
    );
}

/// Two thousand pages sharing one 32 MiB content stream.
#[test]
fn pages_sharing_one_large_content_stream_are_refused() {
    let mut pdf = Pdf::default();
    let content = pdf.stream("", &vec![b' '; 32 * MIB]);
    let bytes = pdf.pages(2000, |_| format!("/Contents {content} 0 R"));
    let budget = assert_refused_within_budget("2000 pages, one stream", &bytes);
    assert!(
        budget.inflated <= 33 * MIB,
        "inflated once: {}",
        budget.inflated
    );
}

/// Thousands of annotations sharing one 32 MiB appearance stream.
#[test]
fn annotations_sharing_one_large_appearance_are_refused() {
    let mut pdf = Pdf::default();
    let ap = pdf.stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 10 10]",
        &vec![b' '; 32 * MIB],
    );
    let annot =
        format!("<< /Type /Annot /Subtype /Stamp /Rect [0 0 10 10] /AP << /N {ap} 0 R >> >>");
    let annots = vec![annot; 5000].join(" ");
    let content = pdf.stream("", b"BT ET");
    let bytes = pdf.pages(1, |_| format!("/Contents {content} 0 R /Annots [{annots}]"));
    assert_refused_within_budget("5000 annotations, one appearance", &bytes);
}

/// A tiny form drawn more times than the budget allows forms.
#[test]
fn a_small_form_drawn_too_often_is_refused() {
    let bytes = form_drawn(b"q Q", 200_000);
    let budget = assert_refused_within_budget("tiny form drawn 200000 times", &bytes);
    assert_eq!(budget.forms, Options::default().max_document_forms);
}

/// Fonts whose ToUnicode CMaps inflate to more than the document may.
#[test]
fn many_large_cmaps_are_refused() {
    let mut pdf = Pdf::default();
    let mut fonts = String::new();
    let mut shows = String::new();
    for i in 0..10 {
        let cmap = pdf.stream("", &vec![b' '; 32 * MIB]);
        let font = pdf.add(format!(
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode {cmap} 0 R >>"
        ));
        fonts.push_str(&format!("/F{i} {font} 0 R "));
        shows.push_str(&format!("BT /F{i} 12 Tf (x) Tj ET\n"));
    }
    let content = pdf.stream("", shows.as_bytes());
    let bytes = pdf.pages(1, |_| {
        format!("/Contents {content} 0 R /Resources << /Font << {fonts} >> >>")
    });
    assert_refused_within_budget("ten 32 MiB CMaps", &bytes);
}

/// An ordinary document drawing a small form on every page stays well
/// inside the budget (and the generator makes readable PDFs).
#[test]
fn an_ordinary_document_fits_the_budget() {
    let mut pdf = Pdf::default();
    let font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    let header = pdf.stream(
        &format!("/Type /XObject /Subtype /Form /BBox [0 0 600 50] /Resources << /Font << /F1 {font} 0 R >> >>"),
        b"BT /F1 10 Tf 72 760 Td (Lode Quarterly) Tj ET",
    );
    let contents: Vec<usize> = (0..50)
        .map(|i| {
            pdf.stream(
                "",
                format!("/H Do BT /F1 12 Tf 72 700 Td (Page {i} body text.) Tj ET").as_bytes(),
            )
        })
        .collect();
    let bytes = pdf.pages(50, |i| {
        format!(
            "/Contents {} 0 R /Resources << /Font << /F1 {font} 0 R >> /XObject << /H {header} 0 R >> >>",
            contents[i]
        )
    });
    let opts = Options::default();
    let mut budget = Budget::new(&opts);
    let out = extract_within(&bytes, &opts, &mut budget).unwrap();
    assert_eq!(out.pages.len(), 50);
    assert!(out.markdown.contains("Lode Quarterly") && out.markdown.contains("Page 49 body text."));
    assert_eq!(budget.forms, 50);
    assert!(budget.ops < 1000, "{} operators", budget.ops);
}

/// Writes the hostile files to `$LODE_WRITE_PDF_BOMBS` (a directory), for
/// measuring them elsewhere: `LODE_WRITE_PDF_BOMBS=/tmp/b cargo test -p
/// lode-extract write_bombs -- --ignored`.
#[test]
#[ignore]
fn write_bombs() {
    let dir = std::path::PathBuf::from(std::env::var("LODE_WRITE_PDF_BOMBS").unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = form_drawn(&vec![b' '; 32 * MIB], 1000);
    std::fs::write(dir.join("form-1000-do.pdf"), bytes).unwrap(); // tests/data/
}
