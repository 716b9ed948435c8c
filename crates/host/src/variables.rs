//! Spin variables: application variables resolved from `SPIN_VARIABLE_<NAME>`
//! environment variables or their defaults, and component variables that are
//! templates over them.
//!
//! Follows https://spinframework.dev/v4/variables and Spin's env provider
//! (crates/variables/src/env.rs: key = `SPIN_VARIABLE_` + uppercased name).
//! Values of secret variables are never logged: [`Resolved`] has no Debug
//! that prints values.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use crate::manifest::Manifest;

/// Spin's variable-name rule: lowercase letters, digits and single underscores,
/// starting with a letter and ending with a letter or digit.
pub fn validate_name(name: &str) -> Result<()> {
    let Some(first) = name.chars().next() else {
        bail!("variable names must not be empty")
    };
    if !first.is_ascii_lowercase() {
        bail!("must start with a lowercase ASCII letter");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        bail!(
            "invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        );
    }
    if name.ends_with('_') {
        bail!("must end with a lowercase ASCII letter or digit");
    }
    if name.contains("__") {
        bail!("must not contain multiple consecutive underscores");
    }
    Ok(())
}

/// Expand `{{ name }}` expressions in `template` with `lookup`.
pub fn expand(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("invalid variable template: unmatched '{{{{' in template {template:?}")
        };
        let name = after[..end].trim();
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => bail!("invalid variable template: unknown variable {name:?}"),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// All component variables, resolved once at start-up.
pub struct Resolved {
    /// component id → variable name → value.
    by_component: BTreeMap<String, BTreeMap<String, String>>,
    /// Application variables, for templates elsewhere in the manifest (Redis addresses, hosts).
    app: BTreeMap<String, String>,
}

impl Resolved {
    /// Resolve every variable of `manifest`, reading overrides with `env`.
    ///
    /// Fails at start-up, like Spin, when a required variable has no value.
    pub fn resolve(manifest: &Manifest, env: &dyn Fn(&str) -> Option<String>) -> Result<Resolved> {
        let mut app = BTreeMap::new();
        for (name, var) in &manifest.variables {
            let key = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            match env(&key).or_else(|| var.default.clone()) {
                Some(v) => {
                    app.insert(name.to_string(), v);
                }
                None if var.required => {
                    bail!("no provider resolved required variable(s): [{name:?}] (set {key})")
                }
                None => {}
            }
        }
        let lookup = |n: &str| app.get(n).cloned();
        let mut by_component = BTreeMap::new();
        for (id, c) in &manifest.component {
            let mut vars = BTreeMap::new();
            for (name, template) in &c.variables {
                let value = expand(template, &lookup)
                    .map_err(|e| anyhow::anyhow!("component {id:?} variable {name:?}: {e}"))?;
                vars.insert(name.to_string(), value);
            }
            by_component.insert(id.to_string(), vars);
        }
        Ok(Resolved { by_component, app })
    }

    /// Expand a manifest template (Redis address, channel, outbound host) with application variables.
    pub fn expand_app(&self, template: &str) -> Result<String> {
        expand(template, &|n| self.app.get(n).cloned())
    }

    /// The variables one component may read.
    pub fn component(&self, id: &str) -> BTreeMap<String, String> {
        self.by_component.get(id).cloned().unwrap_or_default()
    }
}

/// What `spin:variables/variables.get` answers, mirroring Spin's factor-variables:
/// invalid names are `invalid-name`, names the component did not declare `undefined`.
pub enum Lookup {
    /// The value.
    Found(String),
    /// The name breaks the naming rule.
    InvalidName(String),
    /// The component has no such variable.
    Undefined(String),
}

/// Look `name` up in one component's variables.
pub fn lookup(component_id: &str, vars: &BTreeMap<String, String>, name: &str) -> Lookup {
    if let Err(e) = validate_name(name) {
        return Lookup::InvalidName(e.to_string());
    }
    match vars.get(name) {
        Some(v) => Lookup::Found(v.clone()),
        None => Lookup::Undefined(format!("no variable for {component_id:?}.{name:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "a_1", "admin_api_key"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "aX", "1bc", "_x", "x.y", "x_", "a__b", "x-y"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates() {
        let vars = |n: &str| (n == "host").then(|| "example.com".to_string());
        assert_eq!(
            expand("https://{{ host }}/v1", &vars).unwrap(),
            "https://example.com/v1"
        );
        assert_eq!(expand("plain", &vars).unwrap(), "plain");
        assert!(expand("{{ nope }}", &vars).is_err());
        assert!(expand("{{ host", &vars).is_err());
    }

    #[test]
    fn env_overrides_default_and_required_fails() {
        let text = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
limit = { default = "10" }
key = { required = true, secret = true }
[component.a]
source = "a.wasm"
[component.a.variables]
limit = "{{ limit }}"
key = "k={{ key }}"
"#;
        let m: Manifest = toml::from_str(text).unwrap();
        let env = |k: &str| (k == "SPIN_VARIABLE_KEY").then(|| "s3cret".to_string());
        let r = Resolved::resolve(&m, &env).unwrap();
        let a = r.component("a");
        assert_eq!((a["limit"].as_str(), a["key"].as_str()), ("10", "k=s3cret"));
        assert!(matches!(lookup("a", &a, "limit"), Lookup::Found(v) if v == "10"));
        assert!(matches!(lookup("a", &a, "other"), Lookup::Undefined(_)));
        assert!(matches!(lookup("a", &a, "Bad"), Lookup::InvalidName(_)));
        assert!(
            Resolved::resolve(&m, &|_| None).is_err(),
            "required variable missing"
        );
    }
}
