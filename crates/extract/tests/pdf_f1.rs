//! Compares our PDF text with `pdftotext` (poppler-utils) on a corpus of
//! real-world PDFs: word-level bag-of-words F1 per file, the median over the
//! corpus, and floors on both.
//!
//! The corpus is fetched by `scripts/pdf-corpus.sh` into `$LODE_PDF_CORPUS`,
//! else `<workspace>/target/pdf-corpus`. Without the corpus or `pdftotext`
//! the test fails under CI (`CI` set) and is skipped otherwise.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lode_extract::{ExtractError, Options, extract};
use unicode_normalization::UnicodeNormalization;

/// Median F1 over the included files must reach this.
const MEDIAN_FLOOR: f64 = 0.95;
/// Every included file must reach this.
const FILE_FLOOR: f64 = 0.85;
/// Files where pdftotext finds fewer words are scanned or empty: excluded.
const MIN_REFERENCE_WORDS: usize = 20;

/// Passwords the corpus's own test suites use for their encrypted samples
/// (pypdf: "asdfzxcv", "openpassword", "password", "test", "foo"; pikepdf:
/// "owner"), tried with pdftotext and then given to us. Files no password
/// opens are reported and not scored.
const KNOWN_PASSWORDS: &[&str] = &[
    "asdfzxcv",
    "openpassword",
    "password",
    "test",
    "foo",
    "owner",
];

/// Files left out of the floors, each with the reason. Keep this short and
/// honest: a file belongs here only when pdftotext's output differs from any
/// sensible extraction by design.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "pikepdf-pdfa-cmyk.pdf",
        "its ToUnicode CMap is byte-swapped (<0046> -> U+4D00), so pdftotext's reference is CJK noise",
    ),
    (
        "pypdf-toy.pdf",
        "letter-spaced with Tc (0.6 em): pdftotext splits the words into single letters, we keep the words",
    ),
    (
        "pypdf-indirect-rotation.pdf",
        "OCR layer fitted to the scan with Tc: pdftotext splits many words into single letters, we keep the words",
    ),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn words(text: &str) -> HashMap<String, usize> {
    let normalized: String = text.nfkc().collect::<String>().to_lowercase();
    let mut counts = HashMap::new();
    for word in normalized
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_string()).or_insert(0) += 1;
    }
    counts
}

fn total(counts: &HashMap<String, usize>) -> usize {
    counts.values().sum()
}

fn f1(ours: &HashMap<String, usize>, reference: &HashMap<String, usize>) -> f64 {
    let overlap: usize = ours
        .iter()
        .map(|(w, n)| (*n).min(reference.get(w).copied().unwrap_or(0)))
        .sum();
    let (o, r) = (total(ours), total(reference));
    if o == 0 || r == 0 || overlap == 0 {
        return 0.0;
    }
    let precision = overlap as f64 / o as f64;
    let recall = overlap as f64 / r as f64;
    2.0 * precision * recall / (precision + recall)
}

/// pdftotext's text, and the password that opened the file (`None` when
/// none was needed), or `None` when pdftotext cannot open it at all.
fn reference(path: &Path) -> Option<(String, Option<String>)> {
    let run = |args: &[&str]| {
        let mut cmd = Command::new("pdftotext");
        cmd.args(["-q", "-enc", "UTF-8"])
            .args(args)
            .arg(path)
            .arg("-");
        cmd.output().ok().filter(|o| o.status.success())
    };
    if let Some(out) = run(&[]) {
        return Some((String::from_utf8_lossy(&out.stdout).into_owned(), None));
    }
    for password in KNOWN_PASSWORDS {
        for flag in ["-upw", "-opw"] {
            if let Some(out) = run(&[flag, password]) {
                return Some((
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    Some((*password).to_string()),
                ));
            }
        }
    }
    None
}

fn pdftotext_available() -> bool {
    Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stderr.is_empty())
}

#[test]
fn pdf_text_matches_pdftotext() {
    let in_ci = std::env::var_os("CI").is_some();
    let corpus = std::env::var_os("LODE_PDF_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target").join("pdf-corpus"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let missing = if !pdftotext_available() {
        Some("pdftotext (poppler-utils) is not installed".to_string())
    } else if files.is_empty() {
        Some(format!("no PDFs in the corpus dir {}", corpus.display()))
    } else {
        None
    };
    if let Some(why) = missing {
        let msg = format!("{why}; run scripts/pdf-corpus.sh to install and fetch them");
        if in_ci {
            panic!("PDF corpus test cannot run: {msg}");
        }
        eprintln!("skipping the PDF corpus test: {msg}");
        return;
    }

    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some((_, why)) = EXCLUDED.iter().find(|(n, _)| *n == name) {
            skipped.push((name, format!("excluded: {why}")));
            continue;
        }
        let Some((reference_text, password)) = reference(path) else {
            // Still make sure we neither panic nor hang on it.
            let bytes = std::fs::read(path).expect("read corpus file");
            let ours = match extract(&bytes, "application/pdf", &Options::default()) {
                Ok(out) => format!("we read {} pages", out.pages.len()),
                Err(err) => format!("we answer {err}"),
            };
            skipped.push((
                name,
                format!("pdftotext cannot open it (encrypted with an unknown password, or broken); {ours}"),
            ));
            continue;
        };
        let reference_words = words(&reference_text);
        if total(&reference_words) < MIN_REFERENCE_WORDS {
            skipped.push((
                name,
                format!(
                    "scanned/empty: pdftotext finds {} words",
                    total(&reference_words)
                ),
            ));
            continue;
        }
        let bytes = std::fs::read(path).expect("read corpus file");
        let opts = Options {
            password: password.clone(),
            ..Options::default()
        };
        let started = std::time::Instant::now();
        let result = extract(&bytes, "application/pdf", &opts);
        let elapsed = started.elapsed();
        let (ours, pages, note) = match result {
            Ok(out) => {
                for span in &out.pages {
                    assert!(
                        span.start <= span.end && span.end <= out.markdown.len(),
                        "{name}: bad span"
                    );
                    assert!(
                        out.markdown.is_char_boundary(span.start)
                            && out.markdown.is_char_boundary(span.end)
                    );
                }
                (out.markdown, out.pages.len(), String::new())
            }
            Err(ExtractError::Encrypted) if password.is_none() => {
                skipped.push((
                    name,
                    "encrypted: we need a password pdftotext did not".into(),
                ));
                continue;
            }
            Err(err) => (String::new(), 0, format!("error: {err}")),
        };
        let our_words = words(&ours);
        let score = f1(&our_words, &reference_words);
        if score < FILE_FLOOR {
            failures.push(name.clone());
        }
        let note = match (&password, note.is_empty()) {
            (Some(p), true) => format!("password {p:?}"),
            (_, _) => note,
        };
        rows.push((
            name,
            pages,
            total(&reference_words),
            total(&our_words),
            score,
            elapsed.as_millis(),
            note,
        ));
    }

    println!(
        "\n{:<62} {:>5} {:>8} {:>8} {:>6} {:>6}  note",
        "file", "pages", "ref", "ours", "F1", "ms"
    );
    for (name, pages, r, o, score, ms, note) in &rows {
        println!("{name:<62} {pages:>5} {r:>8} {o:>8} {score:>6.3} {ms:>6}  {note}");
    }
    println!("\nnot scored:");
    for (name, why) in &skipped {
        println!("  {name}: {why}");
    }
    let mut scores: Vec<f64> = rows.iter().map(|r| r.4).collect();
    scores.sort_by(f64::total_cmp);
    let median = if scores.is_empty() {
        0.0
    } else if scores.len() % 2 == 1 {
        scores[scores.len() / 2]
    } else {
        (scores[scores.len() / 2 - 1] + scores[scores.len() / 2]) / 2.0
    };
    let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
    println!(
        "\nscored {} files, not scored {}: median F1 {median:.4}, mean {mean:.4}, min {:.4}",
        scores.len(),
        skipped.len(),
        scores.first().copied().unwrap_or(0.0)
    );
    assert!(!scores.is_empty(), "no file was scored");
    assert!(
        median >= MEDIAN_FLOOR,
        "median F1 {median:.4} is below {MEDIAN_FLOOR}"
    );
    assert!(
        failures.is_empty(),
        "files below F1 {FILE_FLOOR}: {failures:?}"
    );
}
