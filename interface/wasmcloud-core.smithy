// wasmcloud-core.smithy
// The part of the wasmCloud core model that mcchat's interfaces refer to, kept locally
// so that code generation works offline. Generated code maps it to `wasmbus_rpc::core`.

metadata package = [ {
    namespace: "org.wasmcloud.core",
    crate: "wasmbus_rpc::core",
    py_module: "wasmbus_rpc.core",
    doc: "wasmcloud platform core data structures",
} ]

namespace org.wasmcloud.core

use org.wasmcloud.model#wasmbus
use org.wasmcloud.model#wasmbusData
use org.wasmcloud.model#n

/// Every actor answers the host's health checks.
@wasmbus(actorReceive: true)
service Actor {
    version: "0.1",
    operations: [ HealthRequest ]
}

@wasmbusData
structure HealthCheckResponse {
    /// whether the actor is healthy
    @n(0)
    healthy: Boolean

    /// more information about the actor's health
    @n(1)
    message: String
}

@wasmbusData
structure HealthCheckRequest { }

/// Health check, called at regular intervals by the host.
operation HealthRequest {
    input: HealthCheckRequest
    output: HealthCheckResponse
}
