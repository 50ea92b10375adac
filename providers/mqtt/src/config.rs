//! The MQTT provider's settings, from its link values, in the style of wasmCloud's NATS
//! provider (`URI`, `SUBSCRIPTION`, `TLS_CA_FILE`). Every value has a default that suits the
//! chat on a local mosquitto.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mcchat_provider_kit::{link_number, link_value, LinkValues};
use rumqttc::v5::mqttbytes::QoS;

/// The broker a link connects to unless its `URI` names another.
pub const DEFAULT_URI: &str = "mqtt://127.0.0.1:1883";
/// What a link subscribes to unless its `SUBSCRIPTION` says otherwise.
pub const DEFAULT_SUBSCRIPTION: &str = "chat/in";
/// Where the chat's copies go out unless a link's `FANOUT_TOPICS` names others.
pub const DEFAULT_FANOUT_TOPICS: &str = "rtchat/messages";
/// The shared-subscription group of a link that names none (`QUEUE_GROUP`).
pub const DEFAULT_QUEUE_GROUP: &str = "mcchat";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `URI`: `mqtt://HOST[:PORT]` (1883) or `mqtts://HOST[:PORT]` (8883, TLS).
    pub uri: String,
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// `SUBSCRIPTION`: MQTT filters, comma-separated (default `chat/in`). Each is subscribed as
    /// a shared subscription in `queue_group` unless it is one already (`$share/G/…`), so the
    /// instances of a link on several hosts take each message once between them.
    pub subscriptions: Vec<String>,
    /// `FANOUT_TOPICS`: MQTT filters, comma-separated (default `rtchat/messages`): where the
    /// actor publishes for every device. No response topic may be one of them, or an ack would
    /// reach every device.
    pub fanout_topics: Vec<String>,
    /// `QUEUE_GROUP` (default `mcchat`; the mcchat host's `--queue-group`).
    pub queue_group: String,
    /// `CLIENT_ID` (default `mcchat-` and 12 random hex digits: every connection needs its own).
    pub client_id: String,
    /// `USERNAME` and `PASSWORD`, if the broker wants them (or the URI's own
    /// `mqtt://USER:PASSWORD@…`).
    pub credentials: Option<(String, String)>,
    /// `QOS`: 0 or 1 (default 1), for subscriptions and publishes alike.
    pub qos: QoS,
    /// `KEEP_ALIVE_SEC` (default 30).
    pub keep_alive: Duration,
    /// `TLS_CA_FILE`: PEM roots to trust for `mqtts://` (default: the system's roots).
    pub tls_ca_file: Option<PathBuf>,
    /// `MAX_PAYLOAD_BYTES` (default 64 KiB): larger messages are refused, not delivered.
    pub max_payload_bytes: usize,
}

impl Config {
    pub fn from_link(values: &LinkValues) -> Result<Config> {
        let uri = link_value(values, "URI").unwrap_or(DEFAULT_URI).to_string();
        let (tls, default_port) = match uri.split_once("://").map(|(scheme, _)| scheme) {
            Some("mqtt" | "tcp") => (false, 1883),
            Some("mqtts" | "ssl") => (true, 8883),
            _ => bail!("URI {uri:?} must start with mqtt:// or mqtts://"),
        };
        let parsed = url::Url::parse(&uri).with_context(|| format!("URI {uri:?}"))?;
        let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
            bail!("URI {uri:?} names no broker host");
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let filters = |name: &str, default: &str| -> Result<Vec<String>> {
            let filters: Vec<String> = link_value(values, name)
                .unwrap_or(default)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            for filter in &filters {
                check_filter(name, filter)?;
            }
            Ok(filters)
        };
        let subscriptions = filters("SUBSCRIPTION", DEFAULT_SUBSCRIPTION)?;
        let fanout_topics = filters("FANOUT_TOPICS", DEFAULT_FANOUT_TOPICS)?;
        let qos = match link_number(values, "QOS", 1u8)? {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            other => bail!("QOS {other} is not supported: 0 or 1 (stored messages are deduplicated by client_id)"),
        };
        let credentials = match (
            link_value(values, "USERNAME"),
            link_value(values, "PASSWORD"),
        ) {
            (Some(user), password) => Some((user.to_string(), password.unwrap_or("").to_string())),
            (None, Some(_)) => bail!("PASSWORD is set without a USERNAME"),
            (None, None) if !parsed.username().is_empty() => {
                let decoded = |part: &str| {
                    percent_decode(part)
                        .with_context(|| format!("URI {:?}: its user or password", mask(&uri)))
                };
                Some((
                    decoded(parsed.username())?,
                    decoded(parsed.password().unwrap_or(""))?,
                ))
            }
            (None, None) => None,
        };
        let keep_alive = link_number(values, "KEEP_ALIVE_SEC", 30u64)?;
        if keep_alive < 5 {
            bail!("KEEP_ALIVE_SEC {keep_alive} is under the 5 s the client allows");
        }
        let client_id = link_value(values, "CLIENT_ID").map_or_else(
            || {
                format!(
                    "mcchat-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..12]
                )
            },
            String::from,
        );
        Ok(Config {
            port: parsed.port().unwrap_or(default_port),
            host,
            tls,
            uri,
            subscriptions,
            fanout_topics,
            queue_group: link_value(values, "QUEUE_GROUP")
                .unwrap_or(DEFAULT_QUEUE_GROUP)
                .to_string(),
            client_id,
            credentials,
            qos,
            keep_alive: Duration::from_secs(keep_alive),
            tls_ca_file: link_value(values, "TLS_CA_FILE").map(PathBuf::from),
            max_payload_bytes: link_number(values, "MAX_PAYLOAD_BYTES", 64 * 1024)?,
        })
    }

    /// The broker, for logs and the dashboard: the URI without its password.
    pub fn target(&self) -> String {
        mask(&self.uri)
    }

    /// The filters as subscribed: each a shared subscription.
    pub fn shared_subscriptions(&self) -> Vec<String> {
        self.subscriptions
            .iter()
            .map(|filter| {
                if filter.starts_with("$share/") {
                    filter.clone()
                } else {
                    format!("$share/{}/{filter}", self.queue_group)
                }
            })
            .collect()
    }
}

/// A filter MQTT accepts: `+` and `#` only as whole levels, `#` only last.
fn check_filter(name: &str, filter: &str) -> Result<()> {
    let levels: Vec<&str> = crate::topic::without_share(filter).split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let wildcard_inside = level.len() > 1 && level.contains(['+', '#']);
        if wildcard_inside || (*level == "#" && i + 1 != levels.len()) {
            bail!("{name} {filter:?} is not an MQTT filter");
        }
    }
    Ok(())
}

/// A URI with its password (or a lone user) hidden.
fn mask(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => uri.to_string(),
    }
}

/// A URL's user or password, which it keeps percent-encoded.
fn percent_decode(part: &str) -> Result<String> {
    Ok(percent_encoding::percent_decode_str(part)
        .decode_utf8()?
        .into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> LinkValues {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_suit_the_chat_on_a_local_broker() {
        let config = Config::from_link(&LinkValues::new()).unwrap();
        assert_eq!(
            (config.host.as_str(), config.port, config.tls),
            ("127.0.0.1", 1883, false)
        );
        assert_eq!(config.shared_subscriptions(), ["$share/mcchat/chat/in"]);
        assert_eq!(config.qos, QoS::AtLeastOnce);
        assert_eq!(config.keep_alive, Duration::from_secs(30));
        assert!(
            config.client_id.starts_with("mcchat-"),
            "{}",
            config.client_id
        );
        let other = Config::from_link(&LinkValues::new()).unwrap();
        assert_ne!(config.client_id, other.client_id);
    }

    #[test]
    fn link_values_set_everything() {
        let config = Config::from_link(&values(&[
            ("uri", "mqtts://broker.example:9883"),
            (
                "SUBSCRIPTION",
                "chat/in, $share/devices/sensors/+/chat,rooms/#",
            ),
            ("QUEUE_GROUP", "blue"),
            ("CLIENT_ID", "gateway-1"),
            ("USERNAME", "chat"),
            ("PASSWORD", "s3cret"),
            ("QOS", "0"),
            ("KEEP_ALIVE_SEC", "10"),
            ("TLS_CA_FILE", "/etc/ca.pem"),
        ]))
        .unwrap();
        assert_eq!(
            (config.host.as_str(), config.port, config.tls),
            ("broker.example", 9883, true)
        );
        assert_eq!(
            config.shared_subscriptions(),
            [
                "$share/blue/chat/in",
                "$share/devices/sensors/+/chat",
                "$share/blue/rooms/#"
            ]
        );
        assert_eq!(config.client_id, "gateway-1");
        assert_eq!(config.credentials, Some(("chat".into(), "s3cret".into())));
        assert_eq!(config.qos, QoS::AtMostOnce);
        assert_eq!(config.tls_ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(
            Config::from_link(&values(&[("URI", "mqtts://b")]))
                .unwrap()
                .port,
            8883
        );
    }

    #[test]
    fn the_uri_may_carry_the_credentials_and_never_shows_the_password() {
        let config =
            Config::from_link(&values(&[("URI", "mqtt://chat:s%40cret@127.0.0.1:1884")])).unwrap();
        assert_eq!(
            config.credentials,
            Some(("chat".to_string(), "s@cret".to_string()))
        );
        assert_eq!(config.target(), "mqtt://chat:***@127.0.0.1:1884");
        let given = Config::from_link(&values(&[
            ("URI", "mqtt://chat:ignored@127.0.0.1"),
            ("USERNAME", "device"),
        ]))
        .unwrap();
        assert_eq!(
            given.credentials,
            Some(("device".to_string(), String::new()))
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_value_named() {
        for (key, value, expected) in [
            ("URI", "nats://127.0.0.1:4222", "mqtt://"),
            ("URI", "mqtt://", "no broker host"),
            ("SUBSCRIPTION", "chat/in#", "not an MQTT filter"),
            ("SUBSCRIPTION", "chat/#/in", "not an MQTT filter"),
            (
                "FANOUT_TOPICS",
                "rtchat/#/x",
                "FANOUT_TOPICS \"rtchat/#/x\" is not",
            ),
            ("QOS", "2", "QOS 2"),
            ("QOS", "high", "QOS"),
            ("KEEP_ALIVE_SEC", "1", "KEEP_ALIVE_SEC"),
            ("PASSWORD", "x", "without a USERNAME"),
        ] {
            let e = Config::from_link(&values(&[(key, value)])).unwrap_err();
            assert!(format!("{e:#}").contains(expected), "{key}={value}: {e:#}");
        }
    }
}
