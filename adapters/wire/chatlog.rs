//! The chatlog contract's msgpack form, field for field as wasmbus-rpc encodes
//! `interface/chatlog.smithy` (named fields, camelCase, absent options left out), and its
//! conversions to and from the WIT records of `crate::contract`. The sender and the receiver
//! of the contract both include this file.

use serde::{Deserialize, Serialize};

use crate::contract as wit;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanonicalChatMessage {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub source_user: String,
    #[serde(default)]
    pub channel_name: String,
    #[serde(default)]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    #[serde(default)]
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteMessageResponse {
    #[serde(default)]
    pub accepted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub in_progress: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagesPageRequest {
    #[serde(default)]
    pub limit: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagesPage {
    pub messages: Vec<CanonicalChatMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<wit::CanonicalChatMessage> for CanonicalChatMessage {
    fn from(m: wit::CanonicalChatMessage) -> Self {
        CanonicalChatMessage {
            id: m.id,
            source_user: m.source_user,
            channel_name: m.channel_name,
            body: m.body,
            client_id: m.client_id,
            index: m.index,
            ts: m.ts,
            verified: m.verified,
            room: m.room,
        }
    }
}

impl From<CanonicalChatMessage> for wit::CanonicalChatMessage {
    fn from(m: CanonicalChatMessage) -> Self {
        wit::CanonicalChatMessage {
            id: m.id,
            source_user: m.source_user,
            channel_name: m.channel_name,
            body: m.body,
            client_id: m.client_id,
            index: m.index,
            ts: m.ts,
            verified: m.verified,
            room: m.room,
        }
    }
}

impl From<wit::WriteMessageResponse> for WriteMessageResponse {
    fn from(r: wit::WriteMessageResponse) -> Self {
        WriteMessageResponse {
            accepted: r.accepted,
            reason: r.reason,
            id: r.id,
            in_progress: r.in_progress,
            index: r.index,
        }
    }
}

impl From<WriteMessageResponse> for wit::WriteMessageResponse {
    fn from(r: WriteMessageResponse) -> Self {
        wit::WriteMessageResponse {
            accepted: r.accepted,
            reason: r.reason,
            id: r.id,
            in_progress: r.in_progress,
            index: r.index,
        }
    }
}

impl From<wit::MessagesPageRequest> for MessagesPageRequest {
    fn from(r: wit::MessagesPageRequest) -> Self {
        MessagesPageRequest {
            limit: r.limit,
            before: r.before,
            room: r.room,
        }
    }
}

impl From<MessagesPageRequest> for wit::MessagesPageRequest {
    fn from(r: MessagesPageRequest) -> Self {
        wit::MessagesPageRequest {
            limit: r.limit,
            before: r.before,
            room: r.room,
        }
    }
}

impl From<wit::MessagesPage> for MessagesPage {
    fn from(p: wit::MessagesPage) -> Self {
        MessagesPage {
            messages: p.messages.into_iter().map(Into::into).collect(),
            next_before: p.next_before,
            reason: p.reason,
        }
    }
}

impl From<MessagesPage> for wit::MessagesPage {
    fn from(p: MessagesPage) -> Self {
        wit::MessagesPage {
            messages: p.messages.into_iter().map(Into::into).collect(),
            next_before: p.next_before,
            reason: p.reason,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomsPageRequest {
    #[serde(default)]
    pub limit: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomSummary {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub message_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ts: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomsPage {
    pub rooms: Vec<RoomSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

impl From<wit::RoomsPageRequest> for RoomsPageRequest {
    fn from(r: wit::RoomsPageRequest) -> Self {
        RoomsPageRequest {
            limit: r.limit,
            after: r.after,
        }
    }
}

impl From<RoomsPageRequest> for wit::RoomsPageRequest {
    fn from(r: RoomsPageRequest) -> Self {
        wit::RoomsPageRequest {
            limit: r.limit,
            after: r.after,
        }
    }
}

impl From<wit::RoomSummary> for RoomSummary {
    fn from(r: wit::RoomSummary) -> Self {
        RoomSummary {
            name: r.name,
            message_count: r.message_count,
            last_ts: r.last_ts,
        }
    }
}

impl From<RoomSummary> for wit::RoomSummary {
    fn from(r: RoomSummary) -> Self {
        wit::RoomSummary {
            name: r.name,
            message_count: r.message_count,
            last_ts: r.last_ts,
        }
    }
}

impl From<wit::RoomsPage> for RoomsPage {
    fn from(p: wit::RoomsPage) -> Self {
        RoomsPage {
            rooms: p.rooms.into_iter().map(Into::into).collect(),
            next_after: p.next_after,
        }
    }
}

impl From<RoomsPage> for wit::RoomsPage {
    fn from(p: RoomsPage) -> Self {
        wit::RoomsPage {
            rooms: p.rooms.into_iter().map(Into::into).collect(),
            next_after: p.next_after,
        }
    }
}
