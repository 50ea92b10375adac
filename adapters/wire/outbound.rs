//! The outbound contract's msgpack form, as wasmbus-rpc encodes `interface/outbound.smithy`,
//! and its conversion from and to the WIT record of `crate::contract`. The relay sender and the
//! outbound receiver both include this file.

use serde::{Deserialize, Serialize};

use crate::contract as wit;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundMessage {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub source_channel: String,
    #[serde(default)]
    pub source_user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    #[serde(default)]
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

impl From<wit::OutboundMessage> for OutboundMessage {
    fn from(m: wit::OutboundMessage) -> Self {
        OutboundMessage {
            id: m.id,
            body: m.body,
            source_channel: m.source_channel,
            source_user: m.source_user,
            index: m.index,
            ts: m.ts,
            verified: m.verified,
            room: m.room,
        }
    }
}

impl From<OutboundMessage> for wit::OutboundMessage {
    fn from(m: OutboundMessage) -> Self {
        wit::OutboundMessage {
            id: m.id,
            body: m.body,
            source_channel: m.source_channel,
            source_user: m.source_user,
            index: m.index,
            ts: m.ts,
            verified: m.verified,
            room: m.room,
        }
    }
}
