//! `POST /messages` bodies: any bytes get 201, 400 or 413, never a panic, and what is accepted
//! is what the chat log's own validation accepts.
#![no_main]

#[path = "stand_ins/mod.rs"]
mod stand_ins;

use http_channel::post::status;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let ack = stand_ins::accept("http", body);
    let status = status(&ack.outcome);
    assert!(matches!(status, 201 | 400 | 413), "status {status}");
    let answer: serde_json::Value = serde_json::from_slice(&ack.ack).expect("every answer is JSON");
    if status == 201 {
        assert!(answer["id"].is_string());
    } else {
        assert!(answer["reason"].is_string());
    }
});
