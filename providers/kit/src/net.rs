//! What every listener shares: the accept loop, the bearer-token check and the
//! `{"reason": …}` body that every refusal carries; and the deadlines every NATS client keeps.

use std::net::SocketAddr;
use std::time::Duration;

use subtle::ConstantTimeEq;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long a start waits for a NATS server to confirm its subscriptions before going on
/// without (the client goes on trying in the background).
pub const NATS_READY_WAIT: Duration = Duration::from_secs(5);
/// Waits until the server has processed everything `client` sent before, its subscriptions
/// included: the server answers a request nobody listens for ("no responders") only after
/// them. (`flush` returns once the bytes are written, before the server has read them, so a
/// client on another connection could still find no subscriber.) The answer comes from the
/// server itself, so this works for a `no_echo` client too. `false` after `NATS_READY_WAIT`.
pub async fn server_caught_up(client: &async_nats::Client) -> bool {
    let probe = client.request(client.new_inbox(), Default::default());
    match tokio::time::timeout(NATS_READY_WAIT, probe).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => e.kind() == async_nats::RequestErrorKind::NoResponders,
        Err(_) => false,
    }
}

/// Longest a NATS publish may wait for room in the client's buffer: a server that is not there
/// never stalls the caller.
pub const NATS_PUBLISH_DEADLINE: Duration = Duration::from_millis(100);

/// Accepts connections until `stop`, handing each to `serve`. An accept that fails (out of
/// file descriptors, say) is logged and tried again shortly. The listener is closed when this
/// returns, so the port is free again.
pub async fn accept_until(
    listener: TcpListener,
    stop: CancellationToken,
    what: &str,
    mut serve: impl FnMut(TcpStream, SocketAddr),
) {
    let address = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => serve(tcp, peer),
                Err(e) => {
                    tracing::warn!("{what} on {address}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.cancelled() => break,
        }
    }
}

/// Why a presented token was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenRefused {
    Missing,
    Wrong,
}

/// Checks the token `authorization` (a header's value, `Bearer T`; the scheme's case does not
/// matter, RFC 7235) or else `query_token` presents against `expected`, compared in constant
/// time.
pub fn check_token(
    authorization: Option<&str>,
    query_token: Option<&str>,
    expected: &str,
) -> Result<(), TokenRefused> {
    let presented = authorization
        .and_then(bearer_token)
        .or(query_token)
        .ok_or(TokenRefused::Missing)?;
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(TokenRefused::Wrong)
    }
}

/// `T` of `Bearer T`, whatever the scheme's case.
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

/// The body of every refusal sent: `{"reason": "…"}`.
pub fn reason_body(reason: &str) -> String {
    serde_json::json!({ "reason": reason }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_taken_from_the_bearer_header_or_the_query() {
        assert_eq!(check_token(Some("Bearer s3cret"), None, "s3cret"), Ok(()));
        assert_eq!(check_token(Some("bearer s3cret"), None, "s3cret"), Ok(()));
        assert_eq!(check_token(Some("BEARER s3cret"), None, "s3cret"), Ok(()));
        assert_eq!(
            check_token(Some("Basic s3cret"), None, "s3cret"),
            Err(TokenRefused::Missing)
        );
        assert_eq!(check_token(None, Some("s3cret"), "s3cret"), Ok(()));
        let wrong = Err(TokenRefused::Wrong);
        assert_eq!(check_token(Some("Bearer nope"), None, "s3cret"), wrong);
        assert_eq!(
            check_token(None, None, "s3cret"),
            Err(TokenRefused::Missing)
        );
        assert_eq!(reason_body("no \"way\""), r#"{"reason":"no \"way\""}"#);
    }

    #[tokio::test]
    async fn the_accept_loop_closes_its_listener_when_stopped() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let (accepted, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(accept_until(
            listener,
            stop.clone(),
            "test",
            move |_, peer| {
                let _ = accepted.send(peer);
            },
        ));
        let _client = TcpStream::connect(address).await.unwrap();
        seen.recv().await.unwrap();
        stop.cancel();
        task.await.unwrap();
        assert!(TcpStream::connect(address).await.is_err());
    }
}
