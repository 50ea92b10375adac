//! Sign-on end to end: accounts and tokens over HTTP (curl's routes), NATS (`chat.signon`),
//! MQTT 5 (`mosquitto_rr` on `chat/signon`) and WebSocket frames; every refusal on every
//! channel; two hosts honouring one another's tokens and sign-offs; and no token or key where
//! another client or the operator's tools could read it.

use crate::support;

use accounts::token::{self, Claims, KEY_BYTES};
use serde_json::{json, Value};
use support::mqtt::mosquitto_client;
use support::*;

const PASSWORD: &str = "correct horse battery";

/// An HTTP request to the chat, answered with its status, headers and JSON body.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

async fn post_json(base: &str, path: &str, body: Value, token: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await
}

async fn sign_up(base: &str, name: &str) -> Answer {
    post_json(
        base,
        "/accounts",
        json!({"user_name": name, "password": PASSWORD}),
        None,
    )
    .await
}

async fn sign_on(base: &str, name: &str, password: &str) -> Answer {
    post_json(
        base,
        "/sessions",
        json!({"user_name": name, "password": password}),
        None,
    )
    .await
}

/// A token for `name`, signed on over HTTP.
async fn token_for(base: &str, name: &str) -> String {
    let answer = sign_on(base, name, PASSWORD).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body["token"].as_str().unwrap().to_string()
}

async fn sign_off(base: &str, token: &str, everywhere: bool) -> Answer {
    let query = if everywhere { "?everywhere=true" } else { "" };
    let request = reqwest::Client::new()
        .delete(format!("{base}/sessions{query}"))
        .bearer_auth(token);
    send(request).await
}

/// Waits out the time an instance of the accounts uses the guests setting it read: after it,
/// every instance on every host has read the operator's change. (api-gateway also takes a
/// guest's name on the accounts' word for a while, but only after a message was accepted
/// under it: the guest here writes only after the change.)
async fn setting_read_again() {
    let kept = accounts::memory::GUESTS_SETTING_MS;
    tokio::time::sleep(std::time::Duration::from_millis(kept)).await;
}

/// Waits until no api-gateway instance answers from its memory of a token verified before a
/// sign-off sent at `signing_off` (`recent::ANSWER_MS`; the instance that relayed the sign-off
/// forgets the token at once).
async fn recent_answers_run_out(signing_off: tokio::time::Instant) {
    let kept = std::time::Duration::from_millis(api_gateway::recent::ANSWER_MS);
    tokio::time::sleep_until(signing_off + kept).await;
}

/// A request on a NATS subject, answered as JSON.
async fn nats_request(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let reply = tokio::time::timeout(
        WAIT,
        client.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .expect("an answer on the reply subject")
    .unwrap();
    serde_json::from_slice(&reply.payload).unwrap()
}

/// A frame on `subject` from a WebSocket session, and its ack.
async fn ws_request(session: &mut WsSession, subject: &str, body: Value) -> Value {
    let reply_to = format!("ack.{}", uuid::Uuid::new_v4().simple());
    session
        .send(json!({"subject": subject, "body": body, "reply_to": reply_to}))
        .await;
    session.next_on(&reply_to).await["body"].take()
}

/// A token signed with a key that is not the chat's, for a name and time that would hold.
fn signed_elsewhere(name: &str) -> String {
    let claims = Claims {
        sub: name.into(),
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now_ms(),
        exp: now_ms() + 3_600_000,
    };
    token::issue(&[7; KEY_BYTES], &claims)
}

/// Every way a token is refused, with the words of the refusal: forged, from another key,
/// malformed, with `alg: none`, oversized. (Expired, revoked and another name's are tested
/// where they happen.)
fn bad_tokens(good: &str) -> Vec<(String, &'static str)> {
    use base64::Engine as _;
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let (signed, _) = good.rsplit_once('.').unwrap();
    let alg_none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(r#"{"sub":"alice","exp":99999999999999}"#)
    );
    vec![
        (signed_elsewhere("alice"), "it was not issued here"),
        (
            format!("{signed}.{}", b64("a signature of our own making!!!")),
            "it was not issued here",
        ),
        ("not-a-token".into(), "malformed"),
        (alg_none, "malformed"),
        (format!("mc1.{}.AAAA", "A".repeat(600)), "too long"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_a_token_proves_who_wrote_and_every_refusal_says_why() {
    let chat = TestChat::start(true).await;
    let base = &chat.base;
    let nats = nats_client(&chat.nats).await;
    let mut fanout = nats.subscribe("rtchat.messages").await.unwrap();
    subscribed(&nats).await;

    // Sign-up: once per name, whatever its case.
    let created = sign_up(base, "alice").await;
    assert_eq!(
        (created.status, created.body.clone()),
        (201, json!({"user_name": "alice"}))
    );
    for name in ["alice", "ALICE"] {
        let taken = sign_up(base, name).await;
        assert_eq!(taken.status, 409);
        assert_eq!(taken.body["reason"], format!("the name {name} is taken"));
    }
    let short = post_json(
        base,
        "/accounts",
        json!({"user_name": "bob", "password": "short"}),
        None,
    )
    .await;
    assert_eq!(short.status, 400, "{}", short.body);

    // Sign-on: a wrong password and an unknown name read the same.
    for (name, password) in [("alice", "not the password"), ("nobody", PASSWORD)] {
        let wrong = sign_on(base, name, password).await;
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.body, json!({"reason": "wrong name or password"}));
        assert_eq!(wrong.headers["www-authenticate"], "Bearer");
    }
    let before = now_ms();
    let signed_on = sign_on(base, "Alice", PASSWORD).await;
    assert_eq!(signed_on.status, 201, "{}", signed_on.body);
    assert_eq!(signed_on.body["user_name"], "alice");
    let expires_at = signed_on.body["expires_at"].as_u64().unwrap();
    assert!(
        (before + 3_000_000..=now_ms() + 3_600_000).contains(&expires_at),
        "{expires_at}"
    );
    let token = signed_on.body["token"].as_str().unwrap().to_string();

    // A token's message is its user's, verified, on GET and live; the name in the body does
    // not matter when it is hers.
    let since = now_ms();
    let stored = post_json(
        base,
        "/messages",
        json!({"user_name": "ALICE", "body": "it's me"}),
        Some(&token),
    )
    .await;
    assert_eq!(stored.status, 201, "{}", stored.body);
    let live = next_fanout(&mut fanout).await;
    assert_eq!(
        untimed(live, since),
        json!({"body": "it's me", "id": stored.body["id"], "index": 0, "room": "general", "sourceChannel": "http", "sourceUser": "alice", "verified": true})
    );
    let without_name = post_json(
        base,
        "/messages",
        json!({"body": "no name needed"}),
        Some(&token),
    )
    .await;
    assert_eq!(without_name.status, 201, "{}", without_name.body);

    // Her name without her token, and another name with it, are refused; nothing is stored.
    for (body, token, reason) in [
        (
            json!({"user_name": "alice", "body": "it's me, honest"}),
            None,
            "alice is a registered name: sign on and send its token",
        ),
        (
            json!({"user_name": "Alice", "body": "me too"}),
            None,
            "Alice is a registered name: sign on and send its token",
        ),
        (
            json!({"user_name": "mallory", "body": "x"}),
            Some(token.as_str()),
            "the token was issued for another name than user_name",
        ),
    ] {
        let refused = post_json(base, "/messages", body, token).await;
        assert_eq!(
            (refused.status, refused.body.clone()),
            (401, json!({"reason": reason}))
        );
        assert_eq!(refused.headers["www-authenticate"], "Bearer");
    }
    for (bad, reason) in bad_tokens(&token) {
        let refused = post_json(
            base,
            "/messages",
            json!({"user_name": "alice", "body": "x"}),
            Some(&bad),
        )
        .await;
        assert_eq!(refused.status, 401, "{bad}");
        assert!(
            refused.body["reason"].as_str().unwrap().contains(reason),
            "{bad}: {}",
            refused.body
        );
    }

    // Guests chat as in the tutorial, unverified.
    let guest = post(base, r#"{"user_name":"tester","body":"hello!"}"#).await;
    assert_eq!(guest.status(), 201);
    let history = all_messages(base, 50).await;
    let authors: Vec<_> = history
        .iter()
        .map(|m| (m["sourceUser"].clone(), m.get("verified").cloned()))
        .collect();
    assert_eq!(
        authors,
        [
            (json!("alice"), Some(json!(true))),
            (json!("alice"), Some(json!(true))),
            (json!("tester"), None)
        ]
    );

    // Refresh, then sign off one token, then every token.
    let refreshed = post_json(base, "/sessions/refresh", Value::Null, Some(&token)).await;
    assert_eq!(refreshed.status, 201, "{}", refreshed.body);
    let second = refreshed.body["token"].as_str().unwrap().to_string();
    assert_ne!(second, token);
    let third = token_for(base, "alice").await;
    let signing_off = tokio::time::Instant::now();
    let off = sign_off(base, &token, false).await;
    assert_eq!(
        (off.status, off.body.clone()),
        (200, json!({"user_name": "alice"}))
    );
    let as_alice = json!({"body": "after signing off"});
    recent_answers_run_out(signing_off).await;
    let refused = post_json(base, "/messages", as_alice.clone(), Some(&token)).await;
    assert_eq!(
        (refused.status, refused.body.clone()),
        (401, json!({"reason": "the token was signed off"}))
    );
    assert_eq!(
        post_json(base, "/sessions/refresh", Value::Null, Some(&token))
            .await
            .status,
        401
    );
    assert_eq!(
        post_json(base, "/messages", as_alice.clone(), Some(&second))
            .await
            .status,
        201
    );
    let signing_off = tokio::time::Instant::now();
    assert_eq!(sign_off(base, &second, true).await.status, 200);
    recent_answers_run_out(signing_off).await;
    for signed_off in [&second, &third] {
        let refused = post_json(base, "/messages", as_alice.clone(), Some(signed_off)).await;
        assert_eq!(refused.status, 401);
    }
    assert_eq!(sign_off(base, &third, false).await.status, 401);
    let missing = send(reqwest::Client::new().delete(format!("{base}/sessions"))).await;
    assert_eq!(missing.status, 401);
    assert!(missing.body["reason"]
        .as_str()
        .unwrap()
        .starts_with("a token is required"));

    // No token, password or key anywhere a reader looks: the history, the live copies' source
    // (the stored JSON) or the store apart from the account's hash.
    let mut redis = chat.redis.as_ref().unwrap().redis_connection().await;
    let stored: Vec<String> = redis::cmd("LRANGE")
        .arg("chatlog:messages")
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    let key: String = redis::cmd("GET")
        .arg("mcchat:accounts:signing-key")
        .query_async(&mut redis)
        .await
        .unwrap();
    let account: String = redis::cmd("GET")
        .arg("mcchat:accounts:user:alice")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        account.contains("$argon2id$") && !account.contains(PASSWORD),
        "{account}"
    );
    let history = serde_json::to_string(&all_messages(base, 50).await).unwrap();
    for secret in [
        token.as_str(),
        second.as_str(),
        third.as_str(),
        key.as_str(),
        PASSWORD,
    ] {
        assert!(!history.contains(secret) && !stored.concat().contains(secret));
    }
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_and_websocket_the_token_travels_in_the_payload() {
    let chat = TestChat::start(false).await;
    let base = &chat.base;
    let nats = nats_client(&chat.nats).await;
    let mut fanout = nats.subscribe("rtchat.messages").await.unwrap();
    subscribed(&nats).await;

    // Sign-up and sign-on on NATS, as `nats req chat.signon` would.
    let credentials = json!({"user_name": "carol", "password": PASSWORD});
    assert_eq!(
        nats_request(&nats, "chat.signup", credentials.clone()).await,
        json!({"accepted": true, "user_name": "carol"})
    );
    let wrong = nats_request(
        &nats,
        "chat.signon",
        json!({"user_name": "carol", "password": "wrong password"}),
    )
    .await;
    assert_eq!(
        wrong,
        json!({"accepted": false, "reason": "wrong name or password"})
    );
    // A reply key must be a curve key (the zones' test opens a sealed token).
    let mut bad_key = credentials.clone();
    bad_key["reply_key"] = json!("UABCDEF");
    assert_eq!(
        nats_request(&nats, "chat.signon", bad_key).await,
        json!({"accepted": false, "reason": "reply_key is not a curve25519 public key (an nkeys xkey, beginning with X)"})
    );
    let signed_on = nats_request(&nats, "chat.signon", credentials.clone()).await;
    assert_eq!(signed_on["accepted"], true, "{signed_on}");
    let token = signed_on["token"].as_str().unwrap().to_string();
    assert!(signed_on["expires_at"].as_u64().unwrap() > now_ms());

    let with_token = json!({"user_name": "carol", "body": "over the broker", "token": token});
    assert_eq!(
        chat_in(&nats, &with_token.to_string()).await,
        json!({"accepted": true})
    );
    let refusals = [
        (
            json!({"user_name": "carol", "body": "x"}),
            "carol is a registered name: sign on and send its token".to_string(),
        ),
        (
            json!({"user_name": "dave", "body": "x", "token": token}),
            "the token was issued for another name than user_name".to_string(),
        ),
    ];
    for (payload, reason) in &refusals {
        let ack = chat_in(&nats, &payload.to_string()).await;
        assert_eq!(ack, json!({"accepted": false, "reason": reason}));
    }
    for (bad, reason) in bad_tokens(&token) {
        let ack = chat_in(&nats, &json!({"body": "x", "token": bad}).to_string()).await;
        assert_eq!(ack["accepted"], false);
        assert!(
            ack["reason"].as_str().unwrap().contains(reason),
            "{bad}: {ack}"
        );
    }

    // A browser's frames carry the token the same way, and its live copy says verified.
    let mut browser = WsSession::connect(&ws_url(&chat.host)).await;
    // Its own live copy may come before its ack: both are read, in whichever order.
    let reply_to = "ack.from-the-page";
    browser
        .send(json!({"subject": "chat.in", "body": {"body": "from the page", "token": token}, "reply_to": reply_to}))
        .await;
    let (mut ack, mut live) = (Value::Null, Value::Null);
    while ack.is_null() || live.is_null() {
        let frame = browser.next_frame().await;
        match frame["subject"].as_str() {
            Some(subject) if subject == reply_to => ack = frame["body"].clone(),
            Some("rtchat.messages") => live = frame,
            _ => {}
        }
    }
    assert_eq!(ack["accepted"], true, "{ack}");
    assert_eq!(
        (&live["body"]["sourceUser"], &live["body"]["verified"]),
        (&json!("carol"), &json!(true))
    );
    for (payload, reason) in &refusals {
        let ack = ws_request(&mut browser, "chat.in", payload.clone()).await;
        assert_eq!(ack, json!({"accepted": false, "reason": reason}));
    }
    let ws_signon = ws_request(&mut browser, "chat.signon", credentials).await;
    assert_eq!(ws_signon["accepted"], true, "{ws_signon}");

    // The live copies on NATS name the author and the mark, never the token.
    let first = next_fanout(&mut fanout).await;
    assert_eq!(
        (&first["sourceUser"], &first["verified"]),
        (&json!("carol"), &json!(true))
    );
    let history = all_messages(base, 50).await;
    assert_eq!(history.len(), 2);
    assert!(history
        .iter()
        .all(|m| m["verified"] == true && m["sourceUser"] == "carol"));
    assert!(!serde_json::to_string(&history).unwrap().contains(&token));

    // Signing off on the broker.
    let signing_off = tokio::time::Instant::now();
    let off = nats_request(&nats, "chat.signoff", json!({"token": token})).await;
    assert_eq!(off, json!({"accepted": true, "user_name": "carol"}));
    recent_answers_run_out(signing_off).await;
    let ack = chat_in(&nats, &with_token.to_string()).await;
    assert_eq!(
        ack,
        json!({"accepted": false, "reason": "the token was signed off"})
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_signs_on_with_mosquitto_rr_and_writes_verified() {
    let (mosquitto, nats, data) = (
        Server::mosquitto(),
        Server::nats(),
        tempfile::tempdir().unwrap(),
    );
    let mut settings = config(&nats, None, data.path());
    settings.mqtt_url = Some(mosquitto.mqtt_url());
    let (host, base) = start(settings).await;
    assert_eq!(sign_up(&base, "sensor-7").await.status, 201);

    let rr = |topic: &str, message: Value| {
        let printed = mosquitto_client(
            "mosquitto_rr",
            &mosquitto,
            &[
                "-t",
                topic,
                "-e",
                &format!("replies/{}", uuid::Uuid::new_v4().simple()),
                "-m",
                &message.to_string(),
                "-W",
                "10",
            ],
        );
        serde_json::from_str::<Value>(printed.trim()).unwrap()
    };
    let signed_on = rr(
        "chat/signon",
        json!({"user_name": "sensor-7", "password": PASSWORD}),
    );
    assert_eq!(signed_on["accepted"], true, "{signed_on}");
    let token = signed_on["token"].as_str().unwrap();
    let ack = rr("chat/in", json!({"body": "21.5 C", "token": token}));
    assert_eq!(ack["accepted"], true, "{ack}");
    let refused = rr(
        "chat/in",
        json!({"user_name": "sensor-7", "body": "spoofed"}),
    );
    assert_eq!(
        refused,
        json!({"accepted": false, "reason": "sensor-7 is a registered name: sign on and send its token"})
    );
    for (bad, reason) in bad_tokens(token) {
        let ack = rr("chat/in", json!({"body": "x", "token": bad}));
        assert!(
            ack["reason"].as_str().unwrap().contains(reason),
            "{bad}: {ack}"
        );
    }
    let no_token = rr("chat/refresh", json!({}));
    assert!(
        no_token["reason"]
            .as_str()
            .unwrap()
            .starts_with("a token is required"),
        "{no_token}"
    );
    let history = all_messages(&base, 50).await;
    assert_eq!(history.len(), 1);
    assert_eq!(
        (&history[0]["sourceUser"], &history[0]["verified"]),
        (&json!("sensor-7"), &json!(true))
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ons_over_the_limit_wait_with_retry_after() {
    let chat = TestChat::start(false).await;
    let base = &chat.base;
    let nats = nats_client(&chat.nats).await;
    assert_eq!(sign_up(base, "erin").await.status, 201);
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(sign_on(base, "erin", "a wrong password").await.status);
    }
    // Ten tries a minute, and the window may turn during the run: at least one refused as
    // wrong, and then the limit, right password or not.
    let limited = sign_on(base, "erin", PASSWORD).await;
    if limited.status == 429 {
        let wait: u64 = limited.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limited.body["reason"]
            .as_str()
            .unwrap()
            .starts_with("too many sign-on attempts"));
        assert!(limited.body.get("token").is_none());
        let on_nats = nats_request(
            &nats,
            "chat.signon",
            json!({"user_name": "erin", "password": PASSWORD}),
        )
        .await;
        assert_eq!(on_nats["accepted"], false, "{on_nats}");
        assert!(on_nats["retry_after_ms"].as_u64().unwrap() <= 60_000);
        // Other names are not held back.
        assert_eq!(sign_up(base, "frank").await.status, 201);
        assert_eq!(sign_on(base, "frank", PASSWORD).await.status, 201);
    } else {
        // The minute turned between the tenth try and this one.
        assert_eq!(limited.status, 201, "{}", limited.body);
    }
    assert!(answers.iter().all(|&status| status == 401), "{answers:?}");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_honour_the_same_tokens_and_sign_offs_and_guests_can_be_shut_out() {
    let (nats, redis) = (Server::nats(), Server::redis());
    let data = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, base_a) = start(config(&nats, Some(&redis), data.0.path())).await;
    let (b, base_b) = start(config(&nats, Some(&redis), data.1.path())).await;
    assert_eq!(sign_up(&base_a, "grace").await.status, 201);
    assert_eq!(sign_up(&base_b, "grace").await.status, 409);
    let token = token_for(&base_a, "grace").await;
    let from_b = post_json(
        &base_b,
        "/messages",
        json!({"body": "hello from b"}),
        Some(&token),
    )
    .await;
    assert_eq!(from_b.status, 201, "{}", from_b.body);
    let token_b = token_for(&base_b, "grace").await;
    assert_eq!(
        post_json(
            &base_a,
            "/messages",
            json!({"body": "b's token on a"}),
            Some(&token_b)
        )
        .await
        .status,
        201
    );
    assert_eq!(sign_off(&base_b, &token, false).await.status, 200);
    let on_a = post_json(&base_a, "/messages", json!({"body": "x"}), Some(&token)).await;
    assert_eq!(
        (on_a.status, on_a.body["reason"].clone()),
        (401, json!("the token was signed off"))
    );

    // The operator closes the chat to guests in the store every host reads.
    let mut kv = redis.redis_connection().await;
    let _: () = redis::cmd("SET")
        .arg("mcchat:accounts:guests")
        .arg("closed")
        .query_async(&mut kv)
        .await
        .unwrap();
    setting_read_again().await;
    for base in [&base_a, &base_b] {
        let guest = post(base, r#"{"user_name":"tester","body":"hello!"}"#).await;
        assert_eq!(guest.status(), 403);
        let reason = guest.json::<Value>().await.unwrap()["reason"].clone();
        assert_eq!(
            reason,
            "this chat is closed to guests: sign up and sign on to write"
        );
        assert_eq!(
            post_json(
                base,
                "/messages",
                json!({"body": "members only"}),
                Some(&token_b)
            )
            .await
            .status,
            201
        );
    }
    let _: () = redis::cmd("DEL")
        .arg("mcchat:accounts:guests")
        .query_async(&mut kv)
        .await
        .unwrap();
    setting_read_again().await;
    assert_eq!(
        post(&base_b, r#"{"user_name":"tester","body":"hello!"}"#)
            .await
            .status(),
        201
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// The real `mcchat` process, logging at its most verbose, through every kind of account
/// request and refusal: no password, token or signing key in what it prints, on its dashboard's
/// state or on `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_token_or_key_reaches_the_hosts_log_dashboard_or_metrics() {
    let (nats, redis) = (Server::nats(), Server::redis());
    let data = tempfile::tempdir().unwrap();
    let (http_port, dashboard_port) = (free_port(), free_port());
    let log_path = data.path().join("host.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(support::mcchat_binary())
        .current_dir(workspace_root())
        .args(["up", "--manifest", "wadm.yaml", "--ws-addr", "127.0.0.1:0"])
        .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
        .args(["--dashboard-addr", &format!("127.0.0.1:{dashboard_port}")])
        .args([
            "--nats-url",
            &nats.nats_url(),
            "--redis-url",
            &redis.redis_url(),
        ])
        .args(["--mqtt-url", &shared_mosquitto_url()])
        .arg("--data-dir")
        .arg(data.path())
        // The host's own code and every networking library a secret passes through, at trace.
        .env(
            "RUST_LOG",
            "info,mcchat_host=trace,mcchat_provider_websocket=trace,mcchat_provider_mqtt=trace,\
             async_nats=trace,redis=trace,rumqttc=trace,hyper=trace,axum=trace,tungstenite=trace",
        )
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting mcchat");
    let base = format!("http://127.0.0.1:{http_port}");
    until_serving(&base, std::time::Duration::from_secs(90)).await;

    // Every request that carries a secret, answered and refused.
    assert_eq!(sign_up(&base, "quinn").await.status, 201);
    assert_eq!(sign_up(&base, "quinn").await.status, 409);
    let wrong = "not the password";
    assert_eq!(sign_on(&base, "quinn", wrong).await.status, 401);
    assert_eq!(sign_on(&base, "nobody", wrong).await.status, 401);
    let token = token_for(&base, "quinn").await;
    let message = json!({"body": "it is quinn"});
    let written = post_json(&base, "/messages", message.clone(), Some(&token)).await;
    assert_eq!(written.status, 201);
    let forged = format!("{}x", &token[..token.len() - 1]);
    for refused_token in [forged.as_str(), "mc1.e30.AAAA"] {
        let refused = post_json(&base, "/messages", message.clone(), Some(refused_token)).await;
        assert_eq!(refused.status, 401);
    }
    let nats = async_nats::connect(nats.nats_url()).await.unwrap();
    let signed_on = nats_request(
        &nats,
        "chat.signon",
        json!({"user_name": "quinn", "password": PASSWORD}),
    )
    .await;
    let nats_token = signed_on["token"].as_str().unwrap().to_string();
    let body = json!({"body": "over nats", "token": nats_token});
    assert_eq!(nats_request(&nats, "chat.in", body).await["accepted"], true);
    let body = json!({"body": "over nats", "token": forged});
    assert_eq!(
        nats_request(&nats, "chat.in", body).await["accepted"],
        false
    );
    let refreshed = post_json(&base, "/sessions/refresh", Value::Null, Some(&token)).await;
    let refreshed = refreshed.body["token"].as_str().unwrap().to_string();
    let signing_off = tokio::time::Instant::now();
    assert_eq!(sign_off(&base, &token, false).await.status, 200);
    recent_answers_run_out(signing_off).await;
    assert_eq!(
        post_json(&base, "/messages", message, Some(&token))
            .await
            .status,
        401
    );

    let dashboard = format!("http://127.0.0.1:{dashboard_port}");
    let state = reqwest::get(format!("{dashboard}/api/state"))
        .await
        .unwrap();
    let state = state.text().await.unwrap();
    let metrics = reqwest::get(format!("{dashboard}/metrics")).await.unwrap();
    let metrics = metrics.text().await.unwrap();
    let mut kv = redis.redis_connection().await;
    let key: String = redis::cmd("GET")
        .arg("mcchat:accounts:signing-key")
        .query_async(&mut kv)
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let printed = std::fs::read_to_string(&log_path).unwrap();
    // The log is the verbose one: it shows the requests it must not show the secrets of.
    assert!(printed.contains("accounts: quinn signed up"), "{printed}");
    assert!(state.contains("mcchat/accounts") && metrics.contains("mcchat_"));
    let secrets = [
        ("the password", PASSWORD),
        ("a wrong password", wrong),
        ("a token", &token),
        ("a refreshed token", &refreshed),
        ("a token over NATS", &nats_token),
        ("a forged token", &forged),
        ("the signing key", &key),
    ];
    for (what, secret) in secrets {
        for (place, text) in [("log", &printed), ("state", &state), ("metrics", &metrics)] {
            // The line, with the secret masked, says where it leaked.
            let line = text.lines().find(|line| line.contains(secret));
            let line = line.map(|line| line.replace(secret, "<secret>"));
            assert_eq!(line, None, "{what} in the host's {place}");
        }
    }
}
