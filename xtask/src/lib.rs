//! Build helpers for mcchat, run as `cargo xtask <command>` (see `main.rs`).

pub mod actors;
#[cfg(feature = "components")]
pub mod components;
pub mod fuzz;
pub mod lattice;
#[cfg(feature = "lattice")]
pub mod par;
pub mod phases;
pub mod providers;
#[cfg(feature = "lattice")]
pub mod push;
pub mod sign;
pub mod toolchain;
pub mod up;
pub mod wasm;
pub mod zones;

use std::path::PathBuf;

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Where the signed actors go, following wash's `build/<name>_s.wasm` convention.
pub fn build_dir() -> PathBuf {
    workspace_root().join("build")
}
