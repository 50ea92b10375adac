//! What the host's log never writes. Some libraries log what passes through them at debug and
//! trace: async-nats every message it reads (`payload: b"{\"password\":…}"`), rumqttc every
//! packet, tungstenite every frame. Those carry chat messages, passwords and tokens, so
//! whatever `RUST_LOG` asks for, their debug and trace events are dropped.

use tracing::{Level, Metadata};

/// The libraries that log payloads, by their module paths.
const PAYLOAD_LOGGERS: &[&str] = &["async_nats", "rumqttc", "tungstenite", "tokio_tungstenite"];

/// Whether an event may be written: anything at info or above, and below it anything but a
/// payload logger's.
pub fn may_write(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO || !PAYLOAD_LOGGERS.iter().any(|l| is_within(meta.target(), l))
}

fn is_within(target: &str, module: &str) -> bool {
    target
        .strip_prefix(module)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_loggers_are_cut_below_info_and_nothing_else_is() {
        assert!(is_within("async_nats::connection", "async_nats"));
        assert!(is_within("async_nats", "async_nats"));
        assert!(!is_within("async_natsy", "async_nats"));
        assert!(!is_within("mcchat_host::providers::nats", "async_nats"));
    }
}
