//! Sign-on tokens as clients send them: any string is refused with one of the three reasons,
//! or, if its signature matches, read back to exactly the token the claims sign to.
#![no_main]

use accounts::token::{self, Unreadable, KEY_BYTES};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; KEY_BYTES] = [42; KEY_BYTES];

fuzz_target!(|text: &str| {
    match token::read(&KEY, text) {
        Ok(claims) => assert_eq!(token::issue(&KEY, &claims), text),
        Err(Unreadable::Oversized) => assert!(text.len() > token::MAX_TOKEN_BYTES),
        Err(Unreadable::Malformed | Unreadable::Forged) => {}
    }
});
