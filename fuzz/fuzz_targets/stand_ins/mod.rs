//! Stand-ins for the API's collaborators: fixed ids, a fixed clock, accounts that know nobody,
//! a log that takes no failures, channels that take every relay, and a chat log that validates
//! as the real one does and stores nothing.
//! `accept` hands one payload from a channel to the API's intake through them.

use api_gateway::bindings::accounts::{
    AccountAnswer, Accounts, Credentials, IdentifyRequest, SignOffRequest, TokenRequest,
};
use api_gateway::bindings::api::{Acknowledgement, ReceivedMessage};
use api_gateway::bindings::chatlog::{
    CanonicalChatMessage, Chatlog, MessagesList, MessagesPage, MessagesPageRequest,
    RoomsPage, RoomsPageRequest, WriteMessageResponse,
};
use api_gateway::bindings::outbound::OutboundMessage;
use api_gateway::recent::RecentAnswers;
use api_gateway::intake::{Clock, Ids, Log, Services};
use api_gateway::relay::Outbound;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::RpcResult;

struct FixedIds;

#[async_trait::async_trait]
impl Ids for FixedIds {
    async fn new_id(&self) -> RpcResult<String> {
        Ok("00000000-0000-4000-8000-000000000000".into())
    }
}

struct FixedClock;

#[async_trait::async_trait]
impl Clock for FixedClock {
    async fn now(&self) -> RpcResult<u64> {
        Ok(1_796_000_000_000)
    }
}

/// The stand-ins never fail, so a logged failure is a bug.
struct NoFailures;

#[async_trait::async_trait]
impl Log for NoFailures {
    async fn write(&self, level: &str, text: String) {
        assert_eq!(level, "debug", "unexpected failure: {text}");
    }
}

/// Nobody has an account: every name is a guest's, and no token is ours.
struct NoAccounts;

fn refused() -> AccountAnswer {
    AccountAnswer {
        accepted: false,
        outcome: "unauthorized".into(),
        reason: Some("the token's signature does not match: it was not issued here".into()),
        ..Default::default()
    }
}

#[async_trait::async_trait]
impl Accounts for NoAccounts {
    async fn sign_up(&self, _: &Context, _: &Credentials) -> RpcResult<AccountAnswer> {
        Ok(refused())
    }
    async fn sign_on(&self, _: &Context, _: &Credentials) -> RpcResult<AccountAnswer> {
        Ok(refused())
    }
    async fn refresh(&self, _: &Context, _: &TokenRequest) -> RpcResult<AccountAnswer> {
        Ok(refused())
    }
    async fn sign_off(&self, _: &Context, _: &SignOffRequest) -> RpcResult<AccountAnswer> {
        Ok(refused())
    }
    async fn identify(&self, _: &Context, req: &IdentifyRequest) -> RpcResult<AccountAnswer> {
        if req.token.is_some() {
            return Ok(refused());
        }
        Ok(AccountAnswer {
            accepted: true,
            outcome: "guest".into(),
            user_name: Some(req.user_name.clone()),
            ..Default::default()
        })
    }
}

struct EveryChannel;

#[async_trait::async_trait]
impl Outbound for EveryChannel {
    async fn publish(&self, _: &'static str, _: &OutboundMessage) -> RpcResult<bool> {
        Ok(true)
    }
}

/// Validates as the chat log does, and stores nothing.
struct ValidatingChatlog;

#[async_trait::async_trait]
impl Chatlog for ValidatingChatlog {
    async fn list_rooms(&self, _: &Context, _: &RoomsPageRequest) -> RpcResult<RoomsPage> {
        Ok(RoomsPage::default())
    }
    async fn write_message(
        &self,
        _: &Context,
        msg: &CanonicalChatMessage,
    ) -> RpcResult<WriteMessageResponse> {
        let as_stored = chatlog::bindings::CanonicalChatMessage {
            id: msg.id.clone(),
            channel_name: msg.channel_name.clone(),
            source_user: msg.source_user.clone(),
            body: msg.body.clone(),
            client_id: None,
            index: None,
            ts: msg.ts,
            verified: msg.verified,
            room: msg.room.clone(),
        };
        let checked = chatlog::rooms::Room::named(as_stored.room.as_deref())
            .and_then(|_| chatlog::validate::check_message(&as_stored));
        Ok(WriteMessageResponse {
            accepted: checked.is_ok(),
            id: checked.is_ok().then(|| msg.id.clone()),
            reason: checked.err(),
            ..Default::default()
        })
    }
    async fn get_messages(&self, _: &Context) -> RpcResult<MessagesList> {
        Ok(Vec::new())
    }
    async fn get_messages_page(
        &self,
        _: &Context,
        _: &MessagesPageRequest,
    ) -> RpcResult<MessagesPage> {
        Ok(MessagesPage::default())
    }
}

/// The API's answer to `payload`, as received by `channel` on `chat.in` from a client that
/// waits for it.
pub fn accept(channel: &str, payload: &[u8]) -> Acknowledgement {
    let received = ReceivedMessage {
        channel_name: channel.into(),
        subject: "chat.in".into(),
        payload: payload.to_vec(),
        idempotency_key: None,
        reply_wanted: true,
        token: None,
    };
    let services = Services {
        ids: &FixedIds,
        clock: &FixedClock,
        accounts: &NoAccounts,
        chatlog: &ValidatingChatlog,
        channels: &EveryChannel,
        log: &NoFailures,
        recent: &RecentAnswers::new(),
    };
    futures::executor::block_on(services.accept(&received))
}
