//! The `lode-host` command line: start-up errors are clear, `build` runs
//! components' build commands like `spin build` and stops at the first failure.

use std::path::PathBuf;
use std::process::{Command, Output};

fn host(args: &[&str], dir: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lode-host"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn temp_app(name: &str, manifest: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lode-host-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("spin.toml"), manifest).unwrap();
    dir
}

const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "cli"
[[trigger.http]]
route = "/..."
component = "a"
[component.a]
source = "a.wasm"
[component.a.build]
command = "echo built-a > built.txt"
[component.b]
source = "b.wasm"
[component.b.build]
command = "exit 3"
"#;

#[test]
fn build_runs_commands_in_order_and_stops_at_failure() {
    let dir = temp_app("build", APP);
    let out = host(&["build"], &dir);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Building component a with `echo built-a > built.txt`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Build command for component b failed"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("built.txt"))
            .unwrap()
            .trim(),
        "built-a"
    );
}

#[test]
fn bad_manifests_fail_with_a_reason() {
    let dir = temp_app(
        "bad",
        &APP.replace("source = \"a.wasm\"", "sorce = \"a.wasm\""),
    );
    let out = host(&["up", "--listen", "127.0.0.1:0"], &dir);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sorce"),
        "names the unknown field"
    );

    let dir = temp_app("missing-wasm", APP);
    let out = host(&["up", "--listen", "127.0.0.1:0"], &dir);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a.wasm") && stderr.contains("lode-host build"),
        "{stderr}"
    );

    let out = host(&["up", "--from", "nowhere.toml"], &dir);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere.toml"));
}
