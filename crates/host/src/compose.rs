//! `[component.x.dependencies]`: satisfy a component's imports with other
//! components' exports, composing them into one component at load time.
//!
//! Mirrors Spin's crates/compose (https://spinframework.dev/v4/writing-apps,
//! "Using Component Dependencies"), with wac-graph: each dependency key is
//! matched against the main component's import names (a whole package
//! `ns:pkg`, an interface `ns:pkg/iface`, optionally `@version`); the
//! dependency must export the same name (or the `export` it names), with a
//! compatible type. Difference: Spin denies dependencies all Spin capabilities
//! unless `dependencies_inherit_configuration = true`; here a dependency runs in
//! its parent's store and so shares the parent's capabilities (see README).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use wac_graph::types::{Package, SubtypeChecker};
use wac_graph::{CompositionGraph, EncodeOptions};

/// Whether dependency key `dep` names import `import` (Spin's `matches_import`).
pub fn matches_import(dep: &str, import: &str) -> bool {
    let (import_path, import_version) = split_version(import);
    let (dep_path, dep_version) = split_version(dep);
    let Some((dep_pkg, dep_iface)) = split_package(dep_path) else {
        return dep == import; // a plain kebab name matches only itself
    };
    let Some((import_pkg, import_iface)) = split_package(import_path) else {
        return false;
    };
    dep_pkg == import_pkg
        && dep_iface.is_none_or(|i| Some(i) == import_iface)
        && dep_version.is_none_or(|v| Some(v) == import_version)
}

fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((path, v)) => (path, Some(v)),
        None => (name, None),
    }
}

/// `ns:pkg/iface` → (`ns:pkg`, Some(`iface`)); `ns:pkg` → (`ns:pkg`, None); plain names → None.
fn split_package(path: &str) -> Option<(&str, Option<&str>)> {
    if !path.contains(':') {
        return None;
    }
    Some(match path.split_once('/') {
        Some((pkg, iface)) => (pkg, Some(iface)),
        None => (path, None),
    })
}

/// Compose `main` with `deps` (key → (component bytes, explicit export name)).
pub fn compose(main: &[u8], deps: &BTreeMap<String, (Vec<u8>, Option<String>)>) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let main_pkg = Package::from_bytes("lode:main", None, main.to_vec(), graph.types_mut())?;
    let main_world = main_pkg.ty();
    let main_inst = {
        let id = graph.register_package(main_pkg)?;
        graph.instantiate(id)
    };
    let imports: Vec<String> = graph.types()[main_world].imports.keys().cloned().collect();
    let mut satisfied: BTreeMap<String, String> = BTreeMap::new();
    let mut cache = Default::default();
    for (i, (key, (bytes, export))) in deps.iter().enumerate() {
        let matched: Vec<&String> = imports
            .iter()
            .filter(|im| matches_import(key, im))
            .collect();
        if matched.is_empty() {
            bail!("dependency '{key}' doesn't match any imports of the component");
        }
        let pkg = Package::from_bytes(
            &format!("lode:dep{i}"),
            None,
            bytes.clone(),
            graph.types_mut(),
        )
        .with_context(|| format!("dependency '{key}' is not a component"))?;
        let dep_world = pkg.ty();
        let dep_inst = {
            let id = graph.register_package(pkg)?;
            graph.instantiate(id)
        };
        for import in matched {
            if let Some(other) = satisfied.insert(import.clone(), key.clone()) {
                bail!("import '{import}' is satisfied by both '{other}' and '{key}'");
            }
            let export_name = export.clone().unwrap_or_else(|| import.clone());
            let types = graph.types();
            let import_ty = types[main_world].imports[import.as_str()];
            let Some(export_ty) = types[dep_world].exports.get(&export_name).copied() else {
                bail!(
                    "dependency '{key}' doesn't export '{export_name}' to satisfy import '{import}'"
                );
            };
            SubtypeChecker::new(&mut cache)
                .is_subtype(export_ty, types, import_ty, types)
                .with_context(|| {
                    format!(
                        "dependency '{key}' export '{export_name}' does not fit import '{import}'"
                    )
                })?;
            let node = graph.alias_instance_export(dep_inst, &export_name)?;
            graph.set_instantiation_argument(main_inst, import, node)?;
        }
    }
    let exports: Vec<String> = graph.types()[main_world].exports.keys().cloned().collect();
    for name in exports {
        let node = graph.alias_instance_export(main_inst, &name)?;
        graph.export(node, &name)?;
    }
    Ok(graph.encode(EncodeOptions::default())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_matching_follows_spin() {
        let import = "lode:test/greet@0.1.0";
        assert!(matches_import("lode:test/greet", import));
        assert!(matches_import("lode:test/greet@0.1.0", import));
        assert!(matches_import("lode:test", import));
        assert!(!matches_import("lode:test/greet@0.2.0", import));
        assert!(!matches_import("lode:other/greet", import));
        assert!(!matches_import("lode:test/other", import));
        assert!(matches_import("greeter", "greeter"));
        assert!(!matches_import("greeter", import));
    }
}
