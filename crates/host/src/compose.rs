//! `[component.x.dependencies]`: satisfy a component's imports with other
//! components' exports, composing them into one component at load time.
//!
//! A port of Spin's `Composer` (spinframework/spin `crates/compose/src/lib.rs`;
//! docs: https://spinframework.dev/v3/writing-apps#using-component-dependencies)
//! on wac-graph, step for step, so that the manifests Spin cannot compose fail
//! here too, with the same messages:
//! - the main component is registered in the graph under its component id,
//!   and each dependency under the **package** of its key (`ns:pkg`, or the
//!   plain name): two dependencies from one package fail with wac-graph's
//!   "package `ns:pkg` has already been registered in the graph";
//! - each key is matched against the main component's import names
//!   (`matches_import`); a key matching nothing is an error, and so is an
//!   import matched by two keys ("dependency conflicts");
//! - the dependency must export the import's name (or its `export`), with a
//!   type that is a subtype of the import's.
//!
//! - a dependency that does not inherit its parent's configuration is first
//!   composed with Spin's own deny-all adapter (`deny-adapter/`; Spin's
//!   `crates/capabilities/src/deny.rs`), so its capability imports are
//!   answered "not permitted" instead of reaching the host.

use anyhow::{Context, Result, bail};
use wac_graph::types::{Package, SubtypeChecker, WorldId, are_semver_compatible};
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

use crate::ids::DependencyName;
use crate::manifest::Inherit;

/// One dependency: its key, its component bytes, and the export it names.
pub struct Dep {
    /// The key in `[component.x.dependencies]`.
    pub name: DependencyName,
    /// The dependency's component.
    pub bytes: Vec<u8>,
    /// `export = "…"`, when the export's name differs from the import's.
    pub export: Option<String>,
    /// The parent's capabilities it keeps.
    pub inherit: Inherit,
}

/// Whether dependency key `dep` names import `import` (Spin's `matches_import`).
pub fn matches_import(dep: &DependencyName, import: &str) -> Result<bool> {
    if !import.contains([':', '/']) {
        return Ok(matches!(dep, DependencyName::Plain(p) if p.as_ref() == import));
    }
    let (package, rest) = import
        .split_once('/')
        .with_context(|| format!("invalid import name: {import}"))?;
    let (interface, version) = match rest.split_once('@') {
        Some((i, v)) => (
            i,
            Some(
                semver::Version::parse(v)
                    .with_context(|| format!("invalid version in import name: {import}"))?,
            ),
        ),
        None => (rest, None),
    };
    let DependencyName::Package(dep) = dep else {
        return Ok(false);
    };
    Ok(dep.package == package
        && dep
            .interface
            .as_ref()
            .is_none_or(|i| i.as_ref() == interface)
        && dep
            .version
            .as_ref()
            .is_none_or(|v| Some(v) == version.as_ref()))
}

struct Registered {
    name: DependencyName,
    world: WorldId,
    instance: NodeId,
    export: Option<String>,
}

/// Compose component `id` (`main`) with `deps`.
pub fn compose(id: &str, main: &[u8], deps: Vec<Dep>) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let (main_world, main_inst) = register(&mut graph, id, main.to_vec())?;
    let imports: Vec<String> = graph.types()[main_world].imports.keys().cloned().collect();

    // prepare_dependencies: match, register by package, find conflicts.
    let mut mappings: Vec<(String, Vec<usize>)> = Vec::new();
    let mut registered = Vec::new();
    for dep in deps {
        let mut matched = Vec::new();
        for import in &imports {
            if matches_import(&dep.name, import)? {
                matched.push(import.clone());
            }
        }
        if matched.is_empty() {
            bail!(
                "dependency '{}' doesn't match any imports of component '{id}'",
                dep.name
            );
        }
        let bytes = apply_deny_adapter(&dep.bytes, &dep.inherit)
            .context("an error occurred when preparing dependencies")?;
        let (world, instance) = register(&mut graph, &dep.name.registration_name(), bytes)
            .context("an error occurred when preparing dependencies")?;
        registered.push(Registered {
            name: dep.name,
            world,
            instance,
            export: dep.export,
        });
        for import in matched {
            match mappings.iter_mut().find(|(i, _)| *i == import) {
                Some((_, infos)) => infos.push(registered.len() - 1),
                None => mappings.push((import, vec![registered.len() - 1])),
            }
        }
    }
    mappings.sort();
    let conflicts: Vec<String> = mappings
        .iter()
        .filter(|(_, infos)| infos.len() > 1)
        .map(|(import, infos)| {
            let names: Vec<String> = infos
                .iter()
                .map(|&i| registered[i].name.to_string())
                .collect();
            format!(
                "import '{import}' satisfied by dependencies: '{}'",
                names.join(", ")
            )
        })
        .collect();
    if !conflicts.is_empty() {
        bail!(
            "component '{id}' has dependency conflicts: {}",
            conflicts.join("; ")
        );
    }

    // build_instantiation_arguments: each export must fit its import.
    let mut cache = Default::default();
    for (import, infos) in mappings {
        let dep = &registered[infos[0]];
        let export = dep.export.clone().unwrap_or_else(|| import.clone());
        let types = graph.types();
        let Some(&export_ty) = types[dep.world].exports.get(&export) else {
            bail!(
                "dependency '{}' doesn't export '{export}' to satisfy import '{import}'",
                dep.name
            );
        };
        let import_ty = types[main_world].imports[import.as_str()];
        SubtypeChecker::new(&mut cache)
            .is_subtype(export_ty, types, import_ty, types)
            .with_context(|| {
                format!(
                    "dependency '{}' exports '{export}' which is not compatible with import '{import}'",
                    dep.name
                )
            })?;
        let node = graph.alias_instance_export(dep.instance, &export)?;
        graph.set_instantiation_argument(main_inst, &import, node)?;
    }

    let exports: Vec<String> = graph.types()[main_world].exports.keys().cloned().collect();
    for name in exports {
        let node = graph.alias_instance_export(main_inst, &name)?;
        graph.export(node, &name)?;
    }
    graph
        .encode(EncodeOptions::default())
        .context("failed to encode composition graph")
}

/// Spin's deny-all adapter, unchanged (see `deny-adapter/README.md`).
pub const DENY_ADAPTER: &[u8] = include_bytes!("../deny-adapter/deny_adapter.wasm");

/// The interfaces of each capability set, as in Spin's
/// `crates/capabilities/src/lib.rs` (`CAPABILITY_SETS`).
const CAPABILITY_SETS: &[(&str, &[&str])] = &[
    ("ai_models", &["fermyon:spin/llm", "fermyon:spin/llm@2.0.0"]),
    (
        "allowed_outbound_hosts",
        &[
            "fermyon:spin/http",
            "fermyon:spin/mysql",
            "fermyon:spin/postgres",
            "fermyon:spin/redis",
            "fermyon:spin/mqtt@2.0.0",
            "fermyon:spin/mysql@2.0.0",
            "fermyon:spin/postgres@2.0.0",
            "fermyon:spin/redis@2.0.0",
            "spin:mqtt/mqtt@3.0.0",
            "spin:mysql/mysql@3.0.0",
            "spin:postgres/postgres@3.0.0",
            "spin:postgres/postgres@4.2.0",
            "spin:redis/redis@3.0.0",
            "wasi:http/client@0.3.0",
            "wasi:http/client@0.3.0-rc-2026-03-15",
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:sockets/ip-name-lookup@0.2.6",
            "wasi:sockets/ip-name-lookup@0.3.0",
            "wasi:sockets/ip-name-lookup@0.3.0-rc-2026-03-15",
            "wasi:sockets/tcp-create-socket@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:sockets/udp-create-socket@0.2.6",
            "wasi:sockets/udp@0.2.6",
        ],
    ),
    (
        "environment",
        &[
            "wasi:cli/environment@0.2.6",
            "wasi:cli/environment@0.3.0",
            "wasi:cli/environment@0.3.0-rc-2026-03-15",
        ],
    ),
    (
        "files",
        &[
            "wasi:filesystem/preopens@0.2.6",
            "wasi:filesystem/preopens@0.3.0",
            "wasi:filesystem/preopens@0.3.0-rc-2026-03-15",
        ],
    ),
    (
        "key_value_stores",
        &[
            "fermyon:spin/key-value",
            "fermyon:spin/key-value@2.0.0",
            "spin:key-value/key-value@3.0.0",
            "wasi:keyvalue/store@0.2.0-draft2",
        ],
    ),
    (
        "sqlite_databases",
        &[
            "fermyon:spin/sqlite",
            "fermyon:spin/sqlite@2.0.0",
            "spin:sqlite/sqlite@3.1.0",
        ],
    ),
    (
        "variables",
        &[
            "fermyon:spin/config",
            "fermyon:spin/variables@2.0.0",
            "spin:variables/variables@3.0.0",
            "wasi:config/store@0.2.0-draft-2024-09-27",
        ],
    ),
];

/// Spin's `apply_deny_adapter`: plug the deny adapter's exports into the
/// dependency's matching imports (same name, or a semver-compatible one, of
/// a fitting type), except the interfaces of the sets it inherits. Unchanged
/// when nothing needs plugging, as with `Inherit::All` (every export of the
/// adapter belongs to a set; a test checks it), which is returned at once
/// rather than parsing the dependency (the embed step is 300 MB).
pub fn apply_deny_adapter(source: &[u8], inherit: &Inherit) -> Result<Vec<u8>> {
    if *inherit == Inherit::All {
        return Ok(source.to_vec());
    }
    let allow: Vec<&str> = CAPABILITY_SETS
        .iter()
        .filter(|(set, _)| match inherit {
            Inherit::All => true,
            Inherit::None => false,
            Inherit::Some(sets) => sets.iter().any(|s| s == set),
        })
        .flat_map(|(_, names)| names.iter().copied())
        .collect();
    let mut graph = CompositionGraph::new();
    let package = Package::from_bytes("dependency", None, source.to_vec(), graph.types_mut())?;
    let dependency = graph.register_package(package)?;
    let package = Package::from_bytes(
        "spin-deny-all-adapter",
        None,
        DENY_ADAPTER,
        graph.types_mut(),
    )?;
    let adapter = graph.register_package(package)?;
    let socket = graph.instantiate(dependency);
    let mut plugs: Vec<(String, String)> = Vec::new();
    let mut cache = Default::default();
    let mut checker = SubtypeChecker::new(&mut cache);
    let imports = &graph.types()[graph[dependency].ty()].imports;
    for (name, plug_ty) in &graph.types()[graph[adapter].ty()].exports {
        if allow.contains(&name.as_str()) {
            continue;
        }
        let matching = imports.get(name).map(|ty| (name.clone(), ty)).or_else(|| {
            imports
                .iter()
                .find(|(import, _)| are_semver_compatible(name, import))
                .map(|(import, ty)| (import.clone(), ty))
        });
        if let Some((socket_name, socket_ty)) = matching
            && checker
                .is_subtype(*plug_ty, graph.types(), *socket_ty, graph.types())
                .is_ok()
        {
            plugs.push((name.clone(), socket_name));
        }
    }
    if plugs.is_empty() {
        return Ok(source.to_vec());
    }
    let plug = graph.instantiate(adapter);
    for (plug_name, socket_name) in plugs {
        let export = graph.alias_instance_export(plug, &plug_name)?;
        graph.set_instantiation_argument(socket, &socket_name, export)?;
    }
    let exports: Vec<String> = graph.types()[graph[dependency].ty()]
        .exports
        .keys()
        .cloned()
        .collect();
    for name in exports {
        let export = graph.alias_instance_export(socket, &name)?;
        graph.export(export, &name)?;
    }
    Ok(graph.encode(EncodeOptions::default())?)
}

/// Spin's `register_package`: the package under `name`, and an instance of it.
fn register(graph: &mut CompositionGraph, name: &str, bytes: Vec<u8>) -> Result<(WorldId, NodeId)> {
    let package = Package::from_bytes(name, None, bytes, graph.types_mut())?;
    let world = package.ty();
    let id = graph.register_package(package)?;
    Ok((world, graph.instantiate(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(dep: &str, import: &str) -> bool {
        matches_import(&DependencyName::try_from(dep.to_string()).unwrap(), import).unwrap()
    }

    #[test]
    fn import_matching_follows_spin() {
        let import = "lode:test/greet@0.1.0";
        assert!(matches("lode:test/greet", import));
        assert!(matches("lode:test/greet@0.1.0", import));
        assert!(matches("lode:test", import));
        assert!(matches("lode:test@0.1.0", import));
        assert!(!matches("lode:test/greet@0.2.0", import));
        assert!(!matches("lode:other/greet", import));
        assert!(!matches("lode:test/other", import));
        assert!(matches("greeter", "greeter"));
        assert!(!matches("greeter", import));
        assert!(!matches("lode:test/greet", "lode:test/greet-more"));
    }

    /// A component importing `imports`, each an instance with one function.
    pub(crate) fn importer(imports: &[&str]) -> Vec<u8> {
        let imports: String = imports
            .iter()
            .map(|i| format!("(import \"{i}\" (instance (export \"run\" (func))))\n"))
            .collect();
        wat::parse_str(format!("(component\n{imports})")).unwrap()
    }

    /// A component exporting `exports`, each an instance with one function.
    pub(crate) fn provider(exports: &[&str]) -> Vec<u8> {
        let exports: String = exports
            .iter()
            .enumerate()
            .map(|(n, e)| format!("(instance $x{n} (export \"run\" (func $run)))\n(export \"{e}\" (instance $x{n}))\n"))
            .collect();
        wat::parse_str(format!(
            "(component\n(core module $m (func (export \"run\")))\n(core instance $i (instantiate $m))\n\
             (func $run (canon lift (core func $i \"run\")))\n{exports})"
        ))
        .unwrap()
    }

    fn dep(name: &str, bytes: Vec<u8>) -> Dep {
        Dep {
            name: DependencyName::try_from(name.to_string()).unwrap(),
            bytes,
            export: None,
            inherit: Inherit::None,
        }
    }

    /// Inheriting everything plugs nothing: each of the adapter's exports
    /// is in some capability set, so `apply_deny_adapter` may skip the work.
    #[test]
    fn every_deny_adapter_export_is_in_a_capability_set() {
        let mut graph = CompositionGraph::new();
        let adapter = Package::from_bytes("a", None, DENY_ADAPTER, graph.types_mut()).unwrap();
        let all: Vec<&str> = CAPABILITY_SETS
            .iter()
            .flat_map(|(_, n)| n.iter().copied())
            .collect();
        let exports = &graph.types()[adapter.ty()].exports;
        assert!(exports.len() > 20);
        for name in exports.keys() {
            assert!(
                all.contains(&name.as_str()),
                "{name} is in no capability set"
            );
        }
    }

    const EXTRACT: &str = "lode:pipeline/extract@0.1.0";
    const CHUNK: &str = "lode:pipeline/chunk@0.1.0";

    /// What Spin refused for Lode's old WIT: two interfaces of one package,
    /// each from its own component.
    #[test]
    fn two_dependencies_from_one_package_are_refused_as_spin_refuses_them() {
        let main = importer(&[EXTRACT, CHUNK]);
        let err = compose(
            "worker",
            &main,
            vec![
                dep("lode:pipeline/extract", provider(&[EXTRACT])),
                dep("lode:pipeline/chunk", provider(&[CHUNK])),
            ],
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("package `lode:pipeline` has already been registered in the graph"),
            "{text}"
        );
    }

    #[test]
    fn one_provider_per_package_composes() {
        // The whole package from one component…
        let main = importer(&[EXTRACT, CHUNK]);
        compose(
            "worker",
            &main,
            vec![dep("lode:pipeline", provider(&[EXTRACT, CHUNK]))],
        )
        .unwrap();
        // …or one package per provider, as Lode's steps are now.
        let main = importer(&["lode:extract/extract@0.1.0", "lode:chunk/chunk@0.1.0"]);
        compose(
            "worker",
            &main,
            vec![
                dep(
                    "lode:extract/extract",
                    provider(&["lode:extract/extract@0.1.0"]),
                ),
                dep("lode:chunk/chunk", provider(&["lode:chunk/chunk@0.1.0"])),
            ],
        )
        .unwrap();
    }

    #[test]
    fn unmatched_and_missing_exports_are_refused() {
        let main = importer(&[EXTRACT]);
        let err = compose("w", &main, vec![dep("lode:other/x", provider(&[EXTRACT]))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dependency 'lode:other/x' doesn't match any imports of component 'w'"
        );
        let err = compose(
            "w",
            &main,
            vec![dep("lode:pipeline/extract", provider(&[CHUNK]))],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dependency 'lode:pipeline/extract' doesn't export 'lode:pipeline/extract@0.1.0' to satisfy import 'lode:pipeline/extract@0.1.0'"
        );
    }
}
