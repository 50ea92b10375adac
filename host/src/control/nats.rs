//! The actor-era wasmCloud control interface on NATS, for this host: queries and commands on
//! `wasmbus.ctl.<lattice>.…` answered in `wasmcloud-control-interface`'s JSON, and the host's
//! events published as CloudEvents on `wasmbus.evt.<lattice>` (and `….<event name>`), with a
//! heartbeat every 30 s, as wasmCloud 0.8x hosts do.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use cloudevents::{EventBuilder, EventBuilderV10};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wasmcloud_control_interface::{
    CtlOperationAck, LinkDefinition, RemoveLinkDefinitionRequest, ScaleActorCommand,
    StopActorCommand, UpdateActorCommand,
};

use super::fetch::ModuleSource;
use super::{inventory, HostState};
use crate::events::LatticeEvent;
use crate::net::NATS_PUBLISH_DEADLINE;

const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
const FINAL_FLUSH: Duration = Duration::from_secs(1);

/// What a request on the control subjects gets back, if anything.
enum Reply {
    Json(Vec<u8>),
    /// Lattice-wide requests this host has nothing to do with are left to other hosts.
    Silent,
}

fn json(value: &impl serde::Serialize) -> Reply {
    Reply::Json(serde_json::to_vec(value).expect("control types serialize"))
}

fn ack(result: Result<(), impl ToString>) -> Reply {
    json(&match result {
        Ok(()) => CtlOperationAck {
            accepted: true,
            error: String::new(),
        },
        Err(error) => CtlOperationAck {
            accepted: false,
            error: error.to_string(),
        },
    })
}

fn parse<T: DeserializeOwned>(payload: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(payload).map_err(|e| format!("invalid {what}: {e}"))
}

/// Connects the control interface's own NATS client (in the background if the server is not
/// up yet), subscribes and starts the event publisher.
pub async fn serve(
    state: Arc<HostState>,
    nats_url: &str,
    modules: ModuleSource,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let (options, address) =
        mcchat_provider_kit::nats_auth::connect_options(nats_url, state.lattice_auth())?;
    let client = options
        .name(format!("mcchat control {}", state.host_id()))
        .retry_on_initial_connect()
        .connect(address)
        .await
        .with_context(|| {
            format!(
                "connecting the control interface to NATS at {}",
                crate::mask::url(nats_url)
            )
        })?;
    let prefix = format!("wasmbus.ctl.{}", state.lattice);
    let mut requests = client
        .subscribe(format!("{prefix}.>"))
        .await
        .context("subscribing to the control subjects")?;
    // Answer queries as soon as the start returns; a server that is not up yet gets the
    // subscription when the client connects.
    mcchat_provider_kit::net::server_caught_up(&client).await;
    let (recent, mut events) = state.events.subscribe();
    let task = tokio::spawn(async move {
        // What happened before NATS was there (the start itself) is published first.
        for event in recent {
            publish_event(&client, &state, &event).await;
        }
        state
            .events
            .publish("host_started", inventory::heartbeat(&state));
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(request) = requests.next() => {
                    let reply = handle(&state, &modules, &prefix, &request.subject, &request.payload).await;
                    if let (Some(reply_to), Reply::Json(body)) = (request.reply, reply) {
                        let sent = tokio::time::timeout(NATS_PUBLISH_DEADLINE, client.publish(reply_to, body.into())).await;
                        if !matches!(sent, Ok(Ok(()))) {
                            tracing::warn!("control interface: a reply was not sent (NATS unreachable)");
                        }
                    }
                }
                event = events.recv() => match event {
                    Ok(event) => publish_event(&client, &state, &event).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("control interface: {n} events not published (too many at once)");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = heartbeat.tick() => {
                    let event = LatticeEvent {
                        name: "host_heartbeat".into(),
                        data: inventory::heartbeat(&state),
                        time: chrono::Utc::now(),
                    };
                    publish_event(&client, &state, &event).await;
                }
            }
        }
        let stopped = LatticeEvent {
            name: "host_stopped".into(),
            data: serde_json::json!({ "labels": state.labels }),
            time: chrono::Utc::now(),
        };
        publish_event(&client, &state, &stopped).await;
        // A server that is gone must not hold up the host's shutdown.
        let _ = tokio::time::timeout(FINAL_FLUSH, client.flush()).await;
    });
    Ok(task)
}

async fn handle(
    state: &HostState,
    modules: &ModuleSource,
    prefix: &str,
    subject: &str,
    payload: &[u8],
) -> Reply {
    let host_id = state.host_id();
    let Some(rest) = subject
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return Reply::Silent;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    match parts.as_slice() {
        ["ping", "hosts"] => json(&inventory::host(state)),
        ["get", "claims"] => json(&inventory::claims(state)),
        ["get", "links"] => json(&inventory::links(state)),
        ["get", host, "inv"] if *host == host_id => json(&inventory::host_inventory(state)),
        ["cmd", host, command] if *host == host_id => {
            ack(command_for_this_host(state, modules, command, payload).await)
        }
        ["linkdefs", "put"] => match parse::<LinkDefinition>(payload, "link definition") {
            Ok(definition) if state.router.actor(&definition.actor_id).is_none() => Reply::Silent,
            Ok(definition) => ack(state.put_link(definition).await),
            Err(e) => ack(Err(e)),
        },
        ["linkdefs", "del"] => {
            match parse::<RemoveLinkDefinitionRequest>(payload, "link removal") {
                Ok(request) if state.router.actor(&request.actor_id).is_none() => Reply::Silent,
                Ok(request) => ack(state
                    .delete_link(&request.actor_id, &request.contract_id, &request.link_name)
                    .await),
                Err(e) => ack(Err(e)),
            }
        }
        _ => Reply::Silent,
    }
}

async fn command_for_this_host(
    state: &HostState,
    modules: &ModuleSource,
    command: &str,
    payload: &[u8],
) -> Result<(), String> {
    match command {
        "scale" => {
            let command: ScaleActorCommand = parse(payload, "scale command")?;
            state
                .scale_actor(&command.actor_ref, command.max_concurrent)
                .map_err(|e| e.to_string())
        }
        "sa" => {
            let command: StopActorCommand = parse(payload, "stop command")?;
            state
                .scale_actor(&command.actor_ref, Some(0))
                .map_err(|e| e.to_string())
        }
        "upd" => {
            let command: UpdateActorCommand = parse(payload, "update command")?;
            let wasm = modules.fetch(&command.new_actor_ref).await?;
            state
                .replace_actor(&command.actor_id, &wasm, &command.new_actor_ref)
                .map_err(|e| e.to_string())
        }
        other => Err(format!(
            "an mcchat host does not take the `{other}` command (it runs the providers its \
             manifest names)"
        )),
    }
}

/// Publishes one event as a CloudEvent (JSON), on the lattice's general event subject and on
/// the one named after the event.
async fn publish_event(client: &async_nats::Client, state: &HostState, event: &LatticeEvent) {
    let cloud_event = EventBuilderV10::new()
        .id(uuid::Uuid::new_v4().to_string())
        .ty(format!("com.wasmcloud.lattice.{}", event.name))
        .source(state.host_id())
        .time(event.time)
        .data("application/json", event.data.clone())
        .build();
    let body = match cloud_event.map(|e| serde_json::to_vec(&e)) {
        Ok(Ok(body)) => bytes::Bytes::from(body),
        Ok(Err(e)) => return tracing::warn!("event {} not encoded: {e}", event.name),
        Err(e) => return tracing::warn!("event {} not built: {e}", event.name),
    };
    let general = format!("wasmbus.evt.{}", state.lattice);
    let named = format!("{general}.{}", event.name);
    for subject in [general, named] {
        let sent =
            tokio::time::timeout(NATS_PUBLISH_DEADLINE, client.publish(subject, body.clone()))
                .await;
        if !matches!(sent, Ok(Ok(()))) {
            tracing::debug!("event {} not published (NATS unreachable)", event.name);
        }
    }
}
