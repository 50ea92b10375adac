//! A drop-in for `logging-sender`: the same `wasmcloud:builtin:logging` export, but only
//! warnings and errors are sent on to the host; `info` and `debug` entries stop here. Composing
//! an actor with it instead quiets the actor without rebuilding its logic.
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
        if !matches!(entry.level.as_str(), "warn" | "error") {
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
