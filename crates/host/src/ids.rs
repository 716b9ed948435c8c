//! The identifiers of `spin.toml`, checked as Spin checks them.
//!
//! A port of spinframework/spin `crates/serde/src/id.rs` (the `Id` type and
//! its `KebabId`, `SnakeId`, `LowerSnakeId` aliases in `crates/serde/src/lib.rs`)
//! and `crates/serde/src/dependencies.rs` (`DependencyName`), with the same
//! rules and the same messages, so a manifest Spin refuses is refused here
//! with the same words. Spin uses them in `crates/manifest/src/schema/v2.rs`:
//! application and component variable names are `LowerSnakeId`, component ids
//! and `component = "…"` references `KebabId`, store and database labels
//! kebab-case or snake_case, dependency keys `DependencyName`.

use std::borrow::Borrow;
use std::fmt;

use serde::Deserialize;

/// A non-empty string of component-model words separated by `DELIM`; with
/// `LOWER`, every word lower case.
#[derive(Clone, PartialEq, Eq, Hash, Ord, PartialOrd, Deserialize)]
#[serde(try_from = "String")]
pub struct Id<const DELIM: char, const LOWER: bool>(String);

/// Component ids: `kebab-case`.
pub type KebabId = Id<'-', false>;
/// `snake_case`.
pub type SnakeId = Id<'_', false>;
/// Variable names: lower-case `snake_case`.
pub type LowerSnakeId = Id<'_', true>;

impl<const DELIM: char, const LOWER: bool> TryFrom<String> for Id<DELIM, LOWER> {
    type Error = String;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        if id.is_empty() {
            return Err("empty".into());
        }
        let wrong = match DELIM {
            '_' => Some('-'),
            '-' => Some('_'),
            _ => None,
        };
        if let Some(wrong) = wrong
            && id.contains(wrong)
        {
            return Err(format!(
                "words must be separated with {DELIM:?}, not {wrong:?}"
            ));
        }
        for word in id.split(DELIM) {
            let mut chars = word.chars();
            let Some(first) = chars.next() else {
                return Err(format!("{DELIM:?}-separated words must not be empty"));
            };
            if !first.is_ascii_alphabetic() {
                return Err(format!(
                    "{DELIM:?}-separated words must start with an ASCII letter; got {first:?}"
                ));
            }
            let upper = first.is_ascii_uppercase();
            for ch in chars {
                if ch.is_ascii_digit() {
                } else if !ch.is_ascii_alphanumeric() {
                    return Err(format!(
                        "{DELIM:?}-separated words may only contain alphanumeric ASCII; got {ch:?}"
                    ));
                } else if ch.is_ascii_uppercase() != upper {
                    return Err(format!(
                        "{DELIM:?}-separated words must be all lowercase or all UPPERCASE; got {word:?}"
                    ));
                }
            }
            if LOWER && upper {
                return Err(format!(
                    "Lower-case identifiers must be all lowercase; got {id:?}"
                ));
            }
        }
        Ok(Self(id))
    }
}

/// As the string: `"tool-worker"`.
impl<const DELIM: char, const LOWER: bool> fmt::Debug for Id<DELIM, LOWER> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const DELIM: char, const LOWER: bool> fmt::Display for Id<DELIM, LOWER> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const DELIM: char, const LOWER: bool> AsRef<str> for Id<DELIM, LOWER> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const DELIM: char, const LOWER: bool> Borrow<str> for Id<DELIM, LOWER> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<const DELIM: char, const LOWER: bool> std::ops::Deref for Id<DELIM, LOWER> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// `key_value_stores` and `sqlite_databases`: each label kebab-case or
/// snake_case (Spin's `kebab_or_snake_case` in `schema/v2.rs`).
pub fn kebab_or_snake_case<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let list = Vec::<String>::deserialize(deserializer)?;
    let ok =
        |s: &String| KebabId::try_from(s.clone()).is_ok() || SnakeId::try_from(s.clone()).is_ok();
    if list.iter().all(ok) {
        Ok(list)
    } else {
        Err(serde::de::Error::custom(
            "expected kebab-case or snake_case",
        ))
    }
}

/// A key of `[component.x.dependencies]`: a plain kebab name (`foo-bar`) or
/// a package name with an optional interface and version
/// (`foo:bar`, `foo:bar/baz`, `foo:bar@0.1.0`, `foo:bar/baz@0.1.0`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Ord, PartialOrd, Deserialize)]
#[serde(try_from = "String")]
pub enum DependencyName {
    /// `foo-bar`.
    Plain(KebabId),
    /// `ns:pkg[/iface][@version]`.
    Package(DependencyPackageName),
}

/// The package form of a dependency key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Ord, PartialOrd)]
pub struct DependencyPackageName {
    /// `ns:pkg`.
    pub package: String,
    /// A semver version.
    pub version: Option<semver::Version>,
    /// The interface, a kebab id.
    pub interface: Option<KebabId>,
}

impl TryFrom<String> for DependencyName {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if !s.contains([':', '/']) {
            return KebabId::try_from(s).map(DependencyName::Plain);
        }
        let (name, version) = match s.split_once('@') {
            Some((name, v)) => (
                name,
                Some(semver::Version::parse(v).map_err(|e| e.to_string())?),
            ),
            None => (s.as_str(), None),
        };
        let (package, interface) = match name.split_once('/') {
            Some((p, i)) => (p, Some(KebabId::try_from(i.to_string())?)),
            None => (name, None),
        };
        Ok(DependencyName::Package(DependencyPackageName {
            package: package_ref(package)?,
            version,
            interface,
        }))
    }
}

/// A package reference `namespace:name`, each a kebab-case label of
/// lower-case words starting with a letter (the rule of `PackageRef` in
/// wasm-pkg-common, which Spin parses dependency keys with).
fn package_ref(s: &str) -> Result<String, String> {
    let Some((ns, name)) = s.split_once(':') else {
        return Err(format!("invalid package ref {s:?}: missing ':'"));
    };
    for label in [ns, name] {
        let valid = !label.is_empty()
            && label.split('-').all(|w| {
                w.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !valid {
            return Err(format!(
                "invalid package ref {s:?}: {label:?} is not a kebab-case label"
            ));
        }
    }
    Ok(s.to_string())
}

impl DependencyName {
    /// The name Spin registers the dependency under in the composition graph
    /// (`register_dependency` in spin `crates/compose/src/lib.rs`): the
    /// package for a package name, else the plain name.
    pub fn registration_name(&self) -> String {
        match self {
            DependencyName::Plain(p) => p.to_string(),
            DependencyName::Package(p) => p.package.clone(),
        }
    }
}

impl fmt::Display for DependencyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DependencyName::Plain(p) => write!(f, "{p}"),
            DependencyName::Package(p) => {
                write!(f, "{}", p.package)?;
                if let Some(i) = &p.interface {
                    write!(f, "/{i}")?;
                }
                if let Some(v) = &p.version {
                    write!(f, "@{v}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snake(s: &str) -> Result<LowerSnakeId, String> {
        LowerSnakeId::try_from(s.to_string())
    }

    #[test]
    fn variable_names_follow_spin() {
        for ok in ["a", "llm_key_a", "admin_api_key", "a1_b2"] {
            assert!(snake(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            snake("llm_key_1").unwrap_err(),
            "'_'-separated words must start with an ASCII letter; got '1'"
        );
        assert_eq!(
            snake("llm-key").unwrap_err(),
            "words must be separated with '_', not '-'"
        );
        assert_eq!(
            snake("Key").unwrap_err(),
            "'_'-separated words must be all lowercase or all UPPERCASE; got \"Key\""
        );
        assert_eq!(
            snake("KEY").unwrap_err(),
            "Lower-case identifiers must be all lowercase; got \"KEY\""
        );
        for bad in ["", "_x", "x_", "a__b", "x.y"] {
            assert!(snake(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn component_ids_and_dependency_names_follow_spin() {
        assert!(KebabId::try_from("tool-worker".to_string()).is_ok());
        assert!(KebabId::try_from("LOUD-id".to_string()).is_ok());
        assert!(KebabId::try_from("tool_worker".to_string()).is_err());
        assert!(KebabId::try_from("step-2".to_string()).is_err());
        let dep = |s: &str| DependencyName::try_from(s.to_string());
        assert_eq!(
            dep("lode:embed/embed@0.1.0").unwrap().registration_name(),
            "lode:embed"
        );
        assert_eq!(dep("greeter").unwrap().registration_name(), "greeter");
        assert_eq!(dep("lode:embed").unwrap().to_string(), "lode:embed");
        for bad in [
            "lode:embed@x",
            "Lode:embed",
            "lode:embed/Em_bed",
            "lode/embed",
            "a_b",
        ] {
            assert!(dep(bad).is_err(), "{bad}");
        }
    }
}
