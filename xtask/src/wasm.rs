//! Builds the actor crates for `wasm32-unknown-unknown` with the Debian toolchain, in a target
//! directory of their own so the native and wasm builds never invalidate each other.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::actors::ActorSpec;
use crate::toolchain::{DEBIAN_CARGO, DEBIAN_RUSTC};
use crate::workspace_root;

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "actor";

pub fn target_dir() -> PathBuf {
    workspace_root().join("target").join("wasm")
}

/// The unsigned module cargo produced for an actor.
pub fn unsigned_module(actor: &ActorSpec) -> PathBuf {
    artifact(&actor.lib_name())
}

/// The core wasm module cargo produced for the library named `lib_name`.
pub fn artifact(lib_name: &str) -> PathBuf {
    target_dir()
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{lib_name}.wasm"))
}

/// Builds the actors' modules.
pub fn build(actors: &[ActorSpec]) -> Result<()> {
    let packages: Vec<&str> = actors.iter().map(|actor| actor.package).collect();
    build_packages(&packages, None)
}

/// Builds wasm crates, with `feature` enabled when one is given.
pub fn build_packages(packages: &[&str], feature: Option<&str>) -> Result<()> {
    let mut cmd = Command::new(DEBIAN_CARGO);
    cmd.current_dir(workspace_root())
        .args([
            "build",
            "--locked",
            "--profile",
            PROFILE,
            "-Zbuild-std=std,panic_abort",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(target_dir());
    for package in packages {
        cmd.args(["--package", package]);
    }
    if let Some(feature) = feature {
        cmd.args(["--features", feature]);
    }
    // We run under rustup's cargo: its variables must not leak into Debian's toolchain.
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTDOC",
        "CARGO",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", "wasm-ld")
        // It runs beside the host's build, whose progress bar is the one on screen.
        .env("CARGO_TERM_PROGRESS_WHEN", "never");
    let status = cmd.status().context("running Debian's cargo")?;
    if !status.success() {
        bail!(
            "the wasm build of {} failed ({status})",
            packages.join(", ")
        );
    }
    Ok(())
}
