//! The throughput benchmark behind `cargo xtask bench`: mcchat against the native reference
//! (`bench/reference`), one after the other in one run, each with its own fresh nats-server and
//! redis-server. wrk drives `POST /messages` and `GET /messages?limit=100`; NATS requests on
//! `chat.in` come from async-nats clients here (no packaged load generator speaks NATS). Every
//! run checks that nothing was lost: acked = stored, and every HTTP write fanned out once.
//!
//! `cargo xtask bench [-- --seconds N --connections C --history N]`; `--smoke` is a few seconds
//! with a small history. Timing is reported, never asserted.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

struct Settings {
    connections: usize,
    seconds: u64,
    history: usize,
}

impl Settings {
    fn from_args() -> Settings {
        let mut settings = Settings {
            connections: 64,
            seconds: 15,
            history: 1_000_000,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || -> u64 {
                args.next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{arg} needs a number"))
            };
            match arg.as_str() {
                "--connections" => settings.connections = value() as usize,
                "--seconds" => settings.seconds = value(),
                "--history" => settings.history = value() as usize,
                "--smoke" => {
                    settings.seconds = 2;
                    settings.history = 10_000;
                }
                // cargo bench passes --bench.
                _ => {}
            }
        }
        settings
    }
}

#[derive(Clone, Copy, PartialEq)]
enum System {
    Native,
    Mcchat,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Native => "native reference",
            System::Mcchat => "mcchat",
        }
    }
}

#[derive(Default, Clone)]
struct Load {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    ok: u64,
    failed: u64,
}

struct Report {
    post: Load,
    nats: Load,
    get: Load,
    /// Messages stored from HTTP and from NATS, counted in the list by channel.
    stored_http: u64,
    stored_nats: u64,
    fanned_out: u64,
    rss_mb: f64,
}

impl Report {
    /// Nothing acked was lost and every stored HTTP message was fanned out once. wrk does not
    /// count the requests still in flight when it stops (at most one per connection): those
    /// are stored without being counted as acked. The NATS driver waits for every answer.
    fn lossless(&self, connections: usize) -> bool {
        let http_in_flight = self.stored_http.saturating_sub(self.post.ok);
        self.post.failed == 0
            && self.nats.failed == 0
            && self.stored_http >= self.post.ok
            && http_in_flight <= connections as u64
            && self.stored_nats == self.nats.ok
            && self.fanned_out == self.stored_http
    }
}

fn main() {
    let settings = Settings::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let native = runtime.block_on(run(System::Native, &settings, &root));
    let mcchat = runtime.block_on(run(System::Mcchat, &settings, &root));
    print_table(&settings, &native, &mcchat);
    // The guarantee under test is mcchat's. The reference publishes fire-and-forget, as a plain
    // server would, and its counts are shown for comparison.
    if !native.lossless(settings.connections) {
        println!("note: the native reference lost messages or real-time copies (see its counts)");
    }
    if !mcchat.lossless(settings.connections) {
        eprintln!("LOSS: mcchat's acked, stored and fanned-out counts differ, or requests failed");
        std::process::exit(1);
    }
    println!("mcchat lost nothing: every acked message stored, every stored HTTP message fanned out once");
}

async fn run(system: System, settings: &Settings, root: &Path) -> Report {
    let data = tempfile::tempdir().unwrap();
    let nats = Process::start_quiet(
        "nats-server",
        Command::new("nats-server").args(["-a", "127.0.0.1", "-p", &free_port().to_string()]),
    );
    let redis = Process::start_quiet(
        "redis-server",
        Command::new("redis-server").args([
            "--bind",
            "127.0.0.1",
            "--port",
            &free_port().to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ]),
    );
    let nats_url = format!("nats://127.0.0.1:{}", nats.port);
    let redis_url = format!("redis://127.0.0.1:{}", redis.port);
    let http_port = free_port();
    let http_addr = format!("127.0.0.1:{http_port}");
    let release = root.join("target/release");
    let mut command = match system {
        System::Native => {
            let mut c = Command::new(release.join("native-reference"));
            c.args([&http_addr, &redis_url, &nats_url]);
            c
        }
        System::Mcchat => {
            let mut c = Command::new(release.join("mcchat"));
            c.current_dir(root).args([
                "up",
                "--manifest",
                "wadm.yaml",
                "--http-addr",
                &http_addr,
                "--ws-addr",
                &format!("127.0.0.1:{}", free_port()),
                "--nats-url",
                &nats_url,
                "--redis-url",
                &redis_url,
                "--data-dir",
                data.path().to_str().unwrap(),
                "--dashboard-addr",
                "off",
            ]);
            c.env("RUST_LOG", "warn");
            c
        }
    };
    let server = Process::start_on(system.name(), &mut command, http_port);
    let base = format!("http://{http_addr}");

    // Room for every fanned-out message of a run, so a busy counter never drops one as a slow
    // consumer and reports a loss that was the instrument's.
    let client = async_nats::ConnectOptions::new()
        .subscription_capacity(1 << 22)
        .connect(&nats_url)
        .await
        .unwrap();
    let fanned_out = Arc::new(AtomicU64::new(0));
    let mut fanout = client.subscribe("rtchat.messages").await.unwrap();
    client.flush().await.unwrap();
    let counter = fanned_out.clone();
    tokio::spawn(async move {
        while fanout.next().await.is_some() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });

    let post = wrk(
        root,
        &base,
        "post.lua",
        settings.connections,
        settings.seconds,
    );
    let nats_load = nats_requests(&nats_url, settings.connections, settings.seconds).await;
    let rss_mb = rss_mb(server.child.id());

    let mut kv = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (stored_http, stored_nats) = settled_counts(&mut kv, &fanned_out).await;
    prefill(&mut kv, settings.history).await;
    let get = wrk(
        root,
        &base,
        "get.lua",
        settings.connections,
        settings.seconds.div_ceil(2),
    );
    drop((server, redis, nats));
    Report {
        post,
        nats: nats_load,
        get,
        stored_http,
        stored_nats,
        fanned_out: fanned_out.load(Ordering::Relaxed),
        rss_mb,
    }
}

/// What was stored from HTTP and from NATS, once every stored HTTP message has been fanned out
/// (or ten seconds have passed, and the counts tell what went missing).
async fn settled_counts(
    kv: &mut redis::aio::MultiplexedConnection,
    fanned_out: &AtomicU64,
) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stored: Vec<String> = redis::cmd("LRANGE")
            .arg("chatlog:messages")
            .arg(0)
            .arg(-1)
            .query_async(kv)
            .await
            .unwrap();
        let from_http = stored
            .iter()
            .filter(|m| {
                serde_json::from_str::<serde_json::Value>(m)
                    .is_ok_and(|m| m["channelName"] == "http")
            })
            .count() as u64;
        if fanned_out.load(Ordering::Relaxed) >= from_http || Instant::now() > deadline {
            return (from_http, stored.len() as u64 - from_http);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Fills the history up to `history` messages, in the stored form, a thousand per RPUSH.
async fn prefill(kv: &mut redis::aio::MultiplexedConnection, history: usize) {
    let have: usize = redis::cmd("LLEN")
        .arg("chatlog:messages")
        .query_async(kv)
        .await
        .unwrap();
    let message = serde_json::json!({"body": "x".repeat(40), "channelName": "http",
        "id": "00000000-0000-0000-0000-000000000000", "sourceUser": "prefill"})
    .to_string();
    let mut left = history.saturating_sub(have);
    while left > 0 {
        let batch = left.min(1000);
        let mut rpush = redis::cmd("RPUSH");
        rpush.arg("chatlog:messages");
        for _ in 0..batch {
            rpush.arg(&message);
        }
        let _: usize = rpush.query_async(kv).await.unwrap();
        left -= batch;
    }
}

/// `connections` clients each sending `chat.in` requests back to back for `seconds`.
async fn nats_requests(nats_url: &str, connections: usize, seconds: u64) -> Load {
    let client = async_nats::connect(nats_url).await.unwrap();
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let client = client.clone();
            tokio::spawn(async move {
                let (mut latencies, mut failed, mut n) = (Vec::new(), 0u64, 0u64);
                while Instant::now() < until {
                    n += 1;
                    let body = format!(
                        r#"{{"user_name":"nats{worker}","body":"request {n} from worker {worker}"}}"#
                    );
                    let sent = Instant::now();
                    let reply = tokio::time::timeout(
                        Duration::from_secs(10),
                        client.request("chat.in", body.into()),
                    )
                    .await;
                    let accepted = matches!(&reply, Ok(Ok(message))
                        if serde_json::from_slice::<serde_json::Value>(&message.payload)
                            .is_ok_and(|ack| ack["accepted"] == true));
                    if accepted {
                        latencies.push(sent.elapsed());
                    } else {
                        failed += 1;
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for worker in workers {
        let (l, f) = worker.await.unwrap();
        latencies.extend(l);
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Load {
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        ok: latencies.len() as u64,
        failed,
    }
}

/// wrk with one of `bench/`'s scripts; its `BENCH` lines carry the counts and percentiles.
fn wrk(root: &Path, base: &str, script: &str, connections: usize, seconds: u64) -> Load {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(root.join("bench").join(script))
        .arg(format!("{base}/messages"))
        .output()
        .expect("running wrk (`cargo xtask bench` installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> f64 {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("wrk printed no {name}:\n{text}"))
    };
    let per_second = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    let (requests, non2xx, errors) = (field("requests"), field("non2xx"), field("errors"));
    Load {
        per_second,
        p50_ms: field("p50_us") / 1000.0,
        p99_ms: field("p99_us") / 1000.0,
        ok: (requests - non2xx - errors).max(0.0) as u64,
        failed: (non2xx + errors) as u64,
    }
}

fn print_table(settings: &Settings, native: &Report, mcchat: &Report) {
    println!(
        "\n{} connections, {} s per write path, GET newest 100 of {} stored",
        settings.connections, settings.seconds, settings.history
    );
    println!("| path | mcchat | native reference | throughput ratio | p99 ratio |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, m: &Load, n: &Load| {
        println!(
            "| {name} | {:.0}/s, p50 {:.1} ms, p99 {:.1} ms | {:.0}/s, p50 {:.1} ms, p99 {:.1} ms | {:.2} | {:.2} |",
            m.per_second,
            m.p50_ms,
            m.p99_ms,
            n.per_second,
            n.p50_ms,
            n.p99_ms,
            m.per_second / n.per_second.max(1.0),
            m.p99_ms / n.p99_ms.max(0.001)
        )
    };
    row("`POST /messages`", &mcchat.post, &native.post);
    row("NATS request `chat.in`", &mcchat.nats, &native.nats);
    row("`GET /messages?limit=100`", &mcchat.get, &native.get);
    for (name, r) in [("mcchat", mcchat), ("native reference", native)] {
        println!(
            "{name}: acked HTTP {} + NATS {}, stored HTTP {} + NATS {}, fanned out {}, failed {}, RSS after the writes {:.0} MB",
            r.post.ok,
            r.nats.ok,
            r.stored_http,
            r.stored_nats,
            r.fanned_out,
            r.post.failed + r.nats.failed + r.get.failed,
            r.rss_mb
        );
    }
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Process {
    child: Child,
    port: u16,
}

impl Process {
    /// A server whose port is the value after `-p` or `--port` in its arguments; its output
    /// is dropped.
    fn start_quiet(what: &str, command: &mut Command) -> Process {
        command.stderr(Stdio::null());
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let port = args
            .iter()
            .position(|a| a == "-p" || a == "--port")
            .and_then(|i| args[i + 1].parse().ok())
            .expect("a port argument");
        Process::start_on(what, command, port)
    }

    fn start_on(what: &str, command: &mut Command, port: u16) -> Process {
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{what} did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Process { child, port }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
