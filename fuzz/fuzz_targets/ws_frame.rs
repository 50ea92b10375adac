//! WebSocket frames: any text is a frame or a reason; a parsed frame, encoded again, parses to
//! the same payload (a JSON body to the same JSON value). A frame's subject, as a subscription
//! pattern, is one or a reason, and the sessions' tree of patterns finds a subscriber exactly
//! where the pattern matches (its own subject, and the reply subject). The parsers are compiled
//! here on their own (they need only serde).
#![no_main]

// Some error variants are built by the session code, not the parser.
#[allow(dead_code)]
#[path = "../../providers/websocket/src/frame.rs"]
mod frame;
#[allow(dead_code)]
#[path = "../../providers/websocket/src/interest.rs"]
mod interest;
#[allow(dead_code)]
#[path = "../../providers/websocket/src/pattern.rs"]
mod pattern;

use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

/// The tree finds the one subscriber to `pattern` exactly where the pattern matches.
fn the_tree_agrees(parsed: &frame::Frame) {
    let Ok(pattern) = pattern::Pattern::parse(&parsed.subject) else {
        return;
    };
    let mut interest = interest::Interest::default();
    interest.join(1u8, &[pattern.clone()]);
    let literal = parsed.subject.replace(['*', '>'], "x");
    let subjects = [Some(parsed.subject.as_str()), Some(literal.as_str()), parsed.reply_to.as_deref()];
    for subject in subjects.into_iter().flatten() {
        let expected: &[u8] = if pattern.matches(subject) { &[1] } else { &[] };
        assert_eq!(interest.followers(subject), expected, "{pattern:?} {subject:?}");
    }
    interest.leave(1);
    for subject in subjects.into_iter().flatten() {
        assert!(interest.followers(subject).is_empty());
    }
}

fuzz_target!(|text: &str| {
    match frame::parse(text, LIMIT) {
        Ok(parsed) => {
            the_tree_agrees(&parsed);
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
