//! `cargo xtask push REGISTRY`: ship the signed actors through an OCI registry, as `wash push`
//! does, and write `build/wadm.oci.yaml` with the pushed images pinned by digest.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::actors::{ActorSpec, ACTORS};
use crate::{build_dir, lattice, workspace_root};

/// The media types `wash push` gives an actor module (wash-lib's registry module), so that
/// `wash pull` and wasmCloud hosts take our artifacts as their own.
pub const WASM_MEDIA_TYPE: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasmcloud.actor.archive.config";

/// Where the pushed actors are, for a lattice.
pub fn oci_manifest_path() -> PathBuf {
    build_dir().join("wadm.oci.yaml")
}

/// One actor in the registry.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub actor: ActorSpec,
    /// `REGISTRY/mcchat/<actor>:<version>`.
    pub tagged: String,
    /// The manifest's digest, `sha256:…`.
    pub digest: String,
}

impl Pushed {
    /// The tagged reference pinned by digest: what `build/wadm.oci.yaml` names.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.tagged, self.digest)
    }
}

/// Pushes every signed actor in `build/` to `registry` (`HOST[:PORT][/PATH]`) under
/// `mcchat/<actor>:<version>`. `insecure` speaks plain HTTP.
pub fn push_all(registry: &str, version: &str, insecure: bool) -> Result<Vec<Pushed>> {
    let (host, prefix) = split_registry(registry)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // rustls needs its crypto chosen once per process; an error only says it already is.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::new(ClientConfig {
        protocol: if insecure {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..Default::default()
    });
    let mut pushed = Vec::new();
    for actor in ACTORS {
        let file = build_dir().join(actor.signed_file_name());
        let module = std::fs::read(&file).with_context(|| {
            format!("reading {} (run `cargo xtask build` first)", file.display())
        })?;
        let repository = format!("{prefix}mcchat/{}", actor.package);
        let reference = Reference::with_tag(host.to_string(), repository, version.to_string());
        let digest = runtime
            .block_on(push_module(&client, &reference, module))
            .with_context(|| format!("pushing {reference}"))?;
        pushed.push(Pushed {
            actor: *actor,
            tagged: reference.whole(),
            digest,
        });
    }
    Ok(pushed)
}

/// One module as one layer with an empty config, exactly as wash pushes it; returns the
/// manifest digest the registry reports.
async fn push_module(client: &Client, reference: &Reference, module: Vec<u8>) -> Result<String> {
    let layers = vec![ImageLayer::new(module, WASM_MEDIA_TYPE.to_string(), None)];
    let config = Config::new(b"{}".to_vec(), WASM_CONFIG_MEDIA_TYPE.to_string(), None);
    let manifest = OciImageManifest::build(&layers, &config, None);
    client
        .push(
            reference,
            &layers,
            config,
            &RegistryAuth::Anonymous,
            Some(manifest),
        )
        .await?;
    Ok(client
        .fetch_manifest_digest(reference, &RegistryAuth::Anonymous)
        .await?)
}

/// The committed `wadm.yaml` with every actor image replaced by its pushed reference.
pub fn oci_manifest(pushed: &[Pushed]) -> Result<String> {
    let source_path = workspace_root().join("wadm.yaml");
    let source = std::fs::read_to_string(&source_path)
        .with_context(|| format!("reading {}", source_path.display()))?;
    let header =
        "# Written by `cargo xtask push` from wadm.yaml: the same application with the actors\n\
                  # pulled from a registry, pinned by digest, for any wasmCloud lattice.\n";
    let mut missing: Vec<&str> = pushed.iter().map(|p| p.actor.package).collect();
    let manifest = lattice::with_actor_images(&source, header, |relative| {
        let name = lattice::file_name(relative);
        let found = pushed.iter().find(|p| p.actor.signed_file_name() == name)?;
        missing.retain(|package| *package != found.actor.package);
        Some(found.pinned())
    });
    if !missing.is_empty() {
        bail!("wadm.yaml has no file:// image for {missing:?}");
    }
    Ok(manifest)
}

/// `127.0.0.1:5000` → (`127.0.0.1:5000`, ``); `ghcr.io/me` → (`ghcr.io`, `me/`).
fn split_registry(registry: &str) -> Result<(&str, String)> {
    let registry = registry.trim_end_matches('/');
    if registry.is_empty() || registry.contains("://") {
        bail!("give the registry as HOST[:PORT][/PATH], e.g. 127.0.0.1:5000, not {registry:?}");
    }
    Ok(match registry.split_once('/') {
        Some((host, path)) => (host, format!("{path}/")),
        None => (registry, String::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_may_carry_a_path() {
        assert_eq!(
            split_registry("127.0.0.1:5000").unwrap(),
            ("127.0.0.1:5000", String::new())
        );
        assert_eq!(
            split_registry("ghcr.io/me/").unwrap(),
            ("ghcr.io", "me/".to_string())
        );
        assert!(split_registry("http://127.0.0.1:5000").is_err());
    }
}
