//! `chat.in` payloads: any bytes get an ack, accepted only for what the chat log accepts.
#![no_main]

#[macro_use]
#[path = "stand_ins/mod.rs"]
mod stand_ins;

use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;
use nats_channel::inbound::accept;

stand_ins!(nats_channel, nats_channel::inbound::Ids, nats_channel::inbound::Report);

fuzz_target!(|payload: &[u8]| {
    let ack = block_on(accept(payload, &FixedIds, &ValidatingApi, &NoFailures));
    assert_eq!(ack.accepted, ack.reason.is_none(), "{ack:?}");
    let json: serde_json::Value = serde_json::from_slice(&ack.to_json()).unwrap();
    assert!(json["accepted"].is_boolean());
});
