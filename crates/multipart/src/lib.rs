//! `multipart/form-data` upload bodies (RFC 7578), parsed by `multer` under
//! limits: how many parts and files, how large each file and each plain
//! field may be. A component has the whole body in memory already (Spin hands
//! it over as one request), so the API is synchronous over bytes.

use std::convert::Infallible;

use bytes::Bytes;

/// Bounds on one form; every field is checked before its bytes are kept.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Parts of any kind.
    pub max_parts: usize,
    /// Parts that carry a file (`filename=` in their Content-Disposition).
    pub max_files: usize,
    /// Bytes of one file.
    pub max_file_bytes: u64,
    /// Bytes of one plain field (metadata JSON, priority…).
    pub max_field_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_parts: 120,
            max_files: 100,
            max_file_bytes: 32 << 20,
            max_field_bytes: 64 << 10,
        }
    }
}

/// One uploaded file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// The form field it came in (`files`).
    pub field: String,
    /// The client's file name.
    pub filename: String,
    /// The part's Content-Type, if the client sent one.
    pub content_type: Option<String>,
    /// The bytes.
    pub bytes: Bytes,
}

/// A parsed form: files in order, and the plain text fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Form {
    /// Parts with a file name, in body order.
    pub files: Vec<File>,
    /// Parts without one, as (name, UTF-8 value), in body order.
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The first plain field called `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a body is not an acceptable form; the message names the part.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MultipartError {
    /// `Content-Type` is not `multipart/form-data; boundary=…`.
    #[error("Content-Type must be multipart/form-data with a boundary")]
    NotMultipart,
    /// Too many parts or files.
    #[error("at most {limit} {what} per upload")]
    TooMany {
        /// "parts" or "files".
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// One part is over its size limit.
    #[error("part {name:?} is larger than {limit} bytes")]
    TooLarge {
        /// The part's field name (or file name).
        name: String,
        /// The limit.
        limit: u64,
    },
    /// A plain field is not UTF-8 text.
    #[error("field {0:?} is not UTF-8 text")]
    NotText(String),
    /// A part without a `name`.
    #[error("a part has no name in its Content-Disposition")]
    Unnamed,
    /// The body does not follow the multipart syntax.
    #[error("malformed multipart body: {0}")]
    Malformed(String),
}

/// The boundary from a `Content-Type` header value, if it is form data.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let is_form = content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"));
    if !is_form {
        return Err(MultipartError::NotMultipart);
    }
    multer::parse_boundary(content_type).map_err(|_| MultipartError::NotMultipart)
}

/// Parse `body` with `boundary` under `limits`.
pub fn parse(body: Bytes, boundary: &str, limits: &Limits) -> Result<Form, MultipartError> {
    let stream = futures::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let per_part = limits.max_file_bytes.max(limits.max_field_bytes);
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().per_field(per_part));
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    futures::executor::block_on(async {
        let mut form = Form::default();
        let mut parts = 0;
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            parts += 1;
            if parts > limits.max_parts {
                return Err(MultipartError::TooMany {
                    what: "parts",
                    limit: limits.max_parts,
                });
            }
            let name = field.name().ok_or(MultipartError::Unnamed)?.to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(|m| m.essence_str().to_string());
            let limit = match filename {
                Some(_) => limits.max_file_bytes,
                None => limits.max_field_bytes,
            };
            let bytes = field.bytes().await.map_err(|e| match e {
                multer::Error::FieldSizeExceeded { .. } => MultipartError::TooLarge {
                    name: name.clone(),
                    limit,
                },
                other => malformed(other),
            })?;
            if bytes.len() as u64 > limit {
                return Err(MultipartError::TooLarge { name, limit });
            }
            match filename {
                Some(filename) => {
                    if form.files.len() == limits.max_files {
                        return Err(MultipartError::TooMany {
                            what: "files",
                            limit: limits.max_files,
                        });
                    }
                    form.files.push(File {
                        field: name,
                        filename,
                        content_type,
                        bytes,
                    });
                }
                None => {
                    let text = String::from_utf8(bytes.to_vec())
                        .map_err(|_| MultipartError::NotText(name.clone()))?;
                    form.fields.push((name, text));
                }
            }
        }
        Ok(form)
    })
}

fn malformed(e: multer::Error) -> MultipartError {
    MultipartError::Malformed(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "X-LODE-BOUNDARY";

    /// (field name, file name, Content-Type, bytes)
    type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

    fn body(parts: &[Part]) -> Bytes {
        let mut out = Vec::new();
        for (name, filename, content_type, bytes) in parts {
            out.extend(format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"").bytes());
            if let Some(f) = filename {
                out.extend(format!("; filename=\"{f}\"").bytes());
            }
            out.extend(b"\r\n");
            if let Some(t) = content_type {
                out.extend(format!("Content-Type: {t}\r\n").bytes());
            }
            out.extend(b"\r\n");
            out.extend(*bytes);
            out.extend(b"\r\n");
        }
        out.extend(format!("--{B}--\r\n").bytes());
        Bytes::from(out)
    }

    #[test]
    fn files_and_fields_come_back_in_order() {
        let pdf: &[u8] = b"%PDF-1.4 \x00\xff binary";
        let form = parse(
            body(&[
                ("files", Some("a.pdf"), Some("application/pdf"), pdf),
                ("metadata", None, None, br#"{"team":"x"}"#),
                (
                    "files",
                    Some("b.md"),
                    Some("text/markdown; charset=utf-8"),
                    b"# B",
                ),
                ("priority", None, None, b"high"),
            ]),
            B,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(form.files.len(), 2);
        assert_eq!(form.files[0].filename, "a.pdf");
        assert_eq!(form.files[0].bytes.as_ref(), pdf);
        assert_eq!(form.files[1].content_type.as_deref(), Some("text/markdown"));
        assert_eq!(form.field("metadata"), Some(r#"{"team":"x"}"#));
        assert_eq!(form.field("priority"), Some("high"));
        assert_eq!(form.field("nope"), None);
    }

    #[test]
    fn limits_are_enforced_per_part_and_per_form() {
        let small = Limits {
            max_parts: 3,
            max_files: 2,
            max_file_bytes: 10,
            max_field_bytes: 4,
        };
        let big = parse(body(&[("files", Some("a"), None, &[b'x'; 11])]), B, &small);
        assert_eq!(
            big,
            Err(MultipartError::TooLarge {
                name: "files".into(),
                limit: 10
            })
        );
        let long_field = parse(body(&[("priority", None, None, b"urgent")]), B, &small);
        assert!(matches!(
            long_field,
            Err(MultipartError::TooLarge { limit: 4, .. })
        ));
        let three_files = body(&[
            ("files", Some("a"), None, b"1"),
            ("files", Some("b"), None, b"2"),
            ("files", Some("c"), None, b"3"),
        ]);
        assert_eq!(
            parse(three_files, B, &small),
            Err(MultipartError::TooMany {
                what: "files",
                limit: 2
            })
        );
        let four_parts = body(&[("a", None, None, &b"1"[..]); 4]);
        assert_eq!(
            parse(four_parts, B, &small),
            Err(MultipartError::TooMany {
                what: "parts",
                limit: 3
            })
        );
    }

    #[test]
    fn bad_bodies_and_headers_are_errors_not_panics() {
        assert_eq!(
            boundary("application/json"),
            Err(MultipartError::NotMultipart)
        );
        assert_eq!(
            boundary("multipart/form-data"),
            Err(MultipartError::NotMultipart)
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Ok("abc")
        );
        let limits = Limits::default();
        for bad in [
            &b"not multipart at all"[..],
            b"--X-LODE-BOUNDARY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
            b"--X-LODE-BOUNDARY\r\n\r\n\r\n--X-LODE-BOUNDARY--\r\n",
        ] {
            assert!(
                parse(Bytes::from_static(bad), B, &limits).is_err(),
                "{bad:?}"
            );
        }
        let not_text = parse(body(&[("metadata", None, None, b"\xff\xfe")]), B, &limits);
        assert_eq!(not_text, Err(MultipartError::NotText("metadata".into())));
        assert_eq!(parse(body(&[]), B, &limits), Ok(Form::default()));
    }
}
