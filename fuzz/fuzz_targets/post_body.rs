//! `POST /messages` bodies: any bytes get 201, 400 or 413, never a panic, and what is accepted
//! is what the chat log's own validation accepts.
#![no_main]

#[macro_use]
#[path = "stand_ins/mod.rs"]
mod stand_ins;

use futures::executor::block_on;
use http_channel::post::post_message;
use libfuzzer_sys::fuzz_target;

stand_ins!(http_channel, http_channel::post::Ids, http_channel::reply::Report);

fuzz_target!(|body: &[u8]| {
    let response = block_on(post_message(body, None, &FixedIds, &ValidatingApi, &NoFailures));
    assert!(
        matches!(response.status_code, 201 | 400 | 413),
        "status {}",
        response.status_code
    );
    let answer: serde_json::Value =
        serde_json::from_slice(&response.body).expect("every answer is JSON");
    if response.status_code == 201 {
        assert!(answer["id"].is_string());
    } else {
        assert!(answer["reason"].is_string());
    }
});
