//! Sender adapter for `wasmcloud:keyvalue`: each call a logic component makes on the contract
//! becomes a wasmbus `send` to the linked key-value provider, its arguments and answer
//! msgpack-encoded with named fields, as wasmbus-rpc encodes them.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "keyvalue-sender",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

use exports::wasmcloud::keyvalue::keyvalue::{
    GetResponse, Guest, IncrementRequest, ListAddRequest, ListRangeRequest, SetMemberRequest,
    SetRequest,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use wasmcloud::bus::host::send;
use wasmcloud::bus::types::Target;

struct Sender;
export!(Sender);

/// Sends `arg` as `operation` to the provider linked under the default link name.
fn call<R: DeserializeOwned>(operation: &str, arg: &impl Serialize) -> Result<R, String> {
    let payload = rmp_serde::to_vec_named(arg).map_err(|e| format!("encoding {operation}: {e}"))?;
    let answer = send(&target(), operation, &payload)?;
    rmp_serde::from_slice(&answer).map_err(|e| format!("decoding {operation}'s answer: {e}"))
}

/// Sends an operation that answers nothing (wasmbus-rpc sends back an empty payload).
fn send_only(operation: &str, arg: &impl Serialize) -> Result<(), String> {
    let payload = rmp_serde::to_vec_named(arg).map_err(|e| format!("encoding {operation}: {e}"))?;
    send(&target(), operation, &payload).map(drop)
}

fn target() -> Target {
    Target {
        link_name: "default".into(),
        namespace: "wasmcloud:keyvalue".into(),
    }
}

#[derive(Deserialize)]
struct Found {
    #[serde(default)]
    value: String,
    #[serde(default)]
    exists: bool,
}

#[derive(Serialize)]
struct Set<'a> {
    key: &'a str,
    value: &'a str,
    expires: u32,
}

#[derive(Serialize)]
struct Increment<'a> {
    key: &'a str,
    value: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListAdd<'a> {
    list_name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListRange<'a> {
    list_name: &'a str,
    start: i32,
    stop: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SetMember<'a> {
    set_name: &'a str,
    value: &'a str,
}

impl<'a> From<&'a SetMemberRequest> for SetMember<'a> {
    fn from(req: &'a SetMemberRequest) -> Self {
        SetMember {
            set_name: &req.set_name,
            value: &req.value,
        }
    }
}

impl Guest for Sender {
    fn get(key: String) -> Result<GetResponse, String> {
        let found: Found = call("KeyValue.Get", &key)?;
        Ok(GetResponse {
            value: found.value,
            exists: found.exists,
        })
    }

    fn set(req: SetRequest) -> Result<(), String> {
        let arg = Set {
            key: &req.key,
            value: &req.value,
            expires: req.expires,
        };
        send_only("KeyValue.Set", &arg)
    }

    fn del(key: String) -> Result<bool, String> {
        call("KeyValue.Del", &key)
    }

    fn increment(req: IncrementRequest) -> Result<i32, String> {
        let arg = Increment {
            key: &req.key,
            value: req.value,
        };
        call("KeyValue.Increment", &arg)
    }

    fn list_add(req: ListAddRequest) -> Result<u32, String> {
        let arg = ListAdd {
            list_name: &req.list_name,
            value: &req.value,
        };
        call("KeyValue.ListAdd", &arg)
    }

    fn list_range(req: ListRangeRequest) -> Result<Vec<String>, String> {
        let arg = ListRange {
            list_name: &req.list_name,
            start: req.start,
            stop: req.stop,
        };
        call("KeyValue.ListRange", &arg)
    }

    fn set_add(req: SetMemberRequest) -> Result<u32, String> {
        call("KeyValue.SetAdd", &SetMember::from(&req))
    }

    fn set_del(req: SetMemberRequest) -> Result<u32, String> {
        call("KeyValue.SetDel", &SetMember::from(&req))
    }

    fn set_query(key: String) -> Result<Vec<String>, String> {
        call("KeyValue.SetQuery", &key)
    }
}
