//! Client mode: dial `URI` (with `AUTH_TOKEN` as a Bearer header and every `HEADER_*`), and dial
//! again with backoff whenever the connection drops. Frames from the server go to the linked
//! actor; the actor's publishes go to the server as frames.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::frame::{self, Frame};
use crate::session::{self, Inbound, Outbox, Refused};
use crate::{take_frame, Config, Inboxes, Subscriber, WebSocketError};

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

pub struct Client {
    uri: String,
    /// The live connection's outbox; `None` while (re)connecting.
    connection: Mutex<Option<Outbox>>,
    subscriber: Subscriber,
    pub(crate) inboxes: Inboxes,
    stop: CancellationToken,
}

impl Client {
    /// Starts dialling `uri` in the background, until `shutdown`; returns at once.
    pub fn start(
        config: Config,
        uri: String,
        subscriber: Subscriber,
        shutdown: CancellationToken,
        tracker: &TaskTracker,
    ) -> anyhow::Result<Arc<Client>> {
        let mut request = uri.as_str().into_client_request()?;
        if let Some(token) = &config.auth_token {
            request.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}"))?,
            );
        }
        for (name, value) in &config.headers {
            request.headers_mut().insert(
                HeaderName::try_from(name.as_str())?,
                HeaderValue::from_str(value)?,
            );
        }
        let client = Arc::new(Client {
            uri,
            connection: Mutex::default(),
            subscriber,
            inboxes: Inboxes::default(),
            stop: shutdown.clone(),
        });
        let dialling = client.clone();
        tracker.spawn(async move {
            let mut retry = FIRST_RETRY;
            while !shutdown.is_cancelled() {
                let dial = tokio_tungstenite::connect_async(request.clone());
                match tokio::time::timeout(config.connect_timeout, dial).await {
                    Ok(Ok((ws, _))) => {
                        tracing::info!("WebSocket client connected to {}", dialling.uri);
                        retry = FIRST_RETRY;
                        let (outbox, queue) = session::outbox(&config.limits);
                        *dialling.connection.lock().expect("connection lock") =
                            Some(outbox.clone());
                        let inbound = ClientInbound(dialling.clone());
                        session::run(
                            ws,
                            (outbox, queue),
                            &inbound,
                            config.limits,
                            shutdown.clone(),
                        )
                        .await;
                        *dialling.connection.lock().expect("connection lock") = None;
                        tracing::warn!("WebSocket client lost its connection to {}", dialling.uri);
                    }
                    Ok(Err(e)) => tracing::warn!(
                        "WebSocket client could not connect to {}: {e}",
                        dialling.uri
                    ),
                    Err(_) => tracing::warn!(
                        "WebSocket client: no connection to {} within {:?}",
                        dialling.uri,
                        config.connect_timeout
                    ),
                }
                tokio::select! {
                    _ = tokio::time::sleep(mcchat_provider_kit::redial::jittered(retry)) => {}
                    _ = shutdown.cancelled() => break,
                }
                retry = (retry * 2).min(LONGEST_RETRY);
            }
        });
        Ok(client)
    }

    /// The server it dials.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Hangs up, and dials no more.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Whether a connection is open now (it redials by itself when not).
    pub fn is_connected(&self) -> bool {
        self.connection.lock().expect("connection lock").is_some()
    }

    /// Sends a frame to the server.
    pub fn publish(
        &self,
        subject: &str,
        body: &[u8],
        reply_to: Option<&str>,
    ) -> Result<(), WebSocketError> {
        let outbox = self.connection.lock().expect("connection lock").clone();
        let Some(outbox) = outbox else {
            return Err(WebSocketError::NotConnected(self.uri.clone()));
        };
        outbox
            .push(frame::encode(subject, body, reply_to).into())
            .map_err(|refused| match refused {
                Refused::TooSlow => WebSocketError::ServerTooSlow(self.uri.clone()),
                Refused::Gone => WebSocketError::NotConnected(self.uri.clone()),
            })
    }
}

struct ClientInbound(Arc<Client>);

#[async_trait::async_trait]
impl Inbound for ClientInbound {
    /// The server's reply subjects are passed on as they are.
    async fn frame(&self, frame: Frame) -> Result<(), String> {
        let client = &self.0;
        take_frame(&client.inboxes, &client.subscriber, frame, |reply_to| {
            reply_to
        })
        .await
    }
}
