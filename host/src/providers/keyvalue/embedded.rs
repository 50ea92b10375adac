//! `wasmcloud:keyvalue` in an embedded, persistent store (redb), for running without Redis.
//! Every write is a committed, durable transaction, so an acknowledged write survives a crash.
//! Semantics follow Redis: one key space, LRANGE-style inclusive and negative list indices.

// redb::Error is large, but it is rare and crosses one thread boundary; boxing buys nothing here.
#![allow(clippy::result_large_err)]

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmcloud_interface_keyvalue::*;

use super::backend_error;

const STRINGS: TableDefinition<&str, &str> = TableDefinition::new("strings");
const LIST_LENGTHS: TableDefinition<&str, u64> = TableDefinition::new("list_lengths");
/// List items under (list, index), indices kept dense from 0.
const LIST_ITEMS: TableDefinition<(&str, u64), &str> = TableDefinition::new("list_items");
const SET_MEMBERS: TableDefinition<(&str, &str), ()> = TableDefinition::new("set_members");

#[derive(Clone)]
pub struct EmbeddedKeyValue {
    db: Arc<Database>,
}

fn err(e: impl Into<redb::Error>) -> RpcError {
    backend_error("embedded store", e.into())
}

/// Redis's LRANGE index rules: negative counts from the end, bounds are inclusive and clamped.
fn resolve_range(len: u64, start: i32, stop: i32) -> Option<(u64, u64)> {
    let len = len as i64;
    let resolve = |i: i32| {
        if i < 0 {
            len + i64::from(i)
        } else {
            i64::from(i)
        }
    };
    let (start, stop) = (resolve(start).max(0), resolve(stop).min(len - 1));
    (start <= stop).then_some((start as u64, stop as u64))
}

fn list_len(
    txn_table: &impl ReadableTable<&'static str, u64>,
    list: &str,
) -> Result<u64, redb::Error> {
    Ok(txn_table.get(list)?.map_or(0, |len| len.value()))
}

fn set_members(
    table: &impl ReadableTable<(&'static str, &'static str), ()>,
    set: &str,
) -> Result<Vec<String>, redb::Error> {
    let mut members = Vec::new();
    for entry in table.range((set, "")..)? {
        let (key, _) = entry?;
        let (name, member) = key.value();
        if name != set {
            break;
        }
        members.push(member.to_string());
    }
    Ok(members)
}

impl EmbeddedKeyValue {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = Database::create(path)?;
        // Creating every table up front lets readers assume they exist.
        let txn = db.begin_write()?;
        txn.open_table(STRINGS)?;
        txn.open_table(LIST_LENGTHS)?;
        txn.open_table(LIST_ITEMS)?;
        txn.open_table(SET_MEMBERS)?;
        txn.commit()?;
        Ok(EmbeddedKeyValue { db: Arc::new(db) })
    }

    /// Runs `f` in a write transaction on a blocking thread and commits it, unless the caller
    /// stopped waiting first: a caller past its deadline was told the write failed, so it must
    /// not happen later (writers queue behind a slow commit). Only a commit already under way
    /// when the deadline passes can still land.
    async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<R, redb::Error> + Send + 'static,
    ) -> RpcResult<R> {
        let db = self.db.clone();
        let (answer, answered) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let outcome = (|| {
                let txn = db.begin_write()?;
                let result = f(&txn)?;
                if answer.is_closed() {
                    txn.abort()?;
                    return Ok(None);
                }
                txn.commit()?;
                Ok::<_, redb::Error>(Some(result))
            })();
            // Released before the answer, so a store dropped after it can be opened again.
            drop(db);
            let _ = answer.send(outcome);
        });
        match answered.await {
            Ok(Ok(Some(result))) => Ok(result),
            Ok(Err(e)) => Err(err(e)),
            Ok(Ok(None)) | Err(_) => Err(RpcError::Other(
                "embedded store: the write task ended without an answer".into(),
            )),
        }
    }

    async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<R, redb::Error> + Send + 'static,
    ) -> RpcResult<R> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db.begin_read()?))
            .await
            .map_err(|e| RpcError::Other(format!("embedded store task: {e}")))?
            .map_err(err)
    }
}

#[async_trait]
impl KeyValue for EmbeddedKeyValue {
    async fn increment(&self, _: &Context, arg: &IncrementRequest) -> RpcResult<i32> {
        let (key, delta) = (arg.key.clone(), arg.value);
        let outcome = self
            .write(move |txn| {
                let mut strings = txn.open_table(STRINGS)?;
                let current = match strings.get(key.as_str())? {
                    Some(value) => match value.value().parse::<i32>() {
                        Ok(n) => n,
                        Err(_) => return Ok(Err(format!("the value of {key} is not an integer"))),
                    },
                    None => 0,
                };
                let Some(next) = current.checked_add(delta) else {
                    return Ok(Err(format!("incrementing {key} would overflow")));
                };
                strings.insert(key.as_str(), next.to_string().as_str())?;
                Ok(Ok(next))
            })
            .await?;
        outcome.map_err(RpcError::InvalidParameter)
    }

    async fn contains<TS: ToString + ?Sized + Sync>(
        &self,
        _: &Context,
        key: &TS,
    ) -> RpcResult<bool> {
        let key = key.to_string();
        self.read(move |txn| {
            Ok(txn.open_table(STRINGS)?.get(key.as_str())?.is_some()
                || list_len(&txn.open_table(LIST_LENGTHS)?, &key)? > 0
                || !set_members(&txn.open_table(SET_MEMBERS)?, &key)?.is_empty())
        })
        .await
    }

    async fn del<TS: ToString + ?Sized + Sync>(&self, _: &Context, key: &TS) -> RpcResult<bool> {
        let key = key.to_string();
        self.write(move |txn| {
            let removed_string = txn.open_table(STRINGS)?.remove(key.as_str())?.is_some();
            let mut lengths = txn.open_table(LIST_LENGTHS)?;
            let len = list_len(&lengths, &key)?;
            lengths.remove(key.as_str())?;
            let mut items = txn.open_table(LIST_ITEMS)?;
            for index in 0..len {
                items.remove((key.as_str(), index))?;
            }
            let mut sets = txn.open_table(SET_MEMBERS)?;
            let members = set_members(&sets, &key)?;
            for member in &members {
                sets.remove((key.as_str(), member.as_str()))?;
            }
            Ok(removed_string || len > 0 || !members.is_empty())
        })
        .await
    }

    async fn get<TS: ToString + ?Sized + Sync>(
        &self,
        _: &Context,
        key: &TS,
    ) -> RpcResult<GetResponse> {
        let key = key.to_string();
        self.read(move |txn| {
            let value = txn
                .open_table(STRINGS)?
                .get(key.as_str())?
                .map(|v| v.value().to_string());
            Ok(GetResponse {
                exists: value.is_some(),
                value: value.unwrap_or_default(),
            })
        })
        .await
    }

    async fn list_add(&self, _: &Context, arg: &ListAddRequest) -> RpcResult<u32> {
        let (list, value) = (arg.list_name.clone(), arg.value.clone());
        self.write(move |txn| {
            let mut lengths = txn.open_table(LIST_LENGTHS)?;
            let len = list_len(&lengths, &list)?;
            txn.open_table(LIST_ITEMS)?
                .insert((list.as_str(), len), value.as_str())?;
            lengths.insert(list.as_str(), len + 1)?;
            Ok(u32::try_from(len + 1).unwrap_or(u32::MAX))
        })
        .await
    }

    async fn list_clear<TS: ToString + ?Sized + Sync>(
        &self,
        ctx: &Context,
        list: &TS,
    ) -> RpcResult<bool> {
        self.del(ctx, list).await
    }

    async fn list_del(&self, _: &Context, arg: &ListDelRequest) -> RpcResult<bool> {
        let (list, value) = (arg.list_name.clone(), arg.value.clone());
        self.write(move |txn| {
            let mut lengths = txn.open_table(LIST_LENGTHS)?;
            let len = list_len(&lengths, &list)?;
            let mut items = txn.open_table(LIST_ITEMS)?;
            let mut kept = Vec::new();
            for index in 0..len {
                if let Some(item) = items.remove((list.as_str(), index))? {
                    if item.value() != value {
                        kept.push(item.value().to_string());
                    }
                }
            }
            for (index, item) in kept.iter().enumerate() {
                items.insert((list.as_str(), index as u64), item.as_str())?;
            }
            lengths.insert(list.as_str(), kept.len() as u64)?;
            Ok((kept.len() as u64) < len)
        })
        .await
    }

    async fn list_range(&self, _: &Context, arg: &ListRangeRequest) -> RpcResult<StringList> {
        let (list, start, stop) = (arg.list_name.clone(), arg.start, arg.stop);
        self.read(move |txn| {
            let len = list_len(&txn.open_table(LIST_LENGTHS)?, &list)?;
            let Some((first, last)) = resolve_range(len, start, stop) else {
                return Ok(Vec::new());
            };
            let items = txn.open_table(LIST_ITEMS)?;
            let mut values = Vec::with_capacity((last - first + 1) as usize);
            for entry in items.range((list.as_str(), first)..=(list.as_str(), last))? {
                values.push(entry?.1.value().to_string());
            }
            Ok(values)
        })
        .await
    }

    async fn set(&self, _: &Context, arg: &SetRequest) -> RpcResult<()> {
        if arg.expires > 0 {
            return Err(RpcError::InvalidParameter(
                "the embedded store does not expire keys; use Redis".into(),
            ));
        }
        let (key, value) = (arg.key.clone(), arg.value.clone());
        self.write(move |txn| {
            txn.open_table(STRINGS)?
                .insert(key.as_str(), value.as_str())?;
            Ok(())
        })
        .await
    }

    async fn set_add(&self, _: &Context, arg: &SetAddRequest) -> RpcResult<u32> {
        let (set, value) = (arg.set_name.clone(), arg.value.clone());
        self.write(move |txn| {
            Ok(u32::from(
                txn.open_table(SET_MEMBERS)?
                    .insert((set.as_str(), value.as_str()), ())?
                    .is_none(),
            ))
        })
        .await
    }

    async fn set_del(&self, _: &Context, arg: &SetDelRequest) -> RpcResult<u32> {
        let (set, value) = (arg.set_name.clone(), arg.value.clone());
        self.write(move |txn| {
            Ok(u32::from(
                txn.open_table(SET_MEMBERS)?
                    .remove((set.as_str(), value.as_str()))?
                    .is_some(),
            ))
        })
        .await
    }

    async fn set_intersection(&self, _: &Context, sets: &StringList) -> RpcResult<StringList> {
        let sets = sets.clone();
        self.read(move |txn| {
            let table = txn.open_table(SET_MEMBERS)?;
            let mut result: Option<Vec<String>> = None;
            for set in &sets {
                let members = set_members(&table, set)?;
                result = Some(match result {
                    None => members,
                    Some(so_far) => so_far.into_iter().filter(|m| members.contains(m)).collect(),
                });
            }
            Ok(result.unwrap_or_default())
        })
        .await
    }

    async fn set_query<TS: ToString + ?Sized + Sync>(
        &self,
        _: &Context,
        set: &TS,
    ) -> RpcResult<StringList> {
        let set = set.to_string();
        self.read(move |txn| set_members(&txn.open_table(SET_MEMBERS)?, &set))
            .await
    }

    async fn set_union(&self, _: &Context, sets: &StringList) -> RpcResult<StringList> {
        let sets = sets.clone();
        self.read(move |txn| {
            let table = txn.open_table(SET_MEMBERS)?;
            let mut union = std::collections::BTreeSet::new();
            for set in &sets {
                union.extend(set_members(&table, set)?);
            }
            Ok(union.into_iter().collect())
        })
        .await
    }

    async fn set_clear<TS: ToString + ?Sized + Sync>(
        &self,
        ctx: &Context,
        set: &TS,
    ) -> RpcResult<bool> {
        self.del(ctx, set).await
    }
}

mcchat_provider_kit::dispatch_via_receiver!(EmbeddedKeyValue, KeyValueReceiver);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_ranges_follow_redis_index_rules() {
        assert_eq!(resolve_range(5, 0, -1), Some((0, 4)));
        assert_eq!(resolve_range(5, -2, -1), Some((3, 4)));
        assert_eq!(resolve_range(5, 3, 100), Some((3, 4)));
        assert_eq!(resolve_range(5, -100, 1), Some((0, 1)));
        assert_eq!(resolve_range(5, 5, 9), None);
        assert_eq!(resolve_range(5, 3, 2), None);
        assert_eq!(resolve_range(0, 0, -1), None);
    }

    fn list_add(value: &str) -> ListAddRequest {
        ListAddRequest {
            list_name: "l".into(),
            value: value.into(),
        }
    }

    fn set_add(value: &str) -> SetAddRequest {
        SetAddRequest {
            set_name: "s".into(),
            value: value.into(),
        }
    }

    fn range(start: i32, stop: i32) -> ListRangeRequest {
        ListRangeRequest {
            list_name: "l".into(),
            start,
            stop,
        }
    }

    fn increment(key: &str, value: i32) -> IncrementRequest {
        IncrementRequest {
            key: key.into(),
            value,
        }
    }

    #[tokio::test]
    async fn lists_sets_and_strings_persist_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.redb");
        let ctx = Context::default();
        {
            let kv = EmbeddedKeyValue::open(&path).unwrap();
            for value in ["a", "b", "c", "b"] {
                kv.list_add(&ctx, &list_add(value)).await.unwrap();
            }
            let remove_b = ListDelRequest {
                list_name: "l".into(),
                value: "b".into(),
            };
            assert!(kv.list_del(&ctx, &remove_b).await.unwrap());
            let set_k = SetRequest {
                key: "k".into(),
                value: "v".into(),
                expires: 0,
            };
            kv.set(&ctx, &set_k).await.unwrap();
            assert_eq!(kv.set_add(&ctx, &set_add("x")).await.unwrap(), 1);
            assert_eq!(kv.set_add(&ctx, &set_add("x")).await.unwrap(), 0);
            assert_eq!(kv.increment(&ctx, &increment("n", 5)).await.unwrap(), 5);
        }
        let kv = EmbeddedKeyValue::open(&path).unwrap();
        assert_eq!(
            kv.list_range(&ctx, &range(0, -1)).await.unwrap(),
            ["a", "c"]
        );
        assert_eq!(kv.list_range(&ctx, &range(-1, -1)).await.unwrap(), ["c"]);
        assert_eq!(kv.get(&ctx, "k").await.unwrap().value, "v");
        assert_eq!(kv.set_query(&ctx, "s").await.unwrap(), ["x"]);
        assert_eq!(kv.increment(&ctx, &increment("n", -2)).await.unwrap(), 3);
        assert!(kv.increment(&ctx, &increment("k", 1)).await.is_err());
        assert!(kv.del(&ctx, "l").await.unwrap());
        assert!(!kv.contains(&ctx, "l").await.unwrap());
        assert_eq!(kv.list_add(&ctx, &list_add("z")).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_write_whose_caller_stopped_waiting_is_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let kv = EmbeddedKeyValue::open(&dir.path().join("kv.redb")).unwrap();
        let ctx = Context::default();
        // A writer holding the store, as a commit stuck on a slow disk does.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (holding, held) = std::sync::mpsc::channel::<()>();
        let holder = {
            let db = kv.db.clone();
            std::thread::spawn(move || {
                let txn = db.begin_write().unwrap();
                holding.send(()).unwrap();
                released.recv().unwrap();
                txn.commit().unwrap();
            })
        };
        held.recv().unwrap();
        let given_up = list_add("given up");
        let queued = kv.list_add(&ctx, &given_up);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(200), queued).await;
        assert!(waited.is_err(), "the write should wait for the holder");
        release.send(()).unwrap();
        holder.join().unwrap();

        assert_eq!(kv.list_add(&ctx, &list_add("next")).await.unwrap(), 1);
        assert_eq!(kv.list_range(&ctx, &range(0, -1)).await.unwrap(), ["next"]);
    }
}
