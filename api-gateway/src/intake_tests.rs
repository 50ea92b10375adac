//! The chat's rules, channel by channel: every assertion the channels' own intake tests made
//! before the rules moved here.

use std::sync::Mutex;

use async_trait::async_trait;
use futures::executor::block_on;
use wasmbus_rpc::error::RpcError;

use super::*;
use crate::answer::TIMED_OUT;
use crate::bindings::chatlog::{
    MessagesList, MessagesPage, MessagesPageRequest, WriteMessageResponse,
};
use crate::bindings::outbound::OutboundMessage;

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
    }
}

fn run_with(store: Store, received: ReceivedMessage) -> Run {
    run_timed_by(TestClock::Fixed, store, received)
}

fn run_timed_by(clock: TestClock, store: Store, received: ReceivedMessage) -> Run {
    let (relayed, log) = (Relayed::default(), Lines::default());
    let services = Services {
        ids: &FixedIds,
        clock: &clock,
        chatlog: &store,
        channels: &relayed,
        log: &log,
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
        }]
    );
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
fn a_browser_writes_on_chat_in_only() {
    let run = through("ws", "chat.out", br#"{"user_name":"a","body":"b"}"#);
    assert_eq!(
        run.ack_json(),
        serde_json::json!({"accepted": false, "reason": "send chat messages on chat.in, not chat.out"})
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
        chatlog: &store,
        channels: &Unreachable,
        log: &log,
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
        chatlog: &store,
        channels: &Relayed::default(),
        log: &log,
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
    };
    let response = block_on(services.write(&Context::default(), claimed)).unwrap();
    assert!(response.accepted);
    assert_eq!(store.written.lock().unwrap()[0].ts, Some(NOW));
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
