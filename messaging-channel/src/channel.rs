//! What a messaging channel does with a message: hands it to the API as received, and sends
//! the answer where it belongs. Which of the three channels this build is, all that differs
//! between them, is read from the package the source is built as.

use crate::bindings::api::{Acknowledgement, ReceivedMessage};

/// The channel's name, as the API knows it: the package's name up to its first `-`
/// (`nats-channel` and `nats-channel-component` are `nats`).
pub const CHANNEL_NAME: &str = first_word(env!("CARGO_PKG_NAME"));

/// Whether a refusal nobody waits for goes back to the provider as an error. The MQTT provider
/// counts those (an MQTT 3.1.1 publish has no reply) and logs them at most once a minute; the
/// NATS and WebSocket providers would log each one, and anyone may send them as fast as they
/// like, so there the API logs them at debug level and nothing more.
pub const REFUSALS_TO_PROVIDER: bool = matches!(CHANNEL_NAME.as_bytes(), b"mqtt");

/// What a client is told when the API itself did not answer (the API words every other
/// answer).
const UNAVAILABLE: &str = "the chat log is unavailable; nothing was stored, try again";

pub fn api_unavailable() -> Acknowledgement {
    Acknowledgement {
        accepted: false,
        outcome: "unavailable".into(),
        reason: Some(UNAVAILABLE.into()),
        ack: format!(r#"{{"accepted":false,"reason":"{UNAVAILABLE}"}}"#).into_bytes(),
        retry_after_ms: None,
    }
}

/// A message from the provider, for the API: `reply_to` is where the client waits, if it does.
pub fn received(subject: &str, body: &[u8], reply_to: Option<&str>) -> ReceivedMessage {
    ReceivedMessage {
        channel_name: CHANNEL_NAME.into(),
        subject: subject.into(),
        payload: body.to_vec(),
        idempotency_key: None,
        reply_wanted: reply_to.is_some(),
        // A broker client's token is in its payload.
        token: None,
    }
}

/// Where the API's answer goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// Published to the client's reply subject.
    Reply { to: &'a str },
    /// Nowhere: nobody waits for it, and the API logged a refusal.
    Done,
    /// Back to the provider as an error, with the reason.
    Refusal(String),
}

pub fn answer<'a>(reply_to: Option<&'a str>, ack: &Acknowledgement) -> Answer<'a> {
    match (reply_to, ack.accepted) {
        (Some(to), _) => Answer::Reply { to },
        (None, false) if REFUSALS_TO_PROVIDER => {
            Answer::Refusal(ack.reason.clone().unwrap_or_default())
        }
        (None, _) => Answer::Done,
    }
}

const fn first_word(name: &str) -> &str {
    let bytes = name.as_bytes();
    let mut end = 0;
    while end < bytes.len() && bytes[end] != b'-' {
        end += 1;
    }
    match core::str::from_utf8(bytes.split_at(end).0) {
        Ok(word) => word,
        Err(_) => panic!("a package name is UTF-8"),
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Not;

    use super::*;

    #[test]
    fn the_name_is_the_packages_first_word() {
        assert_eq!(first_word("nats-channel"), "nats");
        assert_eq!(first_word("mqtt-channel-component"), "mqtt");
        assert!(["nats", "ws", "mqtt"].contains(&CHANNEL_NAME));
        assert_eq!(REFUSALS_TO_PROVIDER, CHANNEL_NAME == "mqtt");
    }

    #[test]
    fn an_answer_goes_to_the_reply_subject_or_nowhere_or_to_the_provider() {
        let refusal = Acknowledgement {
            accepted: false,
            outcome: "invalid".into(),
            reason: Some("expected JSON".into()),
            ack: b"{}".to_vec(),
            retry_after_ms: None,
        };
        assert_eq!(
            answer(Some("_INBOX.1"), &refusal),
            Answer::Reply { to: "_INBOX.1" }
        );
        let unanswered = answer(None, &refusal);
        match CHANNEL_NAME {
            "mqtt" => assert_eq!(unanswered, Answer::Refusal("expected JSON".into())),
            _ => assert_eq!(unanswered, Answer::Done),
        }
        let stored = Acknowledgement {
            accepted: true,
            ..refusal
        };
        assert_eq!(answer(None, &stored), Answer::Done);
        assert!(received("chat.in", b"x", None).reply_wanted.not());
    }

    #[test]
    fn the_unavailable_ack_is_a_refusal_with_a_reason() {
        let ack: serde_json::Value = serde_json::from_slice(&api_unavailable().ack).unwrap();
        assert_eq!(ack["accepted"], false);
        assert!(ack["reason"]
            .as_str()
            .unwrap()
            .contains("nothing was stored"));
    }
}
