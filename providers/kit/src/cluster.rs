//! The lattice's cluster key, as wasmCloud hosts hold it: one key signs what an instance sends
//! to the others, and a list of cluster issuers says whose signatures are believed. On a
//! wasmCloud 0.81 lattice a provider gets both from its host (`invocation_seed`,
//! `cluster_issuers`); the mcchat host from `--cluster-seed` and `--cluster-issuer`.
//!
//! Ed25519 (nkeys), over the bytes given: a message is believed only if an issuer signed
//! exactly it.

use std::collections::BTreeSet;
use std::sync::Arc;

use nkeys::KeyPair;

/// The key this instance signs with, and the issuers it believes.
#[derive(Clone)]
pub struct ClusterTrust {
    key: Arc<KeyPair>,
    issuers: Arc<BTreeSet<String>>,
}

impl std::fmt::Debug for ClusterTrust {
    /// The issuers, never the seed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterTrust")
            .field("key", &self.key.public_key())
            .field("issuers", &self.issuers)
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Untrusted {
    #[error("signed by {0}, which is not one of the cluster issuers")]
    Issuer(String),
    #[error("the signature does not match the message")]
    Signature,
}

impl ClusterTrust {
    /// Signs with `seed`'s key and believes it and `issuers` (public cluster keys, `C…`).
    pub fn new(seed: &str, issuers: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let key = KeyPair::from_seed(seed)
            .map_err(|e| anyhow::anyhow!("the cluster seed is not an nkeys seed: {e}"))?;
        if !key.public_key().starts_with('C') {
            anyhow::bail!("the cluster seed is not a cluster key (its public key starts with C)");
        }
        let mut believed: BTreeSet<String> = issuers.into_iter().collect();
        believed.insert(key.public_key());
        Ok(ClusterTrust {
            key: Arc::new(key),
            issuers: Arc::new(believed),
        })
    }

    /// A fresh cluster key that believes only itself.
    pub fn generate() -> Self {
        let key = KeyPair::new_cluster();
        let seed = key.seed().expect("a generated key has its seed");
        Self::new(&seed, []).expect("a generated cluster key is valid")
    }

    /// The public key this instance signs as.
    pub fn issuer(&self) -> String {
        self.key.public_key()
    }

    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(String::as_str)
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).expect("a key with its seed signs")
    }

    /// Whether `issuer`, one of the believed, signed exactly `message`.
    pub fn verify(&self, issuer: &str, message: &[u8], signature: &[u8]) -> Result<(), Untrusted> {
        if !self.issuers.contains(issuer) {
            return Err(Untrusted::Issuer(issuer.to_string()));
        }
        KeyPair::from_public_key(issuer)
            .and_then(|key| key.verify(message, signature))
            .map_err(|_| Untrusted::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_issuer_signing_exactly_the_message_is_believed() {
        let (one, other) = (ClusterTrust::generate(), ClusterTrust::generate());
        let signature = one.sign(b"hello");
        assert_eq!(one.verify(&one.issuer(), b"hello", &signature), Ok(()));
        assert_eq!(
            one.verify(&one.issuer(), b"hellO", &signature),
            Err(Untrusted::Signature)
        );
        assert_eq!(
            one.verify(&other.issuer(), b"hello", &other.sign(b"hello")),
            Err(Untrusted::Issuer(other.issuer()))
        );
        let trusting =
            ClusterTrust::new(&KeyPair::new_cluster().seed().unwrap(), [other.issuer()]).unwrap();
        assert_eq!(
            trusting.verify(&other.issuer(), b"hello", &other.sign(b"hello")),
            Ok(())
        );
    }

    #[test]
    fn a_seed_that_is_not_a_cluster_key_is_refused() {
        let user = KeyPair::new_user().seed().unwrap();
        assert!(ClusterTrust::new(&user, []).is_err());
        assert!(ClusterTrust::new("SCnonsense", []).is_err());
    }

    #[test]
    fn debug_shows_no_seed() {
        let trust = ClusterTrust::generate();
        let seed = trust.key.seed().unwrap();
        let shown = format!("{trust:?}");
        // Not a search for "SC": a public key may hold those two letters by chance.
        assert!(!shown.contains(&seed), "{shown}");
        assert!(shown.contains(&trust.issuer()));
    }
}
