//! `POST /messages` and the account routes: the body handed to the API as received (the chat's
//! rules are the API's), with the route's subject and the Bearer token, and its answer sent
//! back with the status that says what became of it.

use crate::http::HttpResponse;
use crate::rpc::Context;

use crate::bindings::api::{Acknowledgement, Api, ReceivedMessage};
use crate::reply::{self, Report};
use crate::CHANNEL_NAME;

/// What a client is told when the API itself did not answer.
pub const UNAVAILABLE: &str = "the chat log is unavailable; nothing was stored, try again";
/// What a client is told when the API did not answer in time: the write may have gone on.
pub const TIMED_OUT: &str = "the chat log did not answer in time; the message may have been \
     stored: retry with the same Idempotency-Key";

/// What the API is handed: the body, and the headers it reads.
pub struct Posted<'a> {
    /// The route's subject: empty for a message, `chat.signon` for `POST /sessions`.
    pub subject: &'a str,
    pub body: &'a [u8],
    pub idempotency_key: Option<&'a str>,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
}

/// The token of an `Authorization: Bearer <token>` header. Another scheme is passed on whole,
/// for the API to refuse as a malformed token rather than take the request as a guest's.
pub fn bearer(authorization: &str) -> &str {
    match authorization.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => authorization,
    }
}

/// Hands a request to the API. With an `Idempotency-Key`, a message's retry stores nothing
/// new and answers the first id (409 while the first is still being stored).
pub async fn post(
    posted: Posted<'_>,
    api: &(impl Api + Sync),
    report: &(impl Report + Sync),
) -> HttpResponse {
    let received = ReceivedMessage {
        channel_name: CHANNEL_NAME.into(),
        subject: posted.subject.into(),
        payload: posted.body.to_vec(),
        idempotency_key: posted.idempotency_key.map(String::from),
        reply_wanted: true,
        token: posted.authorization.map(|value| bearer(value).to_string()),
    };
    match api.accept_message(&Context::default(), &received).await {
        Ok(ack) => answered(ack),
        Err(e) if reply::timed_out(&e) => {
            let detail = format!("{CHANNEL_NAME} message was not taken in time: {e}");
            reply::failure(report, 504, TIMED_OUT, detail).await
        }
        Err(e) => {
            let detail = format!("mcchat/api did not take a message: {e}");
            reply::failure(report, 503, UNAVAILABLE, detail).await
        }
    }
}

/// The API's answer as a response: its status, and the headers a refusal calls for.
fn answered(ack: Acknowledgement) -> HttpResponse {
    let status = status(&ack.outcome);
    let response = reply::json_bytes(status, ack.ack);
    match (status, ack.retry_after_ms) {
        (401, _) => reply::with_header(response, "WWW-Authenticate", "Bearer".into()),
        (429, Some(ms)) => {
            reply::with_header(response, "Retry-After", ms.div_ceil(1000).to_string())
        }
        _ => response,
    }
}

/// The status for what became of a request (`Acknowledgement.outcome`).
pub fn status(outcome: &str) -> u16 {
    match outcome {
        "stored" | "created" | "signed-on" => 201,
        "signed-off" => 200,
        "invalid" => 400,
        "unauthorized" => 401,
        "closed" => 403,
        "in-progress" | "taken" => 409,
        "too-large" => 413,
        "limited" => 429,
        "timed-out" => 504,
        // "unavailable", and whatever a newer API answers that this channel does not know.
        _ => 503,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::RpcResult;
    use async_trait::async_trait;
    use futures::executor::block_on;
    use std::sync::Mutex;
    use wasmbus_rpc::error::RpcError;

    /// Keeps the failures reported, for the tests to read.
    #[derive(Default)]
    struct Reports(Mutex<Vec<String>>);

    #[async_trait]
    impl Report for Reports {
        async fn failure(&self, detail: String) {
            self.0.lock().unwrap().push(detail);
        }
    }

    /// An outcome and the ack to answer with, or how the call fails.
    type StubAnswer = Result<(&'static str, &'static [u8]), fn() -> RpcError>;

    /// Answers every message with `answer`, or fails as `failure` says; keeps what it was given.
    struct StubApi {
        answer: StubAnswer,
        received: Mutex<Vec<ReceivedMessage>>,
    }

    impl StubApi {
        fn answering(outcome: &'static str, ack: &'static [u8]) -> Self {
            StubApi {
                answer: Ok((outcome, ack)),
                received: Mutex::default(),
            }
        }

        fn failing(failure: fn() -> RpcError) -> Self {
            StubApi {
                answer: Err(failure),
                received: Mutex::default(),
            }
        }
    }

    #[async_trait]
    impl Api for StubApi {
        async fn accept_message(
            &self,
            _: &Context,
            received: &ReceivedMessage,
        ) -> RpcResult<Acknowledgement> {
            self.received.lock().unwrap().push(received.clone());
            let (outcome, ack) = self.answer.map_err(|failure| failure())?;
            Ok(Acknowledgement {
                accepted: outcome == "stored",
                outcome: outcome.into(),
                reason: None,
                ack: ack.to_vec(),
                retry_after_ms: (outcome == "limited").then_some(1_500),
            })
        }
    }

    #[test]
    fn the_body_and_key_reach_the_api_as_received_and_its_answer_is_sent_back() {
        let api = StubApi::answering("stored", br#"{"id":"m-1"}"#);
        let posted = Posted {
            subject: "",
            body: b"\xff not even UTF-8",
            idempotency_key: Some("key-1"),
            authorization: None,
        };
        let response = block_on(post(posted, &api, &Reports::default()));
        assert_eq!(response.status_code, 201);
        assert_eq!(response.header["Content-Type"], ["application/json"]);
        assert_eq!(response.body, br#"{"id":"m-1"}"#);
        let received = api.received.lock().unwrap();
        assert_eq!(received[0].channel_name, "http");
        assert_eq!(received[0].payload, b"\xff not even UTF-8");
        assert_eq!(received[0].idempotency_key.as_deref(), Some("key-1"));
        assert!(received[0].reply_wanted);
        assert_eq!(received[0].token, None);
    }

    #[test]
    fn the_subject_and_the_bearer_token_reach_the_api() {
        let api = StubApi::answering("signed-off", br#"{"user_name":"ann"}"#);
        for (authorization, token) in [
            ("Bearer mc1.a.b", "mc1.a.b"),
            ("bearer  mc1.a.b ", "mc1.a.b"),
            ("Basic YW5uOnB3", "Basic YW5uOnB3"),
        ] {
            let posted = Posted {
                subject: "chat.signoff",
                body: b"",
                idempotency_key: None,
                authorization: Some(authorization),
            };
            assert_eq!(
                block_on(post(posted, &api, &Reports::default())).status_code,
                200
            );
            let received = api.received.lock().unwrap().pop().unwrap();
            assert_eq!(received.subject, "chat.signoff");
            assert_eq!(received.token.as_deref(), Some(token));
        }
    }

    fn post_body(body: &[u8], api: &StubApi, reports: &Reports) -> HttpResponse {
        let posted = Posted {
            subject: "",
            body,
            idempotency_key: None,
            authorization: None,
        };
        block_on(post(posted, api, reports))
    }

    #[test]
    fn each_outcome_has_its_status() {
        for (outcome, status) in [
            ("stored", 201),
            ("created", 201),
            ("signed-on", 201),
            ("signed-off", 200),
            ("invalid", 400),
            ("unauthorized", 401),
            ("closed", 403),
            ("in-progress", 409),
            ("taken", 409),
            ("too-large", 413),
            ("limited", 429),
            ("unavailable", 503),
            ("timed-out", 504),
            ("an outcome from a newer API", 503),
        ] {
            let api = StubApi::answering(outcome, br#"{"reason":"r"}"#);
            let response = post_body(b"{}", &api, &Reports::default());
            assert_eq!(response.status_code, status, "{outcome}");
            let header = |name: &str| response.header.get(name).map(|v| v[0].clone());
            let retry_after = (outcome == "limited").then(|| "2".to_string());
            assert_eq!(header("Retry-After"), retry_after, "{outcome}");
            let challenge = (outcome == "unauthorized").then(|| "Bearer".to_string());
            assert_eq!(header("WWW-Authenticate"), challenge, "{outcome}");
        }
    }

    #[test]
    fn an_api_that_is_down_or_stuck_is_503_or_504_with_a_short_reason_and_the_details_reported() {
        let down = StubApi::failing(|| RpcError::HostError("mcchat/api is not running".into()));
        let stuck = StubApi::failing(|| {
            RpcError::HostError("actor: mcchat/api AcceptMessage: timeout: no answer".into())
        });
        for (api, status, reason, detail) in [
            (down, 503, UNAVAILABLE, "mcchat/api is not running"),
            (stuck, 504, TIMED_OUT, "no answer"),
        ] {
            let reports = Reports::default();
            let response = post_body(b"{}", &api, &reports);
            assert_eq!(response.status_code, status);
            let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(body["reason"], reason);
            // The details go to the operator, not the client.
            let reported = reports.0.lock().unwrap();
            assert!(reported[0].contains(detail), "{reported:?}");
        }
    }
}
