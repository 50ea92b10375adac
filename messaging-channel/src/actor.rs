//! wasmbus glue: provider messages in (`MessageSubscriber`), relayed messages out (`Outbound`).

use async_trait::async_trait;
use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_logging::log;
use wasmcloud_interface_messaging::{
    MessageSubscriber, MessageSubscriberReceiver, Messaging, MessagingSender, PubMessage,
    SubMessage,
};

use crate::bindings::api::{Acknowledgement, Api, ApiSender};
use crate::bindings::outbound::{Outbound, OutboundMessage, OutboundReceiver};
use crate::channel::{answer, api_unavailable, received, Answer};
use crate::outbound::{fanout_payload, fanout_subject};

const API_ALIAS: &str = "mcchat/api";

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, MessageSubscriber, Outbound)]
struct MessagingChannelActor {}

async fn publish(ctx: &Context, subject: &str, body: Vec<u8>) -> RpcResult<()> {
    let msg = PubMessage {
        subject: subject.to_string(),
        reply_to: None,
        body,
    };
    MessagingSender::new().publish(ctx, &msg).await
}

/// The API's answer, or a refusal when the API did not answer (the details to the log).
async fn accept(ctx: &Context, msg: &SubMessage) -> Acknowledgement {
    let received = received(&msg.subject, &msg.body, msg.reply_to.as_deref());
    match ApiSender::to_actor(API_ALIAS)
        .accept_message(ctx, &received)
        .await
    {
        Ok(ack) => ack,
        Err(e) => {
            // Logging must never fail a request, so its own errors are dropped.
            let _ = log("error", format!("{API_ALIAS} did not take a message: {e}")).await;
            api_unavailable()
        }
    }
}

#[async_trait]
impl MessageSubscriber for MessagingChannelActor {
    async fn handle_message(&self, ctx: &Context, msg: &SubMessage) -> RpcResult<()> {
        let ack = accept(ctx, msg).await;
        match answer(msg.reply_to.as_deref(), &ack) {
            Answer::Reply { to } => publish(ctx, to, ack.ack).await,
            Answer::Done => Ok(()),
            Answer::Refusal(reason) => Err(RpcError::InvalidParameter(reason)),
        }
    }
}

#[async_trait]
impl Outbound for MessagingChannelActor {
    async fn publish_message(&self, ctx: &Context, msg: &OutboundMessage) -> RpcResult<bool> {
        publish(ctx, &fanout_subject(msg), fanout_payload(msg)).await?;
        Ok(true)
    }
}
