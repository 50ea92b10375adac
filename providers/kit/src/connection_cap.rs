//! How many connections a server keeps open, sized to the process's open-files limit, and what
//! a connection over the cap gets: an answer saying so (HTTP 503 with a reason), never a reset.
//!
//! Every connection is a file descriptor. The defaults give WebSocket sessions at most half of
//! the limit and HTTP connections a quarter, so both servers full together leave a quarter for
//! the host's own files, its broker and store connections and the refusals in progress.

use std::sync::{Arc, OnceLock};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The most connections one server keeps by default, however high the limit.
pub const DEFAULT_MAX: usize = 10_000;
/// Connections over the cap answered at once; past these (a flood) one is closed unanswered.
const REFUSING_AT_ONCE: usize = 64;

/// The open-files limit, raised first to the most the process may have (its hard limit), as
/// servers do at start (nats-server, nginx's `worker_rlimit_nofile`). Raised once per process,
/// however many servers read it.
pub fn open_files_limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        rlimit::increase_nofile_limit(u64::MAX)
            .or_else(|_| rlimit::Resource::NOFILE.get_soft())
            .unwrap_or(1024)
    })
}

/// A server's default cap: `1/share` of the open-files limit, at most `DEFAULT_MAX`.
pub fn default_cap(share: u64) -> usize {
    let cap = open_files_limit() / share.max(1);
    usize::try_from(cap)
        .unwrap_or(usize::MAX)
        .clamp(1, DEFAULT_MAX)
}

/// What an accepted connection may do. Either permit is held for as long as the connection.
pub enum Admission {
    Serve(OwnedSemaphorePermit),
    /// Over the cap: answer that the server is full, then close.
    Refuse(OwnedSemaphorePermit),
    /// Over the cap and over the refusals in progress: close it now.
    Close,
}

#[derive(Clone)]
pub struct ConnectionCap {
    open: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
    max: usize,
}

impl ConnectionCap {
    pub fn new(max: usize) -> Self {
        ConnectionCap {
            open: Arc::new(Semaphore::new(max)),
            refusing: Arc::new(Semaphore::new(REFUSING_AT_ONCE)),
            max,
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn admit(&self) -> Admission {
        if let Ok(permit) = self.open.clone().try_acquire_owned() {
            return Admission::Serve(permit);
        }
        match self.refusing.clone().try_acquire_owned() {
            Ok(permit) => Admission::Refuse(permit),
            Err(_) => Admission::Close,
        }
    }

    /// What a connection over the cap is told.
    pub fn full_reason(&self) -> String {
        format!(
            "the server is at its cap of {} connections; try again shortly",
            self.max
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_cap_connections_are_refused_then_closed() {
        let cap = ConnectionCap::new(2);
        let served: Vec<_> = (0..2).map(|_| cap.admit()).collect();
        assert!(served.iter().all(|a| matches!(a, Admission::Serve(_))));
        let refused: Vec<_> = (0..REFUSING_AT_ONCE).map(|_| cap.admit()).collect();
        assert!(refused.iter().all(|a| matches!(a, Admission::Refuse(_))));
        assert!(matches!(cap.admit(), Admission::Close));
        drop(served);
        assert!(matches!(cap.admit(), Admission::Serve(_)));
    }

    #[test]
    fn the_default_cap_is_a_share_of_the_open_files_limit() {
        let limit = open_files_limit();
        assert!(limit >= rlimit::Resource::NOFILE.get_soft().unwrap());
        let half = default_cap(2) as u64;
        assert_eq!(half, (limit / 2).clamp(1, DEFAULT_MAX as u64));
    }
}
