//! `mcchat`: run the chat from a wadm manifest (`mcchat up`), or talk NATS (`mcchat sub|pub`).

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tracing_subscriber::prelude::*;

use mcchat_host::capacity::BoundsChecks;
use mcchat_host::{host::DEFAULT_NATS_URL, nats_cli, precompile, shutdown, HostConfig};

mod allocator;

#[derive(Parser)]
#[command(name = "mcchat", version, about = "The mcchat local host")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the `up` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Start the application in the manifest and run until Ctrl-C.
    Up(HostConfig),
    /// Print every message on a NATS subject.
    Sub {
        subject: String,
        #[arg(long, default_value = DEFAULT_NATS_URL)]
        nats_url: String,
    },
    /// Publish a message to a NATS subject.
    Pub {
        subject: String,
        body: String,
        /// Send as a request and print the reply.
        #[arg(long)]
        reply: bool,
        #[arg(long, default_value = DEFAULT_NATS_URL)]
        nats_url: String,
    },
    /// Compile the actors on stdin into the cache (what `up` runs as a child process).
    #[command(name = precompile::SUBCOMMAND, hide = true)]
    CompileActors {
        cache_dir: PathBuf,
        /// Compile for a host whose memory accesses are bounds-checked.
        #[arg(long = precompile::BOUNDS_CHECKED)]
        bounds_checked: bool,
    },
}

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(run());
    // A stop during the start leaves its blocking work (a compile, a file read) to the OS.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    outcome
}

async fn run() -> Result<()> {
    let asked = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,async_nats=warn".into());
    let written = tracing_subscriber::filter::filter_fn(mcchat_host::log_filter::may_write);
    tracing_subscriber::registry()
        .with(asked)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(written),
        )
        .init();
    match Cli::parse().command {
        Command::Up(mut config) => {
            let mut stop = shutdown::StopSignal::listen()?;
            config.compiler = std::env::current_exe().ok();
            // A service manager may stop the host while it still waits for a broker or a store:
            // a start that has not finished is dropped, and nothing it acknowledged is lost.
            let host = tokio::select! {
                started = mcchat_host::start(config) => started?,
                () = stop.recv() => {
                    println!("stopped while starting.");
                    return Ok(());
                }
            };
            println!("mcchat host running {}:", host.app_name);
            for line in host.started_lines() {
                println!("  {line}");
            }
            if let Some(page) = host.chat_page_url() {
                println!("Chat page: {page}");
            }
            if let Some(dashboard) = host.dashboard_url() {
                println!("Dashboard: {dashboard} (metrics: {dashboard}metrics)");
            }
            println!("Ctrl-C to stop.");
            stop.recv().await;
            println!("stopping...");
            host.shutdown().await;
            println!("stopped.");
            Ok(())
        }
        Command::Sub { subject, nats_url } => nats_cli::subscribe(&nats_url, &subject).await,
        Command::Pub {
            subject,
            body,
            reply,
            nats_url,
        } => nats_cli::publish(&nats_url, &subject, &body, reply).await,
        Command::CompileActors {
            cache_dir,
            bounds_checked,
        } => {
            let bounds_checks = if bounds_checked {
                BoundsChecks::Emitted
            } else {
                BoundsChecks::Elided
            };
            precompile::serve(&cache_dir, bounds_checks, std::io::stdin().lock())
        }
    }
}
