//! Sender adapter for the accounts contract: each operation becomes a wasmbus `send` of
//! `Accounts.<Operation>` to `mcchat/accounts`, msgpack-encoded as wasmbus-rpc encodes it.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "accounts-sender",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

#[path = "../../wire/accounts.rs"]
mod wire;

/// The contract's WIT records, as `wire` converts them.
mod contract {
    pub use crate::exports::mcchat::accounts::accounts::*;
}

use contract::{AccountAnswer, Credentials, Guest, IdentifyRequest, SignOffRequest, TokenRequest};
use wasmcloud::bus::host::send;
use wasmcloud::bus::types::Target;

/// One operation on `mcchat/accounts`, its request encoded and its answer decoded.
fn call(operation: &str, request: &impl serde::Serialize) -> Result<AccountAnswer, String> {
    let payload =
        rmp_serde::to_vec_named(request).map_err(|e| format!("encoding {operation}: {e}"))?;
    // An actor is addressed by its alias, with no link name.
    let target = Target {
        link_name: String::new(),
        namespace: "mcchat/accounts".into(),
    };
    let answer = send(&target, operation, &payload)?;
    let answer: wire::AccountAnswer = rmp_serde::from_slice(&answer)
        .map_err(|e| format!("decoding {operation}'s answer: {e}"))?;
    Ok(answer.into())
}

struct Sender;
export!(Sender);

impl Guest for Sender {
    fn sign_up(req: Credentials) -> Result<AccountAnswer, String> {
        call("Accounts.SignUp", &wire::Credentials::from(req))
    }

    fn sign_on(req: Credentials) -> Result<AccountAnswer, String> {
        call("Accounts.SignOn", &wire::Credentials::from(req))
    }

    fn refresh(req: TokenRequest) -> Result<AccountAnswer, String> {
        call("Accounts.Refresh", &wire::TokenRequest::from(req))
    }

    fn sign_off(req: SignOffRequest) -> Result<AccountAnswer, String> {
        call("Accounts.SignOff", &wire::SignOffRequest::from(req))
    }

    fn identify(req: IdentifyRequest) -> Result<AccountAnswer, String> {
        call("Accounts.Identify", &wire::IdentifyRequest::from(req))
    }
}
