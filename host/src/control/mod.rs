//! What this host runs and how to steer it: the one state that the lattice control interface
//! (`nats`), the dashboard and the event feed read and change. Identities are wasmCloud's: the
//! host is an nkeys server key (`N…`), each actor the subject of its claims (`M…`), each
//! built-in provider a service key (`V…`) derived from what it is, so it is the same on every
//! host and every start.

pub mod events;
pub mod inventory;
pub mod mask;
pub mod nats;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use nkeys::{KeyPair, KeyPairType};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use wasmcloud_control_interface::LinkDefinition;

use crate::claims;
use crate::router::{LinkKey, ProviderHandle, Router};
use crate::wapc::Runtime;
use events::EventBus;

/// The lattice a host joins unless `--lattice` names another (wasmCloud's default).
pub const DEFAULT_LATTICE: &str = "default";

/// A provider's connection, as operators want to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    Connected,
    Reconnecting,
    Listening,
}

/// Why a control action was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The actor, provider or link is not on this host.
    #[error("{0}")]
    NotFound(String),
    /// The request itself cannot be carried out (a module that fails verification, say).
    #[error("{0}")]
    Refused(String),
}

pub type StateProbe = Arc<dyn Fn() -> ConnectionState + Send + Sync>;

/// One thing a provider is connected to (a NATS server, a Redis, a listen address).
#[derive(Clone)]
pub struct Connection {
    /// Secrets masked.
    pub target: String,
    pub state: StateProbe,
}

/// A built-in provider: one per contract, link name and implementation, however many links use it.
#[derive(Clone)]
pub struct Provider {
    pub id: String,
    pub contract: String,
    pub link_name: String,
    pub image_ref: String,
    pub name: String,
    pub connections: Vec<Connection>,
    /// Serves links put later through the control interface.
    pub handle: ProviderHandle,
}

pub struct HostState {
    /// The host's nkeys server key; its public key is the host id.
    key: KeyPair,
    /// The cluster key hosts sign with in wasmCloud; reported as the inventory's issuer.
    cluster_key: KeyPair,
    pub lattice: String,
    pub friendly_name: String,
    pub labels: BTreeMap<String, String>,
    pub version: &'static str,
    /// The NATS server the control interface uses (for `ctl_host` / `rpc_host`).
    pub ctl_url: String,
    started: Instant,
    pub router: Arc<Router>,
    pub events: EventBus,
    providers: RwLock<Vec<Provider>>,
    links: RwLock<Vec<LinkDefinition>>,
    runtime: Runtime,
    trusted_issuers: Vec<String>,
}

impl HostState {
    pub fn new(
        lattice: &str,
        app_name: &str,
        ctl_url: &str,
        router: Arc<Router>,
        events: EventBus,
        runtime: Runtime,
        trusted_issuers: Vec<String>,
    ) -> Self {
        let key = KeyPair::new_server();
        let labels = BTreeMap::from([
            ("hostcore.os".to_string(), std::env::consts::OS.to_string()),
            (
                "hostcore.arch".to_string(),
                std::env::consts::ARCH.to_string(),
            ),
            (
                "hostcore.osfamily".to_string(),
                std::env::consts::FAMILY.to_string(),
            ),
            ("mcchat.app".to_string(), app_name.to_string()),
        ]);
        let public_key = key.public_key();
        HostState {
            friendly_name: format!("mcchat-{}", &public_key[public_key.len() - 6..]).to_lowercase(),
            key,
            cluster_key: KeyPair::new_cluster(),
            lattice: lattice.to_string(),
            labels,
            version: env!("CARGO_PKG_VERSION"),
            ctl_url: ctl_url.to_string(),
            started: Instant::now(),
            router,
            events,
            providers: RwLock::new(Vec::new()),
            links: RwLock::new(Vec::new()),
            runtime,
            trusted_issuers,
        }
    }

    pub fn host_id(&self) -> String {
        self.key.public_key()
    }

    pub fn issuer(&self) -> String {
        self.cluster_key.public_key()
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Registers a started provider connection; returns the provider's id.
    pub fn add_provider(
        &self,
        contract: &str,
        link_name: &str,
        image_ref: &str,
        name: &str,
        connection: Connection,
        handle: ProviderHandle,
    ) -> String {
        let id = provider_id(contract, link_name, image_ref);
        let mut providers = self.providers.write().expect("providers lock");
        if let Some(existing) = providers.iter_mut().find(|p| p.id == id) {
            if !existing
                .connections
                .iter()
                .any(|c| c.target == connection.target)
            {
                existing.connections.push(connection);
            }
            return id;
        }
        providers.push(Provider {
            id: id.clone(),
            contract: contract.to_string(),
            link_name: link_name.to_string(),
            image_ref: image_ref.to_string(),
            name: name.to_string(),
            connections: vec![connection],
            handle,
        });
        drop(providers);
        self.events.publish(
            "provider_started",
            json!({
                "host_id": self.host_id(),
                "public_key": id,
                "image_ref": image_ref,
                "link_name": link_name,
                "contract_id": contract,
                "instance_id": uuid::Uuid::new_v4().to_string(),
                "annotations": {},
                "claims": { "name": name, "issuer": "", "tags": null, "version": self.version },
            }),
        );
        id
    }

    pub fn providers(&self) -> Vec<Provider> {
        self.providers.read().expect("providers lock").clone()
    }

    pub fn links(&self) -> Vec<LinkDefinition> {
        self.links.read().expect("links lock").clone()
    }

    /// Routes `definition.actor_id`'s calls to `definition.contract_id` (under its link name) to
    /// the provider `definition.provider_id`, which must run on this host.
    pub fn put_link(&self, definition: LinkDefinition) -> Result<(), ControlError> {
        let pool = self.router.actor(&definition.actor_id).ok_or_else(|| {
            ControlError::NotFound(format!("no actor {} on this host", definition.actor_id))
        })?;
        let actor_id = pool.identity().public_key.clone();
        let handle = self
            .providers()
            .into_iter()
            .find(|p| p.id == definition.provider_id && p.contract == definition.contract_id)
            .map(|p| p.handle)
            .ok_or_else(|| {
                ControlError::NotFound(format!(
                    "no provider {} for {} on this host",
                    definition.provider_id, definition.contract_id
                ))
            })?;
        let definition = LinkDefinition {
            actor_id,
            ..definition
        };
        self.router.link(link_key(&definition), handle);
        let mut links = self.links.write().expect("links lock");
        links.retain(|l| link_key(l) != link_key(&definition));
        links.push(definition.clone());
        drop(links);
        self.events.publish("linkdef_set", link_event(&definition));
        Ok(())
    }

    /// Unlinks an actor from a contract: its calls to it are refused from now on.
    pub fn delete_link(
        &self,
        actor_id: &str,
        contract_id: &str,
        link_name: &str,
    ) -> Result<(), ControlError> {
        let actor_id = self
            .router
            .actor(actor_id)
            .map(|pool| pool.identity().public_key.clone())
            .unwrap_or_else(|| actor_id.to_string());
        let key = LinkKey {
            actor: actor_id,
            contract: contract_id.to_string(),
            link_name: link_name.to_string(),
        };
        let mut links = self.links.write().expect("links lock");
        let Some(position) = links.iter().position(|l| link_key(l) == key) else {
            return Err(ControlError::NotFound(format!(
                "no link from {} to {contract_id} ({link_name})",
                key.actor
            )));
        };
        let definition = links.remove(position);
        drop(links);
        self.router.unlink(&key);
        self.events
            .publish("linkdef_deleted", link_event(&definition));
        Ok(())
    }

    /// Records a link the manifest made (its provider is already routed).
    pub fn record_link(&self, definition: LinkDefinition) {
        self.events.publish("linkdef_set", link_event(&definition));
        self.links.write().expect("links lock").push(definition);
    }

    /// Sets an actor's instance limit (`Some(0)` stops it, `None` lifts the limit).
    pub fn scale_actor(
        &self,
        actor_ref: &str,
        max_instances: Option<u16>,
    ) -> Result<(), ControlError> {
        self.find_actor(actor_ref)?.scale(max_instances);
        Ok(())
    }

    /// Replaces an actor's module with a new signed one (the same actor key), verified as at
    /// start; calls in flight finish on the old module.
    pub fn replace_actor(
        &self,
        actor_ref: &str,
        wasm: &[u8],
        image_ref: &str,
    ) -> Result<(), ControlError> {
        let pool = self.find_actor(actor_ref)?;
        let refused = |e: String| ControlError::Refused(format!("refusing the new module: {e}"));
        let identity =
            claims::verify(wasm, &self.trusted_issuers).map_err(|e| refused(e.to_string()))?;
        let module = self
            .runtime
            .compile(wasm)
            .map_err(|e| refused(format!("{e:#}")))?;
        pool.replace(identity, module, image_ref.to_string())
            .map_err(refused)
    }

    fn find_actor(&self, actor_ref: &str) -> Result<&Arc<crate::pool::ActorPool>, ControlError> {
        self.router
            .actor(actor_ref)
            .or_else(|| {
                self.router
                    .actors()
                    .map(|(_, pool)| pool)
                    .find(|pool| pool.status().image_ref == actor_ref)
            })
            .ok_or_else(|| ControlError::NotFound(format!("actor {actor_ref} is not on this host")))
    }
}

fn link_key(definition: &LinkDefinition) -> LinkKey {
    LinkKey {
        actor: definition.actor_id.clone(),
        contract: definition.contract_id.clone(),
        link_name: definition.link_name.clone(),
    }
}

fn link_event(definition: &LinkDefinition) -> serde_json::Value {
    json!({
        "id": link_id(definition),
        "actor_id": definition.actor_id,
        "provider_id": definition.provider_id,
        "link_name": definition.link_name,
        "contract_id": definition.contract_id,
        "values": definition.values,
    })
}

/// A link's id: the hash of what identifies it, as wasmCloud hosts compute it.
fn link_id(definition: &LinkDefinition) -> String {
    let mut hash = Sha256::new();
    hash.update(&definition.actor_id);
    hash.update(&definition.contract_id);
    hash.update(&definition.link_name);
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
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
