//! MQTT `chat/in` payloads: any bytes get an ack, accepted (with the stored id) only for what
//! the chat log accepts.
#![no_main]

#[macro_use]
#[path = "stand_ins/mod.rs"]
mod stand_ins;

use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;
use mqtt_channel::inbound::accept;

stand_ins!(mqtt_channel, mqtt_channel::inbound::Ids, mqtt_channel::inbound::Report);

fuzz_target!(|payload: &[u8]| {
    let ack = block_on(accept(payload, &FixedIds, &ValidatingApi, &NoFailures));
    assert_eq!(ack.accepted, ack.reason.is_none(), "{ack:?}");
    assert_eq!(ack.accepted, ack.id.is_some(), "{ack:?}");
    let json: serde_json::Value = serde_json::from_slice(&ack.to_json()).unwrap();
    assert!(json["accepted"].is_boolean());
});
