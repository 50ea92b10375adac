//! The api contract's msgpack form, field for field as wasmbus-rpc encodes
//! `interface/api.smithy` (named fields, camelCase, absent options left out, blobs as bytes),
//! and its conversions to and from the WIT records of `crate::contract`. The sender and the
//! receiver of the contract both include this file.

use serde::{Deserialize, Serialize};

use crate::contract as wit;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedMessage {
    #[serde(default)]
    pub channel_name: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default, with = "serde_bytes")]
    pub payload: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub reply_wanted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledgement {
    #[serde(default)]
    pub accepted: bool,
    #[serde(default)]
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, with = "serde_bytes")]
    pub ack: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl From<wit::ReceivedMessage> for ReceivedMessage {
    fn from(m: wit::ReceivedMessage) -> Self {
        ReceivedMessage {
            channel_name: m.channel_name,
            subject: m.subject,
            payload: m.payload,
            idempotency_key: m.idempotency_key,
            reply_wanted: m.reply_wanted,
            token: m.token,
        }
    }
}

impl From<ReceivedMessage> for wit::ReceivedMessage {
    fn from(m: ReceivedMessage) -> Self {
        wit::ReceivedMessage {
            channel_name: m.channel_name,
            subject: m.subject,
            payload: m.payload,
            idempotency_key: m.idempotency_key,
            reply_wanted: m.reply_wanted,
            token: m.token,
        }
    }
}

impl From<wit::Acknowledgement> for Acknowledgement {
    fn from(a: wit::Acknowledgement) -> Self {
        Acknowledgement {
            accepted: a.accepted,
            outcome: a.outcome,
            reason: a.reason,
            ack: a.ack,
            retry_after_ms: a.retry_after_ms,
        }
    }
}

impl From<Acknowledgement> for wit::Acknowledgement {
    fn from(a: Acknowledgement) -> Self {
        wit::Acknowledgement {
            accepted: a.accepted,
            outcome: a.outcome,
            reason: a.reason,
            ack: a.ack,
            retry_after_ms: a.retry_after_ms,
        }
    }
}
