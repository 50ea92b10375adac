//! The operator dashboard in real headless Chromium: it lists the seven actors with their claims,
//! its event feed shows a trap within a second, and an action without the token is refused
//! while the same action with it is carried out.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::browser::Chromedriver;
use support::*;

const TOKEN: &str = "dashboard-test-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_running_chat_live_and_guards_its_actions() {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let mut settings = config(&nats, None, data.path());
    settings.dashboard_addr = "127.0.0.1:0".parse().unwrap();
    settings.dashboard_token = Some(TOKEN.into());
    let (host, base) = start(settings).await;
    let dashboard = host.dashboard_url().expect("the dashboard is served");
    assert!(dashboard.starts_with("http://localhost:"), "{dashboard}");

    let driver = Chromedriver::start();
    let page = driver.page_sized(1400, 1000).await;
    page.open(&dashboard).await;
    page.wait_for(
        "the feed is live",
        "return document.getElementById('live').textContent",
        "live".into(),
    )
    .await;
    page.wait_for(
        "seven actors are listed",
        "return document.querySelectorAll('#actors > tr').length",
        7.into(),
    )
    .await;
    let chatlog_row = page
        .eval("return document.querySelector('#actors tr[data-actor=\"mcchat/chatlog\"]').textContent")
        .await;
    let chatlog_row = chatlog_row.as_str().unwrap();
    for shown in ["chatlog", "wasmcloud:keyvalue", "healthy", "rev 1"] {
        assert!(chatlog_row.contains(shown), "{shown} not in {chatlog_row}");
    }
    let providers = page
        .eval("return document.getElementById('providers').textContent")
        .await;
    assert!(
        providers.as_str().unwrap().contains(&nats.nats_url()),
        "{providers}"
    );

    // A message shows up in the call figures.
    assert_eq!(
        post(&base, r#"{"user_name":"op","body":"hello"}"#)
            .await
            .status(),
        201
    );
    page.wait_for(
        "the write is counted",
        "return document.querySelector('#actors tr[data-actor=\"mcchat/chatlog\"]').textContent.includes('Chatlog.WriteMessage 1 calls')",
        true.into(),
    )
    .await;

    // Stop without the token: refused, and the actor keeps running.
    page.click("#actors tr[data-actor=\"mcchat/api\"] td:last-child div:nth-child(2) button")
        .await;
    page.wait_for(
        "the refusal is shown",
        "return document.getElementById('message').textContent.includes('401')",
        true.into(),
    )
    .await;
    let state: serde_json::Value = reqwest::get(format!("{dashboard}api/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api = state["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["call_alias"] == "mcchat/api")
        .unwrap();
    assert_eq!(api["running"], true, "{api}");

    // With the token the same button stops it, and the dashboard shows it.
    page.type_into("#token", TOKEN).await;
    page.click("#actors tr[data-actor=\"mcchat/api\"] td:last-child div:nth-child(2) button")
        .await;
    page.wait_for(
        "the actor is shown stopped",
        "return document.querySelector('#actors tr[data-actor=\"mcchat/api\"] .pill').textContent",
        "stopped".into(),
    )
    .await;
    page.click("#actors tr[data-actor=\"mcchat/api\"] td:last-child div:nth-child(2) button")
        .await;
    page.wait_for(
        "the actor is shown running again",
        "return document.querySelector('#actors tr[data-actor=\"mcchat/api\"] .pill').textContent",
        "healthy".into(),
    )
    .await;

    // Delete chatlog's key-value link: writes fail; put it back from the form: they work again.
    page.click("#links tr[data-link=\"mcchat/chatlog wasmcloud:keyvalue\"] button")
        .await;
    page.wait_for(
        "the link is gone",
        "return document.querySelectorAll('#links > tr').length",
        7.into(),
    )
    .await;
    assert_eq!(
        post(&base, r#"{"user_name":"op","body":"unlinked"}"#)
            .await
            .status(),
        503
    );
    let chatlog_id = host
        .control
        .router
        .actor("mcchat/chatlog")
        .unwrap()
        .identity()
        .public_key
        .clone();
    let kv_provider = host
        .control
        .providers()
        .iter()
        .find(|p| p.contract == "wasmcloud:keyvalue")
        .unwrap()
        .id
        .clone();
    page.eval(&format!(
        "document.getElementById('link-actor').value = '{chatlog_id}'; \
         document.getElementById('link-provider').value = '{kv_provider}'; return true"
    ))
    .await;
    page.click("#put-link button").await;
    page.wait_for(
        "the link is back",
        "return document.querySelectorAll('#links > tr').length",
        8.into(),
    )
    .await;
    assert_eq!(
        post(&base, r#"{"user_name":"op","body":"relinked"}"#)
            .await
            .status(),
        201
    );

    // A trap reaches the feed within a second.
    let scratch = tempfile::tempdir().unwrap();
    let trapping = std::fs::read(sign_as("http-channel", ALWAYS_TRAPS, scratch.path())).unwrap();
    let http_id = host
        .control
        .router
        .actor("mcchat/http")
        .unwrap()
        .identity()
        .public_key
        .clone();
    let client = reqwest::Client::new();
    let refused = client
        .put(format!("{dashboard}api/actors/{http_id}/module"))
        .body(trapping.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let replaced = client
        .put(format!("{dashboard}api/actors/{http_id}/module"))
        .bearer_auth(TOKEN)
        .body(trapping)
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200, "{:?}", replaced.text().await);
    assert_eq!(
        post(&base, r#"{"user_name":"op","body":"boom"}"#)
            .await
            .status(),
        500
    );
    let trapped_at = Instant::now();
    page.wait_for(
        "the trap is in the feed",
        "return document.getElementById('feed').textContent.includes('actor_instance_trapped')",
        true.into(),
    )
    .await;
    assert!(
        trapped_at.elapsed() < Duration::from_secs(1),
        "the trap took {:?} to reach the feed",
        trapped_at.elapsed()
    );
    let bad_json = client
        .post(format!("{dashboard}api/actors/{http_id}/scale"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let reason: serde_json::Value = bad_json.json().await.unwrap();
    assert!(
        reason["reason"].as_str().unwrap().contains("max_instances"),
        "{reason}"
    );
    let unknown = client
        .post(format!("{dashboard}api/actors/MNOBODY/stop"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    page.wait_for(
        "the trapped actor is flagged",
        "return document.querySelector('#actors tr[data-actor=\"mcchat/http\"] .pill').textContent",
        json!("trapped"),
    )
    .await;
    page.eval("window.scrollTo(0, 0); return true").await;
    let shot = page.screenshot("dashboard.png").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    page.close().await;
    host.shutdown().await;
}

/// A page of another origin, served by the test: on load it tries to stop an actor and to scale
/// another to nothing, by a form (text/plain, no preflight) into a frame, and by `fetch` in both
/// modes; then it sets its title.
fn attacker_page(dashboard: &str) -> String {
    format!(
        r#"<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" action="{dashboard}api/actors/mcchat%2Fhttp/stop" enctype="text/plain" target="sink">
<input name='{{"max_instances":0,"x":"' value='"}}'></form>
<script>
document.getElementById("f").submit();
const scale = "{dashboard}api/actors/mcchat%2Fchatlog/scale";
const body = JSON.stringify({{max_instances: 0}});
Promise.allSettled([
  fetch(scale, {{method: "POST", mode: "no-cors", body, headers: {{"content-type": "text/plain"}}}}),
  fetch(scale, {{method: "POST", body, headers: {{"content-type": "application/json"}}}}),
]).then(() => setTimeout(() => {{ document.title = "sent"; }}, 500));
</script></body></html>"#
    )
}

/// Serves `html` at `/` until the test ends; its address.
async fn serve_page(html: String) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let html = html.clone();
            async move { axum::response::Html(html) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// With no token at all, another site's page in the operator's browser still steers nothing:
/// a cross-origin form or request is refused, and so is any request naming another host (a
/// name rebound to 127.0.0.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sites_page_steers_nothing_without_a_token() {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let mut settings = config(&nats, None, data.path());
    settings.dashboard_addr = "127.0.0.1:0".parse().unwrap();
    let (host, base) = start(settings).await;
    let dashboard = format!("http://{}/", host.dashboard_addr.unwrap());
    let attacker = serve_page(attacker_page(&dashboard)).await;

    let driver = Chromedriver::start();
    let page = driver.page().await;
    page.open(&format!("http://localhost:{}/", attacker.port()))
        .await;
    page.wait_for(
        "the page sent its requests",
        "return document.title",
        "sent".into(),
    )
    .await;
    page.close().await;

    let state: serde_json::Value = reqwest::get(format!("{dashboard}api/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for actor in state["actors"].as_array().unwrap() {
        assert_eq!(actor["running"], true, "{actor}");
        assert_eq!(actor["max_instances"], serde_json::Value::Null, "{actor}");
    }
    assert_eq!(
        post(&base, r#"{"user_name":"op","body":"still served"}"#)
            .await
            .status(),
        201
    );

    // The same requests without a browser: each refusal says why.
    let client = reqwest::Client::new();
    let stop = format!("{dashboard}api/actors/mcchat%2Fhttp/stop");
    let cross_origin = client
        .post(&stop)
        .header("origin", "http://evil.example")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_origin.status(), 403);
    let plain = client
        .post(&stop)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 415);
    let port = host.dashboard_addr.unwrap().port();
    let rebound = client
        .get(format!("{dashboard}api/state"))
        .header("host", format!("rebound.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let reason: serde_json::Value = rebound.json().await.unwrap();
    assert!(
        reason["reason"].as_str().unwrap().contains("Host"),
        "{reason}"
    );
    host.shutdown().await;
}

/// The dashboard shows and streams no secret: not the Redis password in the key-value link's
/// URL, not the WebSocket link's AUTH_TOKEN, nor the lattice's NATS password; in its state, its
/// event feed (link events included) and `/metrics`. The control interface gives wadm the
/// values as they are, as wasmCloud hosts do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_shown_or_streamed() {
    const REDIS_PASSWORD: &str = "redis-secret-7f3a";
    const WS_TOKEN: &str = "ws-secret-91bc";
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let redis = Server::redis_with_password(REDIS_PASSWORD);
    let manifest = manifest_copy(data.path(), |text| {
        text.replace(
            "MODE: server",
            &format!("MODE: server\n              AUTH_TOKEN: {WS_TOKEN}"),
        )
    });
    let mut settings = config(&nats, None, data.path());
    settings.manifest = manifest;
    settings.embedded_kv = false;
    settings.redis_url = Some(format!(
        "redis://:{REDIS_PASSWORD}@127.0.0.1:{}",
        redis.port
    ));
    settings.dashboard_addr = "127.0.0.1:0".parse().unwrap();
    let (host, base) = start(settings).await;
    let dashboard = format!("http://{}/", host.dashboard_addr.unwrap());
    post_stored(
        &base,
        r#"{"user_name":"op","body":"stored with a password"}"#,
    )
    .await;

    // A link put through the dashboard raises a link event with its values.
    let keyvalue = host
        .control
        .links()
        .into_iter()
        .find(|link| link.contract_id == "wasmcloud:keyvalue")
        .unwrap();
    let put = reqwest::Client::new()
        .put(format!("{dashboard}api/links"))
        .json(&keyvalue)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());

    let mut shown = String::new();
    for path in ["api/state", "metrics"] {
        shown += &reqwest::get(format!("{dashboard}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    let mut feed = reqwest::get(format!("{dashboard}api/events"))
        .await
        .unwrap();
    while !shown.contains("linkdef_set") {
        let chunk = tokio::time::timeout(WAIT, feed.chunk())
            .await
            .expect("the feed streams")
            .unwrap()
            .expect("the feed stays open");
        shown += &String::from_utf8_lossy(&chunk);
    }
    assert!(shown.contains("redis://:***@"), "the link is shown, masked");
    for secret in [REDIS_PASSWORD, WS_TOKEN] {
        assert!(!shown.contains(secret), "{secret} shown by the dashboard");
    }
    host.shutdown().await;
}
