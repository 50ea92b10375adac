//! `cargo xtask push REGISTRY`: ship the signed actors and the provider archives through an OCI
//! registry, as `wash push` does, and write `build/wadm.oci.yaml` with the pushed images pinned
//! by digest.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::actors::ACTORS;
use crate::providers::PROVIDERS;
use crate::{build_dir, lattice, workspace_root};

/// The media types `wash push` gives an actor module (wash-lib's registry module), so that
/// `wash pull` and wasmCloud hosts take our artifacts as their own.
pub const WASM_MEDIA_TYPE: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasmcloud.actor.archive.config";
/// The media types `wash push` gives a provider archive.
pub const PAR_MEDIA_TYPE: &str = "application/vnd.wasmcloud.provider.archive.layer.v1+par";
pub const PAR_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasmcloud.provider.archive.config";

/// Where the pushed actors are, for a lattice.
pub fn oci_manifest_path() -> PathBuf {
    build_dir().join("wadm.oci.yaml")
}

/// One actor or provider archive in the registry.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The actor's package or the provider's binary: its repository's name.
    pub name: &'static str,
    /// Its file in `build/`, which `wadm.yaml` names.
    pub file_name: String,
    /// `REGISTRY/mcchat/<name>:<version>`.
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

/// Pushes every signed actor and provider archive in `build/` to `registry`
/// (`HOST[:PORT][/PATH]`) under `mcchat/<name>:<version>`. `insecure` speaks plain HTTP.
pub fn push_all(registry: &str, version: &str, insecure: bool) -> Result<Vec<Pushed>> {
    let (host, prefix) = split_registry(registry)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // rustls needs its crypto chosen once per process; an error only says it already is.
    // ring, deprecated in rustls 0.23.48 for having no post-quantum key exchange, is kept:
    // aws-lc-rs has one, at the price of a C build (cmake) that CI's time has no room for.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::new(ClientConfig {
        protocol: if insecure {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..Default::default()
    });
    let actors = ACTORS
        .iter()
        .map(|actor| (actor.package, actor.signed_file_name(), Kind::Actor));
    let providers = PROVIDERS.iter().map(|provider| {
        let file_name = format!("{}.par.gz", provider.archive_name);
        (provider.binary, file_name, Kind::ProviderArchive)
    });
    let mut pushed = Vec::new();
    for (name, file_name, kind) in actors.chain(providers) {
        let file = build_dir().join(&file_name);
        let artifact = std::fs::read(&file).with_context(|| {
            format!("reading {} (run `cargo xtask build` first)", file.display())
        })?;
        let repository = format!("{prefix}mcchat/{name}");
        let reference = Reference::with_tag(host.to_string(), repository, version.to_string());
        let digest = runtime
            .block_on(push_artifact(&client, &reference, artifact, kind))
            .with_context(|| format!("pushing {reference}"))?;
        pushed.push(Pushed {
            name,
            file_name,
            tagged: reference.whole(),
            digest,
        });
    }
    Ok(pushed)
}

#[derive(Clone, Copy)]
enum Kind {
    Actor,
    ProviderArchive,
}

/// One file as one layer with an empty config, with the media types wash gives its kind;
/// returns the manifest digest the registry reports.
async fn push_artifact(
    client: &Client,
    reference: &Reference,
    artifact: Vec<u8>,
    kind: Kind,
) -> Result<String> {
    let (layer_type, config_type) = match kind {
        Kind::Actor => (WASM_MEDIA_TYPE, WASM_CONFIG_MEDIA_TYPE),
        Kind::ProviderArchive => (PAR_MEDIA_TYPE, PAR_CONFIG_MEDIA_TYPE),
    };
    let layers = vec![ImageLayer::new(artifact, layer_type.to_string(), None)];
    let config = Config::new(b"{}".to_vec(), config_type.to_string(), None);
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

/// The committed `wadm.yaml` with every `file://` image replaced by its pushed reference.
pub fn oci_manifest(pushed: &[Pushed]) -> Result<String> {
    let source_path = workspace_root().join("wadm.yaml");
    let source = std::fs::read_to_string(&source_path)
        .with_context(|| format!("reading {}", source_path.display()))?;
    let header =
        "# Written by `cargo xtask push` from wadm.yaml: the same application with the actors\n\
                  # and providers pulled from a registry, pinned by digest, for any wasmCloud lattice.\n";
    let mut missing: Vec<&str> = pushed.iter().map(|p| p.name).collect();
    let manifest = lattice::with_actor_images(&source, header, |relative| {
        let file_name = lattice::file_name(relative);
        let found = pushed.iter().find(|p| p.file_name == file_name)?;
        missing.retain(|name| *name != found.name);
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
