//! The manifest's links: the providers its capability components name, each picked from the
//! registry, and each link put through the same path as `wash link put`, with the command
//! line's overrides written into its values.

use anyhow::{anyhow, Context, Result};
use wasmcloud_control_interface::LinkDefinition;

use crate::control::{provider_id, HostState, Provider};
use crate::manifest::ActorDecl;
use crate::providers::registration::{Overrides, Registry};

/// The providers the manifest's links name, one per capability component and link name.
pub(super) fn providers(registry: &Registry, decls: &[ActorDecl]) -> Result<Vec<Provider>> {
    let mut providers: Vec<Provider> = Vec::new();
    for (decl, link) in decls
        .iter()
        .flat_map(|decl| decl.links.iter().map(move |link| (decl, link)))
    {
        let registration = registry
            .find(&link.contract, &link.provider_image)
            .with_context(|| format!("linking {}", decl.name))?;
        let provider = Provider::new(&link.link_name, &link.provider_image, registration);
        if !providers.iter().any(|known| known.id == provider.id) {
            providers.push(provider);
        }
    }
    Ok(providers)
}

/// Puts every link of every actor, in the manifest's order; the first refused stops the start.
pub(super) async fn put_all(
    state: &HostState,
    overrides: &Overrides,
    decls: &[ActorDecl],
    public_keys: &[String],
) -> Result<()> {
    for (decl, public_key) in decls.iter().zip(public_keys) {
        let identity = state
            .router
            .actor(public_key)
            .expect("loaded above")
            .identity();
        for link in &decl.links {
            if !identity.caps.contains(&link.contract) {
                tracing::warn!(
                    "{} is linked to {} but not signed for it: its calls will be denied",
                    identity.label(),
                    link.contract
                );
            }
            let id = provider_id(&link.contract, &link.link_name, &link.provider_image);
            let provider = state
                .providers()
                .iter()
                .find(|p| p.id == id)
                .expect("every link's provider is in the catalog");
            let mut values = link.values.clone();
            provider.apply_overrides(overrides, &mut values);
            let definition = LinkDefinition {
                actor_id: public_key.clone(),
                provider_id: provider.id.clone(),
                link_name: link.link_name.clone(),
                contract_id: link.contract.clone(),
                values: values.into_iter().collect(),
            };
            state
                .put_link(definition)
                .await
                .map_err(|e| anyhow!("starting {} for {}: {e}", link.contract, decl.name))?;
        }
    }
    Ok(())
}
