//! Sender adapter for `wasmcloud:builtin:numbergen`: `generate-guid` becomes a wasmbus `send`
//! of `NumberGen.GenerateGuid`, whose msgpack answer is the text of a UUID.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "numbergen-sender",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

use exports::wasmcloud::numbergen::numbergen::Guest;
use wasmcloud::bus::host::send;
use wasmcloud::bus::types::Target;

struct Sender;
export!(Sender);

impl Guest for Sender {
    fn generate_guid() -> Result<String, String> {
        let target = Target {
            link_name: "default".into(),
            namespace: "wasmcloud:builtin:numbergen".into(),
        };
        // The operation takes no input: wasmbus-rpc sends an empty payload.
        let answer = send(&target, "NumberGen.GenerateGuid", &[])?;
        rmp_serde::from_slice(&answer)
            .map_err(|e| format!("decoding NumberGen.GenerateGuid's answer: {e}"))
    }
}
