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
use org.wasmcloud.model#U64

@wasmbus(actorReceive: true)
service Api {
    version: "0.1",
    operations: [ AcceptMessage ]
}

/// Takes a chat message as a channel received it: parsed, checked, given an id, stored and
/// relayed. Every outcome, a refusal included, is an answer for the channel to send. The
/// subject also names the account requests, on every channel alike (HTTP names its routes
/// so): `chat.signup`, `chat.signon`, `chat.refresh` and `chat.signoff` (`/` for `.` over
/// MQTT), each answered in the same way.
operation AcceptMessage {
    input: ReceivedMessage
    output: Acknowledgement
}

structure ReceivedMessage {
    /// The channel it came through (`http`, `nats`, `ws`, `mqtt`): whose rules and wire
    /// format apply, and the name stored with it.
    @required
    channelName: String
    /// The subject or topic it arrived on. Over HTTP, empty for `POST /messages`, and the
    /// account request's subject for the account routes.
    @required
    subject: String
    /// The payload as the client sent it: `{"user_name","body","client_id"?,"token"?}`.
    @required
    payload: Blob
    /// The transport's own idempotency key (HTTP `Idempotency-Key`); broker payloads carry
    /// theirs as `client_id`.
    idempotencyKey: String
    /// Whether the client waits for the answer. A refusal nobody waits for is logged.
    replyWanted: Boolean
    /// The token the transport carried beside the payload (HTTP `Authorization: Bearer`);
    /// broker payloads carry theirs as `token`.
    token: String
}

structure Acknowledgement {
    @required
    accepted: Boolean
    /// What became of the message: `stored`, `invalid`, `too-large`, `in-progress`,
    /// `unavailable` or `timed-out`; of an account request: `created`, `signed-on`,
    /// `signed-off`, `taken`, `unauthorized`, `closed` or `limited` (a refused message can be
    /// `unauthorized` or `closed` too). HTTP maps it to a status code.
    @required
    outcome: String
    /// Why it was refused, for a channel that has nobody to answer.
    reason: String
    /// The answer to send the client, in the channel's wire format.
    @required
    ack: Blob
    /// How long the client should wait before trying again (`limited`): HTTP's `Retry-After`.
    retryAfterMs: U64
}
