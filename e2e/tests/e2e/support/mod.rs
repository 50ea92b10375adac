//! Test harness: real `nats-server` and `redis-server` processes on free ports (one pair per
//! test, so tests never collide), and hosts running the signed actors from `wadm.yaml`.
//! `cargo xtask test` builds the actors and installs the servers' Debian packages first.

#![allow(dead_code)]

pub mod browser;
pub mod mqtt;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use mcchat_host::{HostConfig, RunningHost};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `mcchat` binary of this build, `target/<profile>/mcchat` beside this test's `deps`
/// folder, for the tests that run it as a user does. `cargo xtask test` builds it with the
/// tests; `cargo test -p mcchat-e2e` alone does not (it is another package's), so one older
/// than the host's sources is refused rather than tested.
pub fn mcchat_binary() -> PathBuf {
    let test = std::env::current_exe().unwrap();
    let profile_dir = test.parent().and_then(Path::parent).unwrap();
    let binary = profile_dir.join("mcchat");
    let built = std::fs::metadata(&binary).and_then(|m| m.modified());
    let root = workspace_root();
    let sources = ["host/src", "providers"].map(|dir| root.join(dir));
    let newest_source = sources.iter().filter_map(|dir| newest_file(dir)).max();
    match built {
        Ok(built) if newest_source.is_none_or(|source| source <= built) => binary,
        _ => panic!(
            "{} is missing or older than the host's sources: build it first \
             (`cargo build --release -p mcchat-host --bin mcchat`; `cargo xtask test` does)",
            binary.display()
        ),
    }
}

/// When the newest file under `dir` was written.
fn newest_file(dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| match entry.file_type().ok()?.is_dir() {
            true => newest_file(&entry.path()),
            false => entry.metadata().ok()?.modified().ok(),
        })
        .max()
}

/// The manifest the tests run: `wadm.yaml`, or the one `MCCHAT_TEST_MANIFEST` names
/// (`cargo xtask test` runs the chat's tests again on `build/wadm.components.yaml`, every actor
/// a component).
pub fn manifest() -> PathBuf {
    std::env::var_os(MANIFEST_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("wadm.yaml"))
}

pub const MANIFEST_VAR: &str = "MCCHAT_TEST_MANIFEST";

/// A copy of wadm.yaml changed by `edit`, written into `dir`; its `file://./` images are made
/// absolute, so the copy runs from there.
pub fn manifest_copy(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = edit(std::fs::read_to_string(manifest()).unwrap()).replace(
        "file://./",
        &format!("file://{}/", workspace_root().display()),
    );
    let path = dir.join("wadm.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A copy of wadm.yaml whose chatlog image is `chatlog_image`, written into `dir`.
pub fn manifest_with_chatlog(dir: &Path, chatlog_image: &Path) -> PathBuf {
    manifest_copy(dir, |text| {
        text.replace(
            "file://./build/chatlog_s.wasm",
            &format!("file://{}", chatlog_image.display()),
        )
    })
}

/// Why a host running `manifest` would not start (it must not).
pub async fn start_error(nats: &Server, manifest: PathBuf, data: &Path) -> String {
    let mut config = config(nats, None, data);
    config.manifest = manifest;
    match mcchat_host::start(config).await {
        Ok(_) => panic!("the host started"),
        Err(e) => format!("{e:#}"),
    }
}

/// A port for a test server. Ports come from below the kernel's ephemeral range (where port-0
/// listeners and outgoing connections get theirs), one after another within this process, so
/// no other socket can take one between choosing it and the server binding it.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 20_000 + (std::process::id() % 500) as u16 * 20;
    let _ = NEXT.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_768, "ran out of test ports");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn find_program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed (`cargo xtask test` installs it)"))
}

pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server process that is killed when the test ends.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn nats() -> Server {
        Server::nats_on(free_port())
    }

    /// A NATS server on a given port (to restart one where clients expect it).
    pub fn nats_on(port: u16) -> Server {
        let child = Command::new(find_program("nats-server"))
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server");
        wait_for_port(port, "nats-server");
        Server { child, port }
    }

    pub fn redis() -> Server {
        Server::redis_on(free_port())
    }

    /// A Redis server on a given port (to restart one where clients expect it).
    pub fn redis_on(port: u16) -> Server {
        Server::redis_with(port, &[])
    }

    /// A Redis server that wants `password` (`redis://:PASSWORD@…`).
    pub fn redis_with_password(password: &str) -> Server {
        Server::redis_with(free_port(), &["--requirepass", password])
    }

    fn redis_with(port: u16, more: &[&str]) -> Server {
        let child = Command::new(find_program("redis-server"))
            .args(more)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        wait_for_port(port, "redis-server");
        Server { child, port }
    }

    pub fn mosquitto() -> Server {
        Server::mosquitto_on(free_port())
    }

    /// A mosquitto broker (MQTT 3.1.1 and 5, shared subscriptions) on a given port, on
    /// loopback, taking anonymous clients.
    pub fn mosquitto_on(port: u16) -> Server {
        Server::mosquitto_with(port, "")
    }

    /// A mosquitto on `port` with more configuration lines (a TLS listener's files).
    pub fn mosquitto_with(port: u16, more: &str) -> Server {
        let child = Command::new(find_program("mosquitto"))
            .arg("-c")
            .arg(mosquitto_config(port, more))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mosquitto");
        wait_for_port(port, "mosquitto");
        Server { child, port }
    }

    pub fn restart_mosquitto(&mut self) {
        let port = self.port;
        self.kill();
        let fresh = Server::mosquitto_on(port);
        *self = fresh;
    }

    pub fn mqtt_url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// An OCI registry (Debian's `docker-registry`, the CNCF distribution registry) over plain
    /// HTTP, keeping its blobs under `storage`.
    pub fn registry(storage: &Path) -> Server {
        let port = free_port();
        let config = storage.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(find_program("docker-registry"))
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        wait_for_port(port, "docker-registry");
        Server { child, port }
    }

    /// `127.0.0.1:PORT`, as an image reference names a registry.
    pub fn registry_address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server (a fault injected by the test); `restart` brings it back on its port.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers, as with a
    /// server that hangs. `resume` thaws it.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -{name} failed");
    }

    pub fn restart_nats(&mut self) {
        let port = self.port;
        self.kill();
        let fresh = Server::nats_on(port);
        *self = fresh;
    }

    pub fn restart_redis(&mut self) {
        let port = self.port;
        self.kill();
        let fresh = Server::redis_on(port);
        *self = fresh;
    }

    pub fn nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A connection to this Redis, to read or write what the chat stores.
    pub async fn redis_connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

/// A mosquitto configuration: loopback on `port`, anonymous clients, and no Nagle delay on its
/// sends (`set_tcp_nodelay`; by default an ack waits for the client's delayed TCP ACK, about
/// 40 ms).
pub fn mosquitto_config(port: u16, more: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("mcchat-test-mosquitto-{port}.conf"));
    std::fs::write(
        &path,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n{more}"),
    )
    .expect("writing a mosquitto configuration");
    path
}

/// The MQTT broker of the tests that publish nothing on MQTT, one for the whole test process:
/// their hosts' MQTT links connect to it, and only publish to it. A shell holds the broker and
/// stops it when this process exits, however it exits (the shell's stdin closes).
pub fn shared_mosquitto_url() -> String {
    static SHARED: std::sync::OnceLock<(Child, u16)> = std::sync::OnceLock::new();
    let (_, port) = SHARED.get_or_init(|| {
        let port = free_port();
        let child = Command::new("sh")
            .args(["-c", "\"$0\" -c \"$1\" & read _; kill $!"])
            .arg(find_program("mosquitto"))
            .arg(mosquitto_config(port, ""))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the shared mosquitto");
        wait_for_port(port, "the shared mosquitto");
        (child, port)
    });
    format!("mqtt://127.0.0.1:{port}")
}

/// Host settings for a test: HTTP on a free port, this test's NATS, Redis or the embedded
/// store, and the shared MQTT broker.
pub fn config(nats: &Server, redis: Option<&Server>, data_dir: &Path) -> HostConfig {
    let mut config = HostConfig::new(manifest());
    config.http_addr = Some("127.0.0.1:0".parse().unwrap());
    config.ws_addr = Some("127.0.0.1:0".parse().unwrap());
    config.nats_url = Some(nats.nats_url());
    config.mqtt_url = Some(shared_mosquitto_url());
    config.redis_url = redis.map(Server::redis_url);
    config.embedded_kv = redis.is_none();
    config.data_dir = data_dir.to_path_buf();
    config.compile_cache = Some(shared_compile_cache());
    // Every host of the process signs with one cluster key, so the hosts of a test believe each
    // other's relayed frames, as the hosts of one chat do.
    config.cluster_seed = Some(test_cluster_seed().to_string());
    config
}

/// The cluster seed the tests' hosts share.
pub fn test_cluster_seed() -> &'static str {
    static SEED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SEED.get_or_init(|| nkeys::KeyPair::new_cluster().seed().unwrap())
}

/// One compile cache for every host the tests start, so each actor is compiled once per run
/// rather than once per host. The tests of the cache itself give their hosts their own.
pub fn shared_compile_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiled-actors")
}

/// One test's chat: its own NATS server, Redis or the embedded store, and a host.
pub struct TestChat {
    pub nats: Server,
    pub redis: Option<Server>,
    pub data: tempfile::TempDir,
    pub host: RunningHost,
    /// `http://127.0.0.1:PORT` of the host.
    pub base: String,
}

impl TestChat {
    pub async fn start(with_redis: bool) -> TestChat {
        let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
        let redis = with_redis.then(Server::redis);
        let (host, base) = start(config(&nats, redis.as_ref(), data.path())).await;
        TestChat {
            nats,
            redis,
            data,
            host,
            base,
        }
    }

    pub async fn stop(self) {
        self.host.shutdown().await;
    }
}

/// `ws://127.0.0.1:PORT/ws` of a host's WebSocket server.
pub fn ws_url(host: &RunningHost) -> String {
    let address = host.ws_addrs()[0];
    format!("ws://{address}/ws")
}

/// How long a test waits for a condition before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Waits until `condition` holds, checking every 10 ms; fails the test, naming `what`, after
/// `WAIT`.
pub async fn until(what: &str, condition: impl Fn() -> bool) {
    until_async(what, || std::future::ready(condition())).await
}

/// `until` for a condition that has to ask over the network.
pub async fn until_async<F: std::future::Future<Output = bool>>(
    what: &str,
    condition: impl Fn() -> F,
) {
    until_async_within(what, WAIT, condition).await
}

/// `until_async`, for a condition that may take longer than `WAIT`.
pub async fn until_async_within<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    condition: impl Fn() -> F,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The host's warnings and errors go to the test's captured output, shown when it fails.
fn log_to_test_output() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .try_init();
}

/// Waits until the `mcchat` process at `base` serves its history (a process's first start
/// compiles the actors).
pub async fn until_serving(base: &str, within: Duration) {
    until_async_within("mcchat serves its history", within, || async {
        reqwest::get(format!("{base}/messages"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

pub async fn start(config: HostConfig) -> (RunningHost, String) {
    log_to_test_output();
    let host = mcchat_host::start(config).await.expect("host starts");
    let base = base_url(host.http_addrs()[0]);
    (host, base)
}

pub fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

pub async fn post(base: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/messages"))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Posts a message that must be stored, failing with the answer's reason if it was not.
pub async fn post_stored(base: &str, body: &str) {
    let response = post(base, body).await;
    let status = response.status();
    let answer = response.text().await.unwrap();
    assert_eq!(status, 201, "{answer}");
}

/// A POST to a room's messages, with an `Idempotency-Key` if given: the status and the answer.
pub async fn post_in(
    base: &str,
    room: &str,
    body: serde_json::Value,
    key: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/rooms/{room}/messages"))
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The newest page of a room's history (50 messages), oldest first.
pub async fn newest_in(base: &str, room: &str) -> Vec<serde_json::Value> {
    let page: serde_json::Value = reqwest::get(format!("{base}/rooms/{room}/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page.as_array().unwrap().clone()
}

/// Every message in the history, oldest first, following `Link: rel="next"` to the end.
pub async fn all_messages(base: &str, limit: u32) -> Vec<serde_json::Value> {
    let client = reqwest::Client::new();
    let mut url = format!("{base}/messages?limit={limit}");
    let mut pages = Vec::new();
    loop {
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let next = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_string());
        let page: Vec<serde_json::Value> = response.json().await.unwrap();
        pages.push(page);
        match next {
            Some(link) => {
                let target = link.trim_start_matches('<').split('>').next().unwrap();
                url = format!("{base}{target}");
            }
            None => break,
        }
    }
    pages.into_iter().rev().flatten().collect()
}

/// UTC milliseconds since the epoch: the chat's clock is this machine's.
pub fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    since_epoch.as_millis() as u64
}

/// A stored message or a live copy without its `ts`, once `ts` is checked to be a time between
/// `since` and now.
pub fn untimed(mut message: serde_json::Value, since: u64) -> serde_json::Value {
    let now = now_ms();
    let ts = message
        .as_object_mut()
        .and_then(|fields| fields.remove("ts"))
        .unwrap_or_else(|| panic!("no ts on {message}"));
    let ts = ts
        .as_u64()
        .unwrap_or_else(|| panic!("ts {ts} is not a time"));
    assert!(
        (since..=now).contains(&ts),
        "ts {ts} is not between {since} and {now}"
    );
    message
}

pub async fn nats_client(nats: &Server) -> async_nats::Client {
    async_nats::connect(nats.nats_url()).await.unwrap()
}

/// Waits until the NATS server has `client`'s subscriptions (a flush only sends them).
pub async fn subscribed(client: &async_nats::Client) {
    assert!(
        mcchat_provider_kit::net::server_caught_up(client).await,
        "the NATS server did not confirm the subscriptions"
    );
}

/// Sends a chat.in request and returns the parsed acknowledgement.
pub async fn chat_in(client: &async_nats::Client, body: &str) -> serde_json::Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        client.request("chat.in", body.to_string().into()),
    )
    .await
    .expect("an answer on the reply subject")
    .unwrap();
    serde_json::from_slice(&reply.payload).unwrap()
}

/// The next message a NATS subscriber to `rtchat.messages` gets, as JSON.
pub async fn next_fanout(subscription: &mut async_nats::Subscriber) -> serde_json::Value {
    use futures::StreamExt;
    let message = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("a message on rtchat.messages")
        .unwrap();
    serde_json::from_slice(&message.payload).unwrap()
}

/// `sessions` WebSocket sessions to `url`, each reading the next `messages` broadcasts in a task
/// of its own (see `WsSession::collect_broadcasts`).
pub async fn broadcast_readers(
    url: &str,
    sessions: usize,
    messages: usize,
) -> Vec<tokio::task::JoinHandle<Vec<(serde_json::Value, Instant)>>> {
    let mut connected = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        connected.push(WsSession::connect(url).await);
    }
    connected
        .into_iter()
        .map(|session| session.collect_broadcasts(messages))
        .collect()
}

/// The `p` quantile (0 to 1) of latencies sorted in ascending order, for the benchmarks.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Waits (without blocking the runtime) for the process to exit; `None` if it did not within
/// `within`.
pub async fn exited(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A WebSocket session with a host, as a browser's would be.
pub struct WsSession(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl WsSession {
    pub async fn connect(url: &str) -> WsSession {
        WsSession(
            tokio_tungstenite::connect_async(url)
                .await
                .expect("WebSocket upgrade")
                .0,
        )
    }

    pub async fn send(&mut self, frame: serde_json::Value) {
        use futures::SinkExt;
        self.0
            .send(tokio_tungstenite::tungstenite::Message::Text(
                frame.to_string().into(),
            ))
            .await
            .expect("sending a frame");
    }

    /// Sends `{"user_name","body"}` on chat.in and returns the ack.
    pub async fn chat(&mut self, user_name: &str, body: &str) -> serde_json::Value {
        let reply_to = format!("ack.{}", uuid::Uuid::new_v4().simple());
        self.send(serde_json::json!({
            "subject": "chat.in",
            "body": {"user_name": user_name, "body": body},
            "reply_to": reply_to,
        }))
        .await;
        self.next_on(&reply_to).await["body"].take()
    }

    /// The next text frame (pings skipped).
    pub async fn next_frame(&mut self) -> serde_json::Value {
        use futures::StreamExt;
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("a frame within 10 s")
                .expect("the session is open")
                .expect("a readable frame");
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                return serde_json::from_str(&text).expect("frames are JSON");
            }
        }
    }

    /// Reads the next `count` messages on `rtchat.messages` in a task of its own: each body with
    /// the moment it was read.
    pub fn collect_broadcasts(
        self,
        count: usize,
    ) -> tokio::task::JoinHandle<Vec<(serde_json::Value, Instant)>> {
        self.collect_on("rtchat.messages", count)
    }

    /// As `collect_broadcasts`, on `subject`.
    pub fn collect_on(
        mut self,
        subject: &str,
        count: usize,
    ) -> tokio::task::JoinHandle<Vec<(serde_json::Value, Instant)>> {
        let subject = subject.to_string();
        tokio::spawn(async move {
            let mut received = Vec::with_capacity(count);
            while received.len() < count {
                let frame = self.next_on(&subject).await;
                received.push((frame["body"].clone(), Instant::now()));
            }
            received
        })
    }

    /// Reads until the server closes the session; returns the close frame's reason.
    pub async fn closed_with(&mut self) -> String {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let message = tokio::time::timeout(WAIT, self.0.next())
                .await
                .expect("the session closes within 10 s");
            match message {
                Some(Ok(Message::Close(Some(close)))) => return close.reason.to_string(),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return String::new(),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends `_subscribe` or `_unsubscribe` for `pattern`; returns the answer's body.
    pub async fn change(&mut self, control: &str, pattern: &str) -> serde_json::Value {
        let reply_to = format!("sub.{}", uuid::Uuid::new_v4().simple());
        self.send(serde_json::json!({"subject": control, "body": pattern, "reply_to": reply_to}))
            .await;
        self.next_on(&reply_to).await["body"].take()
    }

    /// Every frame read until the answer to a frame sent now. A server queues a session's frames
    /// in order, so these are all it had sent the session before.
    pub async fn frames_until_synced(&mut self) -> Vec<serde_json::Value> {
        let reply_to = format!("sync.{}", uuid::Uuid::new_v4().simple());
        let sync = serde_json::json!({"subject": "_unsubscribe", "body": "never.held", "reply_to": reply_to});
        self.send(sync).await;
        let mut frames = Vec::new();
        loop {
            let frame = self.next_frame().await;
            if frame["subject"] == reply_to {
                return frames;
            }
            frames.push(frame);
        }
    }

    /// The next frame on `subject`, skipping others.
    pub async fn next_on(&mut self, subject: &str) -> serde_json::Value {
        loop {
            let frame = self.next_frame().await;
            if frame["subject"] == subject {
                return frame;
            }
        }
    }
}

/// A wasmbus actor that traps on every call.
pub const ALWAYS_TRAPS: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "__guest_call") (param i32 i32) (result i32)
    unreachable))
"#;

/// Signs `wat` as the named actor, with the same keys `cargo xtask build` signs it with.
pub fn sign_as(package: &str, wat: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let spec = xtask::actors::ACTORS
        .iter()
        .find(|a| a.package == package)
        .unwrap();
    let unsigned = dir.join(format!("{package}.wasm"));
    std::fs::write(&unsigned, wat::parse_str(wat).unwrap()).unwrap();
    let signed = dir.join(format!("{package}_s.wasm"));
    xtask::sign::sign(spec, "0.1.1", &unsigned, &signed).unwrap();
    signed
}
