//! The OpenAI-compatible embeddings API (`POST /v1/embeddings`), as served by
//! OpenAI, Hugging Face TEI, vLLM, Infinity, llama.cpp's server, Ollama and
//! LiteLLM: <https://platform.openai.com/docs/api-reference/embeddings/create>.

use serde::{Deserialize, Serialize};

/// The request body. `input` is always an array, so one response shape serves
/// one text or many; `encoding_format` is pinned to `float` because base64 is
/// the default of some clients, never of the API, and some servers lack it.
#[derive(Debug, Serialize)]
pub struct Request<'a> {
    /// The provider's model name.
    pub model: &'a str,
    /// The texts, in order.
    pub input: &'a [String],
    /// Always `"float"`.
    pub encoding_format: &'static str,
}

impl<'a> Request<'a> {
    /// The request for `input` with `model`.
    pub fn new(model: &'a str, input: &'a [String]) -> Self {
        Self {
            model,
            input,
            encoding_format: "float",
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a request of strings always serialises")
    }
}

#[derive(Debug, Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Debug, Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

/// Why a response could not be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EmbeddingsError {
    /// The body is not the documented JSON.
    #[error("the embeddings response is not valid JSON of the OpenAI shape: {0}")]
    Malformed(String),
    /// Indices missing, repeated or out of range.
    #[error("the embeddings response has {got} vectors with indices not 0..{expected}")]
    Count {
        /// Vectors expected.
        expected: usize,
        /// Vectors received.
        got: usize,
    },
    /// Vectors of different lengths, or empty ones.
    #[error("the embeddings response mixes vector lengths ({first} and {other})")]
    Dimensions {
        /// The first vector's length.
        first: usize,
        /// A different length.
        other: usize,
    },
}

/// The vectors of a `200` response for `expected` inputs, in input order.
///
/// The API returns one item per input with its `index`; servers may return
/// them out of order (OpenAI documents the index for that reason).
pub fn parse_response(body: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, EmbeddingsError> {
    let response: Response =
        serde_json::from_slice(body).map_err(|e| EmbeddingsError::Malformed(e.to_string()))?;
    let got = response.data.len();
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for item in response.data {
        match slots.get_mut(item.index) {
            Some(slot @ None) => *slot = Some(item.embedding),
            _ => return Err(EmbeddingsError::Count { expected, got }),
        }
    }
    let vectors: Vec<Vec<f32>> = slots
        .into_iter()
        .collect::<Option<_>>()
        .ok_or(EmbeddingsError::Count { expected, got })?;
    if let Some(first) = vectors.first()
        && let Some(other) = vectors
            .iter()
            .find(|v| v.len() != first.len() || v.is_empty())
    {
        return Err(EmbeddingsError::Dimensions {
            first: first.len(),
            other: other.len(),
        });
    }
    Ok(vectors)
}

/// A readable message from an error response: the OpenAI shape
/// `{"error":{"message":…}}` when present, else the start of the body.
pub fn error_message(status: u16, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Outer {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        message: String,
    }
    let detail = match serde_json::from_slice::<Outer>(body) {
        Ok(outer) => outer.error.message,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    };
    format!("embeddings API answered HTTP {status}: {detail}")
}

/// The model id Lode stores with vectors for a provider's model name.
///
/// Providers name all-MiniLM-L6-v2 differently (`sentence-transformers/…`,
/// `all-minilm:l6-v2`, …); mapping them to the in-process backend's id lets
/// vectors from either backend share one index and one cache.
pub fn model_id(provider_model: &str) -> String {
    let last = provider_model.rsplit('/').next().unwrap_or(provider_model);
    let canonical: String = last
        .chars()
        .map(|c| {
            if c == ':' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    if canonical == "all-minilm-l6-v2" {
        "all-MiniLM-L6-v2".to_string()
    } else {
        provider_model.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_the_documented_shape() {
        let input = vec!["a".to_string(), "b".to_string()];
        let body: serde_json::Value =
            serde_json::from_slice(&Request::new("m", &input).to_json()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model": "m", "input": ["a", "b"], "encoding_format": "float"})
        );
    }

    #[test]
    fn response_items_are_put_in_input_order() {
        let body = br#"{"object":"list","model":"m","usage":{"prompt_tokens":2,"total_tokens":2},
            "data":[{"object":"embedding","index":1,"embedding":[0.0,1.0]},
                    {"object":"embedding","index":0,"embedding":[1.0,0.0]}]}"#;
        assert_eq!(
            parse_response(body, 2).unwrap(),
            vec![vec![1.0, 0.0], vec![0.0, 1.0]]
        );
    }

    #[test]
    fn missing_repeated_and_ragged_items_are_errors() {
        let one = br#"{"data":[{"index":0,"embedding":[1.0]}]}"#;
        assert_eq!(
            parse_response(one, 2),
            Err(EmbeddingsError::Count {
                expected: 2,
                got: 1
            })
        );
        let twice = br#"{"data":[{"index":0,"embedding":[1.0]},{"index":0,"embedding":[1.0]}]}"#;
        assert!(matches!(
            parse_response(twice, 2),
            Err(EmbeddingsError::Count { .. })
        ));
        let ragged =
            br#"{"data":[{"index":0,"embedding":[1.0]},{"index":1,"embedding":[1.0,2.0]}]}"#;
        assert_eq!(
            parse_response(ragged, 2),
            Err(EmbeddingsError::Dimensions { first: 1, other: 2 })
        );
        assert!(matches!(
            parse_response(b"<html>", 1),
            Err(EmbeddingsError::Malformed(_))
        ));
    }

    #[test]
    fn error_messages_come_from_the_openai_error_object() {
        assert_eq!(
            error_message(401, br#"{"error":{"message":"bad key","type":"auth"}}"#),
            "embeddings API answered HTTP 401: bad key"
        );
        assert_eq!(
            error_message(502, b"Bad Gateway"),
            "embeddings API answered HTTP 502: Bad Gateway"
        );
    }

    #[test]
    fn minilm_names_map_to_one_model_id() {
        for name in [
            "sentence-transformers/all-MiniLM-L6-v2",
            "all-minilm-l6-v2",
            "all-minilm:l6-v2",
        ] {
            assert_eq!(model_id(name), "all-MiniLM-L6-v2", "{name}");
        }
        assert_eq!(model_id("text-embedding-3-small"), "text-embedding-3-small");
    }
}
