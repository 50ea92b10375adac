//! Store, then relay: a message reaches the other channels only once the chat log accepted it.

use crate::rpc::{Context, RpcResult};
use async_trait::async_trait;

use crate::bindings::chatlog::{CanonicalChatMessage, Chatlog, WriteMessageResponse};
use crate::bindings::outbound::OutboundMessage;
use crate::channels::{Live, CHANNELS};

/// Delivers a message to one channel actor (`Outbound.PublishMessage`).
#[async_trait]
pub trait Outbound {
    async fn publish(&self, alias: &'static str, msg: &OutboundMessage) -> RpcResult<bool>;
}

/// A channel that could not be reached. The message is stored all the same.
#[derive(Debug, PartialEq, Eq)]
pub struct RelayFailure {
    pub alias: &'static str,
    pub error: String,
}

/// The channels a message from `source` is relayed to, in whichever room: all but its own (no
/// loops), unless that one echoes. Each channel's clients choose their rooms by subject or
/// topic. Relaying never feeds back into a write, so an echo cannot loop.
pub fn relay_targets(source: &str) -> impl Iterator<Item = Live> + '_ {
    CHANNELS
        .iter()
        .filter_map(move |c| c.live.filter(|live| live.echoes || c.name != source))
}

/// The relayed form of a stored message, with its position in the history when the chat log
/// gave one, and the time it was stored.
pub fn outbound_message(msg: &CanonicalChatMessage, index: Option<u64>) -> OutboundMessage {
    OutboundMessage {
        id: msg.id.clone(),
        body: msg.body.clone(),
        source_channel: msg.channel_name.clone(),
        source_user: msg.source_user.clone(),
        index,
        ts: msg.ts,
        verified: msg.verified,
        room: msg.room.clone(),
    }
}

/// Writes through the chat log and, if it stored the message now, relays it. A retry that the
/// chat log answers with an earlier write's id was relayed then, and is not relayed again.
/// Relay failures are returned for logging; they never undo or fail the write.
pub async fn write_and_relay(
    ctx: &Context,
    chatlog: &(impl Chatlog + Sync),
    outbound: &(impl Outbound + Sync),
    msg: &CanonicalChatMessage,
) -> RpcResult<(WriteMessageResponse, Vec<RelayFailure>)> {
    let response = chatlog.write_message(ctx, msg).await?;
    let mut failures = Vec::new();
    let stored_now = response.accepted && response.id.as_ref().is_none_or(|id| *id == msg.id);
    if stored_now {
        let relayed = outbound_message(msg, response.index);
        for live in relay_targets(&msg.channel_name) {
            if let Err(e) = outbound.publish(live.alias, &relayed).await {
                failures.push(RelayFailure {
                    alias: live.alias,
                    error: e.to_string(),
                });
            }
        }
    }
    Ok((response, failures))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::chatlog::{
        MessagesList, MessagesPage, MessagesPageRequest, RoomsPage, RoomsPageRequest,
    };
    use futures::executor::block_on;
    use std::sync::Mutex;
    use wasmbus_rpc::error::RpcError;

    /// A chat log that accepts any message whose body is not "refuse me".
    #[derive(Default)]
    struct RecordingChatlog {
        written: Mutex<Vec<CanonicalChatMessage>>,
    }

    #[async_trait]
    impl Chatlog for RecordingChatlog {
        async fn list_rooms(&self, _: &Context, _: &RoomsPageRequest) -> RpcResult<RoomsPage> {
            unreachable!("not used by the relay")
        }
        async fn write_message(
            &self,
            _: &Context,
            msg: &CanonicalChatMessage,
        ) -> RpcResult<WriteMessageResponse> {
            if msg.body == "refuse me" {
                return Ok(WriteMessageResponse {
                    accepted: false,
                    reason: Some("refused".into()),
                    ..Default::default()
                });
            }
            if msg.client_id.as_deref() == Some("retried") {
                return Ok(WriteMessageResponse {
                    accepted: true,
                    id: Some("first-id".into()),
                    ..Default::default()
                });
            }
            let mut written = self.written.lock().unwrap();
            written.push(msg.clone());
            Ok(WriteMessageResponse {
                accepted: true,
                id: Some(msg.id.clone()),
                index: Some(written.len() as u64 - 1),
                ..Default::default()
            })
        }
        async fn get_messages(&self, _: &Context) -> RpcResult<MessagesList> {
            Ok(self.written.lock().unwrap().clone())
        }
        async fn get_messages_page(
            &self,
            _: &Context,
            _: &MessagesPageRequest,
        ) -> RpcResult<MessagesPage> {
            unreachable!("not used by the relay")
        }
    }

    /// Records deliveries; the channel named in `broken` fails.
    #[derive(Default)]
    struct RecordingOutbound {
        delivered: Mutex<Vec<(&'static str, OutboundMessage)>>,
        broken: Option<&'static str>,
    }

    #[async_trait]
    impl Outbound for RecordingOutbound {
        async fn publish(&self, alias: &'static str, msg: &OutboundMessage) -> RpcResult<bool> {
            if self.broken == Some(alias) {
                return Err(RpcError::HostError(format!("{alias} is not running")));
            }
            self.delivered.lock().unwrap().push((alias, msg.clone()));
            Ok(true)
        }
    }

    fn message(channel: &str, body: &str) -> CanonicalChatMessage {
        CanonicalChatMessage {
            id: "id-1".into(),
            channel_name: channel.into(),
            source_user: "carol".into(),
            body: body.into(),
            ts: Some(1_796_000_000_000),
            ..Default::default()
        }
    }

    #[test]
    fn relays_to_every_channel_but_the_source() {
        let targets: Vec<_> = relay_targets("http").map(|c| c.alias).collect();
        assert_eq!(targets, ["mcchat/nats", "mcchat/ws", "mcchat/mqtt"]);
        let targets: Vec<_> = relay_targets("nats").map(|c| c.alias).collect();
        assert_eq!(targets, ["mcchat/ws", "mcchat/mqtt"]);
        let targets: Vec<_> = relay_targets("ws").map(|c| c.alias).collect();
        assert_eq!(targets, ["mcchat/nats", "mcchat/ws", "mcchat/mqtt"]);
        let targets: Vec<_> = relay_targets("mqtt").map(|c| c.alias).collect();
        assert_eq!(targets, ["mcchat/nats", "mcchat/ws"]);
    }

    #[test]
    fn the_relayed_form_says_its_room() {
        let msg = CanonicalChatMessage {
            room: Some("dev".into()),
            ..message("nats", "in dev")
        };
        assert_eq!(outbound_message(&msg, Some(3)).room.as_deref(), Some("dev"));
        assert_eq!(outbound_message(&message("nats", "x"), None).room, None);
    }

    #[test]
    fn stores_then_relays_the_outbound_form_with_its_position_in_the_history() {
        let (chatlog, outbound) = (RecordingChatlog::default(), RecordingOutbound::default());
        let msg = message("http", "hi all");
        let (response, failures) = block_on(write_and_relay(
            &Context::default(),
            &chatlog,
            &outbound,
            &msg,
        ))
        .unwrap();
        assert!(response.accepted);
        assert!(failures.is_empty());
        assert_eq!(*chatlog.written.lock().unwrap(), [msg]);
        let delivered = outbound.delivered.lock().unwrap();
        let aliases: Vec<_> = delivered.iter().map(|d| d.0).collect();
        assert_eq!(aliases, ["mcchat/nats", "mcchat/ws", "mcchat/mqtt"]);
        assert_eq!(
            serde_json::to_value(&delivered[0].1).unwrap(),
            serde_json::json!({"body": "hi all", "id": "id-1", "index": 0, "sourceChannel": "http", "sourceUser": "carol", "ts": 1_796_000_000_000u64, "verified": false})
        );
    }

    #[test]
    fn a_refused_message_is_not_relayed() {
        let (chatlog, outbound) = (RecordingChatlog::default(), RecordingOutbound::default());
        let (response, _) = block_on(write_and_relay(
            &Context::default(),
            &chatlog,
            &outbound,
            &message("nats", "refuse me"),
        ))
        .unwrap();
        assert!(!response.accepted);
        assert_eq!(response.reason.as_deref(), Some("refused"));
        assert!(outbound.delivered.lock().unwrap().is_empty());
    }

    #[test]
    fn a_retry_answered_with_an_earlier_id_is_not_relayed_again() {
        let (chatlog, outbound) = (RecordingChatlog::default(), RecordingOutbound::default());
        let msg = CanonicalChatMessage {
            client_id: Some("retried".into()),
            ..message("http", "again")
        };
        let (response, _) = block_on(write_and_relay(
            &Context::default(),
            &chatlog,
            &outbound,
            &msg,
        ))
        .unwrap();
        assert_eq!(
            (response.accepted, response.id.as_deref()),
            (true, Some("first-id"))
        );
        assert!(outbound.delivered.lock().unwrap().is_empty());
    }

    #[test]
    fn a_broken_channel_does_not_undo_the_write_or_stop_the_others() {
        let chatlog = RecordingChatlog::default();
        let outbound = RecordingOutbound {
            broken: Some("mcchat/nats"),
            ..Default::default()
        };
        let (response, failures) = block_on(write_and_relay(
            &Context::default(),
            &chatlog,
            &outbound,
            &message("ws", "still stored"),
        ))
        .unwrap();
        assert!(response.accepted);
        assert_eq!(chatlog.written.lock().unwrap().len(), 1);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].alias, "mcchat/nats");
        let delivered = outbound.delivered.lock().unwrap();
        assert_eq!(
            delivered.iter().map(|d| d.0).collect::<Vec<_>>(),
            ["mcchat/ws", "mcchat/mqtt"]
        );
    }
}
