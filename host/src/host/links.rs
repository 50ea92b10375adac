//! The manifest's links: the providers its capability components name, each picked from the
//! registry, and each link put through the same path as `wash link put`, with the command
//! line's overrides written into its values.

use anyhow::{anyhow, Context, Result};
use wasmcloud_control_interface::LinkDefinition;

use crate::control::{provider_id, HostState, Provider};
use crate::manifest::{ActorDecl, LinkDecl};
use crate::provider::{HTTPSERVER, MESSAGING};
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

/// Whether a contract's provider delivers clients' requests to its actor (an HTTP server, a
/// subscription) rather than serving the actor's own calls (a store, the clock).
fn takes_requests(contract: &str) -> bool {
    matches!(contract, HTTPSERVER | MESSAGING)
}

/// The links in the order the host puts them: the manifest's, except that the links taking
/// clients' requests go last, so the chat serves its first request with every store and
/// clock already linked, whatever order the manifest lists the actors in.
fn start_order(decls: &[ActorDecl]) -> Vec<(usize, &LinkDecl)> {
    let links = decls
        .iter()
        .enumerate()
        .flat_map(|(i, decl)| decl.links.iter().map(move |link| (i, link)));
    let (serving, serve_calls): (Vec<_>, Vec<_>) =
        links.partition(|(_, link)| takes_requests(&link.contract));
    serve_calls.into_iter().chain(serving).collect()
}

/// Puts every link of every actor (`start_order`); the first refused stops the start.
pub(super) async fn put_all(
    state: &HostState,
    overrides: &Overrides,
    decls: &[ActorDecl],
    public_keys: &[String],
) -> Result<()> {
    for (i, link) in start_order(decls) {
        let (decl, public_key) = (&decls[i], &public_keys[i]);
        let identity = state
            .router
            .actor(public_key)
            .expect("loaded above")
            .identity();
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::KEYVALUE;

    #[test]
    fn links_taking_requests_are_put_after_every_store_and_clock() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut app = crate::manifest::load(&root.join("wadm.yaml")).unwrap();
        // The channels first, the stores last: the order no longer matters.
        app.actors.reverse();
        let order: Vec<&str> = start_order(&app.actors)
            .into_iter()
            .map(|(_, link)| link.contract.as_str())
            .collect();
        let first_serving = order.iter().position(|c| takes_requests(c)).unwrap();
        assert!(order[..first_serving].contains(&KEYVALUE), "{order:?}");
        assert!(
            order[first_serving..].iter().all(|c| takes_requests(c)),
            "{order:?}"
        );
        let count = app.actors.iter().map(|a| a.links.len()).sum::<usize>();
        assert_eq!(order.len(), count);
    }
}
