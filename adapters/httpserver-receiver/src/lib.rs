//! Receiver adapter for `wasmcloud:httpserver`: a wasmbus `HttpServer.HandleRequest`, decoded
//! from msgpack as wasmbus-rpc encodes it (bodies as msgpack binary), calls the logic
//! component's httpserver export, and its response goes back the same way. Other operations go
//! on to the fallback.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "httpserver-receiver",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

use std::collections::HashMap;

use exports::wasmcloud::bus::guest::Guest;
use serde::{Deserialize, Serialize};
use wasmcloud::httpserver::httpserver::{handle_request, HttpRequest};

struct Receiver;
export!(Receiver);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(default)]
    method: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    query_string: String,
    #[serde(default)]
    header: HashMap<String, Vec<String>>,
    #[serde(default, with = "serde_bytes")]
    body: Vec<u8>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    status_code: u16,
    header: HashMap<String, Vec<String>>,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

impl Guest for Receiver {
    fn receive(operation: String, payload: Vec<u8>) -> Result<Vec<u8>, String> {
        if operation != "HttpServer.HandleRequest" {
            return wasmcloud::bus::fallback::receive(&operation, &payload);
        }
        let req: Request =
            rmp_serde::from_slice(&payload).map_err(|e| format!("decoding {operation}: {e}"))?;
        let response = handle_request(&HttpRequest {
            method: req.method,
            path: req.path,
            query_string: req.query_string,
            header: req.header.into_iter().collect(),
            body: req.body,
        })?;
        rmp_serde::to_vec_named(&Response {
            status_code: response.status_code,
            header: response.header.into_iter().collect(),
            body: response.body,
        })
        .map_err(|e| format!("encoding {operation}'s answer: {e}"))
    }
}
