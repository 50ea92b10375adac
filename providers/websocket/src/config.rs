//! The WebSocket provider's settings, from its link values. The names are those of the
//! ecosystem's sketch (`wasmcloud-provider-messaging-websocket`), so a manifest written for it
//! works here: `MODE`, `URI`, `AUTH_TOKEN`, `CONNECT_TIMEOUT_SEC` and `HEADER_<name>`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use mcchat_provider_kit::{connection_cap, link_number, link_value};

use crate::pattern::Pattern;

/// Where a server listens unless `URI` says otherwise.
pub const DEFAULT_SERVER_ADDR: &str = "0.0.0.0:8081";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Accept browser sessions on this address (upgrade at `GET /ws`).
    Server(SocketAddr),
    /// Dial this `ws://` or `wss://` URL, and keep dialling while it is down.
    Client(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub mode: Mode,
    /// Server: what clients must present (`Authorization: Bearer T` or `?token=T`).
    /// Client: sent as `Authorization: Bearer T`.
    pub auth_token: Option<String>,
    /// Client: how long one dial may take (`CONNECT_TIMEOUT_SEC`, default 30).
    pub connect_timeout: Duration,
    /// Client: extra upgrade headers, from `HEADER_<name>` values.
    pub headers: Vec<(String, String)>,
    /// Server: the patterns a session follows until it subscribes for itself
    /// (`DEFAULT_SUBSCRIPTIONS`, comma-separated; default `>`, every broadcast).
    pub default_subscriptions: Vec<Pattern>,
    pub limits: Limits,
}

/// What one session may cost the server. Defaults suit a chat; link values can change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest text frame taken (`MAX_FRAME_BYTES`, default 64 KiB); larger gets an error frame.
    pub max_frame_bytes: usize,
    /// Frames waiting to be sent to one session (`QUEUE_FRAMES`, default 256). A session whose
    /// queue is full is too slow and is disconnected, so it never holds up the others.
    pub queue_frames: usize,
    /// Inbound frames a session may send each second (`RATE_PER_SEC`, default 20).
    pub rate_per_sec: u32,
    /// Inbound frames a session may send at once (`RATE_BURST`, default 40).
    pub rate_burst: u32,
    /// How often the server pings a quiet session; two missed pings close it.
    pub ping_interval: Duration,
    /// Connections open at once, upgraded or upgrading (`MAX_SESSIONS`; by default half the
    /// process's open-files limit, at most 10,000). One more is answered 503 with a reason.
    pub max_sessions: usize,
    /// Patterns one session may hold (`MAX_SUBSCRIPTIONS`, default 100); one more is refused.
    pub max_subscriptions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 64 * 1024,
            queue_frames: 256,
            rate_per_sec: 20,
            rate_burst: 40,
            ping_interval: Duration::from_secs(20),
            max_sessions: connection_cap::default_cap(2),
            max_subscriptions: 100,
        }
    }
}

impl Config {
    /// Reads the link values; `MODE` defaults to `server`.
    pub fn from_link(values: &BTreeMap<String, String>) -> Result<Config> {
        let uri = link_value(values, "URI");
        let mode = match link_value(values, "MODE")
            .unwrap_or("server")
            .to_ascii_lowercase()
            .as_str()
        {
            "server" => {
                let address = uri.unwrap_or(DEFAULT_SERVER_ADDR);
                // A server URI may be written as a URL (`ws://0.0.0.0:8081/ws`) or an address.
                let address = address
                    .trim_start_matches("ws://")
                    .split('/')
                    .next()
                    .unwrap_or_default();
                Mode::Server(
                    address
                        .parse()
                        .with_context(|| format!("URI {address:?} is not a listen address"))?,
                )
            }
            "client" => {
                let Some(uri) = uri else {
                    bail!("MODE=client needs a URI to dial (ws://… or wss://…)");
                };
                if !(uri.starts_with("ws://") || uri.starts_with("wss://")) {
                    bail!("URI {uri:?} must start with ws:// or wss:// in client mode");
                }
                Mode::Client(uri.to_string())
            }
            other => bail!("MODE {other:?} is neither server nor client"),
        };
        let defaults = Limits::default();
        let limits = Limits {
            max_frame_bytes: link_number(values, "MAX_FRAME_BYTES", defaults.max_frame_bytes)?,
            queue_frames: link_number(values, "QUEUE_FRAMES", defaults.queue_frames)?.max(1),
            rate_per_sec: link_number(values, "RATE_PER_SEC", defaults.rate_per_sec)?.max(1),
            rate_burst: link_number(values, "RATE_BURST", defaults.rate_burst)?.max(1),
            ping_interval: defaults.ping_interval,
            max_sessions: link_number(values, "MAX_SESSIONS", defaults.max_sessions)?.max(1),
            max_subscriptions: link_number(
                values,
                "MAX_SUBSCRIPTIONS",
                defaults.max_subscriptions,
            )?
            .max(1),
        };
        let headers = values
            .iter()
            .filter_map(|(k, v)| {
                let name = k
                    .get(..7)
                    .filter(|p| p.eq_ignore_ascii_case("HEADER_"))
                    .map(|_| &k[7..])?;
                Some((name.to_string(), v.clone()))
            })
            .filter(|(name, _)| !name.is_empty())
            .collect();
        Ok(Config {
            mode,
            auth_token: link_value(values, "AUTH_TOKEN").map(String::from),
            connect_timeout: Duration::from_secs(link_number(values, "CONNECT_TIMEOUT_SEC", 30)?),
            headers,
            default_subscriptions: default_subscriptions(values)?,
            limits,
        })
    }
}

/// `DEFAULT_SUBSCRIPTIONS`, comma-separated; every broadcast (`>`) when it is not set.
fn default_subscriptions(values: &BTreeMap<String, String>) -> Result<Vec<Pattern>> {
    let Some(patterns) = link_value(values, "DEFAULT_SUBSCRIPTIONS") else {
        return Ok(vec![Pattern::all()]);
    };
    patterns
        .split(',')
        .map(str::trim)
        .filter(|pattern| !pattern.is_empty())
        .map(|pattern| {
            Pattern::parse(pattern)
                .with_context(|| format!("DEFAULT_SUBSCRIPTIONS: {pattern:?} is not a pattern"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn server_mode_is_the_default_on_port_8081() {
        let config = Config::from_link(&values(&[])).unwrap();
        assert_eq!(config.mode, Mode::Server("0.0.0.0:8081".parse().unwrap()));
        assert_eq!(config.auth_token, None);
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.default_subscriptions, [Pattern::parse(">").unwrap()]);
        let config = Config::from_link(&values(&[
            ("mode", "Server"),
            ("uri", "ws://127.0.0.1:9000/ws"),
        ]))
        .unwrap();
        assert_eq!(config.mode, Mode::Server("127.0.0.1:9000".parse().unwrap()));
    }

    #[test]
    fn client_mode_takes_the_sketchs_settings() {
        let config = Config::from_link(&values(&[
            ("MODE", "client"),
            ("URI", "wss://chat.example/ws"),
            ("AUTH_TOKEN", "s3cret"),
            ("CONNECT_TIMEOUT_SEC", "5"),
            ("HEADER_X-Client-ID", "mcchat-1"),
            ("QUEUE_FRAMES", "8"),
            ("DEFAULT_SUBSCRIPTIONS", "rtchat.messages, rtchat.ops.*"),
            ("MAX_SUBSCRIPTIONS", "4"),
        ]))
        .unwrap();
        assert_eq!(config.mode, Mode::Client("wss://chat.example/ws".into()));
        assert_eq!(config.auth_token.as_deref(), Some("s3cret"));
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(
            config.headers,
            [("X-Client-ID".to_string(), "mcchat-1".to_string())]
        );
        assert_eq!(config.limits.queue_frames, 8);
        assert_eq!(config.limits.max_subscriptions, 4);
        let defaults: Vec<&str> = config
            .default_subscriptions
            .iter()
            .map(Pattern::as_str)
            .collect();
        assert_eq!(defaults, ["rtchat.messages", "rtchat.ops.*"]);
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        for (pairs, expected) in [
            (&[("MODE", "client")][..], "needs a URI"),
            (
                &[("MODE", "client"), ("URI", "http://x")][..],
                "must start with ws://",
            ),
            (&[("MODE", "relay")][..], "neither server nor client"),
            (&[("URI", "not an address")][..], "not a listen address"),
            (
                &[("CONNECT_TIMEOUT_SEC", "soon")][..],
                "CONNECT_TIMEOUT_SEC",
            ),
            (
                &[("DEFAULT_SUBSCRIPTIONS", "rtchat.>.x")][..],
                "'>' before its end",
            ),
        ] {
            let e = format!("{:#}", Config::from_link(&values(pairs)).unwrap_err());
            assert!(e.contains(expected), "{pairs:?}: {e}");
        }
    }
}
