//! One WebSocket connection, on either side (a browser's session on our server, or our client's
//! connection to a remote server): frames in, through rate and size checks, to a handler; frames
//! out from a bounded queue. The reader and the writer are separate tasks, so a handler waiting
//! on an actor never delays what the session is sent.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use crate::config::Limits;
use crate::frame::{self, Frame, FrameError};

/// How long a closing session waits to deliver its close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// The sending side of a session: a bounded queue, and a way to close it with a reason.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::Sender<Utf8Bytes>,
    closing: CancellationToken,
    close_reason: Arc<Mutex<Option<(CloseCode, String)>>>,
}

/// Why a frame could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The queue was full: the session is being closed as too slow.
    TooSlow,
    /// The session has ended.
    Gone,
}

impl Outbox {
    /// Queues a frame without waiting. A full queue means the client cannot keep up: it is
    /// disconnected, so that it never slows anyone else down.
    pub fn push(&self, text: Utf8Bytes) -> Result<(), Refused> {
        match self.queue.try_send(text) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(
                    CloseCode::Policy,
                    format!(
                        "too slow: more than {} messages waiting to be sent",
                        self.queue.max_capacity()
                    ),
                );
                Err(Refused::TooSlow)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Refused::Gone),
        }
    }

    /// Ends the session with a close frame carrying `reason`. The first reason given wins.
    pub fn close(&self, code: CloseCode, reason: String) {
        let mut slot = self.close_reason.lock().expect("close reason lock");
        if slot.is_none() {
            *slot = Some((code, reason));
        }
        self.closing.cancel();
    }
}

/// What happens to a well-formed inbound frame. An `Err` is sent back as an error frame.
#[async_trait::async_trait]
pub trait Inbound: Send + Sync {
    async fn frame(&self, frame: Frame) -> Result<(), String>;
}

pub fn outbox(limits: &Limits) -> (Outbox, mpsc::Receiver<Utf8Bytes>) {
    let (queue, receiver) = mpsc::channel(limits.queue_frames);
    let outbox = Outbox {
        queue,
        closing: CancellationToken::new(),
        close_reason: Arc::default(),
    };
    (outbox, receiver)
}

fn rate_limiter(limits: &Limits) -> DefaultDirectRateLimiter {
    let per_second = NonZeroU32::new(limits.rate_per_sec).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst))
}

/// Runs a connection until either side closes it, the outbox is closed, or `shutdown`.
pub async fn run<S>(
    ws: WebSocketStream<S>,
    (outbox, mut queue): (Outbox, mpsc::Receiver<Utf8Bytes>),
    inbound: &dyn Inbound,
    limits: Limits,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let last_heard = Arc::new(Mutex::new(Instant::now()));
    let writer = {
        let (outbox, last_heard) = (outbox.clone(), last_heard.clone());
        tokio::spawn(async move {
            let mut ping = tokio::time::interval(limits.ping_interval);
            ping.tick().await;
            loop {
                tokio::select! {
                    biased;
                    _ = outbox.closing.cancelled() => break,
                    _ = shutdown.cancelled() => {
                        outbox.close(CloseCode::Away, "the server is shutting down".into());
                        break;
                    }
                    text = queue.recv() => {
                        let Some(text) = text else { break };
                        let sent = tokio::select! {
                            sent = sink.send(Message::Text(text)) => sent,
                            _ = outbox.closing.cancelled() => break,
                        };
                        if sent.is_err() {
                            outbox.closing.cancel();
                            break;
                        }
                    }
                    _ = ping.tick() => {
                        let quiet = last_heard.lock().expect("last heard lock").elapsed();
                        if quiet > limits.ping_interval * 2 {
                            outbox.close(CloseCode::Away, "no answer to pings".into());
                            break;
                        }
                        if sink.send(Message::Ping(Default::default())).await.is_err() {
                            outbox.closing.cancel();
                            break;
                        }
                    }
                }
            }
            let reason = outbox
                .close_reason
                .lock()
                .expect("close reason lock")
                .take();
            if let Some((code, reason)) = reason {
                let close = Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                }));
                let _ = tokio::time::timeout(CLOSE_WAIT, sink.send(close)).await;
            }
            let _ = tokio::time::timeout(CLOSE_WAIT, sink.close()).await;
        })
    };
    let limiter = rate_limiter(&limits);
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            _ = outbox.closing.cancelled() => break,
        };
        let Some(Ok(message)) = message else { break };
        *last_heard.lock().expect("last heard lock") = Instant::now();
        let refused = match message {
            Message::Text(text) => {
                if limiter.check().is_err() {
                    Some(
                        FrameError::RateLimited {
                            per_second: limits.rate_per_sec,
                            burst: limits.rate_burst,
                        }
                        .to_string(),
                    )
                } else {
                    match frame::parse(&text, limits.max_frame_bytes) {
                        Ok(frame) => inbound.frame(frame).await.err(),
                        Err(e) => Some(e.to_string()),
                    }
                }
            }
            Message::Binary(_) => Some(FrameError::Binary.to_string()),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
        };
        if let Some(reason) = refused {
            // An error frame that cannot be queued means the session is already closing.
            let _ = outbox.push(frame::error(&reason).into());
        }
    }
    outbox.closing.cancel();
    let _ = writer.await;
}
