//! The host as the control interface describes it, in `wasmcloud-control-interface`'s own types
//! (the JSON `wash get hosts|inventory|claims|links` reads), filled the way wasmCloud 0.8x hosts
//! fill them.

use std::collections::HashMap;

use wasmcloud_control_interface::{
    ActorDescription, ActorInstance, GetClaimsResponse, Host, HostInventory, LinkDefinitionList,
    ProviderDescription,
};

use super::HostState;

/// The answer to a ping on `wasmbus.ctl.<lattice>.ping.hosts`.
pub fn host(state: &HostState) -> Host {
    let uptime = state.uptime();
    Host {
        id: state.host_id(),
        friendly_name: state.friendly_name.clone(),
        labels: Some(state.labels.clone().into_iter().collect()),
        lattice_prefix: Some(state.lattice.clone()),
        uptime_seconds: uptime.as_secs(),
        uptime_human: Some(human_uptime(uptime)),
        version: Some(state.version.to_string()),
        // wasmCloud hosts name their NATS here; a password in its URL stays with the host.
        ctl_host: Some(crate::mask::url(&state.ctl_url)),
        rpc_host: Some(crate::mask::url(&state.ctl_url)),
        cluster_issuers: Some(state.cluster_issuers()),
        js_domain: None,
    }
}

pub fn host_inventory(state: &HostState) -> HostInventory {
    let mut actors: Vec<ActorDescription> = state
        .router
        .actors()
        .map(|(_, pool)| pool.status())
        .filter(|status| status.is_running())
        .map(|status| ActorDescription {
            id: status.identity.public_key.clone(),
            image_ref: Some(status.image_ref.clone()),
            name: Some(status.identity.name.clone()),
            instances: vec![ActorInstance {
                annotations: Some(HashMap::new()),
                image_ref: Some(status.image_ref),
                instance_id: status.instance_id,
                revision: status.identity.revision,
                // wasmCloud reports an unbounded actor as u16::MAX.
                max_concurrent: status.max_instances.unwrap_or(u16::MAX),
            }],
        })
        .collect();
    actors.sort_by(|a, b| a.name.cmp(&b.name));
    let providers = state
        .providers()
        .iter()
        .map(|provider| ProviderDescription {
            id: provider.id.clone(),
            contract_id: provider.contract.clone(),
            link_name: provider.link_name.clone(),
            image_ref: Some(provider.image_ref.clone()),
            name: Some(provider.name.clone()),
            annotations: Some(HashMap::new()),
            revision: 0,
        })
        .collect();
    HostInventory {
        host_id: state.host_id(),
        issuer: state.issuer(),
        friendly_name: state.friendly_name.clone(),
        labels: state.labels.clone().into_iter().collect(),
        actors,
        providers,
    }
}

/// Every actor's claims, as the flat string maps wasmCloud 0.8x hosts answer with.
pub fn claims(state: &HostState) -> GetClaimsResponse {
    let claims = state
        .router
        .actors()
        .map(|(_, pool)| {
            let identity = pool.identity();
            let caps = identity.caps.iter().cloned().collect::<Vec<_>>().join(",");
            let revision = identity.revision.to_string();
            HashMap::from([
                (
                    "call_alias".to_string(),
                    identity.call_alias.clone().unwrap_or_default(),
                ),
                ("caps".to_string(), caps.clone()),
                ("capabilities".to_string(), caps),
                ("iss".to_string(), identity.issuer.clone()),
                ("issuer".to_string(), identity.issuer.clone()),
                ("name".to_string(), identity.name.clone()),
                ("rev".to_string(), revision.clone()),
                ("revision".to_string(), revision),
                ("sub".to_string(), identity.public_key.clone()),
                ("subject".to_string(), identity.public_key.clone()),
                ("tags".to_string(), identity.tags.join(",")),
                (
                    "version".to_string(),
                    identity.version.clone().unwrap_or_default(),
                ),
            ])
        })
        .collect();
    GetClaimsResponse { claims }
}

pub fn links(state: &HostState) -> LinkDefinitionList {
    LinkDefinitionList {
        links: state.links(),
    }
}

/// The `host_heartbeat` event's data (actors with their instance limits, providers, uptime).
pub fn heartbeat(state: &HostState) -> serde_json::Value {
    let inventory = host_inventory(state);
    let actors: HashMap<String, u16> = inventory
        .actors
        .iter()
        .map(|actor| {
            let max = actor.instances.first().map_or(0, |i| i.max_concurrent);
            (actor.id.clone(), max)
        })
        .collect();
    let providers: Vec<serde_json::Value> = inventory
        .providers
        .iter()
        .map(|p| {
            serde_json::json!({
                "public_key": p.id,
                "link_name": p.link_name,
                "contract_id": p.contract_id,
            })
        })
        .collect();
    let uptime = state.uptime();
    serde_json::json!({
        "actors": actors,
        "providers": providers,
        "friendly_name": state.friendly_name,
        "labels": state.labels,
        "uptime_human": human_uptime(uptime),
        "uptime_seconds": uptime.as_secs(),
        "version": state.version,
    })
}

/// `1h 2m 3s`, as wasmCloud hosts show uptime (whole seconds, through humantime as they do).
pub fn human_uptime(uptime: std::time::Duration) -> String {
    humantime::format_duration(std::time::Duration::from_secs(uptime.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn uptime_reads_like_wasmclouds() {
        assert_eq!(human_uptime(Duration::from_millis(400)), "0s");
        assert_eq!(human_uptime(Duration::from_secs(3723)), "1h 2m 3s");
        assert_eq!(human_uptime(Duration::from_secs(86_400 + 5)), "1day 5s");
    }
}
