//! What a client is told, in its channel's wire format: the one place acks are shaped.

use serde::Serialize;

use crate::bindings::accounts::AccountAnswer;
use crate::bindings::api::Acknowledgement;
use crate::channels::Answers;
use crate::sealing::Sealed;

/// What became of a message, as `Acknowledgement.outcome` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    /// The client's mistake: fix the message before sending it again.
    Invalid,
    TooLarge,
    /// A write with the same idempotency key is still being stored: retry shortly.
    InProgress,
    /// The chat's own failure: nothing was stored, try again.
    Unavailable,
    /// The store did not answer in time: the message may have been stored, so retry with the
    /// same idempotency key.
    TimedOut,
    /// The name is registered and the message carries no token of its own, or its token does
    /// not hold.
    Unauthorized,
    /// The chat takes no guests.
    Closed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Invalid => "invalid",
            Outcome::TooLarge => "too-large",
            Outcome::InProgress => "in-progress",
            Outcome::Unavailable => "unavailable",
            Outcome::TimedOut => "timed-out",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Closed => "closed",
        }
    }
}

/// What a client is told when the message could not be stored for reasons of the chat's own.
pub const UNAVAILABLE: &str = "the chat log is unavailable; nothing was stored, try again";
/// What an HTTP client is told when the chat log did not answer in time (its retry carries an
/// `Idempotency-Key`; a broker client's is told `UNAVAILABLE`, as it always was).
pub const TIMED_OUT: &str = "the chat log did not answer in time; the message may have been \
     stored: retry with the same Idempotency-Key";

/// The answer for a stored message, with its id.
pub fn stored(answers: Answers, id: &str) -> Acknowledgement {
    #[derive(Serialize)]
    struct Created<'a> {
        id: &'a str,
    }
    #[derive(Serialize)]
    struct Accepted<'a> {
        accepted: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
    }
    let ack = match answers {
        Answers::Http => to_json(&Created { id }),
        Answers::Ack { with_id } => to_json(&Accepted {
            accepted: true,
            id: with_id.then_some(id),
        }),
    };
    Acknowledgement {
        accepted: true,
        outcome: Outcome::Stored.as_str().into(),
        reason: None,
        ack,
        retry_after_ms: None,
    }
}

/// The answer for a message that was not stored, and why.
pub fn refused(answers: Answers, outcome: Outcome, reason: String) -> Acknowledgement {
    #[derive(Serialize)]
    struct Reason<'a> {
        reason: &'a str,
    }
    #[derive(Serialize)]
    struct Refused<'a> {
        accepted: bool,
        reason: &'a str,
    }
    let ack = match answers {
        Answers::Http => to_json(&Reason { reason: &reason }),
        Answers::Ack { .. } => to_json(&Refused {
            accepted: false,
            reason: &reason,
        }),
    };
    Acknowledgement {
        accepted: false,
        outcome: outcome.as_str().into(),
        reason: Some(reason),
        ack,
        retry_after_ms: None,
    }
}

/// The answer to an account request (`requests`): the accounts' outcome as it is, with the
/// name, the token (or the token `sealed` to the requester's key) and its expiry when there
/// are, or the reason and the wait.
pub fn account(answers: Answers, answer: AccountAnswer, sealed: Option<Sealed>) -> Acknowledgement {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        accepted: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        token: Option<&'a str>,
        #[serde(flatten)]
        sealed: Option<Sealed>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    }
    let body = Body {
        accepted: matches!(answers, Answers::Ack { .. }).then_some(answer.accepted),
        user_name: answer.user_name.as_deref().filter(|_| answer.accepted),
        token: answer.token.as_deref().filter(|_| sealed.is_none()),
        sealed,
        expires_at: answer.expires_at,
        reason: answer.reason.as_deref(),
        retry_after_ms: answer.retry_after_ms,
    };
    Acknowledgement {
        ack: to_json(&body),
        accepted: answer.accepted,
        outcome: answer.outcome,
        reason: answer.reason,
        retry_after_ms: answer.retry_after_ms,
    }
}

fn to_json(answer: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(answer).expect("an answer of strings and booleans always serializes")
}

/// A payload over the limit, in the words each channel's clients have always seen.
pub fn too_large(answers: Answers, len: usize, limit: usize) -> String {
    match answers {
        Answers::Http => format!("request body is larger than {limit} bytes"),
        Answers::Ack { .. } => format!("the payload is {len} bytes, over the limit of {limit}"),
    }
}

/// The store did not answer in time, in the words each channel's clients have always seen.
pub fn timed_out(answers: Answers) -> &'static str {
    match answers {
        Answers::Http => TIMED_OUT,
        Answers::Ack { .. } => UNAVAILABLE,
    }
}

/// A payload that is not UTF-8, in the words each channel's clients have always seen.
pub fn not_utf8(answers: Answers) -> String {
    match answers {
        Answers::Http => "request body is not UTF-8".into(),
        Answers::Ack { .. } => format!("{EXPECTED}: the payload is not UTF-8"),
    }
}

/// How every refusal of a malformed message begins.
pub const EXPECTED: &str = r#"expected JSON {"user_name","body"}"#;
