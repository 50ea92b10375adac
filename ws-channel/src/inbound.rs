//! A frame from a browser: parsed, stored through the API, acknowledged with the new id.

use crate::rpc::{Context, RpcResult};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::bindings::chatlog::{CanonicalChatMessage, Chatlog};
use crate::CHANNEL_NAME;

/// The subject browsers send chat messages on.
pub const CHAT_SUBJECT: &str = "chat.in";

/// What a browser sends on `chat.in`.
#[derive(Debug, Deserialize)]
struct ChatIn {
    user_name: String,
    body: String,
    /// An idempotency key: a retry with the same one stores nothing new.
    #[serde(default)]
    client_id: Option<String>,
}

/// The answer on the sender's reply subject.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub accepted: bool,
    /// The stored message's id, so the page can match it to the copy it receives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Ack {
    fn refused(reason: impl Into<String>) -> Self {
        Ack {
            accepted: false,
            id: None,
            reason: Some(reason.into()),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an Ack always serializes")
    }
}

/// What a client is told when the message could not be stored for reasons of the chat's own.
pub const UNAVAILABLE: &str = "the chat log is unavailable; nothing was stored, try again";

/// Where the details of a failure go: the client gets a short reason, the operator the whole
/// error (in the actor, the host's log through `wasmcloud:builtin:logging`).
#[async_trait]
pub trait Report {
    async fn failure(&self, detail: String);
}

/// Where message ids come from (`wasmcloud:builtin:numbergen` in the actor).
#[async_trait]
pub trait Ids {
    async fn new_id(&self) -> RpcResult<String>;
}

/// Only a JSON object will do (serde would also take an array of the fields in order). An
/// object is read straight into the fields; anything else is read as a `Value`, for the error.
fn parse_chat_in(body: &[u8]) -> serde_json::Result<ChatIn> {
    if body.iter().copied().find(|b| !b.is_ascii_whitespace()) == Some(b'{') {
        return serde_json::from_slice(body);
    }
    match serde_json::from_slice(body)? {
        object @ serde_json::Value::Object(_) => serde_json::from_value(object),
        _ => Err(serde::de::Error::custom("not an object")),
    }
}

/// Handles one frame. Every outcome is an `Ack`: bad input and failures downstream are
/// refusals with a reason, so a browser is never left without an answer.
pub async fn accept(
    subject: &str,
    body: &[u8],
    ids: &(impl Ids + Sync),
    api: &(impl Chatlog + Sync),
    report: &(impl Report + Sync),
) -> Ack {
    if subject != CHAT_SUBJECT {
        return Ack::refused(format!(
            "send chat messages on {CHAT_SUBJECT}, not {subject}"
        ));
    }
    let incoming = match parse_chat_in(body) {
        Ok(incoming) => incoming,
        Err(e) => return Ack::refused(format!("expected JSON {{\"user_name\",\"body\"}}: {e}")),
    };
    let id = match ids.new_id().await {
        Ok(id) => id,
        Err(e) => {
            report
                .failure(format!("could not assign a message id: {e}"))
                .await;
            return Ack::refused(UNAVAILABLE);
        }
    };
    let msg = CanonicalChatMessage {
        id: id.clone(),
        channel_name: CHANNEL_NAME.to_string(),
        source_user: incoming.user_name,
        body: incoming.body,
        client_id: incoming.client_id,
        index: None,
    };
    match api.write_message(&Context::default(), &msg).await {
        // On a retry with the same client_id, the id is the first write's.
        Ok(response) if response.accepted => Ack {
            accepted: true,
            id: Some(response.id.unwrap_or(id)),
            reason: None,
        },
        Ok(response) => Ack::refused(response.reason.unwrap_or_else(|| "message refused".into())),
        Err(e) => {
            report
                .failure(format!("could not store message {id}: {e}"))
                .await;
            Ack::refused(UNAVAILABLE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps the failures reported, for the tests to read.
    #[derive(Default)]
    struct Reports(Mutex<Vec<String>>);

    #[async_trait]
    impl Report for Reports {
        async fn failure(&self, detail: String) {
            self.0.lock().unwrap().push(detail);
        }
    }
    use crate::bindings::chatlog::{
        MessagesList, MessagesPage, MessagesPageRequest, WriteMessageResponse,
    };
    use futures::executor::block_on;
    use std::sync::Mutex;
    use wasmbus_rpc::error::RpcError;

    const ID: &str = "0b1c7c8e-5a55-4b55-9a55-000000000007";

    struct FixedIds;

    #[async_trait]
    impl Ids for FixedIds {
        async fn new_id(&self) -> RpcResult<String> {
            Ok(ID.into())
        }
    }

    /// Accepts non-empty bodies, like the real chat log; `down` makes every call fail.
    #[derive(Default)]
    struct Api {
        written: Mutex<Vec<CanonicalChatMessage>>,
        down: bool,
    }

    #[async_trait]
    impl Chatlog for Api {
        async fn write_message(
            &self,
            _: &Context,
            msg: &CanonicalChatMessage,
        ) -> RpcResult<WriteMessageResponse> {
            if self.down {
                return Err(RpcError::HostError("mcchat/api is not running".into()));
            }
            if msg.body.trim().is_empty() {
                return Ok(WriteMessageResponse {
                    accepted: false,
                    reason: Some("body must not be empty".into()),
                    ..Default::default()
                });
            }
            self.written.lock().unwrap().push(msg.clone());
            Ok(WriteMessageResponse {
                accepted: true,
                id: Some(msg.id.clone()),
                ..Default::default()
            })
        }
        async fn get_messages(&self, _: &Context) -> RpcResult<MessagesList> {
            unreachable!()
        }
        async fn get_messages_page(
            &self,
            _: &Context,
            _: &MessagesPageRequest,
        ) -> RpcResult<MessagesPage> {
            unreachable!()
        }
    }

    fn ack_json(ack: &Ack) -> serde_json::Value {
        serde_json::from_slice(&ack.to_json()).unwrap()
    }

    #[test]
    fn stores_a_chat_message_as_from_the_ws_channel_and_acks_its_id() {
        let api = Api::default();
        let ack = block_on(accept(
            "chat.in",
            br#"{"user_name":"fay","body":"from a browser"}"#,
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert_eq!(
            ack_json(&ack),
            serde_json::json!({"accepted": true, "id": ID})
        );
        assert_eq!(
            *api.written.lock().unwrap(),
            [CanonicalChatMessage {
                id: ID.into(),
                channel_name: "ws".into(),
                source_user: "fay".into(),
                body: "from a browser".into(),
                client_id: None,
                index: None,
            }]
        );
    }

    #[test]
    fn bad_frames_are_refused_with_a_reason() {
        let api = Api::default();
        let ack = block_on(accept(
            "chat.out",
            br#"{"user_name":"a","body":"b"}"#,
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert_eq!(
            ack_json(&ack),
            serde_json::json!({"accepted": false, "reason": "send chat messages on chat.in, not chat.out"})
        );
        for body in [
            &b"not json"[..],
            br#"{"user_name":"fay"}"#,
            br#"["fay","hi"]"#,
        ] {
            let ack = block_on(accept(
                "chat.in",
                body,
                &FixedIds,
                &api,
                &Reports::default(),
            ));
            assert!(!ack.accepted, "{body:?} was accepted");
            assert!(ack.reason.unwrap().starts_with("expected JSON"));
        }
        let ack = block_on(accept(
            "chat.in",
            br#"{"user_name":"fay","body":" "}"#,
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert_eq!(ack.reason.as_deref(), Some("body must not be empty"));
        assert!(api.written.lock().unwrap().is_empty());
    }

    #[test]
    fn a_failed_store_is_a_refusal_not_silence() {
        let api = Api {
            down: true,
            ..Default::default()
        };
        let ack = block_on(accept(
            "chat.in",
            br#"{"user_name":"fay","body":"hi"}"#,
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert!(!ack.accepted);
        assert_eq!(ack.id, None);
        assert_eq!(ack.reason.as_deref(), Some(UNAVAILABLE));
    }
}
