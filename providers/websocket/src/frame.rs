//! The frame protocol: every WebSocket text frame is one JSON object
//! `{"subject": S, "body": B, "reply_to"?: R}`. This module turns frames into messaging
//! payloads and back; it does no I/O, so it is unit-tested and fuzzed on its own.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Subject of the frame that answers a malformed one.
pub const ERROR_SUBJECT: &str = "error";
/// Longest subject or reply subject a client may send.
pub const MAX_SUBJECT_LEN: usize = 256;

/// A frame as it arrived, before its body is turned into bytes.
#[derive(Deserialize)]
struct RawFrame<'a> {
    subject: String,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
    #[serde(default)]
    reply_to: Option<String>,
}

/// A well-formed inbound frame: the payload as the messaging contract carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub subject: String,
    /// A JSON string body as its UTF-8 bytes; any other JSON value as its compact JSON text.
    pub body: Vec<u8>,
    pub reply_to: Option<String>,
    /// The body was a JSON string (the bytes are its text), not another JSON value.
    pub body_is_string: bool,
}

/// Why a frame was refused; the text goes back to the client in an error frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame must be a JSON object {{\"subject\", \"body\", \"reply_to\"?}}: {0}")]
    NotAFrame(String),
    #[error("a frame needs a \"body\"")]
    MissingBody,
    #[error("{0} must be 1 to {MAX_SUBJECT_LEN} characters with no spaces or control characters")]
    BadSubject(&'static str),
    #[error("a frame may be at most {limit} bytes; this one has {size}")]
    TooLarge { size: usize, limit: usize },
    #[error("only text frames carry messages")]
    Binary,
    #[error(
        "too many frames: at most {per_second} a second (burst {burst}); this one was dropped"
    )]
    RateLimited { per_second: u32, burst: u32 },
}

fn valid_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.len() <= MAX_SUBJECT_LEN
        && !subject.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Parses one text frame of at most `limit` bytes.
pub fn parse(text: &str, limit: usize) -> Result<Frame, FrameError> {
    if text.len() > limit {
        return Err(FrameError::TooLarge {
            size: text.len(),
            limit,
        });
    }
    let raw: RawFrame = match serde_json::from_str::<&RawValue>(text) {
        Ok(value) if value.get().trim_start().starts_with('{') => {
            serde_json::from_str(value.get()).map_err(|e| FrameError::NotAFrame(e.to_string()))?
        }
        Ok(_) => return Err(FrameError::NotAFrame("not an object".into())),
        Err(e) => return Err(FrameError::NotAFrame(e.to_string())),
    };
    if !valid_subject(&raw.subject) {
        return Err(FrameError::BadSubject("subject"));
    }
    if let Some(reply_to) = &raw.reply_to {
        if !valid_subject(reply_to) {
            return Err(FrameError::BadSubject("reply_to"));
        }
    }
    let body = raw.body.ok_or(FrameError::MissingBody)?;
    let (body, body_is_string) = match serde_json::from_str::<String>(body.get()) {
        Ok(text) => (text.into_bytes(), true),
        // Not a string: re-serialised compactly (a client may have sent spaces and newlines).
        // (A number too large for serde_json's numbers is refused, not passed on.)
        Err(_) => {
            let value: serde_json::Value = serde_json::from_str(body.get())
                .map_err(|e| FrameError::NotAFrame(e.to_string()))?;
            let compact = serde_json::to_vec(&value).expect("a Value always serializes");
            (compact, false)
        }
    };
    Ok(Frame {
        subject: raw.subject,
        body,
        reply_to: raw.reply_to,
        body_is_string,
    })
}

/// A frame as the provider sends it.
#[derive(Serialize)]
struct OutFrame<'a> {
    subject: &'a str,
    body: Body<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Json(&'a RawValue),
    Text(std::borrow::Cow<'a, str>),
}

/// Encodes a published payload: its body as a JSON value when it is JSON that [`parse`] accepts
/// back, else as a string.
pub fn encode(subject: &str, body: &[u8], reply_to: Option<&str>) -> String {
    let body = match std::str::from_utf8(body) {
        Ok(text) => match serde_json::from_str::<&RawValue>(text) {
            // A number beyond f64 (e.g. 1e400) is valid JSON that `parse` refuses, so it goes
            // out as text rather than as a frame the client cannot send back.
            Ok(json) if serde_json::from_str::<serde_json::Value>(json.get()).is_ok() => {
                Body::Json(json)
            }
            _ => Body::Text(text.into()),
        },
        Err(_) => Body::Text(String::from_utf8_lossy(body)),
    };
    serde_json::to_string(&OutFrame {
        subject,
        body,
        reply_to,
    })
    .expect("frames always serialize")
}

/// The frame that answers a refused one: `{"subject":"error","body":{"reason":…}}`.
pub fn error(reason: &str) -> String {
    serde_json::json!({ "subject": ERROR_SUBJECT, "body": { "reason": reason } }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMIT: usize = 1024;

    #[test]
    fn a_string_body_is_its_bytes_and_any_other_value_its_compact_json() {
        let frame = parse(
            r#"{"subject":"chat.in","body":"héllo","reply_to":"r1"}"#,
            LIMIT,
        )
        .unwrap();
        assert_eq!(
            frame,
            Frame {
                subject: "chat.in".into(),
                body: "héllo".as_bytes().to_vec(),
                reply_to: Some("r1".into()),
                body_is_string: true,
            }
        );
        let frame = parse(
            "{\"subject\":\"chat.in\",\"body\": { \"user_name\" : \"a\",\n \"n\": [1, 2] }}",
            LIMIT,
        )
        .unwrap();
        let body = String::from_utf8(frame.body).unwrap();
        assert!(!body.contains([' ', '\n']), "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value, json!({"user_name": "a", "n": [1, 2]}));
        assert_eq!(frame.reply_to, None);
        assert!(!frame.body_is_string);
        // `null` is no body at all.
        assert_eq!(
            parse(r#"{"subject":"s","body":null}"#, LIMIT),
            Err(FrameError::MissingBody)
        );
    }

    #[test]
    fn malformed_frames_are_refused_with_a_reason() {
        let cases = [
            ("not json", "must be a JSON object"),
            ("[1,2]", "must be a JSON object"),
            (r#"{"body":"x"}"#, "must be a JSON object"),
            (r#"{"subject":"s"}"#, "needs a \"body\""),
            (r#"{"subject":"","body":"x"}"#, "subject must be"),
            (r#"{"subject":"a b","body":"x"}"#, "subject must be"),
            (
                r#"{"subject":"s","body":"x","reply_to":""}"#,
                "reply_to must be",
            ),
            (r#"{"subject":7,"body":"x"}"#, "must be a JSON object"),
        ];
        for (text, expected) in cases {
            let e = parse(text, LIMIT).unwrap_err();
            assert!(e.to_string().contains(expected), "{text}: {e}");
        }
        let big = format!(r#"{{"subject":"s","body":"{}"}}"#, "x".repeat(LIMIT));
        assert!(matches!(
            parse(&big, LIMIT),
            Err(FrameError::TooLarge { limit: LIMIT, .. })
        ));
        // A number serde_json cannot hold is refused, not a panic.
        assert!(matches!(
            parse(r#"{"subject":"s","body":[1e400]}"#, LIMIT),
            Err(FrameError::NotAFrame(_))
        ));
    }

    #[test]
    fn encodes_json_payloads_as_values_and_others_as_strings() {
        let frame: serde_json::Value =
            serde_json::from_str(&encode("rtchat.messages", br#"{"body":"hi"}"#, None)).unwrap();
        assert_eq!(
            frame,
            json!({"subject": "rtchat.messages", "body": {"body": "hi"}})
        );
        let frame: serde_json::Value =
            serde_json::from_str(&encode("r1", b"plain text", Some("back"))).unwrap();
        assert_eq!(
            frame,
            json!({"subject": "r1", "body": "plain text", "reply_to": "back"})
        );
        let frame: serde_json::Value = serde_json::from_str(&encode("s", b"\xff", None)).unwrap();
        assert_eq!(frame["body"], "\u{fffd}");
    }

    #[test]
    fn an_encoded_frame_parses_back_to_the_same_payload() {
        for body in [&br#"{"a":[1,"x"]}"#[..], b"plain", b"42", b"[1e400]"] {
            let frame = parse(&encode("s", body, Some("r")), LIMIT).unwrap();
            assert_eq!(frame.body, body);
            assert_eq!(frame.reply_to.as_deref(), Some("r"));
        }
    }

    #[test]
    fn the_error_frame_carries_the_reason() {
        let frame: serde_json::Value =
            serde_json::from_str(&error(&FrameError::MissingBody.to_string())).unwrap();
        assert_eq!(
            frame,
            json!({"subject": "error", "body": {"reason": "a frame needs a \"body\""}})
        );
    }
}
