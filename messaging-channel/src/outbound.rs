//! Messages from other channels, as every subscriber receives them: NATS clients, browsers and
//! MQTT devices (on the topic `rtchat/messages`) alike.

use serde::Serialize;

use crate::bindings::outbound::OutboundMessage;

/// The subject every relayed message is published on.
pub const FANOUT_SUBJECT: &str = "rtchat.messages";

/// `{"body","id","sourceChannel","sourceUser"}`: the form subscribers already parse, plus the
/// id, the position in the history and the time it was stored.
pub fn fanout_payload(msg: &OutboundMessage) -> Vec<u8> {
    let fanout = Fanout {
        body: &msg.body,
        id: &msg.id,
        index: msg.index,
        source_channel: &msg.source_channel,
        source_user: &msg.source_user,
        ts: msg.ts,
        verified: msg.verified,
    };
    serde_json::to_vec(&fanout).expect("a fanout message always serializes")
}

/// The published JSON, this channel's own format whichever bindings (the module's or the
/// component's) carried the message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Fanout<'a> {
    body: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    source_channel: &'a str,
    source_user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
    /// Present, and true, when its author proved the name with a token.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    verified: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_the_documented_fields() {
        let msg = OutboundMessage {
            id: "m-1".into(),
            body: "hello from http".into(),
            source_channel: "http".into(),
            source_user: "erin".into(),
            index: Some(41),
            ts: Some(1_796_000_000_000),
            verified: true,
        };
        let json: serde_json::Value = serde_json::from_slice(&fanout_payload(&msg)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"body": "hello from http", "id": "m-1", "index": 41, "sourceChannel": "http", "sourceUser": "erin", "ts": 1_796_000_000_000u64, "verified": true})
        );
    }
}
