//! The host runs only actors whose claims it can verify, and only lets them call what they claim.

use crate::support;

use support::*;
use wascap::prelude::KeyPair;

/// The chatlog code signed by `account` with `caps` (a module key of its own).
fn chatlog_signed_by(account: &KeyPair, caps: &[&str]) -> Vec<u8> {
    actor_signed_by("chatlog", "mcchat/chatlog", account, caps)
}

/// The named actor's code signed by `account` with `caps` (a module key of its own).
fn actor_signed_by(package: &str, alias: &str, account: &KeyPair, caps: &[&str]) -> Vec<u8> {
    let unsigned = std::fs::read(workspace_root().join(format!(
        "target/wasm/wasm32-unknown-unknown/actor/{}.wasm",
        package.replace('-', "_")
    )))
    .expect("run `cargo xtask build` first");
    let account = KeyPair::from_seed(&account.seed().unwrap()).unwrap();
    wascap::wasm::sign_buffer_with_claims(
        package.into(),
        unsigned,
        KeyPair::new_module(),
        account,
        None,
        None,
        caps.iter().map(|c| c.to_string()).collect(),
        vec![],
        false,
        None,
        None,
        Some(alias.into()),
    )
    .unwrap()
}

/// The account key that signed the project's own actors.
fn our_issuer() -> String {
    wascap::wasm::extract_claims(signed_chatlog())
        .unwrap()
        .unwrap()
        .claims
        .issuer
}

fn signed_chatlog() -> Vec<u8> {
    std::fs::read(workspace_root().join("build/chatlog_s.wasm"))
        .expect("run `cargo xtask build` first")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_actor_is_refused_module_or_component() {
    let (nats, dir) = (Server::nats(), tempfile::tempdir().unwrap());
    // The module cargo built, and the component the composition wrote, before signing.
    for unsigned in [
        "target/wasm/wasm32-unknown-unknown/actor/chatlog.wasm",
        "target/wasm/components/chatlog_component.wasm",
    ] {
        let unsigned = workspace_root().join(unsigned);
        assert!(unsigned.exists(), "run `cargo xtask build` first");
        let error = start_error(
            &nats,
            manifest_with_chatlog(dir.path(), &unsigned),
            dir.path(),
        )
        .await;
        assert!(
            error.contains("refusing actor chatlog") && error.contains("unsigned"),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_actor_is_refused() {
    let (nats, dir) = (Server::nats(), tempfile::tempdir().unwrap());
    let mut module = signed_chatlog();
    let middle = module.len() / 2;
    module[middle] ^= 0x01;
    let tampered = dir.path().join("chatlog_tampered.wasm");
    std::fs::write(&tampered, module).unwrap();
    let error = start_error(
        &nats,
        manifest_with_chatlog(dir.path(), &tampered),
        dir.path(),
    )
    .await;
    assert!(
        error.contains("refusing actor chatlog") && error.contains("tampered"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_without_the_keyvalue_claim_cannot_reach_the_store() {
    let (nats, redis, dir) = (
        Server::nats(),
        Server::redis(),
        tempfile::tempdir().unwrap(),
    );
    // The same chatlog code, signed with logging only.
    let module = dir.path().join("chatlog_no_kv_s.wasm");
    std::fs::write(
        &module,
        chatlog_signed_by(&KeyPair::new_account(), &["wasmcloud:builtin:logging"]),
    )
    .unwrap();
    let mut config = config(&nats, Some(&redis), dir.path());
    config.manifest = manifest_with_chatlog(dir.path(), &module);
    let (host, base) = start(config).await;

    let response = post(&base, r#"{"user_name":"kim","body":"nowhere to go"}"#).await;
    assert_eq!(response.status(), 503);
    let reason = response.json::<serde_json::Value>().await.unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("the chat log is unavailable"), "{reason}");

    // Nothing reached Redis, and the host keeps serving.
    let mut redis_conn = redis.redis_connection().await;
    let stored: i64 = redis::cmd("LLEN")
        .arg("chatlog:messages")
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    assert_eq!(
        reqwest::get(format!("{base}/nowhere"))
            .await
            .unwrap()
            .status(),
        404
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_actor_signed_for_the_clock_can_read_it() {
    let (nats, dir) = (Server::nats(), tempfile::tempdir().unwrap());
    // The same api-gateway code, linked to the clock but signed without mcchat:clock, by an
    // issuer of its own (a host trusts any issuer unless told otherwise).
    let gateway = dir.path().join("api_gateway_no_clock_s.wasm");
    let caps = ["wasmcloud:builtin:numbergen", "wasmcloud:builtin:logging"];
    let code = actor_signed_by("api-gateway", "mcchat/api", &KeyPair::new_account(), &caps);
    std::fs::write(&gateway, code).unwrap();
    let mut unsigned_for_it = config(&nats, None, dir.path());
    unsigned_for_it.manifest = manifest_copy(dir.path(), |text| {
        let image = format!("file://{}", gateway.display());
        text.replace("file://./build/api_gateway_s.wasm", &image)
    });
    let (host, base) = start(unsigned_for_it).await;

    // The message is stored all the same, untimed: the host refused the clock.
    post_stored(&base, r#"{"user_name":"kim","body":"what time is it?"}"#).await;
    let stored = all_messages(&base, 10).await;
    assert_eq!(stored[0]["body"], "what time is it?");
    assert!(stored[0].get("ts").is_none(), "{}", stored[0]);
    host.shutdown().await;

    // Signed for it, the same code reads the time.
    let (dir, since) = (tempfile::tempdir().unwrap(), now_ms());
    let (host, base) = start(config(&nats, None, dir.path())).await;
    post_stored(&base, r#"{"user_name":"kim","body":"and now?"}"#).await;
    let stored = all_messages(&base, 10).await;
    untimed(stored[0].clone(), since);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_from_an_untrusted_issuer_is_refused_when_issuers_are_trusted() {
    let (nats, dir) = (Server::nats(), tempfile::tempdir().unwrap());
    let stranger = KeyPair::new_account();
    let module = dir.path().join("chatlog_stranger_s.wasm");
    std::fs::write(
        &module,
        chatlog_signed_by(
            &stranger,
            &["wasmcloud:keyvalue", "wasmcloud:builtin:logging"],
        ),
    )
    .unwrap();
    let manifest = manifest_with_chatlog(dir.path(), &module);

    let mut trusting = config(&nats, None, dir.path());
    trusting.manifest = manifest.clone();
    trusting.trusted_issuers = vec![our_issuer()];
    let error = match mcchat_host::start(trusting).await {
        Ok(_) => panic!("the host ran an actor from an untrusted issuer"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("refusing actor chatlog")
            && error.contains(&stranger.public_key())
            && error.contains("not a trusted issuer"),
        "{error}"
    );

    // Trusting that issuer too, or trusting nobody in particular, lets it run.
    for trusted in [vec![our_issuer(), stranger.public_key()], vec![]] {
        let mut config = config(&nats, None, dir.path());
        config.manifest = manifest.clone();
        config.trusted_issuers = trusted;
        let (host, base) = start(config).await;
        assert_eq!(
            post(&base, r#"{"user_name":"t","body":"ok"}"#)
                .await
                .status(),
            201
        );
        host.shutdown().await;
    }
}
