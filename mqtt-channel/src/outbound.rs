//! Messages from other channels, as MQTT subscribers receive them.

use serde::Serialize;

use crate::bindings::outbound::OutboundMessage;

/// The subject every relayed message is published on: the topic `rtchat/messages`.
pub const FANOUT_SUBJECT: &str = "rtchat.messages";

/// `{"body","id","sourceChannel","sourceUser"}`, the JSON NATS subscribers get too.
pub fn fanout_payload(msg: &OutboundMessage) -> Vec<u8> {
    let fanout = Fanout {
        body: &msg.body,
        id: &msg.id,
        index: msg.index,
        source_channel: &msg.source_channel,
        source_user: &msg.source_user,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_the_nats_form_with_the_id_for_devices_too() {
        let msg = OutboundMessage {
            id: "m-9".into(),
            body: "hello from a browser".into(),
            source_channel: "ws".into(),
            source_user: "fay".into(),
            index: Some(8),
        };
        let json: serde_json::Value = serde_json::from_slice(&fanout_payload(&msg)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"body": "hello from a browser", "id": "m-9", "index": 8, "sourceChannel": "ws", "sourceUser": "fay"})
        );
    }
}
