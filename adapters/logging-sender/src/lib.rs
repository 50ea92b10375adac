//! Sender adapter for `wasmcloud:builtin:logging`: a logic component's log entries become
//! wasmbus `send`s of `Logging.WriteLog` to the host's logger, msgpack-encoded as wasmbus-rpc
//! encodes them. Built with `warnings-only`, it is a quiet drop-in: `info` and `debug` entries
//! stop here, so an actor composed with it logs less without its logic being rebuilt.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "logging-sender",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

use exports::wasmcloud::logging::logging::{Guest, LogEntry};
use serde::Serialize;
use wasmcloud::bus::host::send;
use wasmcloud::bus::types::Target;

struct Sender;
export!(Sender);

#[derive(Serialize)]
struct Entry<'a> {
    level: &'a str,
    text: &'a str,
}

impl Guest for Sender {
    fn write_log(entry: LogEntry) -> Result<(), String> {
        if cfg!(feature = "warnings-only") && !matches!(entry.level.as_str(), "warn" | "error") {
            return Ok(());
        }
        let payload = rmp_serde::to_vec_named(&Entry {
            level: &entry.level,
            text: &entry.text,
        })
        .map_err(|e| format!("encoding Logging.WriteLog: {e}"))?;
        let target = Target {
            link_name: "default".into(),
            namespace: "wasmcloud:builtin:logging".into(),
        };
        send(&target, "Logging.WriteLog", &payload).map(drop)
    }
}
