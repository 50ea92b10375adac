// api.smithy
// What every channel calls on api-gateway (alias mcchat/api): a chat message as the channel
// received it. The chat's rules live behind this one operation (parsing, limits, ids, the
// ack's shape); a channel translates its transport and nothing more.

metadata package = [ {
    namespace: "com.cosmonic.samples.mcchat.api",
    crate: "api_crate"
} ]

namespace com.cosmonic.samples.mcchat.api

use org.wasmcloud.model#wasmbus

@wasmbus(actorReceive: true)
service Api {
    version: "0.1",
    operations: [ AcceptMessage ]
}

/// Takes a chat message as a channel received it: parsed, checked, given an id, stored and
/// relayed. Every outcome, a refusal included, is an answer for the channel to send.
operation AcceptMessage {
    input: ReceivedMessage
    output: Acknowledgement
}

structure ReceivedMessage {
    /// The channel it came through (`http`, `nats`, `ws`, `mqtt`): whose rules and wire
    /// format apply, and the name stored with it.
    @required
    channelName: String
    /// The subject or topic it arrived on; empty over HTTP.
    @required
    subject: String
    /// The payload as the client sent it: `{"user_name","body","client_id"?}`.
    @required
    payload: Blob
    /// The transport's own idempotency key (HTTP `Idempotency-Key`); broker payloads carry
    /// theirs as `client_id`.
    idempotencyKey: String
    /// Whether the client waits for the answer. A refusal nobody waits for is logged.
    replyWanted: Boolean
}

structure Acknowledgement {
    @required
    accepted: Boolean
    /// What became of the message: `stored`, `invalid`, `too-large`, `in-progress`,
    /// `unavailable` or `timed-out`. HTTP maps it to a status code.
    @required
    outcome: String
    /// Why it was refused, for a channel that has nobody to answer.
    reason: String
    /// The answer to send the client, in the channel's wire format.
    @required
    ack: Blob
}
