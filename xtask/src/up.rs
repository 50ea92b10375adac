//! `cargo xtask up`: runs the host on the built actors, with a NATS server and an MQTT broker
//! of its own, each set up with the chat's trust zones (`zones`): chat clients and devices need
//! no credential and may chat, and nothing more; the host, wash and wadm use the credentials
//! made once in the data dir.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::workspace_root;
use crate::zones::Zones;

/// Kills a server this command started when it ends.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first of `preferred` and the ports after it that nothing listens on, on loopback.
pub fn free_port_from(preferred: u16) -> Result<u16> {
    (preferred..preferred.saturating_add(100))
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .with_context(|| format!("no free port from {preferred} on"))
}

/// Starts `program -c config`, its output in `log`, and waits until it listens on `port`.
fn start_server(
    name: &str,
    programs: &[&str],
    config: &Path,
    log: &Path,
    port: u16,
) -> Result<Started> {
    let program = programs
        .iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or(programs.last().expect("a program name"));
    let output =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let child = Command::new(program)
        .arg("-c")
        .arg(config)
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    let started = Started(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!(
                "{name} did not start listening on 127.0.0.1:{port} (see {})",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(started)
}

/// The port wanted, or the next free one when something else (an open server the machine
/// runs) has it: that one is not the chat's, and its clients could do anything.
fn port_for(name: &str, wanted: u16) -> Result<u16> {
    let port = free_port_from(wanted)?;
    if port != wanted {
        println!(
            "127.0.0.1:{wanted} is taken (not by this chat); the chat's {name} listens on {port}"
        );
    }
    Ok(port)
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

/// The brokers `up` runs in the trust zones, and what the host is told about them.
pub struct Brokers {
    _servers: Vec<Started>,
    /// The host's settings for them, as environment variables: secrets go in the environment,
    /// not the arguments, which other users see.
    pub host_env: Vec<(String, String)>,
    /// What a person is told: where to connect, and with what.
    pub lines: Vec<String>,
}

/// Which brokers `up` leaves to the servers the host's arguments name.
#[derive(Debug, Clone, Copy)]
pub struct OwnBrokers {
    pub chat_nats: bool,
    pub lattice_nats: bool,
    pub mqtt: bool,
}

impl Brokers {
    /// Starts the chat's NATS, the lattice's NATS and mosquitto (those in `own`) with the
    /// configuration `zones` wrote, and waits until each listens.
    pub fn start(zones: &Zones, own: OwnBrokers) -> Result<Brokers> {
        let nats_server = [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "nats-server",
        ];
        let mut brokers = Brokers {
            _servers: Vec::new(),
            host_env: Vec::new(),
            lines: Vec::new(),
        };
        if own.lattice_nats {
            brokers._servers.push(start_server(
                "the lattice's nats-server",
                &nats_server,
                &zones.lattice_nats_config(),
                &zones.dir.join("lattice-nats.log"),
                zones.lattice_nats_port,
            )?);
            brokers.set_env("MCCHAT_CTL_NATS_URL", zones.lattice_nats_url());
            brokers.set_env(
                "WASMCLOUD_CTL_CREDSFILE",
                zones.lattice_creds().display().to_string(),
            );
            brokers.lines.push(format!(
                "the lattice's NATS (control interface, relay; wash, wadm): {}, credentials in {}",
                zones.lattice_nats_url(),
                zones.lattice_creds().display()
            ));
        }
        if own.chat_nats {
            brokers._servers.push(start_server(
                "the chat's nats-server",
                &nats_server,
                &zones.chat_nats_config(),
                &zones.dir.join("chat-nats.log"),
                zones.chat_nats_port,
            )?);
            brokers.set_env("MCCHAT_NATS_URL", zones.chat_nats_url());
            brokers.set_env("MCCHAT_NATS_SEED", zones.chat_nats_seed().to_string());
            brokers.lines.push(format!(
                "NATS for chat clients, no credential needed: {} (chat.in, chat.in.<room>, rtchat.messages, rtchat.>)",
                zones.chat_nats_url()
            ));
        }
        if own.mqtt {
            brokers._servers.push(start_server(
                "mosquitto",
                &["/usr/sbin/mosquitto", "mosquitto"],
                &zones.mosquitto_config(),
                &zones.dir.join("mosquitto.log"),
                zones.mqtt_port,
            )?);
            brokers.set_env("MCCHAT_MQTT_URL", zones.chat_mqtt_url());
            brokers.lines.push(format!(
                "MQTT for devices, no credential needed: {} (chat/in, chat/in/<room>, rtchat/messages, rtchat/#, replies/#)",
                zones.guest_mqtt_url()
            ));
        }
        Ok(brokers)
    }

    fn set_env(&mut self, name: &str, value: String) {
        self.host_env.push((name.into(), value));
    }
}

/// Runs `mcchat up --manifest wadm.yaml` (release build) until it exits, with its own NATS
/// and MQTT brokers in the trust zones, unless `host_args` names other servers.
pub fn run(host_args: &[String]) -> Result<()> {
    let names = |flag: &str| {
        host_args
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    let data_dir = host_args
        .iter()
        .position(|a| a == "--data-dir")
        .and_then(|i| host_args.get(i + 1))
        .map_or_else(|| workspace_root().join(".mcchat"), PathBuf::from);
    let own = OwnBrokers {
        chat_nats: !names("--nats-url"),
        lattice_nats: !names("--ctl-nats-url"),
        mqtt: !names("--mqtt-url"),
    };
    let nats_port = if own.chat_nats {
        port_for("NATS", 4222)?
    } else {
        4222
    };
    let lattice_port = free_port_from(4248)?;
    let mqtt_port = if own.mqtt {
        port_for("MQTT broker", 1883)?
    } else {
        1883
    };
    let zones = Zones::prepare(&data_dir, nats_port, lattice_port, mqtt_port)?;
    let brokers = Brokers::start(&zones, own)?;
    for line in &brokers.lines {
        println!("{line}");
    }
    let mut cmd = cargo();
    cmd.arg("run")
        .args(HOST_BINARY)
        .args(["--", "up", "--manifest", "wadm.yaml"])
        .envs(brokers.host_env.iter().map(|(k, v)| (k, v)));
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
