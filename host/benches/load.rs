//! The throughput benchmark behind `cargo xtask bench`: mcchat against the native reference
//! (`bench/reference`) in one run. Both run side by side, each with its own fresh nats-server and
//! redis-server and mosquitto, and every load is split into rounds that take turns (native first in even
//! rounds, mcchat first in odd ones), so a machine that slows down or speeds up during the run
//! weighs on both alike. wrk drives `POST /messages` and `GET /messages?limit=100`; NATS
//! requests on `chat.in` come from async-nats clients here (no packaged load generator speaks
//! NATS). Throughput is every round's requests over every round's time; percentiles come from
//! the rounds' latencies merged. Every run checks that nothing was lost: acked = stored, and
//! every HTTP write fanned out once.
//!
//! Then, on an mcchat of its own, signed-on users against guests (`signed_on`).
//!
//! `cargo xtask bench [-- --seconds N --rounds R --connections C --history N]`; `--smoke` is a
//! few seconds with a small history. `--components` compares mcchat with every actor a component
//! (`build/wadm.components.yaml`) against mcchat with modules, in place of the reference;
//! `--against M` compares mcchat with mcchat under the manifest M (a baseline build's actors).
//! Timing is reported, never asserted.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

#[path = "load/rooms.rs"]
mod rooms;
#[path = "load/signed_on.rs"]
mod signed_on;

struct Settings {
    connections: usize,
    /// Seconds of each write load per system, over all rounds (GET gets half).
    seconds: u64,
    rounds: u64,
    history: usize,
    /// Components against modules, rather than mcchat against the native reference.
    components: bool,
    /// mcchat under wadm.yaml against mcchat under this manifest (a baseline build).
    against: Option<PathBuf>,
}

impl Settings {
    fn from_args() -> Settings {
        let mut settings = Settings {
            connections: 64,
            seconds: 15,
            rounds: 3,
            history: 1_000_000,
            components: false,
            against: None,
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
                "--rounds" => settings.rounds = value().max(1),
                "--history" => settings.history = value() as usize,
                "--components" => settings.components = true,
                "--against" => {
                    let manifest = args.next().expect("--against needs a manifest");
                    settings.against = Some(PathBuf::from(manifest));
                }
                "--smoke" => {
                    settings.seconds = 2;
                    settings.rounds = 2;
                    settings.history = 10_000;
                }
                // cargo bench passes --bench.
                _ => {}
            }
        }
        settings
    }

    /// Seconds of one round of a load that gets `seconds` in all (at least one).
    fn round_seconds(&self, seconds: u64) -> u64 {
        seconds.div_ceil(self.rounds).max(1)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum System {
    Native,
    Mcchat,
    /// mcchat with every actor a component.
    McchatComponents,
    /// mcchat under the `--against` manifest.
    McchatBaseline,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Native => "native reference",
            System::Mcchat => "mcchat",
            System::McchatComponents => "mcchat, components",
            System::McchatBaseline => "mcchat, baseline",
        }
    }
}

/// One load against one system, over one round or merged over several.
#[derive(Default, Clone)]
struct Load {
    ok: u64,
    failed: u64,
    seconds: f64,
    /// Latency in microseconds -> how many requests took it.
    latency_us: BTreeMap<u64, u64>,
}

impl Load {
    fn merge(&mut self, round: Load) {
        self.ok += round.ok;
        self.failed += round.failed;
        self.seconds += round.seconds;
        for (us, count) in round.latency_us {
            *self.latency_us.entry(us).or_default() += count;
        }
    }

    /// One request answered as hoped, after `latency`.
    fn record(&mut self, latency: Duration) {
        self.ok += 1;
        *self
            .latency_us
            .entry(latency.as_micros() as u64)
            .or_default() += 1;
    }

    fn per_second(&self) -> f64 {
        self.ok as f64 / self.seconds.max(f64::EPSILON)
    }

    /// `N/s, p50 X ms, p99 Y ms`, as the extra tables print a load.
    fn summary(&self) -> String {
        format!(
            "{:.0}/s, p50 {:.1} ms, p99 {:.1} ms",
            self.per_second(),
            self.percentile_ms(50.0),
            self.percentile_ms(99.0)
        )
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let total: u64 = self.latency_us.values().sum();
        let rank = ((total as f64 * p / 100.0).ceil() as u64).max(1);
        let mut seen = 0;
        for (us, count) in &self.latency_us {
            seen += count;
            if seen >= rank {
                return *us as f64 / 1000.0;
            }
        }
        0.0
    }
}

/// A path's load on both systems (in `Running::start` order: native, mcchat), merged over
/// the rounds.
#[derive(Default)]
struct Compared {
    loads: [Load; 2],
    /// mcchat's throughput over the reference's, per round.
    round_ratios: Vec<f64>,
}

impl Compared {
    /// The throughput ratio of each round, as the tables print it.
    fn per_round(&self) -> String {
        let ratios: Vec<String> = self
            .round_ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect();
        ratios.join(" ")
    }

    /// Runs `rounds` rounds of `load` on both systems, taking turns.
    async fn run<F, Fut>(rounds: u64, systems: &[Running; 2], load: F) -> Compared
    where
        F: Fn(&Running) -> Fut,
        Fut: std::future::Future<Output = Load>,
    {
        Compared::alternate(rounds, |i| load(&systems[i])).await
    }

    /// Guests' `POST /messages` (`post.lua`, load 0) against wrk running `script` with `args`
    /// (load 1), on one system, in interleaved rounds.
    async fn posts_against(
        settings: &Settings,
        root: &Path,
        system: &Running,
        script: &str,
        args: &[String],
    ) -> Compared {
        let seconds = settings.round_seconds(settings.seconds);
        let loads = [("post.lua", &[][..]), (script, args)];
        Compared::scripts(settings, root, system, loads, seconds).await
    }

    /// wrk running `loads[0]` against `loads[1]` (each a script and its arguments), on one
    /// system, in interleaved rounds of `seconds`.
    async fn scripts(
        settings: &Settings,
        root: &Path,
        system: &Running,
        loads: [(&str, &[String]); 2],
        seconds: u64,
    ) -> Compared {
        Compared::alternate(settings.rounds, |i| {
            let (script, args) = loads[i];
            std::future::ready(wrk(
                root,
                &system.base,
                script,
                args,
                settings.connections,
                seconds,
            ))
        })
        .await
    }

    /// Runs `rounds` rounds of two loads, `load(0)` and `load(1)`, taking turns.
    async fn alternate<F, Fut>(rounds: u64, load: F) -> Compared
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Load>,
    {
        let mut compared = Compared::default();
        for round in 0..rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            let mut this_round: [Load; 2] = Default::default();
            for i in order {
                this_round[i] = load(i).await;
            }
            compared
                .round_ratios
                .push(this_round[1].per_second() / this_round[0].per_second().max(f64::EPSILON));
            for (merged, round) in compared.loads.iter_mut().zip(this_round) {
                merged.merge(round);
            }
        }
        compared
    }
}

/// What a system did, for the loss check.
struct Counts {
    /// HTTP and NATS writes acknowledged as stored.
    acked_http: u64,
    acked_nats: u64,
    failed: u64,
    /// Messages stored from HTTP and from NATS, counted in the list by channel.
    stored_http: u64,
    stored_nats: u64,
    fanned_out: u64,
    rss_mb: f64,
}

impl Counts {
    /// Nothing acked was lost and every stored HTTP message was fanned out once. wrk does not
    /// count the requests still in flight when it stops (at most one per connection, each
    /// round): those are stored without being counted as acked. The NATS driver waits for
    /// every answer.
    fn lossless(&self, settings: &Settings) -> bool {
        let http_in_flight = self.stored_http.saturating_sub(self.acked_http);
        self.failed == 0
            && self.stored_http >= self.acked_http
            && http_in_flight <= settings.connections as u64 * settings.rounds
            && self.stored_nats == self.acked_nats
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
    // The servers stop when `systems` is dropped, at the end of the block, before any exit.
    let lossless = runtime.block_on(async {
        let (baseline, subject) = match (&settings.against, settings.components) {
            (Some(_), _) => (System::McchatBaseline, System::Mcchat),
            (None, true) => (System::Mcchat, System::McchatComponents),
            (None, false) => (System::Native, System::Mcchat),
        };
        let manifest = |system| match system {
            System::Native => None,
            System::Mcchat => Some(root.join("wadm.yaml")),
            System::McchatComponents => Some(root.join("build/wadm.components.yaml")),
            System::McchatBaseline => settings.against.clone(),
        };
        let systems = [
            Running::start(baseline, &root, manifest(baseline)).await,
            Running::start(subject, &root, manifest(subject)).await,
        ];
        let (rounds, connections) = (settings.rounds, settings.connections);
        let write_seconds = settings.round_seconds(settings.seconds);
        let post_round = wrk_round(&root, "post.lua", connections, write_seconds);
        let post = Compared::run(rounds, &systems, post_round).await;
        let nats = Compared::run(rounds, &systems, |system| {
            let url = system.nats_url.clone();
            async move { nats_requests(&url, connections, write_seconds, &[]).await }
        })
        .await;
        let mut counts = Vec::new();
        for (i, system) in systems.iter().enumerate() {
            let rss_mb = rss_mb(system.server.child.id());
            let mut kv = system.key_value().await;
            let (stored_http, stored_nats) = settled_counts(&mut kv, &system.fanned_out).await;
            prefill(&mut kv, settings.history).await;
            counts.push(Counts {
                acked_http: post.loads[i].ok,
                acked_nats: nats.loads[i].ok,
                failed: post.loads[i].failed + nats.loads[i].failed,
                stored_http,
                stored_nats,
                fanned_out: system.fanned_out.load(Ordering::Relaxed),
                rss_mb,
            });
        }
        let read_seconds = settings.round_seconds(settings.seconds.div_ceil(2));
        let get_round = wrk_round(&root, "get.lua", connections, read_seconds);
        let get = Compared::run(rounds, &systems, get_round).await;
        print_table(&settings, [baseline, subject], &post, &nats, &get, &counts);
        // The guarantee under test is mcchat's. The reference publishes fire-and-forget, as a
        // plain server would, and its counts are shown for comparison.
        if baseline == System::Native && !counts[0].lossless(&settings) {
            println!(
                "note: the native reference lost messages or real-time copies (see its counts)"
            );
        }
        let baseline_lossless = baseline == System::Native
            || (counts[0].lossless(&settings) && get.loads[0].failed == 0);
        let lossless =
            baseline_lossless && counts[1].lossless(&settings) && get.loads[1].failed == 0;
        drop(systems);
        // Signed-on users against guests, on one mcchat of its own: in the standard run only.
        let signed_on_lossless = baseline != System::Native
            || signed_on::run(
                &settings,
                &root,
                Running::start(System::Mcchat, &root, manifest(System::Mcchat)).await,
            )
            .await;
        // Many rooms against one, on one mcchat of its own: in the standard run only.
        let rooms_lossless = baseline != System::Native
            || rooms::run(
                &settings,
                &root,
                Running::start(System::Mcchat, &root, manifest(System::Mcchat)).await,
            )
            .await;
        lossless && signed_on_lossless && rooms_lossless
    });
    if !lossless {
        eprintln!("LOSS: mcchat's acked, stored and fanned-out counts differ, or requests failed");
        std::process::exit(1);
    }
    println!("mcchat lost nothing: every acked message stored, every stored HTTP message fanned out once");
}

/// One system under test with its own NATS and Redis, and a subscriber counting its fan-out.
struct Running {
    server: Process,
    base: String,
    nats_url: String,
    redis_url: String,
    fanned_out: Arc<AtomicU64>,
    // Dropped after the server: the servers it needs, and mcchat's data directory.
    _redis: Process,
    _nats: Process,
    _mosquitto: Process,
    _data: tempfile::TempDir,
}

impl Running {
    async fn start(system: System, root: &Path, manifest: Option<PathBuf>) -> Running {
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
        // Both relay every message to MQTT devices too, each to a mosquitto of its own that
        // answers at once (set_tcp_nodelay, as the README advises).
        let mosquitto_config = data.path().join("mosquitto.conf");
        let mosquitto_port = free_port();
        std::fs::write(
            &mosquitto_config,
            format!(
                "listener {mosquitto_port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            ),
        )
        .unwrap();
        let mosquitto = Process::start_on(
            "mosquitto",
            Command::new("mosquitto")
                .arg("-c")
                .arg(&mosquitto_config)
                .stderr(Stdio::null()),
            mosquitto_port,
        );
        let mqtt_addr = format!("127.0.0.1:{}", mosquitto.port);
        let nats_url = format!("nats://127.0.0.1:{}", nats.port);
        let redis_url = format!("redis://127.0.0.1:{}", redis.port);
        let http_port = free_port();
        let http_addr = format!("127.0.0.1:{http_port}");
        let release = release_dir();
        let mut command = match manifest {
            None => {
                let mut c = Command::new(release.join("native-reference"));
                c.args([&http_addr, &redis_url, &nats_url, &mqtt_addr]);
                c
            }
            Some(manifest) => {
                let mut c = Command::new(release.join("mcchat"));
                c.current_dir(root)
                    .arg("up")
                    .arg("--manifest")
                    .arg(manifest)
                    .args([
                        "--http-addr",
                        &http_addr,
                        "--ws-addr",
                        &format!("127.0.0.1:{}", free_port()),
                        "--nats-url",
                        &nats_url,
                        "--redis-url",
                        &redis_url,
                        "--mqtt-url",
                        &format!("mqtt://{mqtt_addr}"),
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

        // Room for every fanned-out message of a run, so a busy counter never drops one as a
        // slow consumer and reports a loss that was the instrument's.
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
        Running {
            server,
            base: format!("http://{http_addr}"),
            nats_url,
            redis_url,
            fanned_out,
            _redis: redis,
            _nats: nats,
            _mosquitto: mosquitto,
            _data: data,
        }
    }

    /// The harness's own connection: it reads the whole history, which takes longer than the
    /// half second redis 1.x gives a command by default.
    async fn key_value(&self) -> redis::aio::MultiplexedConnection {
        let unhurried = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        redis::Client::open(self.redis_url.as_str())
            .unwrap()
            .get_multiplexed_async_connection_with_config(&unhurried)
            .await
            .unwrap()
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

/// Fills the default room's history up to `history` messages.
async fn prefill(kv: &mut redis::aio::MultiplexedConnection, history: usize) {
    prefill_list(kv, "chatlog:messages", history).await;
}

/// Fills the list at `key` up to `history` messages, in the stored form, a thousand per RPUSH.
async fn prefill_list(kv: &mut redis::aio::MultiplexedConnection, key: &str, history: usize) {
    let have: usize = redis::cmd("LLEN").arg(key).query_async(kv).await.unwrap();
    let message = serde_json::json!({"body": "x".repeat(40), "channelName": "http",
        "id": "00000000-0000-0000-0000-000000000000", "sourceUser": "prefill"})
    .to_string();
    let mut left = history.saturating_sub(have);
    while left > 0 {
        let batch = left.min(1000);
        let mut rpush = redis::cmd("RPUSH");
        rpush.arg(key);
        for _ in 0..batch {
            rpush.arg(&message);
        }
        let _: usize = rpush.query_async(kv).await.unwrap();
        left -= batch;
    }
}

/// Where cargo put the release binaries this bench starts: the folder above the bench's own
/// `deps/`, so a `CARGO_TARGET_DIR` elsewhere is followed.
fn release_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the bench's own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the bench runs from <target>/release/deps")
        .to_path_buf()
}

/// `connections` clients each sending `chat.in` requests back to back for `seconds`.
/// As guests, or with `users` (name, token) as signed-on users, each worker as one of them.
async fn nats_requests(
    nats_url: &str,
    connections: usize,
    seconds: u64,
    users: &[(String, String)],
) -> Load {
    let client = async_nats::connect(nats_url).await.unwrap();
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let client = client.clone();
            let user = (!users.is_empty()).then(|| users[worker % users.len()].clone());
            tokio::spawn(async move {
                let (mut latencies, mut failed, mut n) = (Vec::new(), 0u64, 0u64);
                while Instant::now() < until {
                    n += 1;
                    let body = match &user {
                        None => format!(
                            r#"{{"user_name":"nats{worker}","body":"request {n} from worker {worker}"}}"#
                        ),
                        Some((name, token)) => format!(
                            r#"{{"user_name":"{name}","body":"request {n} from worker {worker}","token":"{token}"}}"#
                        ),
                    };
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
    let mut load = Load::default();
    for worker in workers {
        let (latencies, failed) = worker.await.unwrap();
        load.ok += latencies.len() as u64;
        load.failed += failed;
        for latency in latencies {
            *load
                .latency_us
                .entry(latency.as_micros() as u64)
                .or_default() += 1;
        }
    }
    load.seconds = started.elapsed().as_secs_f64();
    load
}

/// One round of wrk with `script` against a system, for `Compared::run`.
fn wrk_round<'a>(
    root: &'a Path,
    script: &'a str,
    connections: usize,
    seconds: u64,
) -> impl Fn(&Running) -> std::future::Ready<Load> + 'a {
    move |system| std::future::ready(wrk(root, &system.base, script, &[], connections, seconds))
}

/// wrk with one of `bench/`'s scripts; its `BENCH` line carries the counts and its `LATENCY`
/// lines every latency seen.
fn wrk(
    root: &Path,
    base: &str,
    script: &str,
    script_args: &[String],
    connections: usize,
    seconds: u64,
) -> Load {
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
        .arg("--")
        .args(script_args)
        .output()
        .expect("running wrk (`cargo xtask bench` installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> f64 {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("wrk printed no {name}:\n{text}"))
    };
    let (requests, non2xx, errors) = (field("requests"), field("non2xx"), field("errors"));
    let latency_us = text
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("LATENCY ")?.split_whitespace();
            Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
        })
        .collect();
    Load {
        ok: (requests - non2xx - errors).max(0.0) as u64,
        failed: (non2xx + errors) as u64,
        seconds: field("duration_us") / 1e6,
        latency_us,
    }
}

fn print_table(
    settings: &Settings,
    [baseline, subject]: [System; 2],
    post: &Compared,
    nats: &Compared,
    get: &Compared,
    counts: &[Counts],
) {
    println!(
        "\n{} connections; per system {} s per write path and {} s of GET (newest 100 of {} \
         stored), in {} interleaved rounds",
        settings.connections,
        settings.seconds,
        settings.seconds.div_ceil(2),
        settings.history,
        settings.rounds
    );
    println!(
        "| path | {} | {} | throughput ratio | p99 ratio | ratio per round |",
        subject.name(),
        baseline.name()
    );
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, compared: &Compared| {
        let [n, m] = &compared.loads;
        println!(
            "| {name} | {:.0}/s, p50 {:.1} ms, p99 {:.1} ms | {:.0}/s, p50 {:.1} ms, p99 {:.1} ms | {:.2} | {:.2} | {} |",
            m.per_second(),
            m.percentile_ms(50.0),
            m.percentile_ms(99.0),
            n.per_second(),
            n.percentile_ms(50.0),
            n.percentile_ms(99.0),
            m.per_second() / n.per_second().max(1.0),
            m.percentile_ms(99.0) / n.percentile_ms(99.0).max(0.001),
            compared.per_round()
        )
    };
    row("`POST /messages`", post);
    row("NATS request `chat.in`", nats);
    row("`GET /messages?limit=100`", get);
    for (name, (c, read)) in [baseline.name(), subject.name()]
        .into_iter()
        .zip(counts.iter().zip(&get.loads))
    {
        println!(
            "{name}: acked HTTP {} + NATS {}, stored HTTP {} + NATS {}, fanned out {}, failed {}, RSS after the writes {:.0} MB",
            c.acked_http,
            c.acked_nats,
            c.stored_http,
            c.stored_nats,
            c.fanned_out,
            c.failed + read.failed,
            c.rss_mb
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
