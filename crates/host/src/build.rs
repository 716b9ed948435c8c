//! `lode-host build`: run each component's build command, like `spin build`.
//!
//! Spin runs `command` through the shell (`sh -c`), in the manifest directory
//! or the relative `workdir`, one component after another in manifest order,
//! and stops at the first failure (https://spinframework.dev/v4/build).

use anyhow::{Context, Result, bail};

use crate::manifest::Manifest;

/// Build every component that has a `[component.x.build]` table.
pub fn build_all(manifest: &Manifest) -> Result<()> {
    let mut built = 0;
    for (id, component) in &manifest.component {
        let Some(build) = &component.build else {
            continue;
        };
        let dir = match &build.workdir {
            Some(w) if std::path::Path::new(w).is_absolute() => {
                bail!("The workdir specified in the application file must be relative.")
            }
            Some(w) => manifest.path(w),
            None => manifest.dir.clone(),
        };
        for command in build.command.list() {
            eprintln!("Building component {id} with `{command}`");
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&dir)
                .status()
                .with_context(|| format!("running build command for component {id}"))?;
            if !status.success() {
                bail!("Build command for component {id} failed with status {status:?}");
            }
        }
        built += 1;
    }
    if built == 0 {
        eprintln!("None of the components have a build command.");
    } else {
        eprintln!("Finished building all Spin components");
    }
    Ok(())
}
