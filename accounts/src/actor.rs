//! wasmbus glue: the Accounts service over the linked key-value store and clock, with the
//! host's random numbers and log.

use async_trait::async_trait;
use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_keyvalue::{
    IncrementRequest, KeyValue, KeyValueSender, SetAddRequest, SetDelRequest, SetRequest,
};
use wasmcloud_interface_logging::log;
use wasmcloud_interface_numbergen::{generate_guid, random_32};

use crate::bindings::clock::{Clock as _, ClockSender};
use crate::bindings::{
    AccountAnswer, Accounts, AccountsReceiver, Credentials, IdentifyRequest, SignOffRequest,
    TokenRequest,
};
use crate::memory::Memory;
use crate::service::{Clock, Log, Random, Services};
use crate::store::Store;

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, Accounts)]
struct AccountsActor {}

/// The linked `wasmcloud:keyvalue` store.
struct LinkedStore;

#[async_trait]
impl Store for LinkedStore {
    async fn get(&self, key: &str) -> RpcResult<Option<String>> {
        let found = KeyValueSender::new().get(&Context::default(), key).await?;
        Ok(found.exists.then_some(found.value))
    }

    async fn set(&self, key: &str, value: &str) -> RpcResult<()> {
        let req = SetRequest {
            key: key.to_string(),
            value: value.to_string(),
            expires: 0,
        };
        KeyValueSender::new().set(&Context::default(), &req).await
    }

    async fn increment(&self, key: &str) -> RpcResult<i32> {
        let req = IncrementRequest {
            key: key.to_string(),
            value: 1,
        };
        KeyValueSender::new()
            .increment(&Context::default(), &req)
            .await
    }

    async fn del(&self, key: &str) -> RpcResult<()> {
        KeyValueSender::new()
            .del(&Context::default(), key)
            .await
            .map(drop)
    }

    async fn set_add(&self, key: &str, member: &str) -> RpcResult<()> {
        let req = SetAddRequest {
            set_name: key.to_string(),
            value: member.to_string(),
        };
        KeyValueSender::new()
            .set_add(&Context::default(), &req)
            .await
            .map(drop)
    }

    async fn set_del(&self, key: &str, member: &str) -> RpcResult<()> {
        let req = SetDelRequest {
            set_name: key.to_string(),
            value: member.to_string(),
        };
        KeyValueSender::new()
            .set_del(&Context::default(), &req)
            .await
            .map(drop)
    }

    async fn set_members(&self, key: &str) -> RpcResult<Vec<String>> {
        KeyValueSender::new()
            .set_query(&Context::default(), key)
            .await
    }
}

/// The time, from the `mcchat:clock` provider this actor is linked to.
struct LinkedClock;

#[async_trait]
impl Clock for LinkedClock {
    async fn now(&self) -> RpcResult<u64> {
        ClockSender::new().now(&Context::default()).await
    }
}

struct NumberGen;

#[async_trait]
impl Random for NumberGen {
    async fn random_u32(&self) -> RpcResult<u32> {
        random_32().await
    }

    async fn new_id(&self) -> RpcResult<String> {
        generate_guid().await
    }
}

/// The host's log, through `wasmcloud:builtin:logging`.
struct HostLog;

#[async_trait]
impl Log for HostLog {
    async fn write(&self, level: &str, text: String) {
        // Logging must never fail a request, so its own errors are dropped.
        let _ = log(level, text).await;
    }
}

/// What this instance keeps between the calls it serves.
static MEMORY: Memory = Memory::new();

static SERVICES: Services<'static, LinkedStore, LinkedClock, NumberGen, HostLog> = Services {
    store: &LinkedStore,
    clock: &LinkedClock,
    random: &NumberGen,
    log: &HostLog,
    memory: &MEMORY,
};

#[async_trait]
impl Accounts for AccountsActor {
    async fn sign_up(&self, _ctx: &Context, req: &Credentials) -> RpcResult<AccountAnswer> {
        Ok(SERVICES.sign_up(&req.user_name, &req.password).await)
    }

    async fn sign_on(&self, _ctx: &Context, req: &Credentials) -> RpcResult<AccountAnswer> {
        Ok(SERVICES.sign_on(&req.user_name, &req.password).await)
    }

    async fn refresh(&self, _ctx: &Context, req: &TokenRequest) -> RpcResult<AccountAnswer> {
        Ok(SERVICES.refresh(&req.token).await)
    }

    async fn sign_off(&self, _ctx: &Context, req: &SignOffRequest) -> RpcResult<AccountAnswer> {
        Ok(SERVICES.sign_off(&req.token, req.everywhere).await)
    }

    async fn identify(&self, _ctx: &Context, req: &IdentifyRequest) -> RpcResult<AccountAnswer> {
        Ok(SERVICES
            .identify(&req.user_name, req.token.as_deref())
            .await)
    }
}
