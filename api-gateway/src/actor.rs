//! wasmbus glue: the Chatlog service, written through `mcchat/chatlog` and relayed by alias.

use async_trait::async_trait;
use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_logging::log;

use crate::bindings::chatlog::{
    CanonicalChatMessage, Chatlog, ChatlogReceiver, ChatlogSender, MessagesList, MessagesPage,
    MessagesPageRequest, WriteMessageResponse,
};
use crate::bindings::outbound::{Outbound as _, OutboundMessage, OutboundSender};
use crate::relay::{self, Channel, Outbound};

const CHATLOG_ALIAS: &str = "mcchat/chatlog";

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, Chatlog)]
struct ApiGatewayActor {}

/// Relays to channel actors by call alias.
struct ChannelActors;

#[async_trait]
impl Outbound for ChannelActors {
    async fn publish(&self, channel: Channel, msg: &OutboundMessage) -> RpcResult<bool> {
        OutboundSender::to_actor(channel.alias)
            .publish_message(&Context::default(), msg)
            .await
    }
}

fn chatlog() -> ChatlogSender<WasmHost> {
    ChatlogSender::to_actor(CHATLOG_ALIAS)
}

#[async_trait]
impl Chatlog for ApiGatewayActor {
    async fn write_message(
        &self,
        ctx: &Context,
        msg: &CanonicalChatMessage,
    ) -> RpcResult<WriteMessageResponse> {
        let (response, failures) =
            relay::write_and_relay(ctx, &chatlog(), &ChannelActors, msg).await?;
        for failure in failures {
            // Logging must never fail a request, so its own errors are dropped.
            let _ = log(
                "warn",
                format!(
                    "message {} stored but not relayed to {}: {}",
                    msg.id, failure.channel.alias, failure.error
                ),
            )
            .await;
        }
        Ok(response)
    }

    async fn get_messages(&self, ctx: &Context) -> RpcResult<MessagesList> {
        chatlog().get_messages(ctx).await
    }

    async fn get_messages_page(
        &self,
        ctx: &Context,
        req: &MessagesPageRequest,
    ) -> RpcResult<MessagesPage> {
        chatlog().get_messages_page(ctx, req).await
    }
}
