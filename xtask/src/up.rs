//! `cargo xtask up`: runs the host on the built actors, with a local NATS server and MQTT
//! broker if none is running.

use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::workspace_root;

/// A server `up` needs, started when none is listening where the manifest expects it.
struct LocalServer {
    name: &'static str,
    /// Where it is found: `/usr/sbin` holds both, outside a non-root user's PATH.
    programs: &'static [&'static str],
    port: u16,
    scheme: &'static str,
    args: fn(u16) -> Vec<String>,
    /// A configuration file's text, written under `target/` and given with `-c`.
    config: Option<fn(u16) -> String>,
}

const LOCAL_NATS: LocalServer = LocalServer {
    name: "nats-server",
    programs: &[
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "nats-server",
    ],
    port: 4222,
    scheme: "nats",
    args: |port| {
        vec![
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ]
    },
    config: None,
};

const LOCAL_MOSQUITTO: LocalServer = LocalServer {
    name: "mosquitto",
    programs: &["/usr/sbin/mosquitto", "mosquitto"],
    port: 1883,
    scheme: "mqtt",
    args: |_| Vec::new(),
    // Loopback only, anonymous clients, and small packets sent at once: with Nagle's algorithm
    // an MQTT 5 request's ack waited about 40 ms on a delayed TCP ACK (BENCHMARKS.md).
    config: Some(|port| {
        format!("listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n")
    }),
};

/// Kills a server this command started when it ends.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl LocalServer {
    fn start_unless_running(&self) -> Result<Option<Started>> {
        let (name, port, url) = (
            self.name,
            self.port,
            format!("{}://127.0.0.1:{}", self.scheme, self.port),
        );
        let address = ("127.0.0.1", port);
        if TcpStream::connect(address).is_ok() {
            println!("using the {name} already on {url}");
            return Ok(None);
        }
        let program = self
            .programs
            .iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or(self.programs.last().expect("a program name"));
        let mut command = Command::new(program);
        command.args((self.args)(port));
        if let Some(config) = self.config {
            let path = workspace_root()
                .join("target")
                .join(format!("{name}-{port}.conf"));
            std::fs::write(&path, config(port))
                .with_context(|| format!("writing {}", path.display()))?;
            command.arg("-c").arg(path);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let started = Started(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(address).is_err() {
            if Instant::now() > deadline {
                bail!("{name} did not start listening on 127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("started {name} on {url}");
        Ok(Some(started))
    }
}

/// The `mcchat` binary of the release build, as `cargo build` and `cargo run` select it.
const HOST_BINARY: [&str; 6] = [
    "--locked",
    "--release",
    "--package",
    "mcchat-host",
    "--bin",
    "mcchat",
];

fn cargo() -> Command {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(workspace_root());
    cargo
}

/// Builds the `mcchat` binary `run` starts (only it: no test or dev-dependency).
pub fn build_host() -> Result<()> {
    let status = cargo()
        .arg("build")
        .args(HOST_BINARY)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the mcchat host failed ({status})");
    }
    Ok(())
}

/// Runs `mcchat up --manifest wadm.yaml` (release build) until it exits.
pub fn run(host_args: &[String]) -> Result<()> {
    let names = |flag: &str| {
        host_args
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    let _nats = if names("--nats-url") {
        None
    } else {
        LOCAL_NATS.start_unless_running()?
    };
    let _mosquitto = if names("--mqtt-url") {
        None
    } else {
        LOCAL_MOSQUITTO.start_unless_running()?
    };
    let mut cmd = cargo();
    cmd.arg("run")
        .args(HOST_BINARY)
        .args(["--", "up", "--manifest", "wadm.yaml"]);
    // No Redis needed: the embedded store, unless Redis is asked for.
    if !names("--redis-url") {
        cmd.arg("--embedded-kv");
    }
    let status = cmd
        .args(host_args)
        .status()
        .context("running the mcchat host")?;
    if !status.success() {
        bail!("the mcchat host exited with {status}");
    }
    Ok(())
}
