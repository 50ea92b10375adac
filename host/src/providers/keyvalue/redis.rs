//! `wasmcloud:keyvalue` on Redis. The connection manager reconnects on its own after a drop.

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmcloud_interface_keyvalue::*;

use super::backend_error;
use crate::workers::Workers;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries per (re)connection: the backoff starts at `MIN_RETRY_DELAY` and doubles up to
/// `MAX_RETRY_DELAY`, so a Redis back within seconds is found within seconds.
const RECONNECT_RETRIES: usize = 5;
const MIN_RETRY_DELAY: Duration = Duration::from_secs(1);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);
/// The longest a start waits for Redis.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// One connection per worker, made on it, so a worker's commands and their answers stay on
/// its core. Each command is answered before the actor goes on, so what one connection wrote
/// is there for the next command on any other.
#[derive(Clone)]
pub struct RedisKeyValue {
    connections: Arc<[ConnectionManager]>,
}

fn err(e: redis::RedisError) -> RpcError {
    backend_error("redis", e)
}

impl RedisKeyValue {
    /// Connects each of `workers` to `url` (`redis://host:port[/db]`); fails within seconds
    /// if Redis cannot be reached, and later answers each call within `RESPONSE_TIMEOUT` while
    /// reconnecting.
    pub async fn connect(url: &str, workers: &Workers) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_min_delay(MIN_RETRY_DELAY)
            .set_exponent_base(2.0)
            .set_max_delay(MAX_RETRY_DELAY);
        // Each connection's driver task runs on the worker the connection is made on.
        let connecting =
            workers.on_each(|_| ConnectionManager::new_with_config(client.clone(), config.clone()));
        let connections = tokio::time::timeout(START_TIMEOUT, connecting)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {START_TIMEOUT:?}"))??
            .into_iter()
            .collect::<Result<Arc<[_]>, _>>()?;
        Ok(RedisKeyValue { connections })
    }

    /// This worker's connection (the first one's on any other thread).
    fn conn(&self) -> ConnectionManager {
        self.connections[crate::workers::slot(self.connections.len())].clone()
    }
}

#[async_trait]
impl KeyValue for RedisKeyValue {
    async fn increment(&self, _: &Context, arg: &IncrementRequest) -> RpcResult<i32> {
        self.conn().incr(&arg.key, arg.value).await.map_err(err)
    }

    async fn contains<TS: ToString + ?Sized + Sync>(
        &self,
        _: &Context,
        key: &TS,
    ) -> RpcResult<bool> {
        self.conn().exists(key.to_string()).await.map_err(err)
    }

    async fn del<TS: ToString + ?Sized + Sync>(&self, _: &Context, key: &TS) -> RpcResult<bool> {
        let removed: u32 = self.conn().del(key.to_string()).await.map_err(err)?;
        Ok(removed > 0)
    }

    async fn get<TS: ToString + ?Sized + Sync>(
        &self,
        _: &Context,
        key: &TS,
    ) -> RpcResult<GetResponse> {
        let value: Option<String> = self.conn().get(key.to_string()).await.map_err(err)?;
        Ok(GetResponse {
            exists: value.is_some(),
            value: value.unwrap_or_default(),
        })
    }

    async fn list_add(&self, _: &Context, arg: &ListAddRequest) -> RpcResult<u32> {
        self.conn()
            .rpush(&arg.list_name, &arg.value)
            .await
            .map_err(err)
    }

    async fn list_clear<TS: ToString + ?Sized + Sync>(
        &self,
        ctx: &Context,
        list: &TS,
    ) -> RpcResult<bool> {
        self.del(ctx, list).await
    }

    async fn list_del(&self, _: &Context, arg: &ListDelRequest) -> RpcResult<bool> {
        let removed: u32 = self
            .conn()
            .lrem(&arg.list_name, 0, &arg.value)
            .await
            .map_err(err)?;
        Ok(removed > 0)
    }

    async fn list_range(&self, _: &Context, arg: &ListRangeRequest) -> RpcResult<StringList> {
        self.conn()
            .lrange(&arg.list_name, arg.start as isize, arg.stop as isize)
            .await
            .map_err(err)
    }

    async fn set(&self, _: &Context, arg: &SetRequest) -> RpcResult<()> {
        if arg.expires > 0 {
            self.conn()
                .set_ex(&arg.key, &arg.value, u64::from(arg.expires))
                .await
                .map_err(err)
        } else {
            self.conn().set(&arg.key, &arg.value).await.map_err(err)
        }
    }

    async fn set_add(&self, _: &Context, arg: &SetAddRequest) -> RpcResult<u32> {
        self.conn()
            .sadd(&arg.set_name, &arg.value)
            .await
            .map_err(err)
    }

    async fn set_del(&self, _: &Context, arg: &SetDelRequest) -> RpcResult<u32> {
        self.conn()
            .srem(&arg.set_name, &arg.value)
            .await
            .map_err(err)
    }

    async fn set_intersection(&self, _: &Context, sets: &StringList) -> RpcResult<StringList> {
        self.conn().sinter(sets).await.map_err(err)
    }

    async fn set_query<TS: ToString + ?Sized + Sync>(
        &self,
        _: &Context,
        set: &TS,
    ) -> RpcResult<StringList> {
        self.conn().smembers(set.to_string()).await.map_err(err)
    }

    async fn set_union(&self, _: &Context, sets: &StringList) -> RpcResult<StringList> {
        self.conn().sunion(sets).await.map_err(err)
    }

    async fn set_clear<TS: ToString + ?Sized + Sync>(
        &self,
        ctx: &Context,
        set: &TS,
    ) -> RpcResult<bool> {
        self.del(ctx, set).await
    }
}

mcchat_provider_kit::dispatch_via_receiver!(RedisKeyValue, KeyValueReceiver);
