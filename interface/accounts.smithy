// accounts.smithy
// Who may write under a name (alias mcchat/accounts). Accounts are a name and an argon2id hash
// of a password; sign-on gives a signed token with the user, an expiry and an id. Only the API
// gateway calls it: the gateway parses what clients send and shapes the answers for each
// channel, the accounts actor keeps the hashes, the signing key and the revocations in the
// key-value store. No answer ever carries a password, a hash or the signing key.

metadata package = [ {
    namespace: "com.cosmonic.samples.mcchat.accounts",
    crate: "accounts_crate"
} ]

namespace com.cosmonic.samples.mcchat.accounts

use org.wasmcloud.model#wasmbus
use org.wasmcloud.model#U64

@wasmbus(actorReceive: true)
service Accounts {
    version: "0.1",
    operations: [ SignUp, SignOn, Refresh, SignOff, Identify ]
}

/// Registers a name with a password: `created`, or `taken`, `invalid`.
operation SignUp {
    input: Credentials
    output: AccountAnswer
}

/// Checks a password and issues a token: `signed-on`, or `unauthorized`, `limited`.
operation SignOn {
    input: Credentials
    output: AccountAnswer
}

/// Swaps a valid token for a new one with a new expiry; the old one stays valid until its own.
operation Refresh {
    input: TokenRequest
    output: AccountAnswer
}

/// Revokes a token, or every token of its user: `signed-off`, or `unauthorized`.
operation SignOff {
    input: SignOffRequest
    output: AccountAnswer
}

/// Who writes a message: the token's user (`verified`), a guest under a name nobody
/// registered (`guest`), or a refusal (`unauthorized`: a registered name without its token, or
/// a token that does not hold; `closed`: guests may not write).
operation Identify {
    input: IdentifyRequest
    output: AccountAnswer
}

structure Credentials {
    @required
    userName: String
    @required
    password: String
}

structure TokenRequest {
    @required
    token: String
}

structure SignOffRequest {
    @required
    token: String
    /// Revoke every token of the user, not only this one.
    everywhere: Boolean
}

structure IdentifyRequest {
    /// The name the message gives; may be empty when a token is given.
    @required
    userName: String
    /// The token the message carries, if any.
    token: String
}

structure AccountAnswer {
    @required
    accepted: Boolean
    /// `created`, `signed-on`, `signed-off`, `verified`, `guest`; or `invalid`, `taken`,
    /// `unauthorized`, `closed`, `limited`, `unavailable`.
    @required
    outcome: String
    /// Why it was refused, for the client.
    reason: String
    /// The name as registered (sign-up, sign-on, refresh, identify).
    userName: String
    /// A new token (sign-on, refresh).
    token: String
    /// When the token expires (sign-on, refresh, and identify for `verified`): UTC
    /// milliseconds since the Unix epoch.
    expiresAt: U64
    /// How long to wait before trying again (`limited`).
    retryAfterMs: U64
}
