//! The WebSocket messaging provider over real sockets, in both modes, with a recording
//! subscriber in place of an actor: sessions, reply routing, auth, slow consumers, bad frames.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use mcchat_provider_websocket::{Config, Limits, Mode, Pattern, Subscriber, WebSocketMessaging};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::RpcResult;
use wasmcloud_interface_messaging::{MessageSubscriber, Messaging, RequestMessage, SubMessage};

use crate::support::{until, WAIT};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Stands in for the actor: records every message, and answers those with a reply subject
/// with `{"echo": <body>}` through the provider, as ws-channel acks.
struct Recorder {
    seen: mpsc::UnboundedSender<SubMessage>,
    provider: OnceLock<WebSocketMessaging>,
}

#[async_trait::async_trait]
impl MessageSubscriber for Recorder {
    async fn handle_message(&self, ctx: &Context, msg: &SubMessage) -> RpcResult<()> {
        let _ = self.seen.send(msg.clone());
        if let (Some(reply_to), Some(provider)) = (&msg.reply_to, self.provider.get()) {
            let echo = json!({ "echo": String::from_utf8_lossy(&msg.body) });
            let reply = wasmcloud_interface_messaging::PubMessage {
                subject: reply_to.clone(),
                reply_to: None,
                body: echo.to_string().into_bytes(),
            };
            provider.publish(ctx, &reply).await?;
        }
        Ok(())
    }
}

struct Provider {
    provider: WebSocketMessaging,
    seen: mpsc::UnboundedReceiver<SubMessage>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Provider {
    async fn start(config: Config) -> Provider {
        let (seen, seen_rx) = mpsc::unbounded_channel();
        let recorder = Arc::new(Recorder {
            seen,
            provider: OnceLock::new(),
        });
        let (shutdown, tracker) = (CancellationToken::new(), TaskTracker::new());
        let provider = WebSocketMessaging::start(
            config,
            Subscriber(recorder.clone()),
            None,
            shutdown.clone(),
            &tracker,
        )
        .await
        .expect("the provider starts");
        let _ = recorder.provider.set(provider.clone());
        Provider {
            provider,
            seen: seen_rx,
            shutdown,
            tracker,
        }
    }

    async fn server(token: Option<&str>, limits: Limits) -> Provider {
        Provider::start(Config {
            mode: Mode::Server("127.0.0.1:0".parse().unwrap()),
            auth_token: token.map(String::from),
            connect_timeout: Duration::from_secs(5),
            headers: Vec::new(),
            default_subscriptions: vec![Pattern::all()],
            limits,
        })
        .await
    }

    fn server_url(&self) -> String {
        match &self.provider {
            WebSocketMessaging::Server(server) => format!("ws://{}/ws", server.address()),
            WebSocketMessaging::Client(_) => panic!("not a server"),
        }
    }

    fn session_count(&self) -> usize {
        match &self.provider {
            WebSocketMessaging::Server(server) => server.session_count(),
            WebSocketMessaging::Client(_) => panic!("not a server"),
        }
    }

    async fn publish(&self, subject: &str, body: &str) {
        let msg = wasmcloud_interface_messaging::PubMessage {
            subject: subject.into(),
            reply_to: None,
            body: body.as_bytes().to_vec(),
        };
        self.provider
            .publish(&Context::default(), &msg)
            .await
            .unwrap();
    }

    async fn next_seen(&mut self) -> SubMessage {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .expect("the subscriber got a message in time")
            .unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.tracker.close();
        tokio::time::timeout(WAIT, self.tracker.wait())
            .await
            .expect("every session and task ends on shutdown");
    }
}

async fn connect(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn send(socket: &mut Socket, frame: Value) {
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// The next text frame, as JSON (pings and pongs skipped).
async fn next_frame(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("the session is open")
            .expect("a readable frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test]
async fn frames_reach_the_actor_and_a_reply_reaches_only_its_session() {
    let mut provider = Provider::server(None, Limits::default()).await;
    let url = provider.server_url();
    let (mut alice, mut bob) = (connect(&url).await, connect(&url).await);
    until("both sessions are registered", || {
        provider.session_count() == 2
    })
    .await;

    send(
        &mut alice,
        json!({"subject": "chat.in", "body": {"user_name": "alice", "body": "hi"}, "reply_to": "ack.1"}),
    )
    .await;
    let seen = provider.next_seen().await;
    assert_eq!(seen.subject, "chat.in");
    let body: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(body, json!({"user_name": "alice", "body": "hi"}));
    assert!(seen.reply_to.is_some());

    // The reply comes back to alice under her own reply subject...
    let reply = next_frame(&mut alice).await;
    assert_eq!(reply["subject"], "ack.1");
    assert_eq!(
        serde_json::from_str::<Value>(reply["body"]["echo"].as_str().unwrap()).unwrap(),
        json!({"user_name": "alice", "body": "hi"})
    );
    // ...while bob's first frame is the broadcast that follows it, not the reply.
    provider
        .publish("rtchat.messages", r#"{"body":"to all"}"#)
        .await;
    for socket in [&mut alice, &mut bob] {
        assert_eq!(
            next_frame(socket).await,
            json!({"subject": "rtchat.messages", "body": {"body": "to all"}})
        );
    }
    // A string body reaches the actor as its bytes; a non-JSON payload goes out as a string.
    send(&mut bob, json!({"subject": "notes", "body": "plain words"})).await;
    let seen = provider.next_seen().await;
    assert_eq!(
        (seen.body.as_slice(), seen.reply_to),
        (&b"plain words"[..], None)
    );
    provider.publish("notes", "not json").await;
    assert_eq!(
        next_frame(&mut bob).await,
        json!({"subject": "notes", "body": "not json"})
    );

    drop(alice);
    until("the closed session is gone", || {
        provider.session_count() == 1
    })
    .await;
    provider.stop().await;
}

#[tokio::test]
async fn the_token_is_required_by_header_or_query_when_configured() {
    let provider = Provider::server(Some("s3cret"), Limits::default()).await;
    let url = provider.server_url();
    for refused in [url.clone(), format!("{url}?token=wrong")] {
        match tokio_tungstenite::connect_async(&refused).await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), 401, "{refused}");
                let body: Value =
                    serde_json::from_slice(response.body().as_ref().unwrap()).unwrap();
                assert!(body["reason"].as_str().unwrap().contains("token"), "{body}");
            }
            other => panic!("{refused}: expected 401, got {:?}", other.map(|_| ())),
        }
    }
    let mut by_header = url.as_str().into_client_request().unwrap();
    by_header
        .headers_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    let (mut by_header, _) = tokio_tungstenite::connect_async(by_header).await.unwrap();
    let mut by_query = connect(&format!("{url}?token=s3cret")).await;
    until("both sessions are registered", || {
        provider.session_count() == 2
    })
    .await;
    provider.publish("rtchat.messages", "\"hello\"").await;
    assert_eq!(next_frame(&mut by_header).await["body"], "hello");
    assert_eq!(next_frame(&mut by_query).await["body"], "hello");

    let wrong_path = url.replace("/ws", "/elsewhere");
    match tokio_tungstenite::connect_async(&wrong_path).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 404),
        other => panic!("expected 404, got {:?}", other.map(|_| ())),
    }
    provider.stop().await;
}

#[tokio::test]
async fn a_slow_consumer_is_disconnected_while_a_fast_one_keeps_receiving() {
    let limits = Limits {
        queue_frames: 16,
        ..Limits::default()
    };
    let provider = Provider::server(None, limits).await;
    let url = provider.server_url();
    let mut slow = connect(&url).await; // never reads until the end
    let mut fast = connect(&url).await;
    until("both sessions are registered", || {
        provider.session_count() == 2
    })
    .await;

    // 2,000 frames of 8 KiB: far more than the socket buffers hold for a reader that stops.
    let filler = "x".repeat(8 * 1024);
    const FRAMES: usize = 2_000;
    for n in 0..FRAMES {
        provider
            .publish(
                "rtchat.messages",
                &json!({"n": n, "filler": filler}).to_string(),
            )
            .await;
        assert_eq!(
            next_frame(&mut fast).await["body"]["n"],
            n,
            "the fast session missed a frame"
        );
    }
    until("the slow session is dropped", || {
        provider.session_count() == 1
    })
    .await;

    // The slow client finds its stream ended early, with a close reason if one got through.
    let mut received = 0;
    let mut close_reason = None;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(WAIT, slow.next()).await {
        match message {
            Message::Text(_) => received += 1,
            Message::Close(Some(close)) => close_reason = Some(close.reason.to_string()),
            _ => {}
        }
    }
    assert!(
        received < FRAMES,
        "the slow session got all {received} frames"
    );
    if let Some(reason) = close_reason {
        assert!(reason.contains("too slow"), "{reason}");
    }
    provider.publish("rtchat.messages", "\"still here\"").await;
    assert_eq!(next_frame(&mut fast).await["body"], "still here");
    provider.stop().await;
}

#[tokio::test]
async fn malformed_oversized_and_binary_frames_get_an_error_frame_and_the_session_stays() {
    let limits = Limits {
        max_frame_bytes: 1024,
        ..Limits::default()
    };
    let mut provider = Provider::server(None, limits).await;
    let mut socket = connect(&provider.server_url()).await;
    let big = json!({"subject": "chat.in", "body": "y".repeat(2000)}).to_string();
    for (frame, expected) in [
        (Message::Text("not json".into()), "must be a JSON object"),
        (
            Message::Text(r#"{"subject":"chat.in"}"#.into()),
            "needs a \"body\"",
        ),
        (
            Message::Text(r#"{"subject":"a b","body":1}"#.into()),
            "subject must be",
        ),
        (Message::Text(big.into()), "at most 1024 bytes"),
        (Message::Binary(vec![1, 2, 3].into()), "only text frames"),
    ] {
        socket.send(frame).await.unwrap();
        let error = next_frame(&mut socket).await;
        assert_eq!(error["subject"], "error");
        let reason = error["body"]["reason"].as_str().unwrap();
        assert!(reason.contains(expected), "{reason}");
    }
    send(
        &mut socket,
        json!({"subject": "chat.in", "body": "after all that"}),
    )
    .await;
    assert_eq!(provider.next_seen().await.body, b"after all that");

    // Past the hard limit (1 MiB here) the session is closed rather than read.
    let huge = "z".repeat(2 << 20);
    let _ = socket.send(Message::Text(huge.into())).await;
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "a frame past the hard limit ends the session"
    );
    provider.stop().await;
}

#[tokio::test]
async fn a_session_over_its_rate_is_told_and_not_delivered() {
    let limits = Limits {
        rate_per_sec: 1,
        rate_burst: 3,
        ..Limits::default()
    };
    let mut provider = Provider::server(None, limits).await;
    let mut socket = connect(&provider.server_url()).await;
    for n in 0..5 {
        send(&mut socket, json!({"subject": "chat.in", "body": n})).await;
    }
    for _ in 0..2 {
        let error = next_frame(&mut socket).await;
        assert!(
            error["body"]["reason"]
                .as_str()
                .unwrap()
                .contains("too many frames"),
            "{error}"
        );
    }
    for n in 0..3 {
        assert_eq!(provider.next_seen().await.body, n.to_string().as_bytes());
    }
    assert!(
        provider.seen.try_recv().is_err(),
        "a rate-limited frame was delivered"
    );
    provider.stop().await;
}

#[tokio::test]
async fn request_waits_for_the_first_sessions_reply() {
    let provider = Provider::server(None, Limits::default()).await;
    let mut socket = connect(&provider.server_url()).await;
    until("the session is registered", || {
        provider.session_count() == 1
    })
    .await;
    let asking = {
        let provider = provider.provider.clone();
        tokio::spawn(async move {
            let request = RequestMessage {
                subject: "who.is.there".into(),
                body: b"\"anyone?\"".to_vec(),
                timeout_ms: 5_000,
            };
            provider.request(&Context::default(), &request).await
        })
    };
    let question = next_frame(&mut socket).await;
    assert_eq!(question["subject"], "who.is.there");
    assert_eq!(question["body"], "anyone?");
    let inbox = question["reply_to"].as_str().unwrap().to_string();
    send(&mut socket, json!({"subject": inbox, "body": "me"})).await;
    let reply = asking.await.unwrap().unwrap();
    assert_eq!(reply.body, b"me");
    provider.stop().await;
}

#[tokio::test]
async fn client_mode_dials_with_its_headers_and_redials_after_a_drop() {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("ws://{}/feed", listener.local_addr().unwrap());
    let mut provider = Provider::start(Config {
        mode: Mode::Client(uri),
        auth_token: Some("t0ken".into()),
        connect_timeout: Duration::from_secs(5),
        headers: vec![("X-Client-ID".into(), "mcchat-test".into())],
        default_subscriptions: vec![Pattern::all()],
        limits: Limits::default(),
    })
    .await;

    for round in 0..2 {
        let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
            .await
            .unwrap()
            .unwrap();
        let headers = Arc::new(std::sync::Mutex::new(None));
        let seen_headers = headers.clone();
        #[allow(clippy::result_large_err)] // tungstenite's callback type
        let mut remote = tokio_tungstenite::accept_hdr_async(
            tcp,
            move |request: &Request, response: Response| {
                *seen_headers.lock().unwrap() = Some(request.headers().clone());
                Ok(response)
            },
        )
        .await
        .unwrap();
        let headers = headers.lock().unwrap().take().unwrap();
        assert_eq!(headers["authorization"], "Bearer t0ken");
        assert_eq!(headers["x-client-id"], "mcchat-test");

        // The server's frame reaches the actor, and the actor's reply reaches the server.
        let frame = json!({"subject": "chat.in", "body": {"round": round}, "reply_to": "back"});
        remote
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
        let seen = provider.next_seen().await;
        assert_eq!(seen.reply_to.as_deref(), Some("back"));
        let reply = loop {
            match remote.next().await.unwrap().unwrap() {
                Message::Text(text) => break serde_json::from_str::<Value>(&text).unwrap(),
                _ => continue,
            }
        };
        assert_eq!(reply["subject"], "back");
        // The remote end drops the connection; the client dials again.
        drop(remote);
    }
    provider.stop().await;
}
