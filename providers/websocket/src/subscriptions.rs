//! The frames a session subscribes with, handled by the provider and never passed to the actor:
//! `{"subject":"_subscribe","body":"<pattern>","reply_to":R}`, and `_unsubscribe` alike. The
//! answer on `R` is `{"accepted":true,"subscriptions":[…]}` (every pattern the session now
//! holds) or `{"accepted":false,"reason"}`; with no `reply_to`, a refusal is an error frame.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::frame::{self, Frame};
use crate::pattern::{BadPattern, Pattern};

pub const SUBSCRIBE: &str = "_subscribe";
pub const UNSUBSCRIBE: &str = "_unsubscribe";

/// What a control frame asks.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Subscribe(Pattern),
    Unsubscribe(Pattern),
}

/// The change a frame asks for; `None` for a frame for the actor.
pub fn change(frame: &Frame) -> Option<Result<Change, BadPattern>> {
    let subscribe = match frame.subject.as_str() {
        SUBSCRIBE => true,
        UNSUBSCRIBE => false,
        _ => return None,
    };
    let pattern = match (frame.body_is_string, std::str::from_utf8(&frame.body)) {
        (true, Ok(text)) => Pattern::parse(text),
        _ => Err(BadPattern::NotASubject),
    };
    Some(pattern.map(|pattern| match subscribe {
        true => Change::Subscribe(pattern),
        false => Change::Unsubscribe(pattern),
    }))
}

#[derive(Serialize)]
#[serde(untagged)]
enum Answer<'a> {
    Accepted {
        accepted: bool,
        subscriptions: Vec<&'a str>,
    },
    Refused {
        accepted: bool,
        reason: &'a str,
    },
}

/// The ack on the client's reply subject.
pub fn accepted(reply_to: &str, patterns: &BTreeSet<Pattern>) -> String {
    let subscriptions = patterns.iter().map(Pattern::as_str).collect();
    let answer = Answer::Accepted {
        accepted: true,
        subscriptions,
    };
    encode(reply_to, &answer)
}

/// The refusal on the client's reply subject.
pub fn refused(reply_to: &str, reason: &str) -> String {
    let answer = Answer::Refused {
        accepted: false,
        reason,
    };
    encode(reply_to, &answer)
}

fn encode(reply_to: &str, answer: &Answer) -> String {
    let body = serde_json::to_vec(answer).expect("an answer always serializes");
    frame::encode(reply_to, &body, None)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn frame(text: &str) -> Frame {
        frame::parse(text, 1024).unwrap()
    }

    #[test]
    fn control_frames_name_a_pattern_in_a_string_body() {
        let subscribe = frame(r#"{"subject":"_subscribe","body":"rtchat.>","reply_to":"s1"}"#);
        let pattern = Pattern::parse("rtchat.>").unwrap();
        assert_eq!(
            change(&subscribe),
            Some(Ok(Change::Subscribe(pattern.clone())))
        );
        let unsubscribe = frame(r#"{"subject":"_unsubscribe","body":"rtchat.>"}"#);
        assert_eq!(change(&unsubscribe), Some(Ok(Change::Unsubscribe(pattern))));
        assert_eq!(change(&frame(r#"{"subject":"chat.in","body":"x"}"#)), None);
        for refused in [
            r#"{"subject":"_subscribe","body":{"pattern":"rtchat.>"}}"#,
            r#"{"subject":"_subscribe","body":42}"#,
            r#"{"subject":"_subscribe","body":"rtchat..x"}"#,
        ] {
            assert!(matches!(change(&frame(refused)), Some(Err(_))), "{refused}");
        }
    }

    #[test]
    fn answers_say_accepted_and_every_pattern_held_or_the_reason() {
        let patterns = ["rtchat.messages", "rtchat.dev.messages"]
            .map(|p| Pattern::parse(p).unwrap())
            .into_iter()
            .collect();
        let ack: Value = serde_json::from_str(&accepted("s1", &patterns)).unwrap();
        assert_eq!(
            ack,
            json!({"subject": "s1", "body": {"accepted": true, "subscriptions": ["rtchat.dev.messages", "rtchat.messages"]}})
        );
        let refusal: Value = serde_json::from_str(&refused("s2", "no")).unwrap();
        assert_eq!(
            refusal,
            json!({"subject": "s2", "body": {"accepted": false, "reason": "no"}})
        );
    }
}
