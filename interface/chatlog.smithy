// chatlog.smithy
// The chat log: where every channel's messages are stored, in order.
// api-gateway implements the same service, so channels talk to one API.

metadata package = [ {
    namespace: "com.cosmonic.samples.mcchat.chatlog",
    crate: "chatlog_crate"
} ]

namespace com.cosmonic.samples.mcchat.chatlog

use org.wasmcloud.model#wasmbus
use org.wasmcloud.model#U32
use org.wasmcloud.model#U64

@wasmbus(actorReceive: true)
service Chatlog {
    version: "0.1",
    operations: [ WriteMessage, GetMessages, GetMessagesPage, ListRooms ]
}

/// Stores a message. A refusal (`accepted: false`) carries the reason.
operation WriteMessage {
    input: CanonicalChatMessage
    output: WriteMessageResponse
}

/// The whole history, oldest first.
operation GetMessages {
    output: MessagesList
}

/// One page of the history: the newest `limit` messages before the cursor, oldest first.
operation GetMessagesPage {
    input: MessagesPageRequest
    output: MessagesPage
}

/// The rooms, `general` first and the others by name, each with its message count and the time
/// of its newest message.
operation ListRooms {
    input: RoomsPageRequest
    output: RoomsPage
}

structure WriteMessageResponse {
    @required
    accepted: Boolean,

    reason: String

    /// The stored message's id: on a retry with the same `clientId`, the first write's id.
    id: String

    /// True when another write with the same `clientId` is still in progress: retry shortly.
    inProgress: Boolean

    /// The stored message's position in the history (0 is the oldest), the number `before`
    /// cursors count in. Set when this write stored it.
    index: U64
}

structure CanonicalChatMessage {
    @required
    id: String

    @required
    sourceUser: String

    @required
    channelName: String

    @required
    body: String

    /// The client's idempotency key (HTTP `Idempotency-Key`, `client_id` in NATS and WebSocket
    /// payloads). Writes with the same channel and key store one message. Never stored.
    clientId: String

    /// Its position in the history (0 is the oldest), set when it is read. Never stored.
    index: U64

    /// When the chat stored it: UTC milliseconds since the Unix epoch, from the `mcchat:clock`
    /// capability. Absent on messages stored before the chat had a clock.
    ts: U64

    /// Whether its author proved the name with a token (`interface/accounts.smithy`); false
    /// for guests. The API sets it, never a caller.
    verified: Boolean
    /// The room it is in (`[a-z0-9][a-z0-9-]{0,63}`); absent for the default room, `general`.
    /// The history keeps each room under its own key, so it is never stored in the message.
    room: String
}

list MessagesList {
    member: CanonicalChatMessage
}

structure MessagesPageRequest {
    /// How many messages at most (at least 1).
    @required
    limit: U32

    /// Cursor from a previous page's `nextBefore`; absent for the newest page.
    before: U64
    /// The room to read; absent for the default room, `general`.
    room: String
}

structure MessagesPage {
    @required
    messages: MessagesList

    /// Cursor for the page of older messages; absent when this page reaches the oldest.
    nextBefore: U64
    /// Why no page was read (a bad room name); then `messages` is empty.
    reason: String
}

structure RoomsPageRequest {
    /// How many rooms at most (at least 1).
    @required
    limit: U32
    /// Cursor from a previous page's `nextAfter`: the rooms named after it.
    after: String
}

structure RoomsPage {
    @required
    rooms: RoomSummaries
    /// Cursor for the next page; absent on the last.
    nextAfter: String
}

list RoomSummaries {
    member: RoomSummary
}

structure RoomSummary {
    @required
    name: String
    @required
    messageCount: U64
    /// When its newest message was stored (UTC milliseconds); absent for an empty room and for
    /// one whose newest message is from before the chat had a clock.
    lastTs: U64
}
