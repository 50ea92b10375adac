//! The waPC ABI that `wasmbus-rpc` actors speak, bound directly on wasmtime.
//!
//! wasmbus actors import their eight host functions from the module `wasmbus` (not `wapc`, the
//! only namespace `wasmtime-provider` binds), so the ABI lives here. A guest call runs on a
//! wasmtime fiber; the actor's synchronous `__host_call` awaits the host's async answer there,
//! so a thread is never blocked while one actor waits for another or for a provider.

use std::sync::{Arc, Weak};

use wasmtime::error::Context as _;
use wasmtime::{format_err, Result};
use wasmtime::{
    AsContextMut, Caller, Engine, InstancePre, Linker, Memory, Module, Store, StoreLimits,
    StoreLimitsBuilder, TypedFunc,
};

use crate::capacity::MAX_INSTANCE_MEMORY;
use crate::claims::ActorIdentity;
use crate::host_calls::{call_host, CallError, HostCalls};
use crate::yielding::Turns;

/// A compiled wasmbus module, ready to be instantiated many times.
pub struct WapcModule {
    engine: Engine,
    pre: InstancePre<CallState>,
}

impl WapcModule {
    /// Compiles a module and checks that it is a wasmbus actor.
    pub fn compile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Self> {
        let module = Module::new(engine, wasm)?;
        if module.get_export("__guest_call").is_none() {
            anyhow::bail!("not a wasmbus actor: it exports no __guest_call");
        }
        let mut linker = Linker::new(engine);
        define_abi(&mut linker)?;
        // Any other import is a call the host cannot answer: fail the call, not the load.
        linker.define_unknown_imports_as_traps(&module)?;
        let pre = linker.instantiate_pre(&module)?;
        Ok(WapcModule {
            engine: engine.clone(),
            pre,
        })
    }

    pub async fn instantiate(
        &self,
        identity: Arc<ActorIdentity>,
        host: Weak<dyn HostCalls>,
    ) -> anyhow::Result<WapcInstance> {
        let state = CallState {
            identity,
            host,
            limits: StoreLimitsBuilder::new()
                .memory_size(MAX_INSTANCE_MEMORY)
                .build(),
            guest_request: None,
            guest_response: None,
            guest_error: None,
            host_response: None,
            host_error: None,
            memory: None,
            turns: Turns::default(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(|mut store| Ok(store.data_mut().turns.at_tick()));
        let instance = self.pre.instantiate_async(&mut store).await?;
        // Looked up once: finding an export by name on every ABI call cost more than the copy.
        store.data_mut().memory = instance.get_memory(&mut store, "memory");
        let guest_call = instance.get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")?;
        Ok(WapcInstance { store, guest_call })
    }
}

/// One instance of a wasmbus module. Calls on it are sequential (`&mut self`).
pub struct WapcInstance {
    store: Store<CallState>,
    guest_call: TypedFunc<(i32, i32), i32>,
}

impl WapcInstance {
    /// Invokes an operation (such as `HttpServer.HandleRequest`) with a msgpack payload. The
    /// payload is taken, not copied: the guest asks for it once, by `__guest_request`.
    pub async fn call(&mut self, operation: &str, payload: Vec<u8>) -> Result<Vec<u8>, CallError> {
        let (op_len, msg_len) = (
            abi_len(operation.len()).map_err(CallError::trap)?,
            abi_len(payload.len()).map_err(CallError::trap)?,
        );
        let state = self.store.data_mut();
        state.guest_request = Some((operation.as_bytes().to_vec(), payload));
        state.guest_response = None;
        state.guest_error = None;
        state.turns.reset();
        // The deadline counts from now, not from this instance's last yield: a pooled instance
        // idle across a tick would otherwise yield to the scheduler as soon as its call began.
        self.store.set_epoch_deadline(1);
        let succeeded = self
            .guest_call
            .call_async(&mut self.store, (op_len, msg_len))
            .await
            .map_err(CallError::trap)?;
        let state = self.store.data_mut();
        // An idle instance holds no turn (one that trapped is dropped, and its turn with it).
        state.turns.reset();
        if succeeded == 1 {
            Ok(state.guest_response.take().unwrap_or_default())
        } else {
            Err(CallError::Guest(state.guest_error.take().unwrap_or_else(
                || "the actor failed without a reason".into(),
            )))
        }
    }
}

/// Per-instance state the ABI functions read and write.
struct CallState {
    identity: Arc<ActorIdentity>,
    host: Weak<dyn HostCalls>,
    limits: StoreLimits,
    guest_request: Option<(Vec<u8>, Vec<u8>)>,
    guest_response: Option<Vec<u8>>,
    guest_error: Option<String>,
    host_response: Option<Vec<u8>>,
    host_error: Option<String>,
    /// The actor's exported linear memory, once instantiated.
    memory: Option<Memory>,
    turns: Turns,
}

fn abi_len(len: usize) -> Result<i32> {
    i32::try_from(len).map_err(|_| format_err!("{len} bytes do not fit the 32-bit waPC ABI"))
}

fn memory(caller: &Caller<'_, CallState>) -> Result<Memory> {
    caller.data().memory.context("the actor exports no memory")
}

fn read(caller: &mut Caller<'_, CallState>, ptr: i32, len: i32) -> Result<Vec<u8>> {
    let memory = memory(caller)?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let bytes = memory
        .data(&*caller)
        .get(start..start.checked_add(len).context("pointer overflow")?)
        .context("the actor passed a range outside its memory")?;
    Ok(bytes.to_vec())
}

fn write(caller: &mut Caller<'_, CallState>, ptr: i32, bytes: &[u8]) -> Result<()> {
    let memory = memory(caller)?;
    memory
        .write(caller, ptr as u32 as usize, bytes)
        .context("the actor passed a range outside its memory")
}

/// Copies bytes the call state holds into guest memory without cloning them first. They stay
/// in the state: a guest may ask for them again.
fn write_from_state(
    caller: &mut Caller<'_, CallState>,
    ptr: i32,
    bytes: impl FnOnce(&CallState) -> &[u8],
) -> Result<()> {
    let memory = memory(caller)?;
    let (guest, state) = memory.data_and_store_mut(caller);
    let bytes = bytes(state);
    let start = ptr as u32 as usize;
    guest
        .get_mut(start..start.checked_add(bytes.len()).context("pointer overflow")?)
        .context("the actor passed a range outside its memory")?
        .copy_from_slice(bytes);
    Ok(())
}

fn define_abi(linker: &mut Linker<CallState>) -> Result<()> {
    const NS: &str = "wasmbus";
    linker.func_wrap(
        NS,
        "__guest_request",
        |mut caller: Caller<'_, CallState>, op_ptr: i32, msg_ptr: i32| {
            let (op, msg) = caller
                .data_mut()
                .guest_request
                .take()
                .context("__guest_request outside a guest call")?;
            write(&mut caller, op_ptr, &op)?;
            write(&mut caller, msg_ptr, &msg)
        },
    )?;
    linker.func_wrap(
        NS,
        "__guest_response",
        |mut caller: Caller<'_, CallState>, ptr: i32, len: i32| {
            let response = read(&mut caller, ptr, len)?;
            caller.data_mut().guest_response = Some(response);
            Ok(())
        },
    )?;
    linker.func_wrap(
        NS,
        "__guest_error",
        |mut caller: Caller<'_, CallState>, ptr: i32, len: i32| {
            let error = read(&mut caller, ptr, len)?;
            caller.data_mut().guest_error = Some(String::from_utf8_lossy(&error).into_owned());
            Ok(())
        },
    )?;
    linker.func_wrap_async(
        NS,
        "__host_call",
        |mut caller: Caller<'_, CallState>,
         (bd_ptr, bd_len, ns_ptr, ns_len, op_ptr, op_len, ptr, len): (
            i32,
            i32,
            i32,
            i32,
            i32,
            i32,
            i32,
            i32,
        )| {
            Box::new(async move {
                let text = |bytes: Vec<u8>| {
                    String::from_utf8(bytes).context("host call names must be UTF-8")
                };
                let binding = text(read(&mut caller, bd_ptr, bd_len)?)?;
                let namespace = text(read(&mut caller, ns_ptr, ns_len)?)?;
                let operation = text(read(&mut caller, op_ptr, op_len)?)?;
                let payload = read(&mut caller, ptr, len)?;
                let (identity, host) = (caller.data().identity.clone(), caller.data().host.clone());
                caller.data_mut().turns.waiting();
                let (result, waited) =
                    call_host(&host, &identity, binding, namespace, operation, payload).await;
                if waited {
                    caller.as_context_mut().set_epoch_deadline(1);
                }
                let state = caller.data_mut();
                state.host_response = None;
                state.host_error = None;
                Ok(match result {
                    Ok(response) => {
                        state.host_response = Some(response);
                        1
                    }
                    Err(error) => {
                        state.host_error = Some(error);
                        0
                    }
                })
            })
        },
    )?;
    linker.func_wrap(
        NS,
        "__host_response",
        |mut caller: Caller<'_, CallState>, ptr: i32| {
            write_from_state(&mut caller, ptr, |state| {
                state.host_response.as_deref().unwrap_or_default()
            })
        },
    )?;
    linker.func_wrap(
        NS,
        "__host_response_len",
        |caller: Caller<'_, CallState>| -> i32 {
            caller
                .data()
                .host_response
                .as_ref()
                .map_or(0, |r| r.len() as i32)
        },
    )?;
    linker.func_wrap(
        NS,
        "__host_error",
        |mut caller: Caller<'_, CallState>, ptr: i32| {
            write_from_state(&mut caller, ptr, |state| {
                state.host_error.as_deref().unwrap_or_default().as_bytes()
            })
        },
    )?;
    linker.func_wrap(
        NS,
        "__host_error_len",
        |caller: Caller<'_, CallState>| -> i32 {
            caller
                .data()
                .host_error
                .as_ref()
                .map_or(0, |e| e.len() as i32)
        },
    )?;
    linker.func_wrap(
        NS,
        "__console_log",
        |mut caller: Caller<'_, CallState>, ptr: i32, len: i32| {
            let line = read(&mut caller, ptr, len)?;
            let actor = caller.data().identity.name.clone();
            tracing::info!(target: "mcchat::actor", %actor, "{}", String::from_utf8_lossy(&line));
            Ok(())
        },
    )?;
    Ok(())
}
