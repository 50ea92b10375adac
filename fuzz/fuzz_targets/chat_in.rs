//! NATS `chat.in` payloads: any bytes get an ack, accepted only for what the chat log accepts,
//! and without an id (the ack scripts have always compared whole).
#![no_main]

#[path = "stand_ins/mod.rs"]
mod stand_ins;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    let ack = stand_ins::accept("nats", payload);
    assert_eq!(ack.accepted, ack.reason.is_none(), "{ack:?}");
    let json: serde_json::Value = serde_json::from_slice(&ack.ack).unwrap();
    assert_eq!(json["accepted"], ack.accepted);
    assert_eq!(json.get("id"), None);
});
