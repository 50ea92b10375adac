//! Sender adapter for `mcchat:clock`: `now` becomes a wasmbus `send` of `Clock.Now` on the
//! default link, whose msgpack answer is UTC milliseconds since the epoch.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "clock-sender",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

use exports::mcchat::clock::clock::Guest;
use wasmcloud::bus::host::send;
use wasmcloud::bus::types::Target;

struct Sender;
export!(Sender);

impl Guest for Sender {
    fn now() -> Result<u64, String> {
        let target = Target {
            link_name: "default".into(),
            namespace: "mcchat:clock".into(),
        };
        // The operation takes no input: wasmbus-rpc sends an empty payload.
        let answer = send(&target, "Clock.Now", &[])?;
        rmp_serde::from_slice(&answer).map_err(|e| format!("decoding Clock.Now's answer: {e}"))
    }
}
