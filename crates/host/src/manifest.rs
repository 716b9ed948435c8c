//! `spin.toml` (manifest version 2), the subset Lode uses, parsed strictly.
//!
//! Field names and shapes follow Spin's manifest reference
//! (https://spinframework.dev/v4/manifest-reference). Unknown fields are an
//! error, as in Spin, so a typo is not silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::ids::{DependencyName, KebabId, LowerSnakeId};

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
    pub variables: BTreeMap<LowerSnakeId, Variable>,
    /// Triggers by type (`http`, `redis`).
    #[serde(default)]
    pub trigger: Triggers,
    /// Components by id.
    #[serde(default)]
    pub component: BTreeMap<KebabId, Component>,
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
    /// Environments the app targets (`spin build`/`deploy` checks; ignored by `spin up`).
    #[serde(default)]
    pub targets: Vec<toml::Value>,
    /// Settings for other tools; Spin ignores it, and so does lode-host.
    #[serde(default)]
    pub tool: BTreeMap<String, toml::Table>,
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
    pub component: KebabId,
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
    pub component: KebabId,
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
    #[serde(default, deserialize_with = "crate::ids::kebab_or_snake_case")]
    pub sqlite_databases: Vec<String>,
    /// Key-value store labels the component may open.
    #[serde(default, deserialize_with = "crate::ids::kebab_or_snake_case")]
    pub key_value_stores: Vec<String>,
    /// AI models (`fermyon:spin/llm`) the component may use.
    #[serde(default)]
    pub ai_models: Vec<String>,
    /// Component variables: name → template over application variables.
    #[serde(default)]
    pub variables: BTreeMap<LowerSnakeId, String>,
    /// Environment variables for the guest.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Files the guest sees through `wasi:filesystem`, read-only.
    #[serde(default)]
    pub files: Vec<FilesMount>,
    /// `spin build` settings.
    #[serde(default)]
    pub build: Option<Build>,
    /// Environments the component targets (ignored by `spin up`).
    #[serde(default)]
    pub targets: Option<Vec<toml::Value>>,
    /// Settings for other tools; Spin ignores it, and so does lode-host.
    #[serde(default)]
    pub tool: BTreeMap<String, toml::Table>,
    /// Imports satisfied by composing other components at load time.
    #[serde(default)]
    pub dependencies: BTreeMap<DependencyName, Dependency>,
    /// Whether dependencies get this component's capabilities (else each
    /// dependency's own `inherit_configuration`, else none).
    #[serde(default)]
    pub dependencies_inherit_configuration: Option<bool>,
}

impl Component {
    /// Spin's `ensure_is_acceptable_dependency` (crates/manifest/src/normalize.rs):
    /// resources of a component used as a dependency would not apply, so they
    /// are refused.
    fn ensure_is_acceptable_dependency(&self, id: &KebabId, depender: &KebabId) -> Result<()> {
        let surprises: Vec<&str> = [
            ("ai_models", self.ai_models.is_empty()),
            (
                "allowed_outbound_hosts",
                self.allowed_outbound_hosts.is_empty(),
            ),
            ("dependencies", self.dependencies.is_empty()),
            ("environment", self.environment.is_empty()),
            ("files", self.files.is_empty()),
            ("key_value_stores", self.key_value_stores.is_empty()),
            ("sqlite_databases", self.sqlite_databases.is_empty()),
            ("variables", self.variables.is_empty()),
        ]
        .into_iter()
        .filter_map(|(name, empty)| (!empty).then_some(name))
        .collect();
        if !surprises.is_empty() {
            bail!(
                "Dependencies may not have their own resources or permissions. Component {id} cannot be used as a dependency of {depender} because it specifies: {}",
                surprises.join(", ")
            );
        }
        Ok(())
    }

    /// What dependency `dep` inherits of this component's capabilities, as
    /// Spin's loader resolves it (crates/loader/src/local.rs): everything with
    /// `dependencies_inherit_configuration = true` or `inherit_configuration =
    /// true`, the named sets for a list, else nothing.
    pub fn inherits(&self, dep: &Dependency) -> Inherit {
        if self.dependencies_inherit_configuration == Some(true) {
            return Inherit::All;
        }
        match dep.inherit() {
            Some(InheritConfiguration::All(true)) => Inherit::All,
            Some(InheritConfiguration::Some(sets)) => Inherit::Some(sets.clone()),
            _ => Inherit::None,
        }
    }
}

/// The capabilities a dependency keeps.
#[derive(Debug, Clone, PartialEq)]
pub enum Inherit {
    /// All of its parent's.
    All,
    /// None: every Spin capability is denied.
    None,
    /// These capability sets (`allowed_outbound_hosts`, `variables`…).
    Some(Vec<String>),
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

/// A value of `[component.<id>.dependencies]`: the variants of Spin's
/// `ComponentDependency` (`crates/manifest/src/schema/v2.rs`), in its order and
/// with its fields, so what Spin refuses to parse is refused here too.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Dependency {
    /// `"ns:pkg" = ">= 0.1.0"`: from a registry (lode-host cannot fetch).
    Version(String),
    /// `{ version, registry?, package?, export? }`: from a registry.
    Package {
        /// Version requirement.
        version: String,
        /// Registry host.
        registry: Option<String>,
        /// Package name, when it differs from the key's.
        package: Option<String>,
        /// Export to use.
        export: Option<String>,
        /// Capabilities the dependency inherits.
        inherit_configuration: Option<InheritConfiguration>,
    },
    /// A local `.wasm` file.
    Path {
        /// Path relative to the manifest.
        path: String,
        /// Export to use when its name differs from the import.
        export: Option<String>,
        /// Capabilities the dependency inherits.
        inherit_configuration: Option<InheritConfiguration>,
    },
    /// `{ url, digest }`: downloaded (lode-host cannot fetch).
    Http {
        /// Where the `.wasm` is.
        url: String,
        /// `sha256:…` of it.
        digest: String,
        /// Export to use.
        export: Option<String>,
        /// Capabilities the dependency inherits.
        inherit_configuration: Option<InheritConfiguration>,
    },
    /// Another component of this application (its binary only).
    Component {
        /// The component id.
        component: KebabId,
        /// Export to use when its name differs from the import.
        export: Option<String>,
        /// Capabilities the dependency inherits.
        inherit_configuration: Option<InheritConfiguration>,
    },
}

/// `inherit_configuration = true | false | ["key", …]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum InheritConfiguration {
    /// All or nothing.
    All(bool),
    /// Only these capability keys.
    Some(Vec<String>),
}

impl Dependency {
    /// `inherit_configuration`, when given.
    fn inherit(&self) -> Option<&InheritConfiguration> {
        match self {
            Dependency::Version(_) => None,
            Dependency::Package {
                inherit_configuration,
                ..
            }
            | Dependency::Path {
                inherit_configuration,
                ..
            }
            | Dependency::Http {
                inherit_configuration,
                ..
            }
            | Dependency::Component {
                inherit_configuration,
                ..
            } => inherit_configuration.as_ref(),
        }
    }

    fn export(&self) -> Option<&String> {
        match self {
            Dependency::Version(_) => None,
            Dependency::Package { export, .. }
            | Dependency::Path { export, .. }
            | Dependency::Http { export, .. }
            | Dependency::Component { export, .. } => export.as_ref(),
        }
    }
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
        for (name, v) in &self.variables {
            // Spin's `locked_variable` (crates/loader/src/local.rs).
            if !(v.required ^ v.default.is_some()) {
                bail!("variable {name:?}: must be `required` OR have a `default`");
            }
        }
        let triggers = self
            .trigger
            .http
            .iter()
            .map(|t| &t.component)
            .chain(self.trigger.redis.iter().map(|t| &t.component));
        for id in triggers {
            if !self.component.contains_key(id.as_ref()) {
                bail!("no such component {:?}", id.as_ref());
            }
        }
        for (id, c) in &self.component {
            // Spin: a label other than `default` needs a runtime-config file,
            // which lode-host does not read (factor-sqlite, factor-key-value).
            if let Some(label) = c.sqlite_databases.iter().find(|l| *l != "default") {
                bail!(
                    "One or more components use SQLite databases which are not defined.\n\
                     Check the spelling, or pass a runtime configuration file that defines these labels \
                     (lode-host reads none: it has only 'default').\n\
                     Details:\n- Component {id} uses database '{label}'"
                );
            }
            if let Some(label) = c.key_value_stores.iter().find(|l| *l != "default") {
                bail!(
                    "unknown key_value_stores label {label:?} for component {:?}",
                    id.as_ref()
                );
            }
            // Spin's normalize.rs: the component-level switch and per-dependency
            // settings exclude each other; a component used as a dependency may
            // not carry resources of its own (they would not apply).
            if c.dependencies_inherit_configuration.is_some()
                && c.dependencies.values().any(|d| d.inherit().is_some())
            {
                bail!(
                    "Component `{id}` specifies both `dependencies_inherit_configuration` \
                     and per-dependency `inherit_configuration`. These are mutually exclusive; \
                     use one or the other."
                );
            }
            for dep in c.dependencies.values() {
                if let Dependency::Component { component, .. } = dep {
                    let Some(target) = self.component.get(component.as_ref()) else {
                        bail!("dependency ID {component} does not exist");
                    };
                    target.ensure_is_acceptable_dependency(component, id)?;
                }
            }
            validate_dependencies(&c.dependencies)
                .with_context(|| format!("component {id:?} has invalid dependencies"))?;
            for (name, dep) in &c.dependencies {
                match dep {
                    Dependency::Version(_)
                    | Dependency::Package { .. }
                    | Dependency::Http { .. } => {
                        bail!(
                            "component {id:?} dependency \"{name}\": registry and URL dependencies are not supported by lode-host (it fetches nothing); use `path` or `component`"
                        )
                    }
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

/// One `files` entry, as Spin's `WasiFilesMount`
/// (`crates/manifest/src/schema/common.rs`): a glob pattern copied at its own
/// path, or `{ source, destination }` placing a host directory in the guest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, untagged)]
pub enum FilesMount {
    /// `"images/*.png"`: not mounted by lode-host (see [`FilesMount::directory`]).
    Pattern(String),
    /// `{ source = "assets", destination = "/" }`.
    Placement {
        /// Host path, relative to the manifest's directory.
        source: String,
        /// Where it appears in the guest.
        destination: String,
    },
}

impl FilesMount {
    /// The host directory and guest path to preopen. lode-host mounts
    /// directories in place, as `spin up --direct-mounts` does
    /// (`resolve_direct_mount` in Spin's `crates/loader/src/local.rs`, with
    /// its message for anything else); the files are the same ones Spin's
    /// default copy would show, read-only as Spin mounts them.
    pub fn directory(&self, manifest: &Manifest) -> Result<(PathBuf, String)> {
        let (source, destination) = match self {
            FilesMount::Pattern(p) => (p, p),
            FilesMount::Placement {
                source,
                destination,
            } => (source, destination),
        };
        let path = manifest.path(source);
        if !path.is_dir() {
            bail!(
                "Only directory mounts are supported with `--direct-mounts`; {source:?} is not a directory."
            );
        }
        Ok((path, format!("/{}", destination.trim_start_matches('/'))))
    }
}

/// Spin's `ComponentDependencies::validate` (`crates/manifest/src/schema/v2.rs`,
/// run by `crates/loader/src/local.rs` when the manifest loads): plain names
/// need a package, package names take no export, and two keys of one package
/// must differ in interface or in (compatible) version.
fn validate_dependencies(deps: &BTreeMap<DependencyName, Dependency>) -> Result<()> {
    for (name, dep) in deps {
        if let DependencyName::Plain(plain) = name
            && matches!(
                dep,
                Dependency::Version(_) | Dependency::Package { package: None, .. }
            )
        {
            bail!(
                "dependency {:?} must specify a package name",
                plain.as_ref()
            );
        }
        if let DependencyName::Package(p) = name
            && p.interface.is_none()
            // Spin turns `{ component }` into a local dependency before this check.
            && matches!(
                dep,
                Dependency::Package { .. } | Dependency::Path { .. } | Dependency::Component { .. }
            )
            && dep.export().is_some()
        {
            bail!(
                "using an export to satisfy the package dependency {name:?} is not currently permitted"
            );
        }
    }
    let names: Vec<&DependencyName> = deps.keys().collect();
    for (i, this) in names.iter().enumerate() {
        for other in &names[i + 1..] {
            let (DependencyName::Package(a), DependencyName::Package(b)) = (this, other) else {
                continue;
            };
            if a.package != b.package {
                continue;
            }
            if let (Some(va), Some(vb)) = (&a.version, &b.version)
                && compatible(va) != compatible(vb)
            {
                continue;
            }
            if let (Some(ia), Some(ib)) = (&a.interface, &b.interface)
                && ia != ib
            {
                continue;
            }
            bail!("{a:?} dependency conflicts with {b:?}");
        }
    }
    Ok(())
}

/// Spin's `normalize_compatible_version`: the part of a version that semver
/// compatibility keeps.
fn compatible(v: &semver::Version) -> semver::Version {
    let mut v = v.clone();
    v.build = semver::BuildMetadata::EMPTY;
    if v.pre != semver::Prerelease::EMPTY {
        return v;
    }
    if v.major > 0 {
        v.minor = 0;
        v.patch = 0;
    } else if v.minor > 0 {
        v.patch = 0;
    }
    v
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

    /// [`BASE`] with `files = <files>` on its component.
    fn with_files(files: &str) -> String {
        let at = "sqlite_databases = [\"default\"]\n";
        BASE.replace(at, &format!("{at}files = {files}\n"))
    }

    #[test]
    fn files_mount_directories_and_refuse_the_rest_as_direct_mounts_do() {
        let dir = std::env::temp_dir().join(format!("lode-host-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("site")).unwrap();
        std::fs::write(dir.join("one.txt"), "x").unwrap();
        let manifest = |files: &str| {
            let mut m = parse(&with_files(files)).unwrap();
            m.dir = dir.clone();
            m
        };
        let m = manifest(
            r#"[{ source = "site", destination = "/" }, { source = "site", destination = "static" }]"#,
        );
        let mounts: Vec<_> = m.component["a"]
            .files
            .iter()
            .map(|f| f.directory(&m).unwrap())
            .collect();
        assert_eq!(
            mounts,
            [
                (dir.join("site"), "/".to_string()),
                (dir.join("site"), "/static".to_string())
            ]
        );
        let m = manifest(r#"["site"]"#);
        assert_eq!(
            m.component["a"].files[0].directory(&m).unwrap(),
            (dir.join("site"), "/site".to_string())
        );
        for (files, refusal) in [
            (r#"["*.txt"]"#, "\"*.txt\" is not a directory"),
            (
                r#"[{ source = "one.txt", destination = "/one.txt" }]"#,
                "\"one.txt\" is not a directory",
            ),
            (
                r#"[{ source = "gone", destination = "/" }]"#,
                "\"gone\" is not a directory",
            ),
        ] {
            let m = manifest(files);
            let e = m.component["a"].files[0].directory(&m).unwrap_err();
            assert!(e.to_string().contains(refusal), "{files}: {e}");
        }
        // Spin's schema: a placement has exactly these two fields.
        assert!(parse(&with_files(r#"[{ source = "site" }]"#)).is_err());
    }

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
            format!(
                "{:#}",
                parse(&BASE.replace("required = true, ", "required = true, default = \"x\", "))
                    .unwrap_err()
            )
            .contains("must be `required` OR have a `default`"),
            "both required and a default"
        );
        assert!(
            parse(&BASE.replace("key = \"{{", "Key = \"{{")).is_err(),
            "bad variable name"
        );
    }

    fn refusal(text: &str) -> String {
        format!("{:#}", parse(text).expect_err("Spin refuses this manifest"))
    }

    /// What real Spin 4.1 refused in Lode's own manifest (issue 15), refused
    /// here with Spin's words.
    #[test]
    fn refuses_what_spin_refuses() {
        let text = BASE.replace("[variables]", "[variables]\nllm_key_1 = { default = \"\" }");
        assert!(
            refusal(&text).contains("'_'-separated words must start with an ASCII letter; got '1'"),
            "{}",
            refusal(&text)
        );
        let text = BASE.replace("key = \"{{ key }}\"", "key_2 = \"{{ key }}\"");
        assert!(refusal(&text).contains("got '2'"), "component variable");
        // Component ids are kebab-case, references too.
        let text = BASE.replace("[component.a", "[component.a_b");
        assert!(
            refusal(&text).contains("words must be separated with '-', not '_'"),
            "{}",
            refusal(&text)
        );
        let text = BASE.replace("component = \"a\"", "component = \"Ab-c\"");
        assert!(refusal(&text).contains("all lowercase or all UPPERCASE"));
        // Labels: kebab-case or snake_case.
        let text = BASE.replace("[\"default\"]", "[\"my store\"]");
        assert!(refusal(&text).contains("expected kebab-case or snake_case"));
        // Spin has no `key-value-stores` spelling.
        let text = BASE.replace("sqlite_databases", "key-value-stores");
        assert!(refusal(&text).contains("unknown field `key-value-stores`"));
    }

    fn with_deps(deps: &str) -> String {
        format!(
            "{BASE}[component.a.dependencies]\n{deps}\n[component.b]\nsource = \"b.wasm\"\n[component.c]\nsource = \"c.wasm\"\n"
        )
    }

    /// Spin's `ComponentDependencies::validate`, with its messages.
    #[test]
    fn dependency_keys_are_checked_as_spin_checks_them() {
        assert!(parse(&with_deps("\"lode:extract/extract\" = { component = \"b\" }\n\"lode:chunk/chunk\" = { component = \"c\" }")).is_ok());
        let conflict =
            with_deps("\"lode:x\" = { component = \"b\" }\n\"lode:x/y\" = { component = \"c\" }");
        assert!(
            refusal(&conflict).contains("dependency conflicts with"),
            "{}",
            refusal(&conflict)
        );
        let export = with_deps("\"lode:x\" = { path = \"b.wasm\", export = \"e\" }");
        assert!(refusal(&export).contains("is not currently permitted"));
        let plain = with_deps("\"plain-name\" = \"1.0.0\"");
        assert!(refusal(&plain).contains("must specify a package name"));
        let bad_key = with_deps("\"lode:x@one\" = { component = \"b\" }");
        assert!(parse(&bad_key).is_err());
        let typo = with_deps("\"lode:x/y\" = { component = \"b\", exprot = \"e\" }");
        assert!(parse(&typo).is_err(), "unknown dependency field");
        let unknown = with_deps("\"lode:x/y\" = { component = \"zz\" }");
        assert!(refusal(&unknown).contains("dependency ID zz does not exist"));
        // A dependency may not carry resources of its own (Spin's normalize.rs).
        let with_kv = with_deps("\"lode:x/y\" = { component = \"b\" }").replace(
            "source = \"b.wasm\"",
            "source = \"b.wasm\"\nkey_value_stores = [\"default\"]",
        );
        assert!(
            refusal(&with_kv).contains("Component b cannot be used as a dependency of a because it specifies: key_value_stores"),
            "{}",
            refusal(&with_kv)
        );
        // Both inherit switches at once.
        let both = with_deps("\"lode:x/y\" = { component = \"b\", inherit_configuration = true }")
            .replace(
                "sqlite_databases = [\"default\"]",
                "sqlite_databases = [\"default\"]\ndependencies_inherit_configuration = true",
            );
        assert!(
            refusal(&both).contains("mutually exclusive"),
            "{}",
            refusal(&both)
        );
        // `{ component, export }` under a bare package key.
        let export = with_deps("\"lode:x\" = { component = \"b\", export = \"e\" }");
        assert!(refusal(&export).contains("is not currently permitted"));
        // Spin fetches registry packages; lode-host cannot, and says so.
        let registry = with_deps("\"lode:x/y\" = { version = \"1.0.0\" }");
        assert!(refusal(&registry).contains("not supported by lode-host"));
    }

    #[test]
    fn parses_the_test_manifest() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/spin.toml"
        ))
        .unwrap();
        parse(&text).unwrap();
    }
}
