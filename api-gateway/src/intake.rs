//! A chat message as a channel received it: checked, parsed, given an id, stored and relayed,
//! and answered. The chat's rules for every channel live here; a channel only translates its
//! transport.

use async_trait::async_trait;
use serde::Deserialize;

use crate::answer::{self, Outcome, EXPECTED, UNAVAILABLE};
use crate::bindings::accounts::{AccountAnswer, Accounts, IdentifyRequest, SignOffRequest};
use crate::bindings::api::{Acknowledgement, ReceivedMessage};
use crate::bindings::chatlog::{CanonicalChatMessage, Chatlog, WriteMessageResponse};
use crate::channels::{channel, Answers, Subjects};
use crate::payload;
use crate::recent::RecentAnswers;
use crate::relay::{write_and_relay, Outbound};
use crate::requests::{self, request, Request};
use crate::rooms::{is_chat_subject, room_in, CHAT_IN};
use crate::rpc::{timed_out, Context, RpcError, RpcResult};
use crate::sealing::{self, ReplyKey, Sealed};

/// Largest payload taken on any channel (NATS itself takes 1 MB); the field limits themselves
/// are the chat log's.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// What clients send: `{"user_name","body","client_id"?,"token"?}`.
#[derive(Debug, Deserialize)]
struct ChatIn {
    /// Required of guests; with a token, the token's user writes.
    #[serde(default)]
    user_name: Option<String>,
    body: String,
    /// An idempotency key: a retry with the same one stores nothing new.
    #[serde(default)]
    client_id: Option<String>,
    /// A sign-on token: the message is its user's, marked verified.
    #[serde(default)]
    token: Option<String>,
}

/// Where message ids come from (`wasmcloud:builtin:numbergen` in the actor).
#[async_trait]
pub trait Ids {
    async fn new_id(&self) -> RpcResult<String>;
}

/// Where the time comes from (`mcchat:clock`, which the actor must be signed for).
#[async_trait]
pub trait Clock {
    /// UTC milliseconds since the Unix epoch.
    async fn now(&self) -> RpcResult<u64>;
}

/// The host's log: failures in full for the operator, refusals nobody waits for at debug level
/// (anyone can send those, as fast as they like).
#[async_trait]
pub trait Log {
    async fn write(&self, level: &str, text: String);
}

/// What the intake calls on its way.
pub struct Services<'a, I, T, A, C, O, L> {
    pub ids: &'a I,
    pub clock: &'a T,
    pub accounts: &'a A,
    pub chatlog: &'a C,
    pub channels: &'a O,
    pub log: &'a L,
    /// The accounts' recent answers, the instance's own, kept between calls.
    pub recent: &'a RecentAnswers,
}

impl<I, T, A, C, O, L> Services<'_, I, T, A, C, O, L>
where
    I: Ids + Sync,
    T: Clock + Sync,
    A: Accounts + Sync,
    C: Chatlog + Sync,
    O: Outbound + Sync,
    L: Log + Sync,
{
    /// Handles one message from a channel. Every outcome is an answer: bad input and failures
    /// downstream are refusals with a reason, so a client is never left without one.
    pub async fn accept(&self, received: &ReceivedMessage) -> Acknowledgement {
        let ack = self.store(received).await;
        if !ack.accepted && !received.reply_wanted {
            let reason = ack.reason.as_deref().unwrap_or_default();
            let text = format!(
                "refused a message on {} ({}) without a reply subject: {reason}",
                received.subject, received.channel_name
            );
            self.log.write("debug", text).await;
        }
        ack
    }

    /// `Chatlog.WriteMessage`, as the seed defines it: a message under a name nobody proved.
    /// The names are protected as on every channel (a registered one is refused, or all of
    /// them in a chat closed to guests), and no caller can mark a message verified.
    pub async fn write_unproven(
        &self,
        ctx: &Context,
        mut msg: CanonicalChatMessage,
    ) -> RpcResult<WriteMessageResponse> {
        msg.verified = false;
        let now = self.clock.now().await;
        match self
            .identify(msg.source_user.clone(), None, now.as_ref().ok().copied())
            .await
        {
            Ok(author) => {
                msg.source_user = author.name;
                msg.ts = self.stored_at(&msg.id, now).await;
                self.write(ctx, msg).await
            }
            Err((Outcome::Unavailable | Outcome::TimedOut, reason)) => Err(RpcError::from(reason)),
            Err((_, reason)) => Ok(WriteMessageResponse {
                accepted: false,
                reason: Some(reason),
                id: None,
                in_progress: false,
                index: None,
            }),
        }
    }

    /// Stores a named, timed message and relays it. A channel that could not be reached is
    /// logged; the write stands.
    async fn write(
        &self,
        ctx: &Context,
        msg: CanonicalChatMessage,
    ) -> RpcResult<WriteMessageResponse> {
        let (response, failures) = write_and_relay(ctx, self.chatlog, self.channels, &msg).await?;
        for failure in failures {
            let text = format!(
                "message {} stored but not relayed to {}: {}",
                msg.id, failure.alias, failure.error
            );
            self.log.write("warn", text).await;
        }
        Ok(response)
    }

    /// The time a message is stored with: the clock's when it arrived, never a caller's.
    /// With no clock to ask (a lattice without the link) the message is stored untimed, as
    /// before the chat had one, and the operator is told: the chat stays up.
    async fn stored_at(&self, id: &str, now: RpcResult<u64>) -> Option<u64> {
        match now {
            Ok(now) => Some(now),
            Err(e) => {
                let text =
                    format!("message {id} stored without a time: no answer from the clock: {e}");
                self.log.write("warn", text).await;
                None
            }
        }
    }

    async fn store(&self, received: &ReceivedMessage) -> Acknowledgement {
        let Some(channel) = channel(&received.channel_name) else {
            let reason = format!("no channel is named {:?}", received.channel_name);
            return answer::refused(Answers::Ack { with_id: false }, Outcome::Invalid, reason);
        };
        let answers = channel.answers;
        let refused = |outcome, reason| answer::refused(answers, outcome, reason);
        let request = request(&received.subject);
        if (request, channel.subjects) == (Request::Message, Subjects::Chat)
            && !is_chat_subject(&received.subject)
        {
            let reason = format!(
                "send chat messages on {CHAT_IN} or {CHAT_IN}.<room>, not {}",
                received.subject
            );
            return refused(Outcome::Invalid, reason);
        }
        let payload = &received.payload;
        if payload.len() > MAX_PAYLOAD_BYTES {
            let reason = answer::too_large(answers, payload.len(), MAX_PAYLOAD_BYTES);
            return refused(Outcome::TooLarge, reason);
        }
        let Ok(text) = std::str::from_utf8(payload) else {
            return refused(Outcome::Invalid, answer::not_utf8(answers));
        };
        if request != Request::Message {
            return self.account_request(request, received, text, answers).await;
        }
        let incoming = match payload::parse_object::<ChatIn>(text) {
            Ok(incoming) => incoming,
            Err(e) => return refused(Outcome::Invalid, format!("{EXPECTED}: {e}")),
        };
        // The transport's token (HTTP's Bearer) wins over the payload's.
        let token = received.token.clone().or(incoming.token);
        let Some(user_name) = incoming.user_name.or(token.is_some().then(String::new)) else {
            return refused(
                Outcome::Invalid,
                format!("{EXPECTED}: missing field `user_name`"),
            );
        };
        let now = self.clock.now().await;
        let author = match self
            .identify(user_name, token, now.as_ref().ok().copied())
            .await
        {
            Ok(author) => author,
            Err((Outcome::TimedOut, _)) => {
                return refused(Outcome::TimedOut, answer::timed_out(answers).into())
            }
            Err((outcome, reason)) => return refused(outcome, reason),
        };
        let id = match self.ids.new_id().await {
            Ok(id) => id,
            Err(e) => {
                let detail = format!("could not assign a message id: {e}");
                self.log.write("error", detail).await;
                return refused(Outcome::Unavailable, UNAVAILABLE.into());
            }
        };
        let msg = CanonicalChatMessage {
            id: id.clone(),
            channel_name: channel.name.to_string(),
            source_user: author.name,
            body: incoming.body,
            // The transport's own key (an HTTP header) wins over the payload's.
            client_id: received.idempotency_key.clone().or(incoming.client_id),
            index: None,
            ts: self.stored_at(&id, now).await,
            verified: author.verified,
            room: room_in(&received.subject).map(String::from),
        };
        match self.write(&Context::default(), msg).await {
            Ok(response) => {
                // On a retry with the same idempotency key, the id is the first write's.
                let reason = || response.reason.clone().unwrap_or("message refused".into());
                match response.accepted {
                    true => answer::stored(answers, response.id.as_deref().unwrap_or(&id)),
                    false if response.in_progress => refused(Outcome::InProgress, reason()),
                    false => refused(Outcome::Invalid, reason()),
                }
            }
            Err(e) if timed_out(&e) => {
                let detail = format!("message {id} was not stored in time: {e}");
                self.log.write("error", detail).await;
                refused(Outcome::TimedOut, answer::timed_out(answers).into())
            }
            Err(e) => {
                let detail = format!("could not store message {id}: {e}");
                self.log.write("error", detail).await;
                refused(Outcome::Unavailable, UNAVAILABLE.into())
            }
        }
    }

    /// Who writes under `user_name`: the token's user, verified, or a guest under a name
    /// nobody registered; otherwise the refusal. The accounts answer, or this instance's
    /// memory of their answer less than `recent::ANSWER_MS` ago.
    async fn identify(
        &self,
        user_name: String,
        token: Option<String>,
        now: Option<u64>,
    ) -> Result<Author, (Outcome, String)> {
        if let Some(now) = now {
            let recent = match &token {
                Some(token) => self.recent.verified(token, &user_name, now),
                None => self
                    .recent
                    .guest(&user_name, now)
                    .then(|| user_name.clone()),
            };
            if let Some(name) = recent {
                let verified = token.is_some();
                return Ok(Author { name, verified });
            }
        }
        let req = IdentifyRequest { user_name, token };
        let answer = match self.accounts.identify(&Context::default(), &req).await {
            Ok(answer) => answer,
            Err(e) if timed_out(&e) => {
                // `timeout: ` keeps it a timeout for whoever gets it as an error.
                let detail = format!("timeout: mcchat/accounts did not say who wrote: {e}");
                self.log.write("error", detail.clone()).await;
                return Err((Outcome::TimedOut, detail));
            }
            Err(e) => {
                let detail = format!("could not ask mcchat/accounts who wrote a message: {e}");
                self.log.write("error", detail).await;
                return Err((Outcome::Unavailable, UNAVAILABLE.into()));
            }
        };
        if let Some(now) = now {
            self.remember(&req, &answer, now);
        }
        let reason = || answer.reason.clone().unwrap_or_default();
        match answer.outcome.as_str() {
            "verified" | "guest" if answer.accepted => Ok(Author {
                name: answer.user_name.clone().unwrap_or(req.user_name),
                verified: answer.outcome == "verified",
            }),
            "unauthorized" => Err((Outcome::Unauthorized, reason())),
            "closed" => Err((Outcome::Closed, reason())),
            "invalid" => Err((Outcome::Invalid, reason())),
            "timed-out" => Err((Outcome::TimedOut, format!("timeout: {}", reason()))),
            _ => Err((Outcome::Unavailable, UNAVAILABLE.into())),
        }
    }

    /// Sign-up, sign-on, refresh or sign-off, answered by `mcchat/accounts`.
    async fn account_request(
        &self,
        request: Request,
        received: &ReceivedMessage,
        text: &str,
        answers: Answers,
    ) -> Acknowledgement {
        let ctx = Context::default();
        let accounts = self.accounts;
        let (answered, reply_key) = match request {
            Request::SignUp => match requests::credentials(text) {
                Ok(p) => (accounts.sign_up(&ctx, &p.request).await, p.reply_key),
                Err(reason) => return answer::refused(answers, Outcome::Invalid, reason),
            },
            Request::SignOn => match requests::credentials(text) {
                Ok(p) => (accounts.sign_on(&ctx, &p.request).await, p.reply_key),
                Err(reason) => return answer::refused(answers, Outcome::Invalid, reason),
            },
            Request::Refresh => match requests::token_request(received, text) {
                Ok(p) => (accounts.refresh(&ctx, &p.request).await, p.reply_key),
                Err(reason) => return answer::refused(answers, Outcome::Unauthorized, reason),
            },
            Request::SignOff => match requests::sign_off_request(received, text) {
                Ok(req) => {
                    let answered = accounts.sign_off(&ctx, &req).await;
                    if let Ok(answer) = &answered {
                        self.forget_signed_off(&req, answer);
                    }
                    (answered, None)
                }
                Err(reason) => return answer::refused(answers, Outcome::Unauthorized, reason),
            },
            Request::Message => unreachable!("messages are stored, not sent to the accounts"),
        };
        let answered = match answered {
            Ok(answered) => answered,
            Err(e) => {
                let detail = format!("mcchat/accounts did not answer a {request:?}: {e}");
                self.log.write("error", detail).await;
                return answer::refused(answers, Outcome::Unavailable, ACCOUNTS_UNAVAILABLE.into());
            }
        };
        let sealed = match (&answered.token, reply_key) {
            (Some(token), Some(key)) => match self.seal(token, &key).await {
                Ok(sealed) => Some(sealed),
                Err(e) => {
                    // The token is not sent in the clear in its place; it expires unused.
                    let detail = format!("sealing a token for a {request:?}: {e}");
                    self.log.write("error", detail).await;
                    let reason = SEALING_UNAVAILABLE.into();
                    return answer::refused(answers, Outcome::Unavailable, reason);
                }
            },
            _ => None,
        };
        answer::account(answers, answered, sealed)
    }
}

impl<I, T, A, C, O, L> Services<'_, I, T, A, C, O, L> {
    /// Keeps what the accounts answered for `req`, when it is a guest's name or a token that
    /// holds: the next message under them does not ask.
    fn remember(&self, req: &IdentifyRequest, answer: &AccountAnswer, now: u64) {
        if !answer.accepted {
            return;
        }
        match (answer.outcome.as_str(), &req.token) {
            ("guest", None) => self.recent.remember_guest(&req.user_name, now),
            ("verified", Some(token)) => {
                // Without its expiry (an older accounts actor), a token is asked about each time.
                if let (Some(user), Some(expires_at)) = (&answer.user_name, answer.expires_at) {
                    self.recent
                        .remember_verified(token, &req.user_name, user, expires_at, now);
                }
            }
            _ => {}
        }
    }

    /// A sign-off holds on this instance at once, and on the others within
    /// `recent::ANSWER_MS`.
    fn forget_signed_off(&self, req: &SignOffRequest, answer: &AccountAnswer) {
        if !answer.accepted {
            return;
        }
        match (req.everywhere, &answer.user_name) {
            (true, Some(user)) => self.recent.forget_user(user),
            _ => self.recent.forget_token(&req.token),
        }
    }
}

impl<I, T, A, C, O, L> Services<'_, I, T, A, C, O, L>
where
    I: Ids + Sync,
{
    /// `token` sealed to `key`, with random bits from the host.
    async fn seal(&self, token: &str, key: &ReplyKey) -> RpcResult<Sealed> {
        let mut uuids = Vec::with_capacity(sealing::UUIDS);
        for _ in 0..sealing::UUIDS {
            uuids.push(self.ids.new_id().await?);
        }
        let random = sealing::Random::from_uuids(&uuids).map_err(RpcError::from)?;
        Ok(sealing::seal(token, key, &random))
    }
}

/// Who wrote a message, as the accounts said.
struct Author {
    name: String,
    verified: bool,
}

/// What a client is told when the accounts did not answer.
pub const ACCOUNTS_UNAVAILABLE: &str = "accounts are unavailable; try again";
/// What a client is told when its token could not be sealed to its `reply_key`.
pub const SEALING_UNAVAILABLE: &str = "the token could not be sealed to reply_key; try again";

#[cfg(test)]
#[path = "intake_tests.rs"]
mod tests;
