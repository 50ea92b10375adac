//! The account requests: sign-up, sign-on, refresh and sign-off, each on its own subject on
//! every channel (MQTT's levels are NATS's tokens; HTTP names its routes so), parsed here and
//! answered by `mcchat/accounts`.

use serde::Deserialize;

use crate::bindings::accounts::{Credentials, SignOffRequest, TokenRequest};
use crate::bindings::api::ReceivedMessage;
use crate::sealing::ReplyKey;

/// What a subject asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A chat message: every subject that names no account request.
    Message,
    SignUp,
    SignOn,
    Refresh,
    SignOff,
}

const SUBJECTS: &[(&str, Request)] = &[
    ("chat.signup", Request::SignUp),
    ("chat.signon", Request::SignOn),
    ("chat.refresh", Request::Refresh),
    ("chat.signoff", Request::SignOff),
];

/// The request a subject (`chat.signon`) or topic (`chat/signon`) names.
pub fn request(subject: &str) -> Request {
    let same = |name: &str| {
        subject.len() == name.len()
            && subject
                .bytes()
                .zip(name.bytes())
                .all(|(s, n)| s == n || (s == b'/' && n == b'.'))
    };
    SUBJECTS
        .iter()
        .find(|(name, _)| same(name))
        .map_or(Request::Message, |&(_, request)| request)
}

/// How a malformed sign-up or sign-on begins its refusal.
pub const EXPECTED_CREDENTIALS: &str = r#"expected JSON {"user_name","password"}"#;
/// The refusal of a refresh or sign-off without a token.
pub const TOKEN_REQUIRED: &str =
    r#"a token is required: "Authorization: Bearer <token>", or {"token"} in the payload"#;

/// An account request as parsed, and the key to seal its answer's token to, if it asked.
pub struct Parsed<T> {
    pub request: T,
    pub reply_key: Option<ReplyKey>,
}

/// `{"user_name","password","reply_key"?}`.
#[derive(Deserialize)]
struct CredentialsIn {
    user_name: String,
    password: String,
    #[serde(default)]
    reply_key: Option<String>,
}

/// `{"token"?,"everywhere"?,"reply_key"?}`, or nothing (or `null`) when the token came beside
/// the payload.
#[derive(Default, Deserialize)]
struct TokenIn {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    everywhere: bool,
    #[serde(default)]
    reply_key: Option<String>,
}

fn reply_key(key: Option<String>) -> Result<Option<ReplyKey>, String> {
    key.map(|key| ReplyKey::parse(&key)).transpose()
}

/// Sign-up and sign-on. A refusal never quotes the payload: serde's errors quote values, and
/// a value here may be a password.
pub fn credentials(payload: &str) -> Result<Parsed<Credentials>, String> {
    let parsed: CredentialsIn = crate::payload::parse_object(payload).map_err(|e| {
        let what = match e.is_data() {
            true => "user_name and password (and reply_key, if given) must be strings",
            false => "the payload is not a JSON object",
        };
        format!("{EXPECTED_CREDENTIALS}: {what}")
    })?;
    Ok(Parsed {
        request: Credentials {
            user_name: parsed.user_name,
            password: parsed.password,
        },
        reply_key: reply_key(parsed.reply_key)?,
    })
}

/// The token of a refresh (the header's first, then the payload's).
pub fn token_request(
    received: &ReceivedMessage,
    payload: &str,
) -> Result<Parsed<TokenRequest>, String> {
    let (token, parsed) = token_in(received, payload)?;
    Ok(Parsed {
        request: TokenRequest { token },
        reply_key: reply_key(parsed.reply_key)?,
    })
}

pub fn sign_off_request(
    received: &ReceivedMessage,
    payload: &str,
) -> Result<SignOffRequest, String> {
    let (token, parsed) = token_in(received, payload)?;
    Ok(SignOffRequest {
        token,
        everywhere: parsed.everywhere,
    })
}

fn token_in(received: &ReceivedMessage, payload: &str) -> Result<(String, TokenIn), String> {
    let mut parsed: TokenIn = match matches!(payload.trim(), "" | "null") {
        true => TokenIn::default(),
        false => crate::payload::parse_object(payload).map_err(|e| {
            format!(r#"expected JSON {{"token"?,"everywhere"?,"reply_key"?}}: {e}"#)
        })?,
    };
    let token = received.token.clone().or(parsed.token.take());
    let token = token.filter(|t| !t.is_empty()).ok_or(TOKEN_REQUIRED)?;
    Ok((token, parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_topics_name_the_same_requests_and_the_rest_are_messages() {
        for (subject, expected) in [
            ("chat.signon", Request::SignOn),
            ("chat/signon", Request::SignOn),
            ("chat.signup", Request::SignUp),
            ("chat/refresh", Request::Refresh),
            ("chat.signoff", Request::SignOff),
            ("chat.in", Request::Message),
            ("chat/in", Request::Message),
            ("", Request::Message),
            ("chat.signon.x", Request::Message),
            ("chat:signon", Request::Message),
            ("chat.signo", Request::Message),
        ] {
            assert_eq!(request(subject), expected, "{subject}");
        }
    }

    fn received(token: Option<&str>) -> ReceivedMessage {
        ReceivedMessage {
            token: token.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn the_token_comes_from_beside_the_payload_first_then_from_it() {
        let both = sign_off_request(&received(Some("header")), r#"{"token":"payload"}"#);
        assert_eq!(both.unwrap().token, "header");
        let payload = sign_off_request(&received(None), r#"{"token":"p","everywhere":true}"#);
        let payload = payload.unwrap();
        assert_eq!((payload.token.as_str(), payload.everywhere), ("p", true));
        let token = |payload| {
            token_request(&received(Some("h")), payload)
                .unwrap()
                .request
        };
        assert_eq!(token("").token, "h");
        assert_eq!(token("null").token, "h");
        for missing in ["", "{}", r#"{"token":""}"#] {
            assert_eq!(
                token_request(&received(None), missing).err().unwrap(),
                TOKEN_REQUIRED
            );
        }
        let bad = token_request(&received(None), "[1]").err().unwrap();
        assert!(bad.starts_with(r#"expected JSON {"token"?"#), "{bad}");
    }

    #[test]
    fn credentials_are_an_object_with_both_fields() {
        let ok = credentials(r#"{"user_name":"ann","password":"secret pw"}"#).unwrap();
        assert!(ok.reply_key.is_none());
        let ok = ok.request;
        assert_eq!(
            (ok.user_name.as_str(), ok.password.as_str()),
            ("ann", "secret pw")
        );
        for bad in [
            "",
            "[]",
            r#"{"user_name":"ann"}"#,
            r#"["ann","pw"]"#,
            r#"{"user_name":"ann","password":["secret"]}"#,
            r#"{"user_name":"ann","password":12345678}"#,
            r#"{"user_name":"ann","password":"secret",}"#,
        ] {
            let reason = credentials(bad).err().unwrap();
            assert!(reason.starts_with(EXPECTED_CREDENTIALS), "{bad}: {reason}");
            assert!(
                !reason.contains("secret") && !reason.contains("1234"),
                "{reason}"
            );
        }
    }

    #[test]
    fn a_reply_key_is_taken_with_credentials_or_a_token_and_must_be_a_curve_key() {
        let key = nkeys::XKey::new_from_raw([3; 32]).public_key();
        let signing = format!(r#"{{"user_name":"ann","password":"pw","reply_key":"{key}"}}"#);
        assert!(credentials(&signing).unwrap().reply_key.is_some());
        let refresh = format!(r#"{{"token":"t","reply_key":"{key}"}}"#);
        assert!(token_request(&received(None), &refresh)
            .unwrap()
            .reply_key
            .is_some());
        for bad in [r#""UABC""#, r#""""#, "42"] {
            let payload = format!(r#"{{"user_name":"ann","password":"pw","reply_key":{bad}}}"#);
            let reason = credentials(&payload).err().unwrap();
            assert!(!reason.contains("pw"), "{reason}");
            let payload = format!(r#"{{"token":"t","reply_key":{bad}}}"#);
            assert!(token_request(&received(None), &payload).is_err(), "{bad}");
        }
        let payload = r#"{"user_name":"ann","password":"pw","reply_key":"UABC"}"#;
        assert_eq!(
            credentials(payload).err().as_deref(),
            Some(crate::sealing::BAD_REPLY_KEY)
        );
    }
}
