//! An actor that traps fails only the call that trapped: the caller gets an error, the instance
//! is replaced, and the next call is served.

use std::collections::BTreeSet;

use mcchat_host::capacity::{ActorShape, Capacity, Limits};
use mcchat_host::claims::ActorIdentity;
use mcchat_host::events::EventBus;
use mcchat_host::pool::LoadedActor;
use mcchat_host::providers::httpserver;
use mcchat_host::providers::registration::{
    HostContext, Lattice, LinkStart, LinkValues, Registration as _,
};
use mcchat_host::router::Router;
use mcchat_host::runtime::Runtime;

/// The actor in `wat`, compiled on an engine with room for it alone, as a host loads it.
fn loaded(wat: &str, identity: ActorIdentity, image_ref: &str) -> LoadedActor {
    let wasm = wat::parse_str(wat).unwrap();
    let shape = ActorShape::of(&wasm).unwrap();
    let runtime = Runtime::new(Capacity::plan(&[shape], Limits::default()).unwrap()).unwrap();
    LoadedActor {
        identity,
        module: runtime.compile(&wasm).unwrap(),
        shape,
        image_ref: image_ref.into(),
    }
}

/// A waPC guest that echoes the payload, except for operations whose name starts with `T`, where it traps.
const ECHO_OR_TRAP: &str = r#"
(module
  (import "wasmbus" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wasmbus" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (call $guest_request (i32.const 0) (i32.const 1024))
    (if (i32.eq (i32.load8_u (i32.const 0)) (i32.const 84)) (then unreachable))
    (call $guest_response (i32.const 1024) (local.get $msg_len))
    (i32.const 1)))
"#;

#[tokio::test]
async fn a_trapping_instance_is_replaced_and_the_caller_gets_an_error() {
    let identity = ActorIdentity {
        public_key: "MTESTACTOR".into(),
        name: "echo".into(),
        call_alias: Some("test/echo".into()),
        caps: BTreeSet::new(),
        ..Default::default()
    };
    let events = EventBus::default();
    let (_, mut feed) = events.subscribe();
    let router = Router::new(
        vec![loaded(ECHO_OR_TRAP, identity, "file:///test.wasm")],
        events,
        1,
        Limits::default().instances_per_actor,
    );

    assert_eq!(
        router
            .call_actor("test/echo", "Echo.Say", b"hello")
            .await
            .unwrap(),
        b"hello"
    );
    let error = router
        .call_actor("test/echo", "Trap.Boom", b"boom")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("trapped"), "{error}");
    let trapped = feed.try_recv().expect("a trap event");
    assert_eq!(trapped.name, "actor_instance_trapped");
    assert_eq!(trapped.data["operation"], "Trap.Boom");
    assert_eq!(trapped.data["public_key"], "MTESTACTOR");
    let stats = router.actor("test/echo").unwrap().stats.snapshot();
    let boom = stats.iter().find(|op| op.operation == "Trap.Boom").unwrap();
    assert_eq!((boom.calls, boom.traps), (1, 1));
    assert_eq!(
        router
            .call_actor("test/echo", "Echo.Say", b"again")
            .await
            .unwrap(),
        b"again"
    );
    assert!(router
        .call_actor("test/nobody", "Echo.Say", b"")
        .await
        .unwrap_err()
        .to_string()
        .contains("no actor"));
}

/// A waPC guest that never returns.
const STUCK: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "__guest_call") (param i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 1)))
"#;

/// A stuck actor behind the HTTP server: the call is cut off at the actor call timeout and the
/// client gets a 504 with a reason, not a hang or a bare 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_actor_answers_504_with_a_reason() {
    let identity = ActorIdentity {
        public_key: "MSTUCKACTOR".into(),
        name: "stuck".into(),
        call_alias: Some("test/stuck".into()),
        caps: BTreeSet::new(),
        ..Default::default()
    };
    let router = Router::new(
        vec![loaded(STUCK, identity, "file:///test.wasm")],
        EventBus::default(),
        1,
        Limits::default().instances_per_actor,
    );
    let data = tempfile::tempdir().unwrap();
    let host = HostContext {
        router: router.clone(),
        workers: std::sync::Arc::new(mcchat_host::workers::Workers::start(1).unwrap()),
        tracker: tokio_util::task::TaskTracker::new(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        queue_group: "test".into(),
        data_dir: data.path().to_path_buf(),
        lattice: Lattice {
            name: "test".into(),
            nats_url: "nats://127.0.0.1:1".into(),
            auth: None,
            trust: mcchat_provider_kit::ClusterTrust::generate(),
        },
    };
    let values = LinkValues::from([("address".to_string(), "127.0.0.1:0".to_string())]);
    let link = LinkStart {
        host: &host,
        actor: "test/stuck",
        link_name: "default",
        values: &values,
        stop: host.shutdown.child_token(),
    };
    let server = httpserver::Registration.start(link).await.unwrap();
    let address = server.listen_address().unwrap();

    let started = std::time::Instant::now();
    let response = reqwest::Client::new()
        .post(format!("http://{address}/messages"))
        .body(r#"{"user_name":"x","body":"y"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("did not answer in time"),
        "{answer}"
    );
    let took = started.elapsed();
    assert!(
        took < mcchat_host::pool::CALL_TIMEOUT + std::time::Duration::from_secs(2),
        "{took:?}"
    );
    server.stop().await;
    host.workers.stop();
}

/// A waPC guest that answers `old`, after spinning long enough to be caught mid-call.
const SLOW_OLD: &str = r#"
(module
  (import "wasmbus" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "old")
  (func (export "__guest_call") (param i32 i32) (result i32)
    (local $n i32)
    (local.set $n (i32.const 400000000))
    (loop $spin
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $spin (i32.ne (local.get $n) (i32.const 0))))
    (call $guest_response (i32.const 0) (i32.const 3))
    (i32.const 1)))
"#;

/// A waPC guest that answers `new` at once.
const FAST_NEW: &str = r#"
(module
  (import "wasmbus" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "new")
  (func (export "__guest_call") (param i32 i32) (result i32)
    (call $guest_response (i32.const 0) (i32.const 3))
    (i32.const 1)))
"#;

/// Replacing an actor's module: the call in flight finishes on the old module, every later call
/// runs on the new one, and a module of another actor is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_actor_finishes_calls_in_flight_on_the_old_module() {
    let identity = ActorIdentity {
        public_key: "MREPLACED".into(),
        name: "replaced".into(),
        call_alias: Some("test/replaced".into()),
        ..Default::default()
    };
    let old = loaded(SLOW_OLD, identity.clone(), "file:///old.wasm");
    let shape = old.shape;
    let router = Router::new(
        vec![old],
        EventBus::default(),
        1,
        Limits::default().instances_per_actor,
    );
    let runtime = Runtime::new(Capacity::plan(&[shape], Limits::default()).unwrap()).unwrap();
    let pool = router.actor("test/replaced").unwrap().clone();
    let in_flight = tokio::spawn({
        let router = router.clone();
        async move { router.call_actor("test/replaced", "Slow.Call", b"").await }
    });
    // The old module's instance exists once the call is running in it.
    while pool.status().live_instances == 0 {
        tokio::task::yield_now().await;
    }
    assert!(!in_flight.is_finished(), "the call should still be running");
    let new_module = runtime.compile(&wat::parse_str(FAST_NEW).unwrap()).unwrap();
    pool.replace(
        identity.clone(),
        new_module,
        shape,
        "file:///new.wasm".into(),
    )
    .unwrap();
    assert_eq!(
        router
            .call_actor("test/replaced", "Fast.Call", b"")
            .await
            .unwrap(),
        b"new"
    );
    assert_eq!(in_flight.await.unwrap().unwrap(), b"old");
    assert_eq!(
        router
            .call_actor("test/replaced", "Fast.Call", b"")
            .await
            .unwrap(),
        b"new"
    );
    assert_eq!(pool.status().image_ref, "file:///new.wasm");

    let other = ActorIdentity {
        public_key: "MSOMEONEELSE".into(),
        ..identity.clone()
    };
    let module = runtime.compile(&wat::parse_str(FAST_NEW).unwrap()).unwrap();
    let refused = pool.replace(other, module, shape, "file:///other.wasm".into());
    assert!(refused.unwrap_err().contains("keeps the actor's key"));

    // A module needing more memories than the engine reserved for this actor's instances.
    let larger = ActorShape {
        memories: shape.memories + 1,
        ..shape
    };
    let module = runtime.compile(&wat::parse_str(FAST_NEW).unwrap()).unwrap();
    let refused = pool
        .replace(identity, module, larger, "file:///larger.wasm".into())
        .unwrap_err();
    assert!(refused.contains("restart the host"), "{refused}");
    assert_eq!(pool.status().image_ref, "file:///new.wasm");
}

/// A waPC guest that calls the host forever; each call names nothing and is refused at once.
const CHATTY: &str = r#"
(module
  (import "wasmbus" "__host_call"
    (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "nobody")
  (func (export "__guest_call") (param i32 i32) (result i32)
    (loop $forever
      (drop (call $host_call (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 6)
                             (i32.const 0) (i32.const 6) (i32.const 0) (i32.const 0)))
      (br $forever))
    (i32.const 1)))
"#;

/// A guest looping over host calls that are answered at once still yields at its epoch
/// deadline, so its call timeout fires, even on a single-threaded runtime where nothing else
/// could run if it never yielded.
#[test]
fn a_guest_looping_over_instant_host_calls_is_still_cut_off() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let outcome = tokio.block_on(async {
            let identity = ActorIdentity {
                public_key: "MCHATTY".into(),
                name: "chatty".into(),
                call_alias: Some("test/chatty".into()),
                ..Default::default()
            };
            let router = Router::new(
                vec![loaded(CHATTY, identity, "file:///chatty.wasm")],
                EventBus::default(),
                1,
                Limits::default().instances_per_actor,
            );
            router.call_actor("test/chatty", "Chatty.Spin", b"").await
        });
        let _ = done.send(outcome);
    });
    let limit = mcchat_host::pool::CALL_TIMEOUT + std::time::Duration::from_secs(10);
    let outcome = finished
        .recv_timeout(limit)
        .expect("the call was never cut off: the guest kept its thread");
    let error = outcome.unwrap_err().to_string();
    assert!(error.contains("timed out"), "{error}");
}
