//! wasmbus glue: the Api service (every channel's messages) and the Chatlog service, written
//! through `mcchat/chatlog` and relayed by alias.

use async_trait::async_trait;
use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_logging::log;
use wasmcloud_interface_numbergen::generate_guid;

use crate::bindings::accounts::AccountsSender;
use crate::bindings::api::{Acknowledgement, Api, ApiReceiver, ReceivedMessage};
use crate::bindings::chatlog::{
    CanonicalChatMessage, Chatlog, ChatlogReceiver, ChatlogSender, MessagesList, MessagesPage,
    MessagesPageRequest, RoomsPage, RoomsPageRequest, WriteMessageResponse,
};
use crate::bindings::clock::{Clock as _, ClockSender};
use crate::bindings::outbound::{Outbound as _, OutboundMessage, OutboundSender};
use crate::intake::{Clock, Ids, Log, Services};
use crate::recent::RecentAnswers;
use crate::relay::Outbound;

const CHATLOG_ALIAS: &str = "mcchat/chatlog";
const ACCOUNTS_ALIAS: &str = "mcchat/accounts";

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, Api, Chatlog)]
struct ApiGatewayActor {}

/// Relays to channel actors by call alias.
struct ChannelActors;

#[async_trait]
impl Outbound for ChannelActors {
    async fn publish(&self, alias: &'static str, msg: &OutboundMessage) -> RpcResult<bool> {
        OutboundSender::to_actor(alias)
            .publish_message(&Context::default(), msg)
            .await
    }
}

struct NumberGen;

#[async_trait]
impl Ids for NumberGen {
    async fn new_id(&self) -> RpcResult<String> {
        generate_guid().await
    }
}

/// The time, from the `mcchat:clock` provider this actor is linked to.
struct LinkedClock;

#[async_trait]
impl Clock for LinkedClock {
    async fn now(&self) -> RpcResult<u64> {
        ClockSender::new().now(&Context::default()).await
    }
}

/// The host's log, through `wasmcloud:builtin:logging`.
struct HostLog;

#[async_trait]
impl Log for HostLog {
    async fn write(&self, level: &str, text: String) {
        // Logging must never fail a request, so its own errors are dropped.
        let _ = log(level, text).await;
    }
}

fn chatlog() -> ChatlogSender<WasmHost> {
    ChatlogSender::to_actor(CHATLOG_ALIAS)
}

type ActorServices<'a> = Services<
    'a,
    NumberGen,
    LinkedClock,
    AccountsSender<WasmHost>,
    ChatlogSender<WasmHost>,
    ChannelActors,
    HostLog,
>;

/// The actors the intake and the chat log's writes call.
struct Actors {
    accounts: AccountsSender<WasmHost>,
    chatlog: ChatlogSender<WasmHost>,
}

fn actors() -> Actors {
    Actors {
        accounts: AccountsSender::to_actor(ACCOUNTS_ALIAS),
        chatlog: chatlog(),
    }
}

/// The accounts' answers this instance was recently given.
static RECENT: RecentAnswers = RecentAnswers::new();

/// What the intake and the chat log's writes call.
fn services(actors: &Actors) -> ActorServices<'_> {
    Services {
        ids: &NumberGen,
        clock: &LinkedClock,
        accounts: &actors.accounts,
        chatlog: &actors.chatlog,
        channels: &ChannelActors,
        log: &HostLog,
        recent: &RECENT,
    }
}

#[async_trait]
impl Api for ApiGatewayActor {
    async fn accept_message(
        &self,
        _ctx: &Context,
        received: &ReceivedMessage,
    ) -> RpcResult<Acknowledgement> {
        Ok(services(&actors()).accept(received).await)
    }
}

#[async_trait]
impl Chatlog for ApiGatewayActor {
    async fn write_message(
        &self,
        ctx: &Context,
        msg: &CanonicalChatMessage,
    ) -> RpcResult<WriteMessageResponse> {
        services(&actors()).write_unproven(ctx, msg.clone()).await
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

    async fn list_rooms(&self, ctx: &Context, req: &RoomsPageRequest) -> RpcResult<RoomsPage> {
        chatlog().list_rooms(ctx, req).await
    }
}
