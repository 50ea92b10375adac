//! Messages from other channels, as published to broker subscribers.

use crate::bindings::outbound::OutboundMessage;

/// The subject every relayed message is published on.
pub const FANOUT_SUBJECT: &str = "rtchat.messages";

/// `{"body","id","sourceChannel","sourceUser"}`: the form subscribers already parse, plus the id.
pub fn fanout_payload(msg: &OutboundMessage) -> Vec<u8> {
    serde_json::to_vec(msg).expect("an OutboundMessage always serializes")
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
        };
        let json: serde_json::Value = serde_json::from_slice(&fanout_payload(&msg)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"body": "hello from http", "id": "m-1", "index": 41, "sourceChannel": "http", "sourceUser": "erin"})
        );
    }
}
