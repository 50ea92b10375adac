//! The seven actors and the claims each is signed with.

pub const HTTPSERVER: &str = "wasmcloud:httpserver";
pub const MESSAGING: &str = "wasmcloud:messaging";
pub const KEYVALUE: &str = "wasmcloud:keyvalue";
pub const NUMBERGEN: &str = "wasmcloud:builtin:numbergen";
pub const LOGGING: &str = "wasmcloud:builtin:logging";
/// The time (`interface/clock.smithy`): the gateway, which stamps every stored message, and
/// the accounts, whose tokens expire.
pub const CLOCK: &str = "mcchat:clock";

/// One actor crate and its claims: exactly the contracts it calls, and its call alias.
#[derive(Debug, Clone, Copy)]
pub struct ActorSpec {
    /// Cargo package name (its folder in the workspace).
    pub package: &'static str,
    /// Call alias other actors use to reach it.
    pub call_alias: &'static str,
    /// Capability contracts it is allowed to call.
    pub caps: &'static [&'static str],
}

impl ActorSpec {
    /// The crate's library name, as the wasm file is named by cargo.
    pub fn lib_name(&self) -> String {
        self.package.replace('-', "_")
    }

    /// The signed module's file name in `build/`.
    pub fn signed_file_name(&self) -> String {
        format!("{}_s.wasm", self.lib_name())
    }

    /// The signed component's file name in `build/` (the component-model build).
    pub fn component_file_name(&self) -> String {
        format!("{}_component_s.wasm", self.lib_name())
    }
}

pub const ACTORS: &[ActorSpec] = &[
    ActorSpec {
        package: "chatlog",
        call_alias: "mcchat/chatlog",
        caps: &[KEYVALUE, LOGGING],
    },
    ActorSpec {
        package: "accounts",
        call_alias: "mcchat/accounts",
        caps: &[KEYVALUE, NUMBERGEN, CLOCK, LOGGING],
    },
    ActorSpec {
        package: "api-gateway",
        call_alias: "mcchat/api",
        caps: &[NUMBERGEN, CLOCK, LOGGING],
    },
    ActorSpec {
        package: "nats-channel",
        call_alias: "mcchat/nats",
        caps: &[MESSAGING, LOGGING],
    },
    ActorSpec {
        package: "http-channel",
        call_alias: "mcchat/http",
        caps: &[HTTPSERVER, LOGGING],
    },
    ActorSpec {
        package: "ws-channel",
        call_alias: "mcchat/ws",
        caps: &[MESSAGING, LOGGING],
    },
    ActorSpec {
        package: "mqtt-channel",
        call_alias: "mcchat/mqtt",
        caps: &[MESSAGING, LOGGING],
    },
];
