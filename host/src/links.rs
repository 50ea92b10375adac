//! The host's one link table: each link's definition, as `wash get links` shows it, and the
//! provider started to serve it. The router routes actors' calls by it; the control interface,
//! the dashboard, the events and the startup lines read it. Nothing else keeps links.

use std::sync::{Arc, RwLock};

use wasmcloud_control_interface::LinkDefinition;

use crate::provider::{ProviderHandle, Started};

/// What identifies a link: one per actor, contract and link name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkKey {
    pub actor: String,
    pub contract: String,
    pub link_name: String,
}

impl LinkKey {
    fn matches(&self, definition: &LinkDefinition) -> bool {
        definition.actor_id == self.actor
            && definition.contract_id == self.contract
            && definition.link_name == self.link_name
    }
}

/// A link and the provider serving it.
pub struct Link {
    /// With the values the provider runs with (the command line's overrides applied).
    pub definition: LinkDefinition,
    pub provider: Box<dyn Started>,
    /// Kept beside the provider: the router takes it on every call.
    handle: ProviderHandle,
}

impl Link {
    pub fn new(definition: LinkDefinition, provider: Box<dyn Started>) -> Arc<Link> {
        let handle = provider.handle();
        Arc::new(Link {
            definition,
            provider,
            handle,
        })
    }

    pub fn key(&self) -> LinkKey {
        LinkKey {
            actor: self.definition.actor_id.clone(),
            contract: self.definition.contract_id.clone(),
            link_name: self.definition.link_name.clone(),
        }
    }
}

/// A host has a handful of links: a scan finds one without building an owned key or hashing
/// one on each call.
#[derive(Default)]
pub struct LinkTable(RwLock<Vec<Arc<Link>>>);

impl LinkTable {
    /// The provider serving an actor's link, for a call.
    pub fn provider(&self, actor: &str, contract: &str, link_name: &str) -> Option<ProviderHandle> {
        let links = self.0.read().expect("links lock");
        links.iter().find_map(|link| {
            let d = &link.definition;
            (d.actor_id == actor && d.contract_id == contract && d.link_name == link_name)
                .then(|| link.handle.clone())
        })
    }

    /// Adds a link; returns the one it replaces (same actor, contract and link name).
    pub fn insert(&self, link: Arc<Link>) -> Option<Arc<Link>> {
        let mut links = self.0.write().expect("links lock");
        let key = link.key();
        match links
            .iter_mut()
            .find(|known| key.matches(&known.definition))
        {
            Some(existing) => Some(std::mem::replace(existing, link)),
            None => {
                links.push(link);
                None
            }
        }
    }

    /// Removes a link: the actor's calls on it are refused from now on.
    pub fn remove(&self, key: &LinkKey) -> Option<Arc<Link>> {
        let mut links = self.0.write().expect("links lock");
        let position = links.iter().position(|l| key.matches(&l.definition))?;
        Some(links.remove(position))
    }

    /// Every link, in the order they were made.
    pub fn all(&self) -> Vec<Arc<Link>> {
        self.0.read().expect("links lock").clone()
    }

    /// Removes every link (at shutdown, ending the provider ↔ router references).
    pub fn take_all(&self) -> Vec<Arc<Link>> {
        std::mem::take(&mut *self.0.write().expect("links lock"))
    }
}
