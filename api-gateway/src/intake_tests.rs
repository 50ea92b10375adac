//! The chat's rules, channel by channel: every assertion the channels' own intake tests made
//! before the rules moved here.

use std::sync::Mutex;

use async_trait::async_trait;
use futures::executor::block_on;
use wasmbus_rpc::error::RpcError;

use super::*;
use crate::answer::TIMED_OUT;
use crate::bindings::accounts::{
    AccountAnswer, Credentials, IdentifyRequest, SignOffRequest, TokenRequest,
};
use crate::bindings::chatlog::{
    MessagesList, MessagesPage, MessagesPageRequest, RoomsPage, RoomsPageRequest,
    WriteMessageResponse,
};
use crate::bindings::outbound::OutboundMessage;
use crate::recent::RecentAnswers;

const ID: &str = "0b1c7c8e-5a55-4b55-9a55-000000000042";

struct FixedIds;

#[async_trait]
impl Ids for FixedIds {
    async fn new_id(&self) -> RpcResult<String> {
        Ok(ID.into())
    }
}

/// The time every test message is stored at.
const NOW: u64 = 1_796_000_000_123;

/// Answers `NOW`, or, as `Unlinked`, fails as a clock with no link does.
enum TestClock {
    Fixed,
    Unlinked,
}

#[async_trait]
impl Clock for TestClock {
    async fn now(&self) -> RpcResult<u64> {
        match self {
            TestClock::Fixed => Ok(NOW),
            TestClock::Unlinked => Err(RpcError::HostError(
                "actor api-gateway has no link to mcchat:clock".into(),
            )),
        }
    }
}

/// Keeps what was logged, as (level, text), for the tests to read.
#[derive(Default)]
struct Lines(Mutex<Vec<(String, String)>>);

#[async_trait]
impl Log for Lines {
    async fn write(&self, level: &str, text: String) {
        self.0.lock().unwrap().push((level.into(), text));
    }
}

/// Refuses empty bodies like the real chat log; `down` and `stuck` fail every call as an
/// actor that is not running, or a store that did not answer in time, does seen from here.
#[derive(Default)]
struct Store {
    written: Mutex<Vec<CanonicalChatMessage>>,
    down: bool,
    stuck: bool,
}

#[async_trait]
impl Chatlog for Store {
    async fn list_rooms(&self, _: &Context, _: &RoomsPageRequest) -> RpcResult<RoomsPage> {
        unreachable!("the intake lists no rooms")
    }

    async fn write_message(
        &self,
        _: &Context,
        msg: &CanonicalChatMessage,
    ) -> RpcResult<WriteMessageResponse> {
        if self.down {
            return Err(RpcError::HostError("mcchat/chatlog is not running".into()));
        }
        if self.stuck {
            return Err(RpcError::HostError(
                "actor: mcchat/chatlog WriteMessage: Host send error timeout: \
                 wasmcloud:keyvalue KeyValue.ListAdd: no answer within 1s"
                    .into(),
            ));
        }
        if msg.body.trim().is_empty() {
            return Ok(WriteMessageResponse {
                accepted: false,
                reason: Some("body must not be empty".into()),
                ..Default::default()
            });
        }
        match msg.client_id.as_deref() {
            Some("seen") => {
                return Ok(WriteMessageResponse {
                    accepted: true,
                    id: Some("first-id".into()),
                    ..Default::default()
                })
            }
            Some("busy") => {
                return Ok(WriteMessageResponse {
                    accepted: false,
                    reason: Some("still being stored".into()),
                    in_progress: true,
                    ..Default::default()
                })
            }
            _ => {}
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

/// Records the aliases relayed to.
#[derive(Default)]
struct Relayed(Mutex<Vec<&'static str>>);

#[async_trait]
impl Outbound for Relayed {
    async fn publish(&self, alias: &'static str, _: &OutboundMessage) -> RpcResult<bool> {
        self.0.lock().unwrap().push(alias);
        Ok(true)
    }
}

/// How long `good-token` has left at `NOW`.
const TOKEN_LEFT_MS: u64 = 60_000;

/// The accounts, as the tests need them: `alice` is registered (as `Alice`) and `good-token`
/// is hers; every other token is refused. Every request is kept, and each account request is
/// answered as `answer` says.
#[derive(Default)]
struct TestAccounts {
    closed: bool,
    down: bool,
    /// Identify fails as a call past its deadline does.
    stuck: bool,
    answer: Option<AccountAnswer>,
    requests: Mutex<Vec<String>>,
}

impl TestAccounts {
    fn answering(answer: AccountAnswer) -> Self {
        TestAccounts {
            answer: Some(answer),
            ..Default::default()
        }
    }

    fn answer(&self, request: String) -> RpcResult<AccountAnswer> {
        self.requests.lock().unwrap().push(request);
        if self.down {
            return Err(RpcError::HostError("mcchat/accounts is not running".into()));
        }
        Ok(self.answer.clone().unwrap())
    }
}

#[async_trait]
impl Accounts for TestAccounts {
    async fn sign_up(&self, _: &Context, req: &Credentials) -> RpcResult<AccountAnswer> {
        self.answer(format!("sign-up {} {}", req.user_name, req.password))
    }
    async fn sign_on(&self, _: &Context, req: &Credentials) -> RpcResult<AccountAnswer> {
        self.answer(format!("sign-on {} {}", req.user_name, req.password))
    }
    async fn refresh(&self, _: &Context, req: &TokenRequest) -> RpcResult<AccountAnswer> {
        self.answer(format!("refresh {}", req.token))
    }
    async fn sign_off(&self, _: &Context, req: &SignOffRequest) -> RpcResult<AccountAnswer> {
        self.answer(format!("sign-off {} {}", req.token, req.everywhere))
    }
    async fn identify(&self, _: &Context, req: &IdentifyRequest) -> RpcResult<AccountAnswer> {
        self.requests
            .lock()
            .unwrap()
            .push(format!("identify {} {:?}", req.user_name, req.token));
        if self.stuck {
            return Err(RpcError::HostError(
                "actor: mcchat/accounts Identify: timeout: no answer within 1s".into(),
            ));
        }
        if self.down {
            return Err(RpcError::HostError("mcchat/accounts is not running".into()));
        }
        let answer = |accepted: bool, outcome: &str, reason: Option<&str>, user: Option<&str>| {
            AccountAnswer {
                accepted,
                outcome: outcome.into(),
                reason: reason.map(String::from),
                user_name: user.map(String::from),
                ..Default::default()
            }
        };
        Ok(
            match (req.token.as_deref(), req.user_name.to_lowercase().as_str()) {
                (Some("good-token"), "alice" | "") => AccountAnswer {
                    expires_at: Some(NOW + TOKEN_LEFT_MS),
                    ..answer(true, "verified", None, Some("Alice"))
                },
                (Some("good-token"), _) => answer(
                    false,
                    "unauthorized",
                    Some("the token was issued for another name"),
                    None,
                ),
                (Some(_), _) => answer(false, "unauthorized", Some("the token is malformed"), None),
                (None, "alice") => answer(
                    false,
                    "unauthorized",
                    Some("alice is a registered name"),
                    None,
                ),
                (None, _) if self.closed => answer(false, "closed", Some("closed to guests"), None),
                (None, name) => answer(true, "guest", None, Some(name)),
            },
        )
    }
}

/// One message through the intake, with a reply wanted: its answer, what was stored, relayed
/// and logged.
struct Run {
    ack: Acknowledgement,
    written: Vec<CanonicalChatMessage>,
    relayed: Vec<&'static str>,
    logged: Vec<(String, String)>,
}

impl Run {
    fn ack_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.ack.ack).unwrap()
    }

    fn reason(&self) -> &str {
        self.ack.reason.as_deref().unwrap()
    }
}

fn received(channel: &str, subject: &str, payload: &[u8]) -> ReceivedMessage {
    ReceivedMessage {
        channel_name: channel.into(),
        subject: subject.into(),
        payload: payload.to_vec(),
        idempotency_key: None,
        reply_wanted: true,
        token: None,
    }
}

fn run_with(store: Store, received: ReceivedMessage) -> Run {
    run_timed_by(TestClock::Fixed, store, received)
}

fn run_timed_by(clock: TestClock, store: Store, received: ReceivedMessage) -> Run {
    run_full(clock, &TestAccounts::default(), store, received)
}

fn run_full(
    clock: TestClock,
    accounts: &TestAccounts,
    store: Store,
    received: ReceivedMessage,
) -> Run {
    let (relayed, log) = (Relayed::default(), Lines::default());
    let services = Services {
        ids: &FixedIds,
        clock: &clock,
        accounts,
        chatlog: &store,
        channels: &relayed,
        log: &log,
        recent: &RecentAnswers::new(),
    };
    let ack = block_on(services.accept(&received));
    Run {
        ack,
        written: store.written.into_inner().unwrap(),
        relayed: relayed.0.into_inner().unwrap(),
        logged: log.0.into_inner().unwrap(),
    }
}

fn through(channel: &str, subject: &str, payload: &[u8]) -> Run {
    run_with(Store::default(), received(channel, subject, payload))
}

#[test]
fn a_nats_message_is_stored_as_from_the_nats_channel_and_acked_without_an_id() {
    let run = through(
        "nats",
        "chat.in",
        br#"{"user_name":"dave","body":"over the broker"}"#,
    );
    assert_eq!(run.ack.ack, br#"{"accepted":true}"#);
    assert_eq!(run.ack.outcome, "stored");
    assert_eq!(
        run.written,
        [CanonicalChatMessage {
            id: ID.into(),
            channel_name: "nats".into(),
            source_user: "dave".into(),
            body: "over the broker".into(),
            client_id: None,
            index: None,
            ts: Some(NOW),
            verified: false,
            room: None,
        }]
    );
    assert_eq!(run.relayed, ["mcchat/ws", "mcchat/mqtt"]);
}

#[test]
fn a_message_on_a_rooms_subject_is_stored_in_that_room_on_every_channel() {
    for (channel, subject) in [
        ("nats", "chat.in.dev"),
        ("ws", "chat.in.dev"),
        ("mqtt", "chat.in.dev"),
        ("http", "chat.in.dev"),
    ] {
        let run = through(channel, subject, br#"{"user_name":"fay","body":"hi dev"}"#);
        assert_eq!(run.ack.outcome, "stored", "{channel}");
        assert_eq!(run.written[0].room.as_deref(), Some("dev"), "{channel}");
    }
    let run = through("nats", "chat.in", br#"{"user_name":"fay","body":"hi all"}"#);
    assert_eq!(run.written[0].room, None);
    // Every room reaches every live channel; the sessions and subscribers choose theirs.
    let run = through("nats", "chat.in.dev", br#"{"user_name":"fay","body":"x"}"#);
    assert_eq!(run.relayed, ["mcchat/ws", "mcchat/mqtt"]);
}

#[test]
fn browsers_and_devices_are_acked_with_the_new_id() {
    for (channel, subject) in [("ws", "chat.in"), ("mqtt", "chat.in")] {
        let run = through(channel, subject, br#"{"user_name":"fay","body":"hello"}"#);
        assert_eq!(
            run.ack_json(),
            serde_json::json!({"accepted": true, "id": ID})
        );
        assert_eq!(run.written[0].channel_name, channel);
        assert_eq!(run.written[0].source_user, "fay");
    }
}

#[test]
fn an_http_post_is_answered_with_its_id_only() {
    let run = through(
        "http",
        "",
        br#"{"user_name":"frank","body":"hi over http"}"#,
    );
    assert_eq!(run.ack_json(), serde_json::json!({"id": ID}));
    assert_eq!(run.written[0].channel_name, "http");
    assert_eq!(run.written[0].body, "hi over http");
    assert_eq!(run.relayed, ["mcchat/nats", "mcchat/ws", "mcchat/mqtt"]);
}

#[test]
fn a_payload_over_64_kib_is_refused_unread() {
    let body = format!(
        r#"{{"user_name":"dave","body":"{}"}}"#,
        "a".repeat(MAX_PAYLOAD_BYTES)
    );
    let run = through("nats", "chat.in", body.as_bytes());
    assert_eq!(run.ack.outcome, "too-large");
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"accepted": false, "reason": format!("the payload is {} bytes, over the limit of 65536", body.len())})
    );
    assert!(run.written.is_empty());
    let run = through("http", "", body.as_bytes());
    assert_eq!(run.ack.outcome, "too-large");
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"reason": "request body is larger than 65536 bytes"})
    );
}

#[test]
fn malformed_messages_are_refused_with_a_reason_on_every_channel() {
    let cases: [(&[u8], &str); 9] = [
        (b"not json", "expected JSON"),
        (b"{not json", "expected JSON"),
        (br#"{"user_name":"dave"}"#, "missing field `body`"),
        (br#"{"user_name":1,"body":"x"}"#, "expected JSON"),
        (br#"["frank","hi"]"#, "expected JSON"),
        (br#" ["frank","hi"]"#, "not an object"),
        (
            br#"{"user_name":"frank","body":"a","body":"b"}"#,
            "duplicate field `body`",
        ),
        (
            b"{\"user_name\":\"fr\xffank\",\"body\":\"hi\"}",
            "not UTF-8",
        ),
        (b"\xff\xfe", "not UTF-8"),
    ];
    for channel in ["http", "nats", "ws", "mqtt"] {
        for (payload, reason) in cases {
            let run = through(channel, "chat.in", payload);
            assert!(!run.ack.accepted, "{channel} {payload:?} was accepted");
            assert_eq!(run.ack.outcome, "invalid");
            assert!(
                run.reason().contains(reason),
                "{channel} {payload:?}: {}",
                run.reason()
            );
            if channel != "http" {
                assert!(
                    run.reason().starts_with("expected JSON"),
                    "{}",
                    run.reason()
                );
                assert_eq!(run.ack_json()["accepted"], false);
            }
            assert_eq!(run.ack_json()["reason"], run.reason());
            assert!(run.written.is_empty());
        }
    }
}

#[test]
fn a_browser_writes_on_the_chat_subjects_only() {
    let run = through("ws", "chat.out", br#"{"user_name":"a","body":"b"}"#);
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"accepted": false, "reason": "send chat messages on chat.in or chat.in.<room>, not chat.out"})
    );
    assert!(run.written.is_empty());
    // The brokers' subjects are whatever the link subscribed the channel to.
    let run = through("nats", "team.in", br#"{"user_name":"a","body":"b"}"#);
    assert!(run.ack.accepted);
}

#[test]
fn a_refusal_from_the_chat_log_is_passed_on() {
    let run = through("nats", "chat.in", br#"{"user_name":"dave","body":"  "}"#);
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"accepted": false, "reason": "body must not be empty"})
    );
    let run = through("http", "", br#"{"user_name":"frank","body":""}"#);
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"reason": "body must not be empty"})
    );
    assert_eq!(run.ack.outcome, "invalid");
}

#[test]
fn a_store_that_is_down_or_stuck_is_a_short_refusal_and_the_details_are_logged() {
    for (channel, store, outcome, reason, detail) in [
        (
            "nats",
            Store {
                down: true,
                ..Default::default()
            },
            "unavailable",
            UNAVAILABLE,
            "is not running",
        ),
        (
            "ws",
            Store {
                stuck: true,
                ..Default::default()
            },
            "timed-out",
            UNAVAILABLE,
            "no answer within 1s",
        ),
        (
            "http",
            Store {
                down: true,
                ..Default::default()
            },
            "unavailable",
            UNAVAILABLE,
            "is not running",
        ),
        (
            "http",
            Store {
                stuck: true,
                ..Default::default()
            },
            "timed-out",
            TIMED_OUT,
            "no answer within 1s",
        ),
    ] {
        let run = run_with(
            store,
            received(channel, "chat.in", br#"{"user_name":"dave","body":"hi"}"#),
        );
        assert!(!run.ack.accepted);
        assert_eq!(run.ack.outcome, outcome);
        assert_eq!(run.ack_json()["reason"], reason);
        assert_eq!(run.ack_json().get("id"), None);
        // The details go to the operator, not the client.
        assert_eq!(run.logged[0].0, "error");
        assert!(run.logged[0].1.contains(detail), "{:?}", run.logged);
        assert!(!run.reason().contains(detail));
    }
}

#[test]
fn an_idempotency_key_reaches_the_store_and_a_retry_answers_the_first_id() {
    let body = br#"{"user_name":"frank","body":"once"}"#;
    let keyed = |key: &str| ReceivedMessage {
        idempotency_key: Some(key.into()),
        ..received("http", "", body)
    };
    let run = run_with(Store::default(), keyed("new"));
    assert_eq!(run.ack.outcome, "stored");
    assert_eq!(run.written[0].client_id.as_deref(), Some("new"));
    let run = run_with(Store::default(), keyed("seen"));
    assert_eq!(run.ack_json(), serde_json::json!({"id": "first-id"}));
    let run = run_with(Store::default(), keyed("busy"));
    assert_eq!(run.ack.outcome, "in-progress");
    assert_eq!(run.ack_json()["reason"], "still being stored");
    // Broker clients name theirs in the payload.
    let run = through(
        "mqtt",
        "chat.in",
        br#"{"user_name":"s","body":"again","client_id":"seen"}"#,
    );
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"accepted": true, "id": "first-id"})
    );
    assert!(run.relayed.is_empty(), "a retry is not relayed again");
}

#[test]
fn a_refusal_nobody_waits_for_is_logged_at_debug_level() {
    let unanswered = ReceivedMessage {
        reply_wanted: false,
        ..received("nats", "chat.in", b"not json")
    };
    let run = run_with(Store::default(), unanswered);
    assert_eq!(run.logged.len(), 1);
    assert_eq!(run.logged[0].0, "debug");
    assert!(
        run.logged[0].1.starts_with(
            "refused a message on chat.in (nats) without a reply subject: expected JSON"
        ),
        "{:?}",
        run.logged
    );
    // One that is answered is not logged: the client has the reason.
    let run = through("nats", "chat.in", b"not json");
    assert!(run.logged.is_empty());
}

#[test]
fn a_channel_the_chat_does_not_know_is_refused() {
    let run = through("smtp", "chat.in", br#"{"user_name":"a","body":"b"}"#);
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"accepted": false, "reason": "no channel is named \"smtp\""})
    );
    assert!(run.written.is_empty());
}

/// Every channel is down.
struct Unreachable;

#[async_trait]
impl Outbound for Unreachable {
    async fn publish(&self, alias: &'static str, _: &OutboundMessage) -> RpcResult<bool> {
        Err(RpcError::HostError(format!("{alias} is not running")))
    }
}

#[test]
fn a_channel_that_cannot_be_reached_is_logged_and_the_message_stays_stored() {
    let (store, log) = (Store::default(), Lines::default());
    let services = Services {
        ids: &FixedIds,
        clock: &TestClock::Fixed,
        accounts: &TestAccounts::default(),
        chatlog: &store,
        channels: &Unreachable,
        log: &log,
        recent: &RecentAnswers::new(),
    };
    let ack = block_on(services.accept(&received(
        "http",
        "",
        br#"{"user_name":"frank","body":"stored all the same"}"#,
    )));
    assert_eq!(ack.outcome, "stored");
    assert_eq!(store.written.lock().unwrap().len(), 1);
    let logged = log.0.into_inner().unwrap();
    assert_eq!(logged.len(), 3, "{logged:?}");
    assert!(logged.iter().all(|(level, _)| level == "warn"));
    assert_eq!(
        logged[0].1,
        format!("message {ID} stored but not relayed to mcchat/nats: Host send error mcchat/nats is not running")
    );
}

#[test]
fn every_write_is_timed_by_the_clock_never_by_its_caller() {
    let (store, log) = (Store::default(), Lines::default());
    let services = Services {
        ids: &FixedIds,
        clock: &TestClock::Fixed,
        accounts: &TestAccounts::default(),
        chatlog: &store,
        channels: &Relayed::default(),
        log: &log,
        recent: &RecentAnswers::new(),
    };
    // Chatlog.WriteMessage from another actor, claiming a time of its own.
    let claimed = CanonicalChatMessage {
        id: ID.into(),
        channel_name: "http".into(),
        source_user: "gina".into(),
        body: "from the seed's operation".into(),
        client_id: None,
        index: None,
        ts: Some(1),
        verified: true,
        room: None,
    };
    let response = block_on(services.write_unproven(&Context::default(), claimed)).unwrap();
    assert!(response.accepted);
    assert_eq!(store.written.lock().unwrap()[0].ts, Some(NOW));
    // Nor can it mark its message verified.
    assert!(!store.written.lock().unwrap()[0].verified);
}

#[test]
fn without_a_clock_a_message_is_stored_untimed_and_the_operator_told() {
    let run = run_timed_by(
        TestClock::Unlinked,
        Store::default(),
        received(
            "nats",
            "chat.in",
            br#"{"user_name":"dave","body":"no clock"}"#,
        ),
    );
    assert_eq!(run.ack.outcome, "stored");
    assert_eq!(run.written[0].ts, None);
    assert_eq!(
        run.logged,
        [(
            "warn".to_string(),
            format!("message {ID} stored without a time: no answer from the clock: Host send error actor api-gateway has no link to mcchat:clock")
        )]
    );
}

/// A message through the intake with these accounts.
fn through_accounts(accounts: &TestAccounts, received: ReceivedMessage) -> Run {
    run_full(TestClock::Fixed, accounts, Store::default(), received)
}

fn with_token(mut received: ReceivedMessage, token: &str) -> ReceivedMessage {
    received.token = Some(token.into());
    received
}

#[test]
fn a_message_with_a_token_is_its_users_and_verified_on_every_channel() {
    for (channel, subject) in [
        ("http", ""),
        ("nats", "chat.in"),
        ("ws", "chat.in"),
        ("mqtt", "chat/in"),
    ] {
        for payload in [
            &br#"{"user_name":"alice","body":"it's me","token":"good-token"}"#[..],
            br#"{"body":"no name needed","token":"good-token"}"#,
        ] {
            let run = through_accounts(
                &TestAccounts::default(),
                received(channel, subject, payload),
            );
            assert_eq!(run.ack.outcome, "stored", "{channel}: {:?}", run.ack.reason);
            assert_eq!(run.written[0].source_user, "Alice");
            assert!(run.written[0].verified);
        }
    }
    // HTTP's Bearer token wins over one in the payload.
    let bearer = with_token(
        received(
            "http",
            "",
            br#"{"user_name":"alice","body":"hi","token":"forged"}"#,
        ),
        "good-token",
    );
    let run = through_accounts(&TestAccounts::default(), bearer);
    assert!(run.written[0].verified);
    // A guest is stored as named, unverified.
    let run = through("nats", "chat.in", br#"{"user_name":"bob","body":"hi"}"#);
    assert_eq!(
        (run.written[0].source_user.as_str(), run.written[0].verified),
        ("bob", false)
    );
}

#[test]
fn a_registered_name_without_its_token_and_a_bad_token_are_refused_and_nothing_is_stored() {
    let accounts = TestAccounts::default();
    for channel in ["http", "nats", "ws", "mqtt"] {
        for (payload, reason) in [
            (
                &br#"{"user_name":"alice","body":"it's me, honest"}"#[..],
                "alice is a registered name",
            ),
            (
                br#"{"user_name":"ALICE","body":"me too"}"#,
                "alice is a registered name",
            ),
            (
                br#"{"user_name":"bob","body":"x","token":"good-token"}"#,
                "the token was issued for another name",
            ),
            (
                br#"{"user_name":"bob","body":"x","token":"garbage"}"#,
                "the token is malformed",
            ),
        ] {
            let run = through_accounts(&accounts, received(channel, "chat.in", payload));
            assert_eq!(run.ack.outcome, "unauthorized", "{channel}");
            assert_eq!(run.reason(), reason);
            assert_eq!(run.ack_json()["reason"], reason);
            assert!(run.written.is_empty() && run.relayed.is_empty());
        }
    }
    // The tokens went to the accounts, never to the log.
    let run = through_accounts(
        &accounts,
        received("nats", "chat.in", br#"{"body":"x","token":"garbage"}"#),
    );
    assert!(
        run.logged.iter().all(|(_, text)| !text.contains("garbage")),
        "{:?}",
        run.logged
    );
}

#[test]
fn a_chat_closed_to_guests_refuses_them_with_a_reason() {
    let closed = TestAccounts {
        closed: true,
        ..Default::default()
    };
    let run = through_accounts(
        &closed,
        received("mqtt", "chat/in", br#"{"user_name":"bob","body":"hi"}"#),
    );
    assert_eq!(
        (run.ack.outcome.as_str(), run.reason()),
        ("closed", "closed to guests")
    );
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"accepted": false, "reason": "closed to guests"})
    );
    let run = through_accounts(
        &closed,
        received("mqtt", "chat/in", br#"{"body":"hi","token":"good-token"}"#),
    );
    assert_eq!(run.ack.outcome, "stored");
}

#[test]
fn without_the_accounts_nothing_is_stored_and_the_operator_is_told() {
    let down = TestAccounts {
        down: true,
        ..Default::default()
    };
    let run = through_accounts(
        &down,
        received("nats", "chat.in", br#"{"user_name":"bob","body":"hi"}"#),
    );
    assert_eq!(run.ack.outcome, "unavailable");
    assert!(run.written.is_empty());
    assert!(
        run.logged[0].1.contains("mcchat/accounts is not running"),
        "{:?}",
        run.logged
    );
    let run = through_accounts(
        &down,
        received(
            "nats",
            "chat.signon",
            br#"{"user_name":"bob","password":"pw"}"#,
        ),
    );
    assert_eq!(
        (run.ack.outcome.as_str(), run.reason()),
        ("unavailable", ACCOUNTS_UNAVAILABLE)
    );
}

fn signed_on() -> AccountAnswer {
    AccountAnswer {
        accepted: true,
        outcome: "signed-on".into(),
        user_name: Some("Alice".into()),
        token: Some("mc1.t.s".into()),
        expires_at: Some(NOW + 3_600_000),
        ..Default::default()
    }
}

#[test]
fn sign_on_is_the_same_request_on_every_channel_answered_in_each_ones_format() {
    for (channel, subject) in [
        ("http", "chat.signon"),
        ("nats", "chat.signon"),
        ("ws", "chat.signon"),
        ("mqtt", "chat/signon"),
    ] {
        let accounts = TestAccounts::answering(signed_on());
        let payload = br#"{"user_name":"alice","password":"correct horse"}"#;
        let run = through_accounts(&accounts, received(channel, subject, payload));
        assert_eq!(
            *accounts.requests.lock().unwrap(),
            ["sign-on alice correct horse"]
        );
        assert_eq!(run.ack.outcome, "signed-on");
        let mut expected = serde_json::json!({"user_name": "Alice", "token": "mc1.t.s", "expires_at": NOW + 3_600_000});
        if channel != "http" {
            expected["accepted"] = true.into();
        }
        assert_eq!(run.ack_json(), expected, "{channel}");
        assert!(run.written.is_empty());
    }
}

#[test]
fn a_token_asked_for_sealed_is_answered_sealed_to_the_reply_key_and_never_in_the_clear() {
    let requester = nkeys::XKey::new_from_raw([5; 32]);
    let key = requester.public_key();
    for (channel, subject, payload) in [
        (
            "nats",
            "chat.signon",
            format!(r#"{{"user_name":"alice","password":"pw","reply_key":"{key}"}}"#),
        ),
        (
            "mqtt",
            "chat/signon",
            format!(r#"{{"user_name":"alice","password":"pw","reply_key":"{key}"}}"#),
        ),
        (
            "nats",
            "chat.refresh",
            format!(r#"{{"token":"old","reply_key":"{key}"}}"#),
        ),
        (
            "mqtt",
            "chat/refresh",
            format!(r#"{{"token":"old","reply_key":"{key}"}}"#),
        ),
    ] {
        let accounts = TestAccounts::answering(signed_on());
        let run = through_accounts(&accounts, received(channel, subject, payload.as_bytes()));
        let ack = run.ack_json();
        assert_eq!(ack["accepted"], true, "{ack}");
        assert_eq!(ack.get("token"), None, "{ack}");
        assert!(
            !String::from_utf8_lossy(&run.ack.ack).contains("mc1."),
            "{ack}"
        );
        let sealed_by = nkeys::XKey::from_public_key(ack["sealed_by"].as_str().unwrap()).unwrap();
        let sealed = data_encoding::BASE64
            .decode(ack["sealed_token"].as_str().unwrap().as_bytes())
            .unwrap();
        let token = requester.open(&sealed, &sealed_by).unwrap();
        assert_eq!(token, b"mc1.t.s");
        assert_eq!(ack["expires_at"], NOW + 3_600_000);
    }
    // A key that is not a curve key is refused before the accounts see the request.
    let accounts = TestAccounts::answering(signed_on());
    let payload = br#"{"user_name":"alice","password":"pw","reply_key":"UABC"}"#;
    let run = through_accounts(&accounts, received("nats", "chat.signon", payload));
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"accepted": false, "reason": crate::sealing::BAD_REPLY_KEY})
    );
    assert!(accounts.requests.lock().unwrap().is_empty());
}

#[test]
fn each_account_request_reaches_its_operation_with_its_token() {
    for (subject, payload, token, expected) in [
        (
            "chat.signup",
            &br#"{"user_name":"ann","password":"pw pw pw pw"}"#[..],
            None,
            "sign-up ann pw pw pw pw",
        ),
        (
            "chat.refresh",
            b"",
            Some("header-token"),
            "refresh header-token",
        ),
        (
            "chat.refresh",
            br#"{"token":"payload-token"}"#,
            None,
            "refresh payload-token",
        ),
        (
            "chat.signoff",
            br#"{"everywhere":true}"#,
            Some("t"),
            "sign-off t true",
        ),
        (
            "chat.signoff",
            br#"{"token":"t"}"#,
            None,
            "sign-off t false",
        ),
    ] {
        let accounts = TestAccounts::answering(signed_on());
        let mut received = received("http", subject, payload);
        received.token = token.map(String::from);
        through_accounts(&accounts, received);
        assert_eq!(*accounts.requests.lock().unwrap(), [expected]);
    }
}

#[test]
fn malformed_account_requests_are_refused_before_the_accounts_see_them() {
    let accounts = TestAccounts::answering(signed_on());
    for (subject, payload, outcome, reason) in [
        (
            "chat.signon",
            &b"not json"[..],
            "invalid",
            "expected JSON {\"user_name\",\"password\"}",
        ),
        (
            "chat.signup",
            br#"{"user_name":"ann"}"#,
            "invalid",
            "expected JSON {\"user_name\",\"password\"}",
        ),
        (
            "chat.refresh",
            b"",
            "unauthorized",
            requests::TOKEN_REQUIRED,
        ),
        (
            "chat.signoff",
            b"{}",
            "unauthorized",
            requests::TOKEN_REQUIRED,
        ),
    ] {
        let run = through_accounts(&accounts, received("nats", subject, payload));
        assert_eq!(run.ack.outcome, outcome, "{subject}");
        assert!(
            run.reason().starts_with(reason),
            "{subject}: {}",
            run.reason()
        );
    }
    assert!(accounts.requests.lock().unwrap().is_empty());
    let huge = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    let run = through_accounts(&accounts, received("nats", "chat.signon", &huge));
    assert_eq!(run.ack.outcome, "too-large");
}

#[test]
fn a_limited_sign_on_says_how_long_to_wait() {
    let limited = AccountAnswer {
        accepted: false,
        outcome: "limited".into(),
        reason: Some("too many sign-on attempts for this name: try again in 42 s".into()),
        retry_after_ms: Some(41_500),
        ..Default::default()
    };
    let accounts = TestAccounts::answering(limited);
    let payload = br#"{"user_name":"alice","password":"guess"}"#;
    let run = through_accounts(&accounts, received("mqtt", "chat/signon", payload));
    assert_eq!(run.ack.retry_after_ms, Some(41_500));
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"accepted": false, "reason": "too many sign-on attempts for this name: try again in 42 s", "retry_after_ms": 41_500})
    );
}

#[test]
fn the_seeds_write_message_keeps_registered_names_to_their_owners() {
    let store = Store::default();
    let services = Services {
        ids: &FixedIds,
        clock: &TestClock::Fixed,
        accounts: &TestAccounts::default(),
        chatlog: &store,
        channels: &Relayed::default(),
        log: &Lines::default(),
        recent: &RecentAnswers::new(),
    };
    let as_alice = CanonicalChatMessage {
        id: ID.into(),
        channel_name: "http".into(),
        source_user: "alice".into(),
        body: "not really alice".into(),
        client_id: None,
        index: None,
        ts: None,
        verified: false,
        room: None,
    };
    let response = block_on(services.write_unproven(&Context::default(), as_alice)).unwrap();
    assert!(!response.accepted);
    assert_eq!(
        response.reason.as_deref(),
        Some("alice is a registered name")
    );
    assert!(store.written.lock().unwrap().is_empty());
}

#[test]
fn the_seeds_write_message_fails_when_the_accounts_cannot_say_who_wrote() {
    let down = TestAccounts {
        down: true,
        ..Default::default()
    };
    let stuck = TestAccounts {
        stuck: true,
        ..Default::default()
    };
    for (accounts, error) in [(down, "unavailable"), (stuck, "timeout: ")] {
        let store = Store::default();
        let services = Services {
            ids: &FixedIds,
            clock: &TestClock::Fixed,
            accounts: &accounts,
            chatlog: &store,
            channels: &Relayed::default(),
            log: &Lines::default(),
            recent: &RecentAnswers::new(),
        };
        let msg = CanonicalChatMessage {
            id: ID.into(),
            channel_name: "http".into(),
            source_user: "bob".into(),
            body: "who am I".into(),
            client_id: None,
            index: None,
            ts: None,
            verified: false,
            room: None,
        };
        let failed = block_on(services.write_unproven(&Context::default(), msg)).unwrap_err();
        assert!(failed.to_string().contains(error), "{failed}");
        assert!(store.written.lock().unwrap().is_empty());
    }
}

/// A clock the test moves.
struct Ticking(Mutex<u64>);

#[async_trait]
impl Clock for Ticking {
    async fn now(&self) -> RpcResult<u64> {
        Ok(*self.0.lock().unwrap())
    }
}

/// One instance's intake, kept from message to message, whose clock the test moves.
struct Instance {
    clock: Ticking,
    accounts: TestAccounts,
    store: Store,
    log: Lines,
    recent: RecentAnswers,
}

impl Instance {
    fn new(accounts: TestAccounts, now: u64) -> Instance {
        Instance {
            clock: Ticking(Mutex::new(now)),
            accounts,
            store: Store::default(),
            log: Lines::default(),
            recent: RecentAnswers::new(),
        }
    }

    /// Whether a NATS message on `subject` was accepted.
    fn send(&self, subject: &str, payload: &str) -> bool {
        let services = Services {
            ids: &FixedIds,
            clock: &self.clock,
            accounts: &self.accounts,
            chatlog: &self.store,
            channels: &Relayed::default(),
            log: &self.log,
            recent: &self.recent,
        };
        let received = received("nats", subject, payload.as_bytes());
        block_on(services.accept(&received)).accepted
    }

    fn asked(&self) -> Vec<String> {
        self.accounts.requests.lock().unwrap().drain(..).collect()
    }

    fn wait(&self, ms: u64) {
        *self.clock.0.lock().unwrap() += ms;
    }
}

#[test]
fn a_guests_name_and_a_token_are_asked_about_once_in_a_while_and_a_sign_off_at_once() {
    let signed_off = AccountAnswer {
        accepted: true,
        outcome: "signed-off".into(),
        user_name: Some("Alice".into()),
        ..Default::default()
    };
    let instance = Instance::new(TestAccounts::answering(signed_off), NOW);
    let send = |subject: &str, payload: &str| instance.send(subject, payload);
    for _ in 0..3 {
        assert!(send("chat.in", r#"{"user_name":"gus","body":"hi"}"#));
        assert!(send("chat.in", r#"{"body":"hi","token":"good-token"}"#));
        // A registered name is refused every time, never remembered.
        assert!(!send("chat.in", r#"{"user_name":"alice","body":"hi"}"#));
    }
    let token = r#"identify  Some("good-token")"#;
    let alice = "identify alice None";
    assert_eq!(
        instance.asked(),
        ["identify gus None", token, alice, alice, alice]
    );
    // The token under another name is asked about, and refused.
    assert!(!send(
        "chat.in",
        r#"{"user_name":"bob","body":"hi","token":"good-token"}"#
    ));
    assert_eq!(instance.asked(), [r#"identify bob Some("good-token")"#]);

    instance.wait(crate::recent::ANSWER_MS);
    assert!(send("chat.in", r#"{"user_name":"gus","body":"hi"}"#));
    assert!(send("chat.in", r#"{"body":"hi","token":"good-token"}"#));
    assert_eq!(
        instance.asked(),
        ["identify gus None", token],
        "the answers ran out"
    );

    assert!(send("chat.signoff", r#"{"token":"good-token"}"#));
    assert!(send("chat.in", r#"{"body":"hi","token":"good-token"}"#));
    assert_eq!(
        instance.asked(),
        ["sign-off good-token false", token],
        "a sign-off holds on this instance at once"
    );
    assert!(send(
        "chat.signoff",
        r#"{"token":"good-token","everywhere":true}"#
    ));
    assert!(send("chat.in", r#"{"body":"hi","token":"good-token"}"#));
    assert_eq!(instance.asked(), ["sign-off good-token true", token]);

    // Every message was stored with its own time.
    let written = instance.store.written.lock().unwrap();
    let times: Vec<_> = written.iter().map(|m| m.ts).collect();
    assert_eq!(times.len(), 10);
    assert_eq!(times[9], Some(NOW + crate::recent::ANSWER_MS));
}

#[test]
fn a_token_is_not_taken_again_past_its_expiry() {
    let instance = Instance::new(TestAccounts::default(), NOW + TOKEN_LEFT_MS - 1);
    let payload = r#"{"body":"hi","token":"good-token"}"#;
    assert!(instance.send("chat.in", payload));
    instance.wait(1);
    instance.send("chat.in", payload);
    assert_eq!(instance.asked().len(), 2, "asked again at the expiry");
}
