//! WebSocket frames: any text is a frame or a reason; a parsed frame, encoded again, parses to
//! the same payload (a JSON body to the same JSON value). The parser is compiled here on its
//! own (it needs only serde).
#![no_main]

// Some error variants are built by the session code, not the parser.
#[allow(dead_code)]
#[path = "../../providers/websocket/src/frame.rs"]
mod frame;

use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

fuzz_target!(|text: &str| {
    match frame::parse(text, LIMIT) {
        Ok(parsed) => {
            let encoded = frame::encode(&parsed.subject, &parsed.body, parsed.reply_to.as_deref());
            let again = frame::parse(&encoded, usize::MAX).expect("an encoded frame parses");
            assert_eq!(again.subject, parsed.subject);
            assert_eq!(again.reply_to, parsed.reply_to);
            // A body that is JSON text goes out as that JSON value, so it comes back as the same
            // value in compact form (spacing and key order are not kept), and a JSON string
            // comes back unquoted: the protocol's lossy cases. Every other body round-trips.
            match serde_json::from_slice::<serde_json::Value>(&parsed.body) {
                Ok(serde_json::Value::String(_)) => {}
                Ok(value) => {
                    let value_again: serde_json::Value = serde_json::from_slice(&again.body)
                        .expect("a JSON body comes back as JSON");
                    assert_eq!(value_again, value);
                }
                Err(_) => assert_eq!(again.body, parsed.body),
            }
        }
        Err(reason) => {
            let error: serde_json::Value =
                serde_json::from_str(&frame::error(&reason.to_string())).unwrap();
            assert_eq!(error["subject"], "error");
        }
    }
});
