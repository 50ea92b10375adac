//! A provider as the rest of the host sees it, whichever it is: what serves one link
//! (`Started`), what answers its calls and how soon (`ProviderHandle`), whether it is connected
//! (`ConnectionState`), and the contracts the host links.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use wasmbus_rpc::common::MessageDispatch;

/// Contract ids of the providers linked from a manifest.
pub const HTTPSERVER: &str = "wasmcloud:httpserver";
pub const MESSAGING: &str = "wasmcloud:messaging";
pub const KEYVALUE: &str = "wasmcloud:keyvalue";

/// A provider's connection, as operators want to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    Connected,
    Reconnecting,
    Listening,
}

/// Something that answers `Service.Method` calls.
pub type Dispatcher = Arc<dyn MessageDispatch + Send + Sync>;

/// A provider as the router sees it: what answers its calls, and how long an answer may take
/// (none: it answers at once, in the caller's task, and a timer would only cost).
#[derive(Clone)]
pub struct ProviderHandle {
    pub(crate) dispatcher: Dispatcher,
    pub(crate) deadline: Option<Duration>,
}

impl ProviderHandle {
    /// A provider answering within `PROVIDER_DEADLINE`: a stuck server becomes a quick refusal.
    pub fn new(dispatcher: Dispatcher) -> Self {
        ProviderHandle {
            dispatcher,
            deadline: Some(PROVIDER_DEADLINE),
        }
    }

    /// A provider that answers at once, waiting on nothing (the clock).
    pub fn immediate(dispatcher: Dispatcher) -> Self {
        ProviderHandle {
            dispatcher,
            deadline: None,
        }
    }

    /// A provider on this machine's disk: a durable commit on a busy disk is slow, not down.
    pub fn local_disk(dispatcher: Dispatcher) -> Self {
        ProviderHandle {
            dispatcher,
            deadline: Some(LOCAL_DISK_DEADLINE),
        }
    }
}

/// Longest a call to a provider in front of a server may take. Deadlines shrink inward (HTTP
/// request > actor call > provider call), so the innermost fault is the one reported: a stuck
/// Redis becomes a refusal the actor answers with a 503, well before any outer deadline fires.
pub const PROVIDER_DEADLINE: Duration = Duration::from_secs(1);
/// Longest a call to a store on local disk may take: an fsync behind other writes to the same
/// disk can take seconds, and a refusal then would say the message was not stored while the
/// commit goes on. Still well inside the actor's own call deadline.
pub const LOCAL_DISK_DEADLINE: Duration = Duration::from_secs(5);

/// A provider serving one link.
#[async_trait]
pub trait Started: Send + Sync {
    /// What answers the actor's calls, and how long an answer may take.
    fn handle(&self) -> ProviderHandle;
    /// What it is connected to or listens on (a URL, secrets not yet masked).
    fn target(&self) -> String;
    fn state(&self) -> ConnectionState;
    /// One line for people: what it is and where (`HTTP server on http://127.0.0.1:8080`).
    fn describe(&self) -> String;
    /// Where it listens, if it does.
    fn listen_address(&self) -> Option<SocketAddr> {
        None
    }
    /// Stops serving the link: listeners close, subscriptions drain, sessions are closed with a
    /// reason. Returns once nothing new reaches the actor through it.
    async fn stop(&self);
}
