//! What a host offers links to: its providers, what each is connected to, and the links.

use std::sync::Arc;

use nkeys::{KeyPair, KeyPairType};
use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmcloud_control_interface::LinkDefinition;

use super::HostState;
use crate::provider::ConnectionState;
use crate::providers::registration::{LinkValues, Overrides, Registration};

/// One thing a provider is connected to (a NATS server, a Redis, a listen address).
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    /// Secrets masked.
    pub target: String,
    pub state: ConnectionState,
}

/// A provider this host runs: one per capability component and link name in the manifest,
/// however many links use it. Fixed at start; links to it come and go.
#[derive(Clone)]
pub struct Provider {
    pub id: String,
    pub contract: String,
    pub link_name: String,
    pub image_ref: String,
    pub name: String,
    pub(super) registration: Arc<dyn Registration>,
}

impl Provider {
    pub fn new(link_name: &str, image_ref: &str, registration: Arc<dyn Registration>) -> Self {
        let contract = registration.contract();
        Provider {
            id: provider_id(contract, link_name, image_ref),
            contract: contract.to_string(),
            link_name: link_name.to_string(),
            image_ref: image_ref.to_string(),
            name: registration.name().to_string(),
            registration,
        }
    }

    /// Writes the host's command-line overrides into a manifest link's values.
    pub fn apply_overrides(&self, overrides: &Overrides, values: &mut LinkValues) {
        self.registration.apply_overrides(overrides, values);
    }
}

impl HostState {
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// What the links to a provider are connected to, now.
    pub fn connections(&self, provider_id: &str) -> Vec<Connection> {
        self.router
            .links()
            .all()
            .iter()
            .filter(|link| link.definition.provider_id == provider_id)
            .map(|link| Connection {
                target: crate::mask::url(&link.provider.target()),
                state: link.provider.state(),
            })
            .collect()
    }

    pub fn links(&self) -> Vec<LinkDefinition> {
        self.router
            .links()
            .all()
            .iter()
            .map(|link| link.definition.clone())
            .collect()
    }
}

/// A provider's id (an nkeys service key) derived from what it is, so every host and every
/// start gives the same provider the same id.
pub fn provider_id(contract: &str, link_name: &str, image_ref: &str) -> String {
    let seed: [u8; 32] = Sha256::digest(format!(
        "mcchat provider\n{contract}\n{link_name}\n{image_ref}"
    ))
    .into();
    KeyPair::new_from_raw(KeyPairType::Service, seed)
        .expect("32 bytes make a key")
        .public_key()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_are_stable_service_keys() {
        let a = provider_id("wasmcloud:keyvalue", "default", "redis");
        assert_eq!(a, provider_id("wasmcloud:keyvalue", "default", "redis"));
        assert_ne!(a, provider_id("wasmcloud:keyvalue", "other", "redis"));
        assert!(a.starts_with('V') && a.len() == 56, "{a}");
    }
}
