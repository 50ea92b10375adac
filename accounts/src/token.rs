//! Sign-on tokens: `mc1.<claims>.<mac>`, the claims JSON and an HMAC-SHA256 of `mc1.<claims>`
//! under the chat's signing key, both in URL-safe base64 without padding.
//!
//! The prefix names the one format and algorithm there is: a token cannot choose its own (no
//! JWT `alg`, so no `alg: none` and no key confusion). The MAC is checked, in constant time,
//! before anything in the claims is read.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The format and algorithm, at the start of every token.
pub const PREFIX: &str = "mc1.";
/// The longest token read: a name, an id and three times fit in far less. A longer one is
/// refused before it is decoded.
pub const MAX_TOKEN_BYTES: usize = 512;
/// Bytes of the signing key (HMAC-SHA256's block is 64; its output, 32, is the floor RFC 2104
/// recommends).
pub const KEY_BYTES: usize = 32;

/// Bytes of an HMAC-SHA256.
const MAC_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// What a token says: whose it is, its id, and when it was issued and expires (UTC ms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user, as registered.
    pub sub: String,
    /// The token's id: what signing off revokes.
    pub jti: String,
    pub iat: u64,
    pub exp: u64,
}

/// Why a token was not read. The client is told which, never the key or the expected MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    Oversized,
    /// Not `mc1.<base64>.<base64>`: another format or algorithm, or not a token at all.
    Malformed,
    /// The MAC does not match: made up, altered, or signed with another key.
    Forged,
}

impl Unreadable {
    pub fn reason(self) -> &'static str {
        match self {
            Unreadable::Oversized => "the token is too long to be one of ours",
            Unreadable::Malformed => "the token is malformed: expected mc1.<claims>.<signature>",
            Unreadable::Forged => "the token's signature does not match: it was not issued here",
        }
    }
}

/// A token for `claims`, signed with `key`.
pub fn issue(key: &[u8], claims: &Claims) -> String {
    let json = serde_json::to_vec(claims).expect("claims of strings and numbers serialize");
    let mut token = String::with_capacity(PREFIX.len() + json.len() * 2 + 48);
    token.push_str(PREFIX);
    URL_SAFE_NO_PAD.encode_string(json, &mut token);
    let mac = mac(key, token.as_bytes()).finalize().into_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(mac, &mut token);
    token
}

/// The claims of a token signed with `key`. Expiry and revocation are the caller's to check.
pub fn read(key: &[u8], token: &str) -> Result<Claims, Unreadable> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Unreadable::Oversized);
    }
    let (signed, signature) = token.rsplit_once('.').ok_or(Unreadable::Malformed)?;
    let claims = signed
        .strip_prefix(PREFIX)
        .filter(|claims| !claims.contains('.'))
        .ok_or(Unreadable::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .filter(|signature| signature.len() == MAC_BYTES)
        .ok_or(Unreadable::Malformed)?;
    mac(key, signed.as_bytes())
        .verify_slice(&signature)
        .map_err(|_| Unreadable::Forged)?;
    let json = URL_SAFE_NO_PAD
        .decode(claims)
        .map_err(|_| Unreadable::Malformed)?;
    // Signed by us, so well formed unless the key leaked; refused all the same if not.
    serde_json::from_slice(&json).map_err(|_| Unreadable::Malformed)
}

fn mac(key: &[u8], signed: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(signed);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = &[7; KEY_BYTES];

    fn claims() -> Claims {
        Claims {
            sub: "alice".into(),
            jti: "t-1".into(),
            iat: 1_796_000_000_000,
            exp: 1_796_003_600_000,
        }
    }

    #[test]
    fn a_token_reads_back_its_claims_with_the_key_it_was_signed_with() {
        let token = issue(KEY, &claims());
        assert!(token.starts_with("mc1."), "{token}");
        assert_eq!(read(KEY, &token), Ok(claims()));
    }

    #[test]
    fn another_key_or_an_altered_claim_or_signature_is_forged() {
        let token = issue(KEY, &claims());
        assert_eq!(read(&[8; KEY_BYTES], &token), Err(Unreadable::Forged));
        let bob = issue(
            &[8; KEY_BYTES],
            &Claims {
                sub: "bob".into(),
                ..claims()
            },
        );
        let (_, bobs_claims) = bob.split_once('.').unwrap();
        let (bobs_claims, _) = bobs_claims.split_once('.').unwrap();
        let (_, signature) = token.rsplit_once('.').unwrap();
        let spliced = format!("mc1.{bobs_claims}.{signature}");
        assert_eq!(read(KEY, &spliced), Err(Unreadable::Forged));
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(read(KEY, &flipped), Err(Unreadable::Forged));
    }

    #[test]
    fn other_formats_and_algorithms_are_malformed() {
        let token = issue(KEY, &claims());
        let body = token.strip_prefix("mc1.").unwrap();
        // A JWT with `alg: none`, whatever its claims: no signature is no token.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            body.split_once('.').unwrap().0
        );
        for bad in [
            "",
            "mc1.",
            "mc1..",
            "mc1.x",
            "mc2.a.b",
            &format!("mc2.{body}"),
            body,
            &format!("mc1.{body}.extra"),
            &none,
            "mc1.e30.!!!",
        ] {
            assert_eq!(read(KEY, bad), Err(Unreadable::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn a_token_over_the_limit_is_not_decoded() {
        let long = format!("mc1.{}.AAAA", "A".repeat(MAX_TOKEN_BYTES));
        assert_eq!(read(KEY, &long), Err(Unreadable::Oversized));
        let longest_name = Claims {
            sub: "n".repeat(64),
            jti: "x".repeat(36),
            ..claims()
        };
        assert!(issue(KEY, &longest_name).len() <= MAX_TOKEN_BYTES);
    }
}
