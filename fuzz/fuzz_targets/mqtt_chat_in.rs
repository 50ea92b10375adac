//! MQTT `chat/in` payloads: any bytes get an ack, accepted (with the stored id) only for what
//! the chat log accepts.
#![no_main]

#[path = "stand_ins/mod.rs"]
mod stand_ins;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    let ack = stand_ins::accept("mqtt", payload);
    assert_eq!(ack.accepted, ack.reason.is_none(), "{ack:?}");
    let json: serde_json::Value = serde_json::from_slice(&ack.ack).unwrap();
    assert_eq!(json["accepted"], ack.accepted);
    assert_eq!(ack.accepted, json["id"].is_string(), "{json}");
});
