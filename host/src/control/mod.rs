//! What this host runs and how to steer it: the one state that the lattice control interface
//! (`nats`), the dashboard and the event feed read and change. Identities are wasmCloud's: the
//! host is an nkeys server key (`N…`), each actor the subject of its claims (`M…`), each
//! built-in provider a service key (`V…`) derived from what it is, so it is the same on every
//! host and every start.
//!
//! This module holds the host's identity; `catalogue` lists its providers, their connections
//! and the links; `linking` puts and deletes links; `actor_actions` scales and replaces actors.

mod actor_actions;
mod catalogue;
pub mod fetch;
pub mod inventory;
mod linking;
pub mod nats;
pub mod open_nats;

pub use catalogue::{provider_id, Connection, Provider};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use nkeys::KeyPair;
use serde_json::json;

use crate::events::EventBus;
use crate::providers::registration::HostContext;
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
}
