//! What the dashboard shows, read from the same state the control interface answers from.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::control::{inventory, Connection, HostState};
use crate::mask;
use crate::stats::OperationStats;

/// An actor that trapped this recently is shown as unhealthy.
const TRAP_HEALTH_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub host: HostView,
    pub actors: Vec<ActorView>,
    pub providers: Vec<ProviderView>,
    pub links: Vec<LinkView>,
    /// Whether actions need the dashboard token.
    pub token_required: bool,
}

#[derive(Debug, Serialize)]
pub struct HostView {
    pub id: String,
    pub friendly_name: String,
    pub lattice: String,
    pub version: String,
    pub labels: HashMap<String, String>,
    pub uptime_seconds: u64,
    pub uptime_human: String,
    pub ctl_host: String,
}

#[derive(Debug, Serialize)]
pub struct ActorView {
    pub id: String,
    pub name: String,
    pub call_alias: Option<String>,
    pub image_ref: String,
    /// `module` or `component`.
    pub kind: &'static str,
    pub instance_id: String,
    pub running: bool,
    /// `None`: no limit.
    pub max_instances: Option<u16>,
    pub live_instances: usize,
    /// Instances started since the actor was: a count that keeps growing under a steady load
    /// means instances are being dropped and made again.
    pub instances_started: u64,
    /// `healthy`, `trapped` (in the last minute) or `stopped`.
    pub health: &'static str,
    pub claims: ClaimsView,
    pub operations: Vec<OperationStats>,
}

#[derive(Debug, Serialize)]
pub struct ClaimsView {
    pub issuer: String,
    pub capabilities: Vec<String>,
    pub revision: i32,
    pub version: Option<String>,
    pub tags: Vec<String>,
    /// Seconds since the epoch; `None`: never.
    pub expires: Option<u64>,
    pub not_before: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ProviderView {
    pub id: String,
    pub name: String,
    pub contract: String,
    pub link_name: String,
    pub image_ref: String,
    pub connections: Vec<Connection>,
}

#[derive(Debug, Serialize)]
pub struct LinkView {
    pub actor_id: String,
    pub actor: String,
    pub provider_id: String,
    pub contract_id: String,
    pub link_name: String,
    /// Secrets masked.
    pub values: HashMap<String, String>,
}

pub fn take(state: &HostState, token_required: bool) -> Snapshot {
    let uptime = state.uptime();
    let host = HostView {
        id: state.host_id(),
        friendly_name: state.friendly_name.clone(),
        lattice: state.lattice.clone(),
        version: state.version.to_string(),
        labels: state.labels.clone().into_iter().collect(),
        uptime_seconds: uptime.as_secs(),
        uptime_human: inventory::human_uptime(uptime),
        ctl_host: mask::url(&state.ctl_url),
    };
    let mut actors: Vec<ActorView> = state
        .router
        .actors()
        .map(|(_, pool)| {
            let status = pool.status();
            let identity = &status.identity;
            let trapped_recently = pool
                .stats
                .last_trap()
                .is_some_and(|at| at.elapsed() < TRAP_HEALTH_WINDOW);
            let health = match (status.is_running(), trapped_recently) {
                (false, _) => "stopped",
                (true, true) => "trapped",
                (true, false) => "healthy",
            };
            ActorView {
                id: identity.public_key.clone(),
                name: identity.name.clone(),
                call_alias: identity.call_alias.clone(),
                image_ref: status.image_ref.clone(),
                kind: pool.kind(),
                instance_id: status.instance_id.clone(),
                running: status.is_running(),
                max_instances: status.max_instances,
                live_instances: status.live_instances,
                instances_started: status.instances_started,
                health,
                claims: ClaimsView {
                    issuer: identity.issuer.clone(),
                    capabilities: identity.caps.iter().cloned().collect(),
                    revision: identity.revision,
                    version: identity.version.clone(),
                    tags: identity.tags.clone(),
                    expires: identity.expires,
                    not_before: identity.not_before,
                },
                operations: pool.stats.snapshot(),
            }
        })
        .collect();
    actors.sort_by(|a, b| a.name.cmp(&b.name));
    let providers = state
        .providers()
        .iter()
        .map(|p| ProviderView {
            id: p.id.clone(),
            name: p.name.clone(),
            contract: p.contract.clone(),
            link_name: p.link_name.clone(),
            image_ref: p.image_ref.clone(),
            connections: state.connections(&p.id),
        })
        .collect();
    let links = state
        .links()
        .into_iter()
        .map(|link| LinkView {
            actor: state.label(&link.actor_id),
            actor_id: link.actor_id,
            provider_id: link.provider_id,
            contract_id: link.contract_id,
            link_name: link.link_name,
            values: mask::link_values(&link.values),
        })
        .collect();
    Snapshot {
        host,
        actors,
        providers,
        links,
        token_required,
    }
}
