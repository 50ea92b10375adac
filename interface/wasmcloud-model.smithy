// wasmcloud-model.smithy
// The traits and numeric aliases that weld-codegen reads when it generates bindings.
// A local copy, so that building an actor never needs the network; the shapes match
// the definitions weld-codegen 0.7 expects (see its `wasmbus_model.rs`).

metadata package = [ {
    namespace: "org.wasmcloud.model",
    crate: "wasmbus_rpc::model",
    py_module: "wasmbus_rpc.model",
    doc: "wasmcloud core data models for messaging and code generation"
} ]

namespace org.wasmcloud.model

/// Overrides the field name used on the wire.
@trait(selector: "member")
structure serialization {
    name: String,
}

/// Zero-based field number, for deterministic cbor encoding.
@trait(selector: "structure > member")
@range(min: 0)
short n

/// Marks an integer type as unsigned.
@trait(selector: "long,integer,short,byte")
@range(min: 0)
structure unsignedInt { }

/// A string of at least one character.
@trait(selector: "string")
@length(min: 1)
string nonEmptyString

/// Documents that a type is a synonym (silences the validator's notice).
@trait
structure synonym { }

@synonym
long I64

@unsignedInt
long U64

@synonym
integer I32

@unsignedInt
integer U32

@synonym
short I16

@unsignedInt
short U16

@synonym
byte I8

@unsignedInt
byte U8

@synonym
float F32

@synonym
double F64

/// Rust code generation switches.
@trait(selector: "*")
structure codegenRust {
    noDeriveDefault: Boolean,
    noDeriveEq: Boolean,
    nonExhaustive: Boolean,
    skip: Boolean,
}

/// A trait or class extends one or more bases.
@trait(selector: "structure")
structure extends {
    base: IdentifierList,
}

list IdentifierList {
    member: String,
}

/// The wasmbus protocol: who receives a service's operations.
@trait(selector: "service")
@protocolDefinition
structure wasmbus {
    /// capability contract id such as "wasmcloud:httpserver"
    contractId: CapabilityContractId,
    /// operations are handled by an actor
    actorReceive: Boolean,
    /// operations are handled by a capability provider
    providerReceive: Boolean,
    /// binary message protocol version ("0" when unset)
    protocol: String,
}

/// Data sent over wasmbus.
@trait(selector: "simpleType,list,set,map,structure,union")
structure wasmbusData { }

/// Capability contract id, e.g. "wasmcloud:httpserver".
@nonEmptyString
string CapabilityContractId

@trait
structure renameItem {
    @required
    lang: String,
    @required
    name: String,
}

/// Renames an item in one target language.
@trait(selector: "operation, structure > member")
list rename {
    member: renameItem
}

/// Unit type
@codegenRust(skip: true)
structure Unit { }
