//! The host's cluster key: given (`--cluster-seed`, as `WASMCLOUD_CLUSTER_SEED` gives a
//! wasmCloud host its own), or made once and kept in the data dir, as wash keeps one for the
//! hosts it starts. Hosts of one chat share it, or list each other's as cluster issuers, so
//! that each believes what the others' providers send it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use mcchat_provider_kit::ClusterTrust;

/// The file a host keeps its cluster seed in, under its data dir.
const SEED_FILE: &str = "cluster.nk";

pub fn trust(seed: Option<&str>, issuers: &[String], data_dir: &Path) -> Result<ClusterTrust> {
    let seed = match seed {
        Some(seed) => seed.to_string(),
        None => kept_seed(data_dir)?,
    };
    ClusterTrust::new(seed.trim(), issuers.iter().cloned()).context("--cluster-seed")
}

/// The seed in the data dir, made (readable by its owner only) on the first start.
fn kept_seed(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(SEED_FILE);
    match std::fs::read_to_string(&path) {
        Ok(seed) => return Ok(seed),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("reading {}", path.display()))
        }
        Err(_) => {}
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let seed = nkeys::KeyPair::new_cluster()
        .seed()
        .expect("a new key has its seed");
    let mut file = owner_only(&path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(seed.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(seed)
}

#[cfg(unix)]
fn owner_only(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn owner_only(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_keeps_its_cluster_key_across_starts_and_only_its_owner_reads_it() {
        let data = tempfile::tempdir().unwrap();
        let first = trust(None, &[], data.path()).unwrap();
        let again = trust(None, &[], data.path()).unwrap();
        assert_eq!(first.issuer(), again.issuer());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.path().join(SEED_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let given = nkeys::KeyPair::new_cluster();
        let other = nkeys::KeyPair::new_cluster().public_key();
        let trust = trust(
            Some(&given.seed().unwrap()),
            std::slice::from_ref(&other),
            data.path(),
        )
        .unwrap();
        assert_eq!(trust.issuer(), given.public_key());
        assert!(trust.issuers().any(|issuer| issuer == other));
    }
}
