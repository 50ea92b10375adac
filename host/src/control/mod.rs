//! What this host runs and how to steer it: the one state that the lattice control interface
//! (`nats`), the dashboard and the event feed read and change. Identities are wasmCloud's: the
//! host is an nkeys server key (`N…`), each actor the subject of its claims (`M…`), each
//! built-in provider a service key (`V…`) derived from what it is, so it is the same on every
//! host and every start.

pub mod fetch;
pub mod inventory;
pub mod nats;
pub mod open_nats;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use nkeys::{KeyPair, KeyPairType};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::capacity::ActorShape;
use wasmcloud_control_interface::LinkDefinition;

use crate::claims;
use crate::events::EventBus;
use crate::links::{Link, LinkKey};
use crate::provider::ConnectionState;
use crate::providers::registration::{HostContext, LinkStart, LinkValues, Overrides, Registration};
use crate::router::Router;
use crate::runtime::Runtime;

/// The lattice a host joins unless `--lattice` names another (wasmCloud's default).
pub const DEFAULT_LATTICE: &str = "default";

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
    registration: Arc<dyn Registration>,
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

pub struct HostState {
    /// The host's nkeys server key; its public key is the host id.
    key: KeyPair,
    /// The cluster key hosts sign with in wasmCloud; reported as the inventory's issuer.
    pub lattice: String,
    pub friendly_name: String,
    pub labels: BTreeMap<String, String>,
    pub version: &'static str,
    /// The NATS server the control interface uses (for `ctl_host` / `rpc_host`).
    pub ctl_url: String,
    started: Instant,
    pub router: Arc<Router>,
    pub events: EventBus,
    providers: Vec<Provider>,
    /// What the providers start with for a link.
    context: HostContext,
    runtime: Runtime,
    trusted_issuers: Vec<String>,
}

/// Who the host is and where it answers.
pub struct Identity<'a> {
    pub lattice: &'a str,
    pub app_name: &'a str,
    pub ctl_url: &'a str,
}

impl HostState {
    pub fn new(
        identity: Identity<'_>,
        context: HostContext,
        providers: Vec<Provider>,
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
            ("mcchat.app".to_string(), identity.app_name.to_string()),
        ]);
        let public_key = key.public_key();
        let state = HostState {
            friendly_name: format!("mcchat-{}", &public_key[public_key.len() - 6..]).to_lowercase(),
            key,
            lattice: identity.lattice.to_string(),
            labels,
            version: env!("CARGO_PKG_VERSION"),
            ctl_url: identity.ctl_url.to_string(),
            started: Instant::now(),
            router: context.router.clone(),
            events,
            providers,
            context,
            runtime,
            trusted_issuers,
        };
        for provider in &state.providers {
            state.events.publish(
                "provider_started",
                json!({
                    "host_id": state.host_id(),
                    "public_key": provider.id,
                    "image_ref": provider.image_ref,
                    "link_name": provider.link_name,
                    "contract_id": provider.contract,
                    "instance_id": uuid::Uuid::new_v4().to_string(),
                    "annotations": {},
                    "claims": { "name": provider.name, "issuer": "", "tags": null, "version": state.version },
                }),
            );
        }
        state
    }

    pub fn host_id(&self) -> String {
        self.key.public_key()
    }

    /// The lattice user this host is on its NATS, if the server wants credentials.
    pub fn lattice_auth(&self) -> Option<&mcchat_provider_kit::NatsAuth> {
        self.context.lattice.auth.as_ref()
    }

    /// The cluster key this host signs with.
    pub fn issuer(&self) -> String {
        self.context.lattice.trust.issuer()
    }

    /// The cluster keys this host believes, its own first, comma-separated (as a wasmCloud
    /// host lists its `cluster_issuers`).
    pub fn cluster_issuers(&self) -> String {
        let own = self.issuer();
        std::iter::once(own.as_str())
            .chain(self.context.lattice.trust.issuers().filter(|i| *i != own))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What the host's engine has room for.
    pub fn capacity(&self) -> &crate::capacity::Capacity {
        self.runtime.capacity()
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

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

    /// Serves `definition.actor_id`'s calls to `definition.contract_id` (under its link name)
    /// with the provider `definition.provider_id`, started for this link with its values. A
    /// link put again is restarted with the new values; if they are refused, it keeps serving
    /// with the old ones.
    pub async fn put_link(&self, definition: LinkDefinition) -> Result<(), ControlError> {
        let pool = self.router.actor(&definition.actor_id).ok_or_else(|| {
            ControlError::NotFound(format!("no actor {} on this host", definition.actor_id))
        })?;
        let definition = LinkDefinition {
            actor_id: pool.identity().public_key.clone(),
            ..definition
        };
        let provider = self.provider(&definition)?;
        let values = link_values(&definition);
        if let Err(e) = provider.registration.check(&values) {
            let refused = self.refusal(provider, &definition, e);
            tracing::warn!("{refused}");
            return Err(refused);
        }
        // The old provider lets go of what the new one may take (its address, say) first.
        let previous = self.router.links().remove(&link_key(&definition));
        if let Some(previous) = &previous {
            previous.provider.stop().await;
        }
        match self.start_link(provider, &definition, &values).await {
            Ok(link) => {
                self.router.links().insert(link);
                self.events.publish("linkdef_set", link_event(&definition));
                Ok(())
            }
            Err(refused) => {
                tracing::warn!("{refused}");
                if let Some(previous) = previous {
                    self.restore(previous).await;
                }
                Err(refused)
            }
        }
    }

    /// Starts a link that was stopped for a put that was refused, with its old values.
    async fn restore(&self, previous: Arc<Link>) {
        let definition = previous.definition.clone();
        drop(previous);
        let restarted = match self.provider(&definition) {
            Ok(provider) => {
                self.start_link(provider, &definition, &link_values(&definition))
                    .await
            }
            Err(e) => Err(e),
        };
        match restarted {
            Ok(link) => {
                self.router.links().insert(link);
            }
            Err(e) => {
                tracing::warn!("the link's old values could not be restored either: {e}");
                self.events
                    .publish("linkdef_deleted", link_event(&definition));
            }
        }
    }

    fn provider(&self, definition: &LinkDefinition) -> Result<&Provider, ControlError> {
        self.providers
            .iter()
            .find(|p| p.id == definition.provider_id && p.contract == definition.contract_id)
            .ok_or_else(|| {
                ControlError::NotFound(format!(
                    "no provider {} for {} on this host",
                    definition.provider_id, definition.contract_id
                ))
            })
    }

    async fn start_link(
        &self,
        provider: &Provider,
        definition: &LinkDefinition,
        values: &LinkValues,
    ) -> Result<Arc<Link>, ControlError> {
        let start = LinkStart {
            host: &self.context,
            actor: &definition.actor_id,
            link_name: &definition.link_name,
            values,
            stop: self.context.shutdown.child_token(),
        };
        match provider.registration.start(start).await {
            Ok(started) => Ok(Link::new(definition.clone(), started)),
            Err(e) => Err(self.refusal(provider, definition, e)),
        }
    }

    fn refusal(
        &self,
        provider: &Provider,
        definition: &LinkDefinition,
        e: anyhow::Error,
    ) -> ControlError {
        ControlError::Refused(format!(
            "{} refused the link from {} ({}): {e:#}",
            provider.name,
            self.label(&definition.actor_id),
            definition.link_name
        ))
    }

    /// Unlinks an actor from a contract: the provider stops serving it both ways (its listener
    /// closes, its subscriptions drain, its sessions close), and its calls are refused.
    pub async fn delete_link(
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
        let Some(link) = self.router.links().remove(&key) else {
            return Err(ControlError::NotFound(format!(
                "no link from {} to {contract_id} ({link_name})",
                key.actor
            )));
        };
        link.provider.stop().await;
        self.events
            .publish("linkdef_deleted", link_event(&link.definition));
        Ok(())
    }

    /// Stops every link's provider, at the end of a shutdown.
    pub async fn stop_links(&self) {
        for link in self.router.links().take_all() {
            link.provider.stop().await;
        }
    }

    /// An actor's call alias or name, for people; its key if it is not on this host.
    pub fn label(&self, actor_id: &str) -> String {
        self.router.actor(actor_id).map_or_else(
            || actor_id.to_string(),
            |pool| pool.identity().label().to_string(),
        )
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
        // Checked first, so no parser's error echoes the first bytes of whatever was sent.
        if !wasm.starts_with(b"\0asm") {
            return Err(refused(
                "it is not a WebAssembly module or component".into(),
            ));
        }
        let identity =
            claims::verify(wasm, &self.trusted_issuers).map_err(|e| refused(e.to_string()))?;
        let shape = ActorShape::of(wasm).map_err(|e| refused(format!("{e:#}")))?;
        let module = self
            .runtime
            .compile(wasm)
            .map_err(|e| refused(format!("{e:#}")))?;
        pool.replace(identity, module, shape, image_ref.to_string())
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

/// A link definition's values, as providers read them.
fn link_values(definition: &LinkDefinition) -> LinkValues {
    definition.values.clone().into_iter().collect()
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
