// clock.smithy
// The time, as a capability. An actor has no clock of its own (`SystemTime::now()` panics on
// wasm32-unknown-unknown), and knowing the time has security implications, so only actors
// signed for `mcchat:clock` may ask. wasmCloud proposed the same (`wasmcloud:time`,
// "GetTimestamp: UTC, milliseconds since the epoch") and never shipped it. The mcchat host
// links it in-process; on a wasmCloud lattice it is the `clock` provider archive.

metadata package = [ {
    namespace: "com.cosmonic.samples.mcchat.clock",
    crate: "clock_crate"
} ]

namespace com.cosmonic.samples.mcchat.clock

use org.wasmcloud.model#wasmbus
use org.wasmcloud.model#U64

@wasmbus(contractId: "mcchat:clock", providerReceive: true)
service Clock {
    version: "0.1",
    operations: [ Now ]
}

/// The current time: UTC milliseconds since the Unix epoch.
operation Now {
    output: U64
}
