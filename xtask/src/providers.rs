//! The capability providers built as standalone binaries, each packed as a provider archive
//! (PAR) for a wasmCloud lattice: `build/<name>.par.gz`.

use std::path::PathBuf;

use crate::{build_dir, workspace_root};

/// One provider crate's binary and the claims its archive carries.
#[derive(Debug, Clone, Copy)]
pub struct ProviderSpec {
    /// Cargo package name.
    pub package: &'static str,
    /// Its binary: what a lattice host runs.
    pub binary: &'static str,
    /// The contract it serves (the archive's capid); wadm matches it with the manifest's.
    pub contract: &'static str,
    /// Its name in the claims, which `wash get inventory` shows.
    pub name: &'static str,
    /// `build/<archive_name>.par.gz`, and its signing key's file name in `.keys/`.
    pub archive_name: &'static str,
}

impl ProviderSpec {
    /// The binary the release build leaves.
    pub fn binary_path(&self) -> PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        target.join("release").join(self.binary)
    }

    /// The archive's path in `build/`.
    pub fn archive_path(&self) -> PathBuf {
        build_dir().join(format!("{}.par.gz", self.archive_name))
    }
}

/// The only target a PAR of ours holds: what a wasmCloud host on Linux x86-64 looks for.
pub const TARGET: &str = "x86_64-linux";

pub const PROVIDERS: &[ProviderSpec] = &[
    ProviderSpec {
        package: "mcchat-provider-websocket",
        binary: "messaging-websocket",
        contract: crate::actors::MESSAGING,
        name: "mcchat WebSocket messaging",
        archive_name: "messaging_websocket",
    },
    ProviderSpec {
        package: "mcchat-provider-mqtt",
        binary: "messaging-mqtt",
        contract: crate::actors::MESSAGING,
        name: "mcchat MQTT messaging",
        archive_name: "messaging_mqtt",
    },
    ProviderSpec {
        package: "mcchat-provider-clock",
        binary: "clock",
        contract: crate::actors::CLOCK,
        name: "mcchat clock",
        archive_name: "clock",
    },
];
