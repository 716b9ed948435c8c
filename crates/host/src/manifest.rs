//! `spin.toml` (manifest version 2), the subset Lode uses, parsed strictly.
//!
//! Field names and shapes follow Spin's manifest reference
//! (https://spinframework.dev/v4/manifest-reference). Unknown fields are an
//! error, as in Spin, so a typo is not silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The whole manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Must be 2.
    pub spin_manifest_version: u32,
    /// Name, version, and application-level trigger settings.
    pub application: Application,
    /// Application variables, by name.
    #[serde(default)]
    pub variables: BTreeMap<String, Variable>,
    /// Triggers by type (`http`, `redis`).
    #[serde(default)]
    pub trigger: Triggers,
    /// Components by id.
    #[serde(default)]
    pub component: BTreeMap<String, Component>,
    /// Directory holding the manifest; relative paths resolve against it.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// `[application]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Application name.
    pub name: String,
    /// Application version.
    #[serde(default)]
    pub version: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Authors.
    #[serde(default)]
    pub authors: Vec<String>,
    /// `[application.trigger.redis]` and friends.
    #[serde(default)]
    pub trigger: ApplicationTriggers,
}

/// `[application.trigger]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationTriggers {
    /// `[application.trigger.redis]`.
    pub redis: Option<RedisAppConfig>,
}

/// `[application.trigger.redis]`: the default server for Redis triggers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisAppConfig {
    /// `redis://host:port`; may contain `{{ variable }}` templates.
    pub address: String,
}

/// An entry of `[variables]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Value when no provider sets one.
    #[serde(default)]
    pub default: Option<String>,
    /// Startup fails when no value can be found.
    #[serde(default)]
    pub required: bool,
    /// Never logged or shown.
    #[serde(default)]
    pub secret: bool,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// `[[trigger.*]]` tables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    /// HTTP routes.
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
    /// Redis channel subscriptions.
    #[serde(default)]
    pub redis: Vec<RedisTrigger>,
}

/// `[[trigger.http]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    /// Route pattern: exact, `:param` segments, or a trailing `/...`.
    pub route: String,
    /// The component id that serves it.
    pub component: String,
    /// Optional trigger id.
    #[serde(default)]
    pub id: Option<String>,
}

/// `[[trigger.redis]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisTrigger {
    /// Channel to subscribe to; may contain templates.
    pub channel: String,
    /// The component whose `handle-message` receives each message.
    pub component: String,
    /// Overrides `[application.trigger.redis] address`.
    #[serde(default)]
    pub address: Option<String>,
    /// Optional trigger id.
    #[serde(default)]
    pub id: Option<String>,
}

/// `[component.<id>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Path of the `.wasm` file, relative to the manifest.
    pub source: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Outbound destinations (`scheme://host:port` patterns) the component may reach.
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    /// SQLite database labels the component may open.
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    /// Key-value store labels the component may open.
    #[serde(default, alias = "key-value-stores")]
    pub key_value_stores: Vec<String>,
    /// AI models (`fermyon:spin/llm`) the component may use.
    #[serde(default)]
    pub ai_models: Vec<String>,
    /// Component variables: name → template over application variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Environment variables for the guest.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Files to mount (accepted for Spin compatibility; see README for support).
    #[serde(default)]
    pub files: Vec<toml::Value>,
    /// `spin build` settings.
    #[serde(default)]
    pub build: Option<Build>,
    /// Imports satisfied by composing other components at load time.
    #[serde(default)]
    pub dependencies: BTreeMap<String, Dependency>,
    /// Whether dependencies get this component's capabilities.
    #[serde(default)]
    pub dependencies_inherit_configuration: bool,
}

/// `[component.<id>.build]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// One shell command, or several run in order.
    pub command: Commands,
    /// Directory to run in, relative to the manifest.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Globs for `spin watch`.
    #[serde(default)]
    pub watch: Vec<String>,
}

/// `command = "…"` or `command = ["…", "…"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Commands {
    /// A single command.
    One(String),
    /// Commands run left to right.
    Many(Vec<String>),
}

impl Commands {
    /// The commands in order.
    pub fn list(&self) -> Vec<&str> {
        match self {
            Commands::One(c) => vec![c.as_str()],
            Commands::Many(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

/// A value of `[component.<id>.dependencies]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Dependency {
    /// A local `.wasm` file.
    Path {
        /// Path relative to the manifest.
        path: String,
        /// Export to use when its name differs from the import.
        #[serde(default)]
        export: Option<String>,
    },
    /// Another component of this application (its binary only).
    Component {
        /// The component id.
        component: String,
        /// Export to use when its name differs from the import.
        #[serde(default)]
        export: Option<String>,
    },
    /// Registry and URL dependencies, which the local host cannot fetch.
    Other(toml::Value),
}

impl Manifest {
    /// Read and validate a manifest file.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        let mut m: Manifest = toml::from_str(&text)
            .with_context(|| format!("parsing manifest {}", path.display()))?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        m.dir = parent
            .canonicalize()
            .with_context(|| format!("resolving the directory of {}", path.display()))?;
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<()> {
        if self.spin_manifest_version != 2 {
            bail!(
                "spin_manifest_version must be 2, got {}",
                self.spin_manifest_version
            );
        }
        for name in self.variables.keys() {
            crate::variables::validate_name(name)
                .with_context(|| format!("application variable {name:?}"))?;
        }
        for (name, v) in &self.variables {
            if v.default.is_none() && !v.required {
                bail!("variable {name:?} must have a default or be required = true");
            }
        }
        let triggers = self
            .trigger
            .http
            .iter()
            .map(|t| &t.component)
            .chain(self.trigger.redis.iter().map(|t| &t.component));
        for id in triggers {
            if !self.component.contains_key(id) {
                bail!("a trigger names component {id:?}, which is not defined");
            }
        }
        for (id, c) in &self.component {
            for name in c.variables.keys() {
                crate::variables::validate_name(name)
                    .with_context(|| format!("component {id:?} variable {name:?}"))?;
            }
            for label in c.sqlite_databases.iter() {
                // Spin: a non-default label needs runtime config, which the local host does not read.
                if label != "default" {
                    bail!(
                        "One or more components use SQLite databases which are not defined.\n\
                         - Component {id} uses database '{label}' (the local host provides only 'default')"
                    );
                }
            }
            for label in c.key_value_stores.iter() {
                if label != "default" {
                    bail!(
                        "One or more components use key-value stores which are not defined.\n\
                         - Component {id} uses store '{label}' (the local host provides only 'default')"
                    );
                }
            }
            for (name, dep) in &c.dependencies {
                match dep {
                    Dependency::Component { component, .. }
                        if !self.component.contains_key(component) =>
                    {
                        bail!(
                            "component {id:?} dependency {name:?} names unknown component {component:?}"
                        )
                    }
                    Dependency::Other(v) => bail!(
                        "component {id:?} dependency {name:?} = {v}: the local host supports only `path` and `component` dependencies"
                    ),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Resolve a manifest-relative path.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        let m: Manifest = toml::from_str(text)?;
        m.validate()?;
        Ok(m)
    }

    const BASE: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
key = { required = true, secret = true }
[[trigger.http]]
route = "/..."
component = "a"
[component.a]
source = "a.wasm"
sqlite_databases = ["default"]
[component.a.variables]
key = "{{ key }}"
"#;

    #[test]
    fn parses_lode_manifest() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../spin.toml"))
            .unwrap();
        let m = parse(&text).unwrap();
        assert!(m.component.contains_key("documents"));
        assert!(m.variables["admin_api_key"].secret);
    }

    #[test]
    fn rejects_mistakes() {
        assert!(parse(BASE).is_ok());
        assert!(
            parse(&BASE.replace("source =", "sorce =")).is_err(),
            "unknown field"
        );
        assert!(
            parse(&BASE.replace("component = \"a\"", "component = \"b\"")).is_err(),
            "unknown component"
        );
        assert!(
            parse(&BASE.replace("[\"default\"]", "[\"other\"]")).is_err(),
            "undefined database"
        );
        assert!(
            parse(&BASE.replace("required = true, ", "")).is_err(),
            "no default, not required"
        );
        assert!(
            parse(&BASE.replace("key = \"{{", "Key = \"{{")).is_err(),
            "bad variable name"
        );
    }
}
