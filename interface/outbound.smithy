// outbound.smithy
// What api-gateway calls on every channel except the one a message came from.

metadata package = [ {
    namespace: "com.cosmonic.samples.mcchat.outbound",
    crate: "outbound_crate"
} ]

namespace com.cosmonic.samples.mcchat.outbound

use org.wasmcloud.model#wasmbus
use org.wasmcloud.model#U64

@wasmbus(actorReceive: true)
service Outbound {
    version: "0.1",
    operations: [ PublishMessage ]
}

/// Delivers a message to the channel's own clients; `true` if it was delivered.
operation PublishMessage {
    input: OutboundMessage
    output: Boolean
}

structure OutboundMessage {
    /// The stored message's id, so clients can drop duplicates and resume.
    @required
    id: String

    @required
    body: String

    @required
    sourceChannel: String

    @required
    sourceUser: String

    /// Its position in the history (the chat log's index, the number `before` cursors count
    /// in): a client that sees it jump by more than one missed a live copy and reads the gap.
    index: U64

    /// When the chat stored it: UTC milliseconds since the Unix epoch (absent without a clock).
    ts: U64

    /// Whether its author proved the name with a token.
    verified: Boolean
    /// The room it was stored in; absent for the default room, `general`.
    room: String
}
