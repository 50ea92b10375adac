//! `cargo xtask up`: runs the host on the built actors, with a local NATS server if needed.

use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::workspace_root;

const LOCAL_NATS: (&str, u16) = ("127.0.0.1", 4222);

/// Kills the NATS server this command started when it ends.
struct LocalNats(Child);

impl Drop for LocalNats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_local_nats() -> Result<Option<LocalNats>> {
    if TcpStream::connect(LOCAL_NATS).is_ok() {
        println!(
            "using the NATS server already on nats://{}:{}",
            LOCAL_NATS.0, LOCAL_NATS.1
        );
        return Ok(None);
    }
    let program = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server");
    let child = Command::new(program)
        .args(["-a", LOCAL_NATS.0, "-p", &LOCAL_NATS.1.to_string()])
        .spawn()
        .context("starting nats-server")?;
    let nats = LocalNats(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(LOCAL_NATS).is_err() {
        if Instant::now() > deadline {
            bail!(
                "nats-server did not start listening on {}:{}",
                LOCAL_NATS.0,
                LOCAL_NATS.1
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "started nats-server on nats://{}:{}",
        LOCAL_NATS.0, LOCAL_NATS.1
    );
    Ok(Some(nats))
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
        start_local_nats()?
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
