//! Which LLM answers: the providers and models a deployment configured, and
//! the choice among them.
//!
//! The registry is JSON (the Spin variable `llm_registry`), so an operator
//! changes models without a rebuild. Secrets never appear in it: a provider
//! names the Spin variable that holds its key (`llm_key_a`…), which is a
//! `secret = true` variable in `spin.toml`. Its `base_url` must be one of the
//! component's `allowed_outbound_hosts`, or Spin refuses the request.

use serde::{Deserialize, Serialize};

use crate::chat::Protocol;

/// A service that answers chat requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Its name in the registry (`openai`, `local`…).
    pub name: String,
    /// The wire protocol it speaks.
    pub protocol: Protocol,
    /// Scheme, host and port, e.g. `https://api.openai.com` (the endpoint
    /// path comes from the protocol).
    pub base_url: String,
    /// The Spin variable holding its API key; `None` for keyless local servers.
    #[serde(default)]
    pub key_variable: Option<String>,
}

/// Something a model can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Chat completions.
    Chat,
    /// Server-Sent Events streaming.
    Stream,
    /// Tool (function) calling.
    Tools,
    /// JSON-only output.
    Json,
}

/// A model one provider serves, with what choosing it costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Lode's name for it (what clients ask for).
    pub name: String,
    /// The provider's name.
    pub provider: String,
    /// The provider's own model id (defaults to `name`).
    #[serde(default)]
    pub model: Option<String>,
    /// Context window, in tokens.
    pub context_length: u32,
    /// US dollars per 1000 input tokens.
    #[serde(default)]
    pub cost_per_1k_input: f64,
    /// US dollars per 1000 output tokens.
    #[serde(default)]
    pub cost_per_1k_output: f64,
    /// Typical time to a full answer, in milliseconds.
    #[serde(default = "default_latency")]
    pub latency_ms: u32,
    /// Relative answer quality, 0–1 (the operator's judgement or an eval).
    #[serde(default = "default_quality")]
    pub quality: f64,
    /// What it can do.
    #[serde(default = "default_capabilities")]
    pub capabilities: Vec<Capability>,
}

fn default_latency() -> u32 {
    2000
}

fn default_quality() -> f64 {
    0.5
}

fn default_capabilities() -> Vec<Capability> {
    vec![Capability::Chat, Capability::Stream]
}

impl Model {
    /// The id the provider knows the model by.
    pub fn provider_model(&self) -> &str {
        self.model.as_deref().unwrap_or(&self.name)
    }

    /// US dollars for `input` and `output` tokens.
    pub fn cost(&self, input: u64, output: u64) -> f64 {
        (input as f64 * self.cost_per_1k_input + output as f64 * self.cost_per_1k_output) / 1000.0
    }
}

/// How to choose a model when the caller names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Cheapest first.
    Cost,
    /// Best first.
    Quality,
    /// Fastest first.
    Latency,
    /// Quality per cost and time, each normalised over the candidates.
    #[default]
    Balanced,
    /// The registry's order (`fallback`, then `models`).
    Manual,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Providers by name.
    pub providers: Vec<Provider>,
    /// Models.
    pub models: Vec<Model>,
    /// The default strategy.
    #[serde(default)]
    pub strategy: Strategy,
    /// For `manual`: model names in the order to try.
    #[serde(default)]
    pub fallback: Vec<String>,
}

/// Why a registry is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    /// Not the documented JSON.
    #[error("llm_registry is not valid: {0}")]
    Invalid(String),
    /// A model names a provider that is not listed, or names repeat.
    #[error("llm_registry: {0}")]
    Inconsistent(String),
    /// The caller named a model the registry does not list.
    #[error("the model {0:?} does not exist")]
    UnknownModel(String),
    /// Nothing can serve the request.
    #[error("no configured model can {0}")]
    NoModel(String),
}

/// A model and the provider serving it: one entry of a fallback chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    /// The model.
    pub model: &'a Model,
    /// Its provider.
    pub provider: &'a Provider,
}

impl Registry {
    /// Parse and check the registry JSON.
    pub fn parse(json: &str) -> Result<Registry, RegistryError> {
        let registry: Registry =
            serde_json::from_str(json).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let mut names = std::collections::BTreeSet::new();
        for p in &registry.providers {
            if !names.insert(format!("provider {}", p.name)) {
                return Err(RegistryError::Inconsistent(format!(
                    "provider {:?} is listed twice",
                    p.name
                )));
            }
            if !(p.base_url.starts_with("http://") || p.base_url.starts_with("https://")) {
                return Err(RegistryError::Inconsistent(format!(
                    "provider {:?}: base_url must be http(s)",
                    p.name
                )));
            }
        }
        for m in &registry.models {
            if !names.insert(format!("model {}", m.name)) {
                return Err(RegistryError::Inconsistent(format!(
                    "model {:?} is listed twice",
                    m.name
                )));
            }
            if registry.provider(&m.provider).is_none() {
                return Err(RegistryError::Inconsistent(format!(
                    "model {:?} names provider {:?}, which is not listed",
                    m.name, m.provider
                )));
            }
        }
        for f in &registry.fallback {
            if registry.model(f).is_none() {
                return Err(RegistryError::Inconsistent(format!(
                    "fallback names model {f:?}, which is not listed"
                )));
            }
        }
        Ok(registry)
    }

    /// A provider by name.
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// `model` with its provider.
    fn candidate<'a>(&'a self, model: &'a Model) -> Option<Candidate<'a>> {
        self.provider(&model.provider)
            .map(|provider| Candidate { model, provider })
    }

    /// A model by name.
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The models to try, in order: `requested` alone if named (the caller
    /// chose), else every model able to do what is `needed`, ranked by
    /// `strategy` (the registry's own when `None`). `usable` drops
    /// candidates whose provider cannot be called now (no key, circuit open).
    pub fn chain(
        &self,
        requested: Option<&str>,
        strategy: Option<Strategy>,
        needed: &[Capability],
        usable: impl Fn(&Provider) -> bool,
    ) -> Result<Vec<Candidate<'_>>, RegistryError> {
        if let Some(name) = requested {
            let model = self
                .model(name)
                .ok_or_else(|| RegistryError::UnknownModel(name.to_string()))?;
            let c = self
                .candidate(model)
                .ok_or_else(|| RegistryError::NoModel(format!("reach {name:?}")))?;
            if !usable(c.provider) {
                return Err(RegistryError::NoModel(format!(
                    "answer as {name:?} now: its provider is unavailable"
                )));
            }
            return Ok(vec![c]);
        }
        let able: Vec<&Model> = self
            .models
            .iter()
            .filter(|m| needed.iter().all(|n| m.capabilities.contains(n)))
            .collect();
        let ranked = rank(&able, strategy.unwrap_or(self.strategy), &self.fallback);
        let chain: Vec<Candidate<'_>> = ranked
            .into_iter()
            .filter_map(|m| self.candidate(m))
            .filter(|c| usable(c.provider))
            .collect();
        if chain.is_empty() {
            let what: Vec<String> = needed
                .iter()
                .map(|c| format!("{c:?}").to_lowercase())
                .collect();
            return Err(RegistryError::NoModel(format!(
                "{} with a reachable provider",
                what.join(" + ")
            )));
        }
        Ok(chain)
    }
}

/// `models` in the order `strategy` prefers; ties keep the registry's order.
fn rank<'a>(models: &[&'a Model], strategy: Strategy, fallback: &[String]) -> Vec<&'a Model> {
    let mut ranked: Vec<&Model> = models.to_vec();
    let max = |f: fn(&Model) -> f64| {
        models
            .iter()
            .map(|m| f(m))
            .fold(0.0_f64, f64::max)
            .max(f64::MIN_POSITIVE)
    };
    let price = |m: &Model| m.cost_per_1k_input + m.cost_per_1k_output;
    let latency = |m: &Model| f64::from(m.latency_ms);
    let (max_price, max_latency) = (max(price), max(latency));
    let key = |m: &Model| -> f64 {
        match strategy {
            Strategy::Cost => price(m),
            Strategy::Quality => -m.quality,
            Strategy::Latency => latency(m),
            // Higher quality is better; cost and time count half as much each.
            Strategy::Balanced => {
                -(m.quality - 0.5 * price(m) / max_price - 0.5 * latency(m) / max_latency)
            }
            Strategy::Manual => fallback
                .iter()
                .position(|f| *f == m.name)
                .map_or(f64::MAX, |p| p as f64),
        }
    };
    ranked.sort_by(|a, b| key(a).total_cmp(&key(b)));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY: &str = r#"{
        "providers": [
            {"name": "openai", "protocol": "openai", "base_url": "https://api.openai.com", "key_variable": "llm_key_a"},
            {"name": "anthropic", "protocol": "anthropic", "base_url": "https://api.anthropic.com", "key_variable": "llm_key_b"},
            {"name": "local", "protocol": "openai", "base_url": "http://127.0.0.1:11434"}
        ],
        "models": [
            {"name": "big", "provider": "openai", "model": "gpt-big", "context_length": 128000,
             "cost_per_1k_input": 0.005, "cost_per_1k_output": 0.015, "latency_ms": 3000, "quality": 0.9,
             "capabilities": ["chat", "stream", "tools"]},
            {"name": "claude", "provider": "anthropic", "context_length": 200000,
             "cost_per_1k_input": 0.001, "cost_per_1k_output": 0.005, "latency_ms": 1500, "quality": 0.8,
             "capabilities": ["chat", "stream", "tools"]},
            {"name": "tiny", "provider": "local", "context_length": 8192, "latency_ms": 800, "quality": 0.4}
        ],
        "fallback": ["claude", "tiny", "big"]
    }"#;

    fn names(chain: &[Candidate<'_>]) -> Vec<String> {
        chain.iter().map(|c| c.model.name.clone()).collect()
    }

    #[test]
    fn strategies_order_the_models() {
        let r = Registry::parse(REGISTRY).unwrap();
        let all = |_: &Provider| true;
        let order = |s| names(&r.chain(None, Some(s), &[Capability::Chat], all).unwrap());
        assert_eq!(order(Strategy::Cost), ["tiny", "claude", "big"]);
        assert_eq!(order(Strategy::Quality), ["big", "claude", "tiny"]);
        assert_eq!(order(Strategy::Latency), ["tiny", "claude", "big"]);
        assert_eq!(order(Strategy::Manual), ["claude", "tiny", "big"]);
        assert_eq!(order(Strategy::Balanced), ["claude", "tiny", "big"]);
        let tools = r
            .chain(None, Some(Strategy::Cost), &[Capability::Tools], all)
            .unwrap();
        assert_eq!(names(&tools), ["claude", "big"]);
    }

    #[test]
    fn unusable_providers_drop_out_of_the_chain() {
        let r = Registry::parse(REGISTRY).unwrap();
        let no_openai = |p: &Provider| p.name != "openai";
        let chain = r
            .chain(None, Some(Strategy::Quality), &[], no_openai)
            .unwrap();
        assert_eq!(names(&chain), ["claude", "tiny"]);
        assert!(r.chain(Some("big"), None, &[], no_openai).is_err());
        assert_eq!(
            names(&r.chain(Some("tiny"), None, &[], no_openai).unwrap()),
            ["tiny"]
        );
        assert!(r.chain(Some("nope"), None, &[], no_openai).is_err());
        assert!(r.chain(None, None, &[], |_| false).is_err());
        assert_eq!(r.model("claude").unwrap().provider_model(), "claude");
        assert!((r.model("big").unwrap().cost(1000, 2000) - 0.035).abs() < 1e-12);
    }

    #[test]
    fn inconsistent_registries_are_refused() {
        for bad in [
            r#"{"providers": [], "models": [{"name": "m", "provider": "x", "context_length": 1}]}"#,
            r#"{"providers": [{"name": "p", "protocol": "openai", "base_url": "ftp://x"}], "models": []}"#,
            r#"{"providers": [], "models": [], "fallback": ["m"]}"#,
            r#"{"providers": [], "models": [], "surprise": 1}"#,
        ] {
            assert!(Registry::parse(bad).is_err(), "{bad}");
        }
    }
}
