//! Messages from other channels, as every subscriber receives them: NATS clients, browsers and
//! MQTT devices (on the topic `rtchat/messages`, or `rtchat/<room>/messages`) alike.

use std::borrow::Cow;

use serde::Serialize;

use crate::bindings::outbound::OutboundMessage;

/// The subject the default room's messages are published on.
pub const FANOUT_SUBJECT: &str = "rtchat.messages";
/// The room a message without one is in.
const DEFAULT_ROOM: &str = "general";

/// Where a message is published: `rtchat.messages` for the default room, as ever, and
/// `rtchat.<room>.messages` for another, so `rtchat.>` (MQTT `rtchat/#`) follows every room.
pub fn fanout_subject(msg: &OutboundMessage) -> Cow<'static, str> {
    match &msg.room {
        Some(room) if room != DEFAULT_ROOM => Cow::Owned(format!("rtchat.{room}.messages")),
        _ => Cow::Borrowed(FANOUT_SUBJECT),
    }
}

/// `{"body","id","sourceChannel","sourceUser"}`: the form subscribers already parse, plus the
/// id, the position in the history, the time it was stored and its room.
pub fn fanout_payload(msg: &OutboundMessage) -> Vec<u8> {
    let fanout = Fanout {
        body: &msg.body,
        id: &msg.id,
        index: msg.index,
        room: msg.room.as_deref().unwrap_or(DEFAULT_ROOM),
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
    room: &'a str,
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
            room: None,
        };
        let json: serde_json::Value = serde_json::from_slice(&fanout_payload(&msg)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"body": "hello from http", "id": "m-1", "index": 41, "room": "general", "sourceChannel": "http", "sourceUser": "erin", "ts": 1_796_000_000_000u64, "verified": true})
        );
        assert_eq!(fanout_subject(&msg), "rtchat.messages");
    }

    #[test]
    fn each_room_has_its_own_subject_and_says_its_name() {
        let msg = OutboundMessage {
            id: "m-2".into(),
            body: "hi dev".into(),
            source_channel: "nats".into(),
            source_user: "erin".into(),
            room: Some("dev".into()),
            ..Default::default()
        };
        assert_eq!(fanout_subject(&msg), "rtchat.dev.messages");
        let json: serde_json::Value = serde_json::from_slice(&fanout_payload(&msg)).unwrap();
        assert_eq!(json["room"], "dev");
        let general = OutboundMessage {
            room: Some("general".into()),
            ..msg
        };
        assert_eq!(fanout_subject(&general), "rtchat.messages");
    }
}
