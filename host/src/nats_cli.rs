//! `mcchat sub` and `mcchat pub`: a minimal NATS client for users without the `nats` CLI
//! (Debian does not package it).

use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;

/// How long `pub --reply` waits for an answer.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prints every message on `subject` (wildcards allowed), one line each, until stopped.
pub async fn subscribe(url: &str, subject: &str) -> Result<()> {
    let client = async_nats::connect(url)
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    let mut subscription = client.subscribe(subject.to_string()).await?;
    let mut stop = crate::shutdown::StopSignal::listen()?;
    eprintln!("listening on {subject} at {url} (Ctrl-C to stop)");
    loop {
        tokio::select! {
            message = subscription.next() => match message {
                Some(message) => println!("[{}] {}", message.subject, String::from_utf8_lossy(&message.payload)),
                None => return Ok(()),
            },
            _ = stop.recv() => return Ok(()),
        }
    }
}

/// Publishes `body` to `subject`; with `wait_for_reply`, sends a request and prints the reply.
pub async fn publish(url: &str, subject: &str, body: &str, wait_for_reply: bool) -> Result<()> {
    let client = async_nats::connect(url)
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    let payload = bytes::Bytes::from(body.to_string());
    if wait_for_reply {
        let reply =
            tokio::time::timeout(REPLY_TIMEOUT, client.request(subject.to_string(), payload))
                .await
                .with_context(|| format!("no reply on {subject} within {REPLY_TIMEOUT:?}"))??;
        println!("{}", String::from_utf8_lossy(&reply.payload));
    } else {
        client.publish(subject.to_string(), payload).await?;
        client.flush().await?;
    }
    Ok(())
}
