//! `fermyon:spin/llm@2.0.0` embeddings with all-MiniLM-L6-v2, when the
//! component lists it in `ai_models` (Spin's factor-llm).

use super::*;

impl llm::Host for SpinView<'_> {
    fn infer(
        &mut self,
        model: String,
        _prompt: String,
        _params: Option<llm::InferencingParams>,
    ) -> wasmtime::Result<Result<llm::InferencingResult, llm::Error>> {
        Ok(Err(match self.model_access(&model) {
            Err(e) => e,
            // lode-host runs no local LLM; Lode's LLM features call providers over HTTP.
            Ok(()) => llm::Error::ModelNotSupported,
        }))
    }

    async fn generate_embeddings(
        &mut self,
        model: String,
        text: Vec<String>,
    ) -> wasmtime::Result<Result<llm::EmbeddingsResult, llm::Error>> {
        if let Err(e) = self.model_access(&model) {
            return Ok(Err(e));
        }
        let Some(embedder) = self
            .caps
            .embedder
            .clone()
            .filter(|_| model == EMBEDDING_MODEL)
        else {
            return Ok(Err(llm::Error::ModelNotSupported));
        };
        let result = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = text.iter().map(String::as_str).collect();
            let embeddings = embedder.embed(&refs)?;
            let tokens: usize = refs
                .iter()
                .map(|t| embedder.count_tokens(t).unwrap_or(0))
                .sum();
            anyhow::Ok(llm::EmbeddingsResult {
                embeddings,
                usage: llm::EmbeddingsUsage {
                    prompt_token_count: tokens as u32,
                },
            })
        })
        .await
        .map_err(blocking_err)?;
        Ok(result.map_err(|e| llm::Error::RuntimeError(format!("{e:#}"))))
    }
}

impl SpinView<'_> {
    /// Spin's factor-llm check: a model not in `ai_models` is refused with this message.
    fn model_access(&self, model: &str) -> Result<(), llm::Error> {
        if self.caps.ai_models.iter().any(|m| m == model) {
            return Ok(());
        }
        Err(llm::Error::InvalidInput(format!(
            "The component does not have access to use '{model}'. To give the component access, \
             add '{model}' to the 'ai_models' key for the component in your spin.toml manifest"
        )))
    }
}
