// outbound.smithy
// What api-gateway calls on every channel except the one a message came from.

metadata package = [ {
    namespace: "com.cosmonic.samples.mcchat.outbound",
    crate: "outbound_crate"
} ]

namespace com.cosmonic.samples.mcchat.outbound

use org.wasmcloud.model#wasmbus

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
}
