//! Applying the manifest's links: a built-in provider started for each (HTTP server, NATS or
//! WebSocket messaging, Redis or embedded key-value), routed for its actor and registered with
//! the control state, so inventories and the dashboard show what it is and what it talks to.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use wasmcloud_interface_messaging::MessageSubscriberSender;

use super::{label, HostConfig, RunningHost, DEFAULT_HTTP_ADDR, DEFAULT_NATS_URL};
use crate::control::{mask, Connection, ConnectionState, StateProbe};
use crate::manifest::{ActorDecl, LinkDecl};
use crate::providers::keyvalue::{EmbeddedKeyValue, Metered, RedisKeyValue};
use crate::providers::messaging::NatsMessaging;
use crate::providers::websocket::{self, Subscriber, WebSocketMessaging};
use crate::providers::{
    httpserver, messaging_implementation, MessagingImpl, HTTPSERVER, KEYVALUE, MESSAGING,
};
use crate::router::{ActorTransport, LinkKey, ProviderHandle};

/// Starts a provider for every link of every actor and registers it with the router.
pub(super) async fn apply_links(
    config: &HostConfig,
    host: &mut RunningHost,
    decls: &[ActorDecl],
    public_keys: Vec<String>,
) -> Result<()> {
    let mut embedded: Option<EmbeddedKeyValue> = None;
    for (decl, public_key) in decls.iter().zip(public_keys) {
        for link in &decl.links {
            let identity = host
                .router
                .actor(&public_key)
                .expect("loaded above")
                .identity();
            if !identity.caps.contains(&link.contract) {
                tracing::warn!(
                    "{} is linked to {} but not signed for it: its calls will be denied",
                    identity.label(),
                    link.contract
                );
            }
            let provider = start_link(config, host, &mut embedded, &public_key, link)
                .await
                .with_context(|| format!("starting {} for {}", link.contract, decl.name))?;
            let key = LinkKey {
                actor: public_key.clone(),
                contract: link.contract.clone(),
                link_name: link.link_name.clone(),
            };
            host.router.link(key, provider.handle.clone());
            let provider_id = host.control.add_provider(
                &link.contract,
                &link.link_name,
                &provider
                    .image_ref
                    .unwrap_or_else(|| link.provider_image.clone()),
                provider.name,
                Connection {
                    target: mask::url(&provider.target),
                    state: provider.state,
                },
                provider.handle,
            );
            host.control
                .record_link(wasmcloud_control_interface::LinkDefinition {
                    actor_id: public_key.clone(),
                    provider_id,
                    link_name: link.link_name.clone(),
                    contract_id: link.contract.clone(),
                    values: link.values.clone().into_iter().collect(),
                });
        }
    }
    Ok(())
}

/// A provider started for a link, and what the inventory and dashboard say about it.
struct StartedProvider {
    handle: ProviderHandle,
    name: &'static str,
    /// What it is connected to or listens on.
    target: String,
    state: StateProbe,
    /// When it is not the manifest's image (an override picked another implementation).
    image_ref: Option<String>,
}

impl StartedProvider {
    fn new(handle: ProviderHandle, name: &'static str, target: String, state: StateProbe) -> Self {
        StartedProvider {
            handle,
            name,
            target,
            state,
            image_ref: None,
        }
    }
}

fn always(state: ConnectionState) -> StateProbe {
    Arc::new(move || state)
}

/// The image the inventory shows for the built-in embedded store.
const EMBEDDED_KV_IMAGE: &str = "mcchat:builtin/keyvalue-embedded";

async fn start_link(
    config: &HostConfig,
    host: &mut RunningHost,
    embedded: &mut Option<EmbeddedKeyValue>,
    actor: &str,
    link: &LinkDecl,
) -> Result<StartedProvider> {
    match link.contract.as_str() {
        HTTPSERVER => {
            let address: SocketAddr = match config.http_addr {
                Some(address) => address,
                None => link
                    .value("address")
                    .unwrap_or(DEFAULT_HTTP_ADDR)
                    .parse()
                    .context("the link's address")?,
            };
            let (bound, task) = httpserver::serve(
                address,
                &host.router,
                actor,
                host.shutdown.clone(),
                &host.tracker,
                host.workers.handles(),
            )
            .await?;
            host.started.push(format!(
                "HTTP server on http://{bound} -> {}",
                label(host, actor)
            ));
            host.http_addrs.push(bound);
            host.tasks.push(task);
            Ok(StartedProvider::new(
                ProviderHandle::new(Arc::new(NoOperations(HTTPSERVER))),
                "HTTP server (built in)",
                format!("http://{bound}"),
                always(ConnectionState::Listening),
            ))
        }
        MESSAGING => match messaging_implementation(&link.provider_image)? {
            MessagingImpl::Nats => start_nats(config, host, actor, link).await,
            MessagingImpl::WebSocket => start_websocket(config, host, actor, link).await,
        },
        KEYVALUE => {
            let redis_url = config.redis_url.as_deref().or(if config.embedded_kv {
                None
            } else {
                link.value("URL")
            });
            if let Some(url) = redis_url {
                let redis = RedisKeyValue::connect(url, &host.workers)
                    .await
                    .with_context(|| format!("connecting to Redis at {url}"))?;
                host.started.push(format!(
                    "key-value on Redis {} -> {}",
                    mask::url(url),
                    label(host, actor)
                ));
                let redis = Metered::new("redis", redis);
                let state = redis.state_probe();
                let mut started = StartedProvider::new(
                    ProviderHandle::new(Arc::new(redis)),
                    "Redis key-value (built in)",
                    url.into(),
                    state,
                );
                if !link.provider_image.contains("redis") {
                    started.image_ref = Some("mcchat:builtin/keyvalue-redis".into());
                }
                return Ok(started);
            }
            let store = match embedded {
                Some(store) => store.clone(),
                None => {
                    let path = config.data_dir.join("keyvalue.redb");
                    let store = EmbeddedKeyValue::open(&path).with_context(|| {
                        format!("opening the embedded store {}", path.display())
                    })?;
                    host.started.push(format!(
                        "key-value in the embedded store {}",
                        path.display()
                    ));
                    embedded.insert(store).clone()
                }
            };
            host.started
                .push(format!("key-value (embedded) -> {}", label(host, actor)));
            let path = config.data_dir.join("keyvalue.redb").display().to_string();
            let mut started = StartedProvider::new(
                ProviderHandle::local_disk(Arc::new(Metered::new("embedded", store))),
                "embedded key-value (built in)",
                path,
                always(ConnectionState::Connected),
            );
            started.image_ref = Some(EMBEDDED_KV_IMAGE.into());
            Ok(started)
        }
        other => bail!("the local host has no provider for {other}"),
    }
}

async fn start_nats(
    config: &HostConfig,
    host: &mut RunningHost,
    actor: &str,
    link: &LinkDecl,
) -> Result<StartedProvider> {
    let url = config
        .nats_url
        .as_deref()
        .or(link.value("URI"))
        .or(link.value("URL"))
        .unwrap_or(DEFAULT_NATS_URL);
    let nats = NatsMessaging::connect(url, &host.workers).await?;
    let subjects: Vec<String> = link
        .value("SUBSCRIPTION")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    nats.subscribe(
        &subjects,
        &config.queue_group,
        &host.router,
        actor,
        host.shutdown.clone(),
        &host.tracker,
    )
    .await?;
    if !nats.wait_until_ready().await {
        tracing::warn!("NATS at {url} is not reachable yet; subscribing as soon as it is");
    }
    host.started.push(format!(
        "NATS {url}: subscribed to [{}] in queue group {} -> {}",
        subjects.join(", "),
        config.queue_group,
        label(host, actor)
    ));
    host.messaging.push(nats.clone());
    let probe = nats.clone();
    Ok(StartedProvider::new(
        ProviderHandle::new(Arc::new(nats)),
        "NATS messaging (built in)",
        url.to_string(),
        Arc::new(move || probe.connection_state()),
    ))
}

async fn start_websocket(
    config: &HostConfig,
    host: &mut RunningHost,
    actor: &str,
    link: &LinkDecl,
) -> Result<StartedProvider> {
    let mut ws_config = websocket::Config::from_link(&link.values)?;
    if let (websocket::Mode::Server(address), Some(overridden)) =
        (&mut ws_config.mode, config.ws_addr)
    {
        *address = overridden;
    }
    let actor_transport = ActorTransport::new(&host.router, actor);
    let subscriber = Subscriber(Arc::new(MessageSubscriberSender::via(actor_transport)));
    let provider =
        WebSocketMessaging::start(ws_config, subscriber, host.shutdown.clone(), &host.tracker)
            .await?;
    let line = match &provider {
        WebSocketMessaging::Server(server) => format!(
            "WebSocket server on ws://{}{} -> {}",
            server.address(),
            websocket::server::UPGRADE_PATH,
            label(host, actor)
        ),
        WebSocketMessaging::Client(_) => format!(
            "WebSocket client of {} -> {}",
            link.value("URI").unwrap_or_default(),
            label(host, actor)
        ),
    };
    host.started.push(line);
    host.websockets.push(provider.clone());
    let (target, state): (String, StateProbe) = match &provider {
        WebSocketMessaging::Server(server) => (
            format!(
                "ws://{}{}",
                server.address(),
                websocket::server::UPGRADE_PATH
            ),
            always(ConnectionState::Listening),
        ),
        WebSocketMessaging::Client(client) => {
            let client = client.clone();
            (
                link.value("URI").unwrap_or_default().to_string(),
                Arc::new(move || {
                    if client.is_connected() {
                        ConnectionState::Connected
                    } else {
                        ConnectionState::Reconnecting
                    }
                }),
            )
        }
    };
    Ok(StartedProvider::new(
        ProviderHandle::new(Arc::new(provider)),
        "WebSocket messaging (built in)",
        target,
        state,
    ))
}

/// A provider whose contract has no operations for actors to call (the HTTP server only calls in).
struct NoOperations(&'static str);

#[async_trait::async_trait]
impl wasmbus_rpc::common::MessageDispatch for NoOperations {
    async fn dispatch(
        &self,
        _: &wasmbus_rpc::common::Context,
        message: wasmbus_rpc::common::Message<'_>,
    ) -> Result<Vec<u8>, wasmbus_rpc::error::RpcError> {
        Err(wasmbus_rpc::error::RpcError::MethodNotHandled(format!(
            "{} has no operation {}",
            self.0, message.method
        )))
    }
}
