//! wasmbus glue: browser frames in (`MessageSubscriber`), stored messages out (`Outbound`).

use async_trait::async_trait;
use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_logging::log;
use wasmcloud_interface_messaging::{
    MessageSubscriber, MessageSubscriberReceiver, Messaging, MessagingSender, PubMessage,
    SubMessage,
};
use wasmcloud_interface_numbergen::generate_guid;

use crate::bindings::chatlog::ChatlogSender;
use crate::bindings::outbound::{Outbound, OutboundMessage, OutboundReceiver};
use crate::inbound::{accept, Ids, Report};
use crate::outbound::{fanout_payload, FANOUT_SUBJECT};

const API_ALIAS: &str = "mcchat/api";

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, MessageSubscriber, Outbound)]
struct WsChannelActor {}

struct NumberGen;

/// Failure details go to the host's log.
struct HostLog;

#[async_trait]
impl Report for HostLog {
    async fn failure(&self, detail: String) {
        // Logging must never fail a request, so its own errors are dropped.
        let _ = log("error", detail).await;
    }
}

#[async_trait]
impl Ids for NumberGen {
    async fn new_id(&self) -> RpcResult<String> {
        generate_guid().await
    }
}

async fn publish(ctx: &Context, subject: &str, body: Vec<u8>) -> RpcResult<()> {
    let msg = PubMessage {
        subject: subject.to_string(),
        reply_to: None,
        body,
    };
    MessagingSender::new().publish(ctx, &msg).await
}

#[async_trait]
impl MessageSubscriber for WsChannelActor {
    async fn handle_message(&self, ctx: &Context, msg: &SubMessage) -> RpcResult<()> {
        let api = ChatlogSender::to_actor(API_ALIAS);
        let ack = accept(&msg.subject, &msg.body, &NumberGen, &api, &HostLog).await;
        match &msg.reply_to {
            Some(reply_to) => publish(ctx, reply_to, ack.to_json()).await,
            None => {
                if let Some(reason) = &ack.reason {
                    // Nobody to answer: the log is the only place the refusal can go. At
                    // debug level: anyone can send these, as fast as they like.
                    let _ = log(
                        "debug",
                        format!(
                            "refused a frame on {} without a reply subject: {reason}",
                            msg.subject
                        ),
                    )
                    .await;
                }
                Ok(())
            }
        }
    }
}

#[async_trait]
impl Outbound for WsChannelActor {
    async fn publish_message(&self, ctx: &Context, msg: &OutboundMessage) -> RpcResult<bool> {
        publish(ctx, FANOUT_SUBJECT, fanout_payload(msg)).await?;
        Ok(true)
    }
}
