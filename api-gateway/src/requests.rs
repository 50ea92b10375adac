//! The account requests: sign-up, sign-on, refresh and sign-off, each on its own subject on
//! every channel (MQTT's levels are NATS's tokens; HTTP names its routes so), parsed here and
//! answered by `mcchat/accounts`.

use serde::Deserialize;

use crate::bindings::accounts::{Credentials, SignOffRequest, TokenRequest};
use crate::bindings::api::ReceivedMessage;

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

/// `{"user_name","password"}`.
#[derive(Deserialize)]
struct CredentialsIn {
    user_name: String,
    password: String,
}

/// `{"token"?,"everywhere"?}`, or nothing (or `null`) when the token came beside the payload.
#[derive(Default, Deserialize)]
struct TokenIn {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    everywhere: bool,
}

/// Sign-up and sign-on. A refusal never quotes the payload: serde's errors quote values, and
/// a value here may be a password.
pub fn credentials(payload: &str) -> Result<Credentials, String> {
    let parsed: CredentialsIn = crate::payload::parse_object(payload).map_err(|e| {
        let what = match e.is_data() {
            true => "user_name and password must both be strings",
            false => "the payload is not a JSON object",
        };
        format!("{EXPECTED_CREDENTIALS}: {what}")
    })?;
    Ok(Credentials {
        user_name: parsed.user_name,
        password: parsed.password,
    })
}

/// The token of a refresh (the header's first, then the payload's).
pub fn token_request(received: &ReceivedMessage, payload: &str) -> Result<TokenRequest, String> {
    let (token, _) = token_in(received, payload)?;
    Ok(TokenRequest { token })
}

pub fn sign_off_request(
    received: &ReceivedMessage,
    payload: &str,
) -> Result<SignOffRequest, String> {
    let (token, everywhere) = token_in(received, payload)?;
    Ok(SignOffRequest { token, everywhere })
}

fn token_in(received: &ReceivedMessage, payload: &str) -> Result<(String, bool), String> {
    let parsed: TokenIn = match matches!(payload.trim(), "" | "null") {
        true => TokenIn::default(),
        false => crate::payload::parse_object(payload)
            .map_err(|e| format!(r#"expected JSON {{"token"?,"everywhere"?}}: {e}"#))?,
    };
    let token = received.token.clone().or(parsed.token);
    let token = token.filter(|t| !t.is_empty()).ok_or(TOKEN_REQUIRED)?;
    Ok((token, parsed.everywhere))
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
        assert_eq!(token_request(&received(Some("h")), "").unwrap().token, "h");
        assert_eq!(
            token_request(&received(Some("h")), "null").unwrap().token,
            "h"
        );
        for missing in ["", "{}", r#"{"token":""}"#] {
            assert_eq!(
                token_request(&received(None), missing).unwrap_err(),
                TOKEN_REQUIRED
            );
        }
        let bad = token_request(&received(None), "[1]").unwrap_err();
        assert!(bad.starts_with(r#"expected JSON {"token"?"#), "{bad}");
    }

    #[test]
    fn credentials_are_an_object_with_both_fields() {
        let ok = credentials(r#"{"user_name":"ann","password":"secret pw"}"#).unwrap();
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
            let reason = credentials(bad).unwrap_err();
            assert!(reason.starts_with(EXPECTED_CREDENTIALS), "{bad}: {reason}");
            assert!(
                !reason.contains("secret") && !reason.contains("1234"),
                "{reason}"
            );
        }
    }
}
