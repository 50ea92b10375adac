//! `messaging-websocket`: the WebSocket messaging provider as a wasmCloud capability provider,
//! for a lattice host to launch (it writes the host data on stdin). The provider itself is this
//! crate's library, the same one the mcchat host links.

use std::process::ExitCode;

use mcchat_provider_websocket::lattice::{read_host_data, LatticeProvider, NAME};

fn main() -> ExitCode {
    let host_data = match read_host_data(std::io::stdin().lock()) {
        Ok(host_data) => host_data,
        Err(e) => {
            eprintln!("messaging-websocket: {e}");
            return ExitCode::FAILURE;
        }
    };
    let provider = LatticeProvider::new(&host_data);
    match wasmbus_rpc::provider::prelude::provider_start(provider, host_data, Some(NAME.into())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("messaging-websocket: {e}");
            ExitCode::FAILURE
        }
    }
}
