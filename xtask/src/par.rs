//! Packs a provider binary as a provider archive (PAR), signed with capability claims, with the
//! `provider-archive` crate wash uses: a gzipped tar holding `claims.jwt` and
//! `x86_64-linux.bin`. The provider's key (`V…`, its id on a lattice) is kept in `.keys/`, so
//! it stays the same from build to build.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use provider_archive::ProviderArchive;
use sha2::{Digest, Sha256};
use wascap::prelude::KeyPair;

use crate::providers::{ProviderSpec, TARGET};
use crate::sign::{keys_dir, load_or_create};

/// What was packed: the provider's public key, and the archive's revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub provider_key: String,
    pub revision: i32,
}

/// Packs `binary` into `archive`, signed by the project's account key and the provider's own
/// service key.
pub fn pack(spec: &ProviderSpec, version: &str, binary: &Path, archive: &Path) -> Result<Packed> {
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    let account = load_or_create(&keys_dir().join("account.nk"), KeyPair::new_account)?;
    let service = load_or_create(
        &keys_dir().join(format!("{}_service.nk", spec.archive_name)),
        KeyPair::new_service,
    )?;
    let revision = revision(&bytes);
    let mut par = ProviderArchive::new(
        spec.contract,
        spec.name,
        "mcchat",
        Some(revision),
        Some(version.to_string()),
    );
    par.add_library(TARGET, &bytes)
        .map_err(|e| anyhow!("adding {}: {e}", binary.display()))?;
    if let Some(dir) = archive.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(par.write(archive, &account, &service, true))
        .map_err(|e| anyhow!("writing {}: {e}", archive.display()))?;
    Ok(Packed {
        provider_key: service.public_key(),
        revision,
    })
}

/// A revision that changes whenever the binary does: a lattice host caches a provider by its
/// key and revision, and would keep running an old binary under an unchanged one.
fn revision(binary: &[u8]) -> i32 {
    let digest = Sha256::digest(binary);
    let first = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (first & 0x7fff_ffff) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_follows_the_binary() {
        assert_eq!(revision(b"one"), revision(b"one"));
        assert_ne!(revision(b"one"), revision(b"two"));
        assert!(revision(b"one") >= 0);
    }
}
