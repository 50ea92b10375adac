//! Says so when the lattice's NATS lets anyone in: a client with no credential can steer this
//! host through its control interface, and can also forge relay frames and take `chat.in`
//! messages. The host still runs (a chat on an open NATS is a choice for development), after
//! one clear warning.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::mask;

/// How long the check waits for the server's greeting.
const GREETING_WAIT: Duration = Duration::from_secs(2);
/// A greeting longer than this is not a NATS server's.
const GREETING_LIMIT: u64 = 64 * 1024;

/// Whether the NATS server at `url` takes clients with no credential: its greeting (`INFO`)
/// does not ask for any. `None` when it cannot be asked (the client goes on trying).
pub async fn is_open(url: &str) -> Option<bool> {
    let parsed = url::Url::parse(url.split(',').next()?.trim()).ok()?;
    let address = (
        parsed.host_str()?.to_string(),
        parsed.port().unwrap_or(4222),
    );
    let greeting = async {
        let tcp = tokio::net::TcpStream::connect(address).await.ok()?;
        let mut line = String::new();
        BufReader::new(tcp.take(GREETING_LIMIT))
            .read_line(&mut line)
            .await
            .ok()?;
        Some(line)
    };
    let line = tokio::time::timeout(GREETING_WAIT, greeting).await.ok()??;
    asks_for_no_credential(&line)
}

/// `INFO {…}` without `"auth_required": true`.
fn asks_for_no_credential(greeting: &str) -> Option<bool> {
    let info: serde_json::Value = serde_json::from_str(greeting.strip_prefix("INFO ")?).ok()?;
    Some(info["auth_required"] != serde_json::Value::Bool(true))
}

/// Logs one line if the lattice's NATS is open.
pub async fn warn_if_open(url: &str, lattice: &str) {
    if is_open(url).await == Some(true) {
        tracing::warn!(
            "NATS at {} takes clients with no credential: any of them can steer this host \
             (wasmbus.ctl.{lattice}.*) and reach every subject, chat.in and the WebSocket relay \
             included; run the chat's trust zones (cargo xtask up does; README, \"Trust zones\")",
            mask::url(url)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::asks_for_no_credential;

    #[test]
    fn only_a_greeting_that_asks_for_credentials_is_closed() {
        let open = r#"INFO {"server_id":"N","max_payload":1048576,"headers":true}"#;
        let closed = r#"INFO {"server_id":"N","auth_required":true,"nonce":"x"}"#;
        assert_eq!(asks_for_no_credential(open), Some(true));
        assert_eq!(asks_for_no_credential(closed), Some(false));
        assert_eq!(asks_for_no_credential("HTTP/1.1 400"), None);
    }
}
