//! A token sealed to the key its requester sent (`reply_key`), so that a client listening on a
//! shared reply subject (`_INBOX.>` on NATS, another device's response topic on MQTT) reads
//! nothing it can use. The key is an nkeys curve25519 public key ("X…"), and the box is NATS
//! xkeys' (`xkv1`, a nonce, XSalsa20-Poly1305), which nkeys opens in Rust, Go and JavaScript.
//! Each seal is from a key pair of its own, whose public half goes with it (`sealed_by`).

use nkeys::XKey;
use serde::Serialize;

/// How a refusal of a malformed `reply_key` begins.
pub const BAD_REPLY_KEY: &str =
    "reply_key is not a curve25519 public key (an nkeys xkey, beginning with X)";

/// The key a requester wants its token sealed to.
pub struct ReplyKey(XKey);

impl ReplyKey {
    pub fn parse(key: &str) -> Result<ReplyKey, String> {
        XKey::from_public_key(key)
            .map(ReplyKey)
            .map_err(|_| BAD_REPLY_KEY.to_string())
    }
}

/// A sealed token, as the answer carries it.
#[derive(Debug, Serialize)]
pub struct Sealed {
    /// The box, in standard base64.
    pub sealed_token: String,
    /// The public key the requester opens it with.
    pub sealed_by: String,
}

/// Random bytes a seal takes: a one-time secret key and a nonce.
const SECRET: usize = 32;
const NONCE: usize = 24;
/// How many version 4 UUIDs (`generate_guid`, from the host's CSPRNG: 122 random bits in each
/// 16 bytes) a seal's random bytes are drawn from.
pub const UUIDS: usize = (SECRET + NONCE).div_ceil(16);

/// A seal's random bytes, drawn from the host.
pub struct Random(Vec<u8>);

impl Random {
    pub fn from_uuids(uuids: &[String]) -> Result<Random, String> {
        let mut bytes = Vec::with_capacity(UUIDS * 16);
        for uuid in uuids {
            let hex: String = uuid.chars().filter(|c| *c != '-').collect();
            let decoded = data_encoding::HEXLOWER_PERMISSIVE
                .decode(hex.as_bytes())
                .map_err(|e| format!("numbergen gave no UUID: {e}"))?;
            bytes.extend(decoded);
        }
        match bytes.len() >= SECRET + NONCE {
            true => Ok(Random(bytes)),
            false => Err(format!(
                "{} random bytes, not {}",
                bytes.len(),
                SECRET + NONCE
            )),
        }
    }
}

/// Seals `token` to `to`, from a one-time key.
pub fn seal(token: &str, to: &ReplyKey, random: &Random) -> Sealed {
    let (secret, nonce) = random.0.split_at(SECRET);
    let secret: [u8; SECRET] = secret.try_into().expect("checked when drawn");
    let nonce: [u8; NONCE] = nonce[..NONCE].try_into().expect("checked when drawn");
    let one_time = XKey::new_from_raw(secret);
    let sealed = one_time
        .seal_with_nonce(token.as_bytes(), &to.0, nonce.into())
        .expect("sealing to a parsed public key with a one-time secret key cannot fail");
    Sealed {
        sealed_token: data_encoding::BASE64.encode(&sealed),
        sealed_by: one_time.public_key(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(sealed: &Sealed, recipient: &XKey) -> Option<String> {
        let sealed_by = XKey::from_public_key(&sealed.sealed_by).unwrap();
        let bytes = data_encoding::BASE64
            .decode(sealed.sealed_token.as_bytes())
            .unwrap();
        let token = recipient.open(&bytes, &sealed_by).ok()?;
        Some(String::from_utf8(token).unwrap())
    }

    fn random(byte: u8) -> Random {
        Random(vec![byte; 64])
    }

    #[test]
    fn only_the_holder_of_the_reply_key_opens_the_token() {
        let recipient = XKey::new_from_raw([7; 32]);
        let to = ReplyKey::parse(&recipient.public_key()).unwrap();
        let sealed = seal("mc1.claims.mac", &to, &random(1));
        assert!(!sealed.sealed_token.contains("mc1"));
        assert!(sealed.sealed_by.starts_with('X'), "{}", sealed.sealed_by);
        assert_eq!(
            opened(&sealed, &recipient).as_deref(),
            Some("mc1.claims.mac")
        );
        let listener = XKey::new_from_raw([8; 32]);
        assert_eq!(opened(&sealed, &listener), None);
    }

    #[test]
    fn each_seal_is_from_a_key_of_its_own() {
        let to = ReplyKey::parse(&XKey::new_from_raw([7; 32]).public_key()).unwrap();
        let first = seal("t", &to, &random(1));
        let second = seal("t", &to, &random(2));
        assert_ne!(first.sealed_by, second.sealed_by);
        assert_ne!(first.sealed_token, second.sealed_token);
    }

    #[test]
    fn a_reply_key_must_be_a_curve_key() {
        let signing = nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::User, [7; 32]).unwrap();
        for bad in [
            "",
            "X",
            "not a key",
            signing.public_key().as_str(),
            &XKey::new_from_raw([7; 32]).seed().unwrap(),
        ] {
            assert_eq!(
                ReplyKey::parse(bad).err().as_deref(),
                Some(BAD_REPLY_KEY),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_seals_random_bytes_come_from_enough_uuids() {
        let uuid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0ff".to_string();
        let random = Random::from_uuids(&vec![uuid.clone(); UUIDS]).unwrap();
        assert_eq!(random.0.len(), 64);
        assert_eq!(random.0[..2], [0x0f, 0x1e]);
        assert!(Random::from_uuids(&vec![uuid; UUIDS - 1]).is_err());
        assert!(Random::from_uuids(&vec!["not-a-uuid".to_string(); UUIDS]).is_err());
    }
}
