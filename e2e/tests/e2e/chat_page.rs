//! The chat page in real headless Chromium, against a host with its own NATS and Redis:
//! two pages chat, curl and NATS messages appear live, scrolling up pages back through the
//! history, and a dropped connection is reconnected with no gap and no duplicate.

use crate::support;

use serde_json::json;
use support::browser::{Chromedriver, Page, Proxy};
use support::*;

/// The page of `chat`, talking WebSocket to `ws`.
fn page_url(chat: &TestChat, ws: &str) -> String {
    format!("{}/?ws={ws}", chat.base)
}

/// The page's address as `mcchat up` prints it.
fn printed_page_url(chat: &TestChat) -> String {
    let url = chat
        .host
        .chat_page_url()
        .expect("the host serves a chat page");
    assert!(
        url.starts_with("http://localhost:") && url.contains("?ws=ws://localhost:"),
        "{url}"
    );
    url
}

async fn open_as(driver: &Chromedriver, url: &str, name: &str) -> Page {
    let page = driver.page().await;
    page.open_as(url, name).await;
    page
}

async fn history(chat: &TestChat) -> Vec<(String, String, String)> {
    all_messages(&chat.base, 100)
        .await
        .into_iter()
        .map(|m| {
            let field = |k: &str| m[k].as_str().unwrap().to_string();
            (field("id"), field("sourceUser"), field("body"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_chat_live_with_each_other_and_with_curl_and_nats() {
    let chat = TestChat::start(true).await;
    let driver = Chromedriver::start();
    let url = printed_page_url(&chat);
    let fay = open_as(&driver, &url, "fay").await;
    let gus = open_as(&driver, &url, "gus").await;

    fay.say("hi gus, it's fay").await;
    gus.say("hello fay!").await;
    let nats = nats_client(&chat.nats).await;
    assert_eq!(
        chat_in(&nats, r#"{"user_name":"nina","body":"from nats"}"#).await,
        json!({"accepted": true})
    );
    let response = post(&chat.base, r#"{"user_name":"curl","body":"from curl"}"#).await;
    assert_eq!(response.status(), 201);

    // Both pages show the same four messages, in the order the history has them.
    let count = "return document.querySelectorAll('#list .msg').length";
    for page in [&fay, &gus] {
        page.wait_for("all four messages are shown", count, json!(4))
            .await;
    }
    let stored = history(&chat).await;
    assert_eq!(stored.len(), 4);
    assert_eq!(fay.shown().await, stored);
    assert_eq!(gus.shown().await, stored);
    let bodies: Vec<&str> = stored.iter().map(|m| m.2.as_str()).collect();
    assert_eq!(bodies[..2], ["hi gus, it's fay", "hello fay!"]);

    // Each shows when it was stored, to the millisecond, as the reader's local time.
    let stored_times: Vec<_> = all_messages(&chat.base, 100)
        .await
        .iter()
        .map(|m| m["ts"].clone())
        .collect();
    let shown_times = "return [...document.querySelectorAll('#list .msg time')]
        .map(t => t.textContent.trim() === '' ? null : Date.parse(t.dateTime))";
    assert_eq!(gus.eval(shown_times).await, json!(stored_times));

    // A refused message is explained on the page, and nothing is stored.
    fay.type_into("#name", "").await;
    fay.say("no name").await;
    fay.wait_for(
        "the page asks for a name",
        "return document.getElementById('error').textContent",
        json!("Pick a name first."),
    )
    .await;

    let shot = gus.screenshot("chat-page.png").await;
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 1000,
        "{}",
        shot.display()
    );
    fay.close().await;
    gus.close().await;
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_up_loads_older_pages_in_order() {
    let chat = TestChat::start(false).await;
    for n in 0..120 {
        let body = json!({"user_name": "writer", "body": format!("message {n}")}).to_string();
        post_stored(&chat.base, &body).await;
    }
    let driver = Chromedriver::start();
    let page = open_as(&driver, &printed_page_url(&chat), "reader").await;
    let count = "return document.querySelectorAll('#list .msg').length";
    page.wait_for("the newest page is shown", count, json!(50))
        .await;
    for expected in [100, 120] {
        page.eval("document.getElementById('messages').scrollTop = 0; return null")
            .await;
        page.wait_for("an older page is shown", count, json!(expected))
            .await;
    }
    page.wait_for(
        "the load-older button is gone at the start of the history",
        "return document.getElementById('older').hidden",
        json!(true),
    )
    .await;
    assert_eq!(page.shown().await, history(&chat).await);
    page.close().await;
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crafted_link_to_another_hosts_websocket_server_is_not_followed() {
    let chat = TestChat::start(false).await;
    // Another host name than the page's 127.0.0.1: where a crafted link would send messages.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let crafted = format!(
        "ws://localhost:{}/ws",
        elsewhere.local_addr().unwrap().port()
    );
    let driver = Chromedriver::start();
    let page = driver.page().await;
    page.open(&page_url(&chat, &crafted)).await;
    page.wait_for(
        "the page says why it does not connect",
        "return document.getElementById('error').textContent.includes('only connects to its own host')",
        json!(true),
    )
    .await;
    assert_eq!(
        page.eval("return document.getElementById('status').dataset.state")
            .await,
        json!("offline")
    );
    // The page decides before it opens any socket, so nothing is on its way.
    let dialled = tokio::time::timeout(std::time::Duration::from_millis(300), elsewhere.accept());
    assert!(dialled.await.is_err(), "the page dialled {crafted}");
    page.close().await;
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_reconnected_with_no_gap_and_no_duplicate() {
    let chat = TestChat::start(true).await;
    let ws_address = chat.host.ws_addrs()[0];
    let proxy = Proxy::start(ws_address).await;
    let driver = Chromedriver::start();
    let url = page_url(&chat, &format!("ws://{}/ws", proxy.address));
    let page = open_as(&driver, &url, "hal").await;
    page.say("before the drop").await;
    let count = "return document.querySelectorAll('#list .msg').length";
    page.wait_for("the first message is shown", count, json!(1))
        .await;

    proxy.cut();
    page.wait_for(
        "the page sees the connection drop",
        "return document.getElementById('status').dataset.state",
        json!("offline"),
    )
    .await;
    // Messages sent while the page is away.
    for n in 0..3 {
        let body = json!({"user_name": "ivy", "body": format!("missed {n}")}).to_string();
        post_stored(&chat.base, &body).await;
    }
    let nats = nats_client(&chat.nats).await;
    chat_in(&nats, r#"{"user_name":"nina","body":"missed on nats"}"#).await;

    proxy.restore();
    page.wait_until_live().await;
    page.wait_for("the gap is filled", count, json!(5)).await;
    // Live again: a new message arrives once.
    let response = post(&chat.base, r#"{"user_name":"ivy","body":"after the drop"}"#).await;
    assert_eq!(response.status(), 201);
    page.wait_for("the live message is shown", count, json!(6))
        .await;
    let shown = page.shown().await;
    assert_eq!(shown, history(&chat).await);
    page.close().await;
    chat.stop().await;
}

/// The page's sign-on: the header, and what the page kept.
const SIGNED_ON_AS: &str = "return document.getElementById('who').hasAttribute('data-signed-on') \
     ? document.getElementById('me').textContent : null";
const KEPT_SESSION: &str = "return JSON.parse(localStorage.getItem('mcchat.session'))";

/// Signs on in the page's dialog (creating the account with `create`).
async fn sign_on_in_page(page: &Page, name: &str, password: &str, create: bool) {
    page.click("#account-open").await;
    page.type_into("#account-name", name).await;
    page.type_into("#account-password", password).await;
    page.click(if create { "#signup" } else { "#signon" }).await;
}

/// `[user, verified mark shown, set apart as mine]` for each message shown.
async fn marks(page: &Page) -> Vec<(String, bool, bool)> {
    let rows = page
        .eval(
            "return [...document.querySelectorAll('#list .msg')].map(m => \
             [m.querySelector('.user').textContent, !!m.querySelector('.verified'), \
              m.classList.contains('mine')])",
        )
        .await;
    serde_json::from_value(rows).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_signs_up_chats_verified_stays_signed_on_refreshes_and_signs_off() {
    let chat = TestChat::start(true).await;
    let driver = Chromedriver::start();
    let url = printed_page_url(&chat);
    let page = driver.page().await;
    page.open(&url).await;
    page.wait_until_live().await;
    let password = "correct horse battery";

    // A wrong password is refused in the dialog, without saying which half was wrong.
    sign_on_in_page(&page, "hana", password, false).await;
    page.wait_for(
        "the dialog explains the refusal",
        "return document.getElementById('account-error').textContent",
        json!("wrong name or password"),
    )
    .await;
    page.click("#account-cancel").await;

    // Sign up (which signs on), then chat: the message is hana's, verified, and set apart.
    sign_on_in_page(&page, "hana", password, true).await;
    page.wait_for("hana is signed on", SIGNED_ON_AS, json!("hana ✓"))
        .await;
    let kept = page.eval(KEPT_SESSION).await;
    assert_eq!(kept["user_name"], "hana");
    assert!(
        kept["token"].as_str().unwrap().starts_with("mc1."),
        "{kept}"
    );
    assert!(page
        .eval("return document.body.innerText")
        .await
        .as_str()
        .unwrap()
        .contains("hana ✓"));
    page.say("signed on and verified").await;
    // The frame is sent without waiting for its ack: wait until it is stored and shown, so
    // the guest's message comes after it.
    let count = "return document.querySelectorAll('#list .msg').length";
    page.wait_for("hana's message is shown", count, json!(1))
        .await;
    let response = post(&chat.base, r#"{"user_name":"ivan","body":"a guest"}"#).await;
    assert_eq!(response.status(), 201);
    // Nobody else may write as hana now.
    let response = post(&chat.base, r#"{"user_name":"hana","body":"an impostor"}"#).await;
    assert_eq!(response.status(), 401);
    page.wait_for("both messages are shown", count, json!(2))
        .await;
    let stored = all_messages(&chat.base, 10).await;
    assert_eq!(stored[0]["sourceUser"], "hana");
    assert_eq!(stored[0]["verified"], true);
    assert_eq!(stored[1].get("verified"), None);
    let expected = vec![
        ("hana".to_string(), true, true),
        ("ivan".to_string(), false, false),
    ];
    assert_eq!(marks(&page).await, expected);
    let shot = page.screenshot("chat-page-signed-on.png").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    // With a token in the page, no script but the page's own may run: one injected into it
    // (as a cross-site script would be) is refused by its Content-Security-Policy.
    let served = reqwest::get(format!("{}/", chat.base)).await.unwrap();
    let policy = served.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.contains("script-src 'sha256-"), "{policy}");
    page.eval(
        "const s = document.createElement('script'); s.textContent = 'window.injected = true';          document.body.append(s); return null",
    )
    .await;
    assert_eq!(
        page.eval("return window.injected === true").await,
        json!(false)
    );

    // A reload stays signed on; a token close to expiry is refreshed at once.
    let refreshed_from = kept["token"].as_str().unwrap().to_string();
    let soon = now_ms() + 60_000;
    page.eval(&format!(
        "const s = JSON.parse(localStorage.getItem('mcchat.session')); s.expires_at = {soon}; \
         localStorage.setItem('mcchat.session', JSON.stringify(s)); return null"
    ))
    .await;
    page.open(&url).await;
    page.wait_until_live().await;
    page.wait_for(
        "the page refreshed the token",
        "return JSON.parse(localStorage.getItem('mcchat.session')).expires_at > Date.now() + 30 * 60 * 1000",
        json!(true),
    )
    .await;
    assert_eq!(page.eval(SIGNED_ON_AS).await, json!("hana ✓"));
    let token = page.eval(KEPT_SESSION).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(token, refreshed_from);
    assert_eq!(marks(&page).await, expected);
    page.say("after a reload").await;
    page.wait_for("the third message is shown", count, json!(3))
        .await;
    assert_eq!(all_messages(&chat.base, 10).await[2]["verified"], true);

    // Signing off ends the session here and on the server: its token is refused from now on.
    page.click("#signoff").await;
    page.wait_for("hana is signed off", SIGNED_ON_AS, json!(null))
        .await;
    assert_eq!(page.eval(KEPT_SESSION).await, json!(null));
    let retry = reqwest::Client::new()
        .post(format!("{}/messages", chat.base))
        .bearer_auth(&token)
        .body(r#"{"body":"with a signed-off token"}"#);
    until_async("the signed-off token is refused", || async {
        retry.try_clone().unwrap().send().await.unwrap().status() == 401
    })
    .await;
    assert_eq!(marks(&page).await[0], ("hana".to_string(), true, false));

    // Signed off everywhere from elsewhere, the page learns it on its next message.
    sign_on_in_page(&page, "hana", password, false).await;
    page.wait_for("hana is signed on again", SIGNED_ON_AS, json!("hana ✓"))
        .await;
    let token = page.eval(KEPT_SESSION).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let everywhere = reqwest::Client::new()
        .delete(format!("{}/sessions?everywhere=true", chat.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(everywhere.status(), 200);
    page.say("too late").await;
    page.wait_for("the page signs off", SIGNED_ON_AS, json!(null))
        .await;
    let error = page
        .eval("return document.getElementById('error').textContent")
        .await;
    assert_eq!(
        error,
        json!("Not sent, and you were signed off: the token was signed off")
    );
    assert_eq!(
        page.eval("return document.getElementById('body').value")
            .await,
        json!("too late")
    );
    assert_eq!(all_messages(&chat.base, 10).await.len(), 3);
    page.close().await;
    chat.stop().await;
}
