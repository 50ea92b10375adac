//! Actors from OCI registries, pulled as a wasmCloud host pulls them: the artifact `wash push`
//! writes (one module layer), over HTTPS unless the registry is allowed plain HTTP, and kept in
//! a cache under the data dir by digest. A reference pinned by digest starts from the cache
//! with no registry at all; a tag is looked up each time, since tags move. Claims are checked
//! by the caller, exactly as for files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};

/// The variable wasmCloud hosts read for registries that may be reached over plain HTTP.
pub const ALLOWED_INSECURE_ENV: &str = "WASMCLOUD_OCI_ALLOWED_INSECURE";

/// The layer media types a wasmCloud host takes as an actor module (`wash push` writes the
/// first).
const ACTOR_LAYER_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.module.wasm.content.layer.v1+wasm",
    "application/vnd.oci.image.layer.v1.tar",
];

/// The largest module pulled or read for a control command; mcchat's actors are a few hundred
/// KiB.
pub const MAX_MODULE_BYTES: i64 = 64 << 20;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How to pull: which registries may use plain HTTP, and where the cache lives.
#[derive(Debug, Clone)]
pub struct PullPolicy {
    /// Registries (`HOST[:PORT]`) reached over plain HTTP; every other one needs HTTPS.
    pub allowed_insecure: Vec<String>,
    /// The host's data dir; the cache is its `oci/` folder.
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{image} is not an image reference: {reason}")]
    InvalidReference { image: String, reason: String },
    #[error("cannot reach the registry {registry} for {image}: {detail}{hint}")]
    Unreachable {
        image: String,
        registry: String,
        detail: String,
        /// How to allow plain HTTP, when the registry was tried over HTTPS.
        hint: String,
    },
    #[error("{image} is not in its registry (no such repository, tag or digest)")]
    NotFound { image: String },
    #[error("{image} does not match its digest ({detail}); refusing it")]
    DigestMismatch { image: String, detail: String },
    #[error("{image}'s module is {size} bytes, over the {MAX_MODULE_BYTES}-byte limit")]
    TooLarge { image: String, size: i64 },
    #[error("{image} holds no actor module (its layers are {media_types})")]
    NotAnActor { image: String, media_types: String },
    #[error("pulling {image}: {detail}")]
    Registry { image: String, detail: String },
    #[error("caching {image} in {}: {source}", dir.display())]
    Cache {
        image: String,
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// The signed module behind `image`, from the cache or its registry.
pub async fn pull_actor(image: &str, policy: &PullPolicy) -> Result<Vec<u8>, PullError> {
    let reference: Reference = image.parse().map_err(|e| PullError::InvalidReference {
        image: image.to_string(),
        reason: format!("{e}"),
    })?;
    let cache = Cache::new(&policy.data_dir, image);
    if let Some(manifest_digest) = reference.digest() {
        if let Some(module) = cache.module_of_manifest(manifest_digest) {
            return Ok(module);
        }
    }
    install_crypto_provider();
    let registry = reference.resolve_registry().to_string();
    let allowed_insecure = policy.allowed_insecure.contains(&registry);
    let failed = |error: OciDistributionError| classify(image, &registry, allowed_insecure, error);
    let client = Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(policy.allowed_insecure.clone()),
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        ..Default::default()
    });
    // Checks the manifest against the reference's digest, when it has one.
    let (manifest, manifest_digest) = client
        .pull_image_manifest(&reference, &RegistryAuth::Anonymous)
        .await
        .map_err(failed)?;
    let layer = manifest
        .layers
        .iter()
        .find(|layer| ACTOR_LAYER_MEDIA_TYPES.contains(&layer.media_type.as_str()))
        .ok_or_else(|| PullError::NotAnActor {
            image: image.to_string(),
            media_types: manifest
                .layers
                .iter()
                .map(|layer| layer.media_type.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if layer.size > MAX_MODULE_BYTES {
        return Err(PullError::TooLarge {
            image: image.to_string(),
            size: layer.size,
        });
    }
    let module = match cache.blob(&layer.digest) {
        Some(module) => module,
        None => {
            let module = pull_bounded(&client, &reference, layer, image)
                .await
                .map_err(|e| match e {
                    Bounded::Registry(error) => failed(error),
                    Bounded::Pull(error) => error,
                })?;
            cache.put_blob(&layer.digest, &module)?;
            module
        }
    };
    cache.put_manifest(&manifest_digest, &layer.digest)?;
    Ok(module)
}

enum Bounded {
    Registry(OciDistributionError),
    Pull(PullError),
}

/// A layer's bytes, checked against its digest, and never more than `MAX_MODULE_BYTES`
/// whatever size the manifest declared.
async fn pull_bounded(
    client: &Client,
    reference: &Reference,
    layer: &oci_client::manifest::OciDescriptor,
    image: &str,
) -> Result<Vec<u8>, Bounded> {
    let mut stream = client
        .pull_blob_stream(reference, layer)
        .await
        .map_err(Bounded::Registry)?
        .stream;
    let mut module = Vec::with_capacity(layer.size.clamp(0, MAX_MODULE_BYTES) as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            let image = image.to_string();
            Bounded::Pull(match e.get_ref() {
                // The stream checks the bytes against the layer's digest at its end.
                Some(inner) if inner.is::<oci_client::errors::DigestError>() => {
                    PullError::DigestMismatch {
                        image,
                        detail: e.to_string(),
                    }
                }
                _ => PullError::Registry {
                    image,
                    detail: e.to_string(),
                },
            })
        })?;
        if (module.len() + chunk.len()) as i64 > MAX_MODULE_BYTES {
            return Err(Bounded::Pull(PullError::TooLarge {
                image: image.to_string(),
                size: (module.len() + chunk.len()) as i64,
            }));
        }
        module.extend_from_slice(&chunk);
    }
    Ok(module)
}

/// rustls needs its crypto chosen once per process; ring is the one this project builds.
pub fn install_crypto_provider() {
    // ring, deprecated in rustls 0.23.48 for having no post-quantum key exchange, is kept:
    // aws-lc-rs has one, at the price of a C build (cmake) that CI's time has no room for.
    // An error only says a provider is already installed.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Registries allowed plain HTTP: the host's flags plus `WASMCLOUD_OCI_ALLOWED_INSECURE`
/// (comma-separated), as a wasmCloud host reads it.
pub fn allowed_insecure(from_flags: &[String], from_env: Option<&str>) -> Vec<String> {
    let mut allowed: Vec<String> = from_flags
        .iter()
        .map(String::as_str)
        .chain(from_env.unwrap_or_default().split(','))
        .map(str::trim)
        .filter(|registry| !registry.is_empty())
        .map(String::from)
        .collect();
    allowed.sort();
    allowed.dedup();
    allowed
}

fn classify(
    image: &str,
    registry: &str,
    allowed_insecure: bool,
    error: OciDistributionError,
) -> PullError {
    let image = image.to_string();
    match error {
        OciDistributionError::DigestError(e) => PullError::DigestMismatch {
            image,
            detail: e.to_string(),
        },
        OciDistributionError::ImageManifestNotFoundError(_) => PullError::NotFound { image },
        OciDistributionError::RegistryError { ref envelope, .. }
            if envelope.errors.iter().any(|e| {
                matches!(
                    e.code,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                )
            }) =>
        {
            PullError::NotFound { image }
        }
        OciDistributionError::ServerError { code: 404, .. } => PullError::NotFound { image },
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
            PullError::Unreachable {
                image,
                registry: registry.to_string(),
                detail: error_chain(&e),
                hint: if allowed_insecure {
                    String::new()
                } else {
                    format!(
                        " (tried HTTPS; if it serves plain HTTP, allow it with \
                         --allowed-insecure {registry} or {ALLOWED_INSECURE_ENV})"
                    )
                },
            }
        }
        other => PullError::Registry {
            image,
            detail: error_chain(&other),
        },
    }
}

/// An error with its sources, which for a failed request say what actually went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Content-addressed files under `<data dir>/oci/`: `blobs/sha256/<hex>` holds a module;
/// `manifests/sha256/<hex>` holds the digest of the module layer that manifest names. Every
/// read is checked against its digest, so a damaged cache is pulled again, never run.
struct Cache<'a> {
    root: PathBuf,
    image: &'a str,
}

impl<'a> Cache<'a> {
    fn new(data_dir: &Path, image: &'a str) -> Self {
        Cache {
            root: data_dir.join("oci"),
            image,
        }
    }

    fn module_of_manifest(&self, manifest_digest: &str) -> Option<Vec<u8>> {
        let path = self.path("manifests", manifest_digest)?;
        let layer_digest = std::fs::read_to_string(path).ok()?;
        self.blob(layer_digest.trim())
    }

    fn blob(&self, digest: &str) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.path("blobs", digest)?).ok()?;
        if sha256_digest(&bytes) == digest {
            Some(bytes)
        } else {
            tracing::warn!(
                digest,
                "cached module does not match its digest; pulling it again"
            );
            None
        }
    }

    fn put_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), PullError> {
        self.write("blobs", digest, bytes)
    }

    fn put_manifest(&self, manifest_digest: &str, layer_digest: &str) -> Result<(), PullError> {
        self.write("manifests", manifest_digest, layer_digest.as_bytes())
    }

    /// Only sha256 digests are cached; anything else is pulled each time.
    fn path(&self, kind: &str, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        let well_formed = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed.then(|| self.root.join(kind).join("sha256").join(hex))
    }

    /// Written to a temporary file and renamed, so a crash never leaves half a file.
    fn write(&self, kind: &str, digest: &str, bytes: &[u8]) -> Result<(), PullError> {
        let Some(path) = self.path(kind, digest) else {
            return Ok(());
        };
        let dir = path
            .parent()
            .expect("cache paths have a folder")
            .to_path_buf();
        let failed = |source| PullError::Cache {
            image: self.image.to_string(),
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let partial = dir.join(format!(".{}.partial", uuid::Uuid::new_v4()));
        std::fs::write(&partial, bytes).map_err(failed)?;
        std::fs::rename(&partial, &path).map_err(failed)
    }
}

fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut digest = String::with_capacity(7 + 64);
    digest.push_str("sha256:");
    for byte in hash {
        digest.push_str(&format!("{byte:02x}"));
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_registries_come_from_flags_and_the_wasmcloud_variable() {
        assert_eq!(
            allowed_insecure(
                &["127.0.0.1:5000".into()],
                Some(" localhost:5001 ,127.0.0.1:5000,,")
            ),
            ["127.0.0.1:5000", "localhost:5001"]
        );
        assert!(allowed_insecure(&[], None).is_empty());
    }

    #[test]
    fn the_cache_returns_only_what_matches_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "r/a:1");
        let module = b"\0asm module".to_vec();
        let layer = sha256_digest(&module);
        let manifest = sha256_digest(b"manifest");
        cache.put_blob(&layer, &module).unwrap();
        cache.put_manifest(&manifest, &layer).unwrap();
        assert_eq!(cache.module_of_manifest(&manifest), Some(module));

        let blob = cache.path("blobs", &layer).unwrap();
        std::fs::write(&blob, b"\0asm tampered").unwrap();
        assert_eq!(cache.module_of_manifest(&manifest), None);
        assert_eq!(cache.blob("sha256:not-hex"), None);
    }
}
