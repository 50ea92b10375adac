//! WebSocket frames: any text is a frame or a reason; a parsed frame, encoded again, parses to
//! the same payload. The parser is compiled here on its own (it needs only serde).
#![no_main]

// Some error variants are built by the session code, not the parser.
#[allow(dead_code)]
#[path = "../../host/src/providers/websocket/frame.rs"]
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
            // A body that is itself a JSON string goes out as that string, so it comes back
            // unquoted: the protocol's one lossy case. Every other body round-trips.
            let json_string = serde_json::from_slice::<String>(&parsed.body).is_ok();
            if !json_string {
                assert_eq!(again.body, parsed.body);
            }
        }
        Err(reason) => {
            let error: serde_json::Value = serde_json::from_str(&frame::error(&reason.to_string())).unwrap();
            assert_eq!(error["subject"], "error");
        }
    }
});
