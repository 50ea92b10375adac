//! A link's life on this host: put (started with its values, or refused and the old one kept),
//! deleted, and every link stopped at shutdown. Each change is an event on the lattice.

use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};
use wasmcloud_control_interface::LinkDefinition;

use super::{ControlError, HostState, Provider};
use crate::links::{Link, LinkKey};
use crate::providers::registration::{LinkStart, LinkValues};

impl HostState {
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
