//! The accounts' rules: sign-up, sign-on, refresh, sign-off, and who wrote a message. Every
//! outcome is an answer; the store's failures are `unavailable`, with the details logged for
//! the operator. Nothing here logs or answers a password, a hash or the signing key.

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::bindings::AccountAnswer;
use crate::memory::Memory;
use crate::password::{self, SALT_BYTES};
use crate::revocations::{self, Revocations};
use crate::rpc::{timed_out, RpcError, RpcResult};
use crate::store::{self, Account, Store};
use crate::token::{self, Claims, Unreadable, KEY_BYTES};

/// How long a token is good for; a client refreshes it before then.
pub const TOKEN_LIFETIME_MS: u64 = 60 * 60 * 1000;
/// Sign-on attempts a name takes in one window, right or wrong.
pub const SIGN_ON_ATTEMPTS: i32 = 10;
pub const SIGN_ON_WINDOW_MS: u64 = 60 * 1000;
/// Longest name an account may have.
pub const MAX_NAME_CHARS: usize = 32;
/// After this many tries to make the signing key while none appears, the first try is taken
/// to have died before it stored one, and the next makes it.
const SIGNING_KEY_TRIES: i32 = 20;

/// The refusal of a sign-on, whichever of the name and the password was wrong.
pub const WRONG: &str = "wrong name or password";
const UNAVAILABLE: &str = "accounts are unavailable; try again";

/// The time (`mcchat:clock`, which the actor must be signed for).
#[async_trait]
pub trait Clock {
    /// UTC milliseconds since the Unix epoch.
    async fn now(&self) -> RpcResult<u64>;
}

/// Randomness from the host (`wasmcloud:builtin:numbergen`, a CSPRNG in both hosts).
#[async_trait]
pub trait Random {
    async fn random_u32(&self) -> RpcResult<u32>;
    /// A fresh unique id (a v4 UUID).
    async fn new_id(&self) -> RpcResult<String>;
}

#[async_trait]
pub trait Log {
    async fn write(&self, level: &str, text: String);
}

pub struct Services<'a, S, C, R, L> {
    pub store: &'a S,
    pub clock: &'a C,
    pub random: &'a R,
    pub log: &'a L,
    /// The instance's own, kept between calls.
    pub memory: &'a Memory,
}

/// A refusal, or the store's failure (answered `unavailable`, the detail logged).
enum Failure {
    Refused(AccountAnswer),
    Down(String, RpcError),
}

impl From<AccountAnswer> for Failure {
    fn from(answer: AccountAnswer) -> Self {
        Failure::Refused(answer)
    }
}

type Step<T> = Result<T, Failure>;

/// Names a store failure with what was being done.
fn down(doing: &'static str) -> impl FnOnce(RpcError) -> Failure {
    move |e| Failure::Down(doing.into(), e)
}

pub fn refused(outcome: &str, reason: impl Into<String>) -> AccountAnswer {
    AccountAnswer {
        accepted: false,
        outcome: outcome.into(),
        reason: Some(reason.into()),
        ..Default::default()
    }
}

fn accepted(outcome: &str, user_name: &str) -> AccountAnswer {
    AccountAnswer {
        accepted: true,
        outcome: outcome.into(),
        user_name: Some(user_name.into()),
        ..Default::default()
    }
}

/// Why a name cannot be registered: letters, digits, `_`, `-` and `.`, as a mention or a URL
/// would take it.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "a name is 1 to {MAX_NAME_CHARS} letters, digits, '_', '-' or '.'"
        )),
    }
}

impl<S, C, R, L> Services<'_, S, C, R, L>
where
    S: Store + Sync,
    C: Clock + Sync,
    R: Random + Sync,
    L: Log + Sync,
{
    pub async fn sign_up(&self, name: &str, password: &str) -> AccountAnswer {
        self.answer(self.try_sign_up(name, password)).await
    }

    pub async fn sign_on(&self, name: &str, password: &str) -> AccountAnswer {
        self.answer(self.try_sign_on(name, password)).await
    }

    pub async fn refresh(&self, token: &str) -> AccountAnswer {
        let refreshed = async {
            let now = self.now().await?;
            let (claims, _) = self.verify(token, now).await?;
            let Some(account) = self.account(&claims.sub).await? else {
                let reason = "the token's account no longer exists";
                return Err(refused("unauthorized", reason).into());
            };
            self.issue(&account, now).await
        };
        self.answer(refreshed).await
    }

    pub async fn sign_off(&self, token: &str, everywhere: bool) -> AccountAnswer {
        let signed_off = async {
            let now = self.now().await?;
            let (claims, revocations) = self.verify(token, now).await?;
            let key = store::revocations_key(&claims.sub);
            // Tokens issued in this very millisecond go too.
            let member = match everywhere {
                true => revocations::before_member(now + 1),
                false => revocations::token_member(&claims),
            };
            let added = self.store.set_add(&key, &member).await;
            added.map_err(down("revoking tokens"))?;
            for stale in revocations.stale(now) {
                // Tidying only: a member left behind revokes nothing more.
                let _ = self.store.set_del(&key, stale).await;
            }
            Ok(accepted("signed-off", &claims.sub))
        };
        self.answer(signed_off).await
    }

    /// Who writes under `name`: the token's user, or a guest under a name nobody registered.
    pub async fn identify(&self, name: &str, token: Option<&str>) -> AccountAnswer {
        let identified = async {
            let now = self.now().await?;
            if let Some(token) = token {
                let (claims, _) = self.verify(token, now).await?;
                if !name.is_empty() && !name.eq_ignore_ascii_case(&claims.sub) {
                    let reason = "the token was issued for another name than user_name";
                    return Err(refused("unauthorized", reason).into());
                }
                // The caller may take it again until then (and no longer than it chooses).
                return Ok(AccountAnswer {
                    expires_at: Some(claims.exp),
                    ..accepted("verified", &claims.sub)
                });
            }
            if self.account(name).await?.is_some() {
                let reason = format!("{name} is a registered name: sign on and send its token");
                return Err(refused("unauthorized", reason).into());
            }
            if !self.guests_welcome(now).await? {
                let reason = "this chat is closed to guests: sign up and sign on to write";
                return Err(refused("closed", reason).into());
            }
            Ok(accepted("guest", name))
        };
        self.answer(identified).await
    }

    async fn answer(
        &self,
        step: impl std::future::Future<Output = Step<AccountAnswer>>,
    ) -> AccountAnswer {
        match step.await {
            Ok(answer) | Err(Failure::Refused(answer)) => answer,
            Err(Failure::Down(doing, e)) => {
                self.log
                    .write("error", format!("accounts: {doing}: {e}"))
                    .await;
                // A deadline passed on the way: the caller may answer it as one.
                match timed_out(&e) {
                    true => refused("timed-out", "accounts did not answer in time; try again"),
                    false => refused("unavailable", UNAVAILABLE),
                }
            }
        }
    }

    async fn try_sign_up(&self, name: &str, password: &str) -> Step<AccountAnswer> {
        check_name(name).map_err(|reason| refused("invalid", reason))?;
        password::check(password).map_err(|reason| refused("invalid", reason))?;
        let taken = || refused("taken", format!("the name {name} is taken"));
        if self.account(name).await?.is_some() {
            return Err(taken().into());
        }
        // Two sign-ups of one name at once: the first to count it creates the account.
        let claims = self.store.increment(&store::claim_key(name)).await;
        if claims.map_err(down("claiming a name"))? != 1 {
            return Err(taken().into());
        }
        let mut salt = [0; SALT_BYTES];
        self.fill_random(&mut salt).await?;
        let account = Account {
            name: name.into(),
            hash: password::hash(password, &salt),
        };
        if let Err(e) = self.put_account(&account).await {
            // Let a retry claim the name again.
            let _ = self.store.del(&store::claim_key(name)).await;
            return Err(e);
        }
        self.log
            .write("info", format!("accounts: {name} signed up"))
            .await;
        Ok(accepted("created", name))
    }

    async fn try_sign_on(&self, name: &str, password: &str) -> Step<AccountAnswer> {
        if name.is_empty() || password.is_empty() {
            return Err(refused("invalid", "user_name and password are required").into());
        }
        let now = self.now().await?;
        let Some(account) = self.account(name).await? else {
            password::verify_nothing(password);
            return Err(refused("unauthorized", WRONG).into());
        };
        self.count_attempt(name, now).await?;
        if !password::verify(password, &account.hash) {
            return Err(refused("unauthorized", WRONG).into());
        }
        self.issue(&account, now).await
    }

    /// Counts a sign-on on `name`, refused over the limit with the wait until the next window.
    async fn count_attempt(&self, name: &str, now: u64) -> Step<()> {
        let window = now / SIGN_ON_WINDOW_MS;
        let key = store::attempts_key(name, window);
        let attempts = self.store.increment(&key).await;
        let attempts = attempts.map_err(down("counting a sign-on"))?;
        if attempts == 1 && window > 0 {
            // The store keeps no expiry (the embedded one has none): the last window goes.
            let _ = self.store.del(&store::attempts_key(name, window - 1)).await;
        }
        if attempts > SIGN_ON_ATTEMPTS {
            let wait = (window + 1) * SIGN_ON_WINDOW_MS - now;
            let reason = format!(
                "too many sign-on attempts for this name: try again in {} s",
                wait.div_ceil(1000)
            );
            return Err(AccountAnswer {
                retry_after_ms: Some(wait),
                ..refused("limited", reason)
            }
            .into());
        }
        Ok(())
    }

    /// A new token for `account`.
    async fn issue(&self, account: &Account, now: u64) -> Step<AccountAnswer> {
        let key = self.signing_key().await?;
        let jti = self.random.new_id().await.map_err(down("naming a token"))?;
        let signed_off = self.revocations(&account.name).await?;
        let claims = Claims {
            sub: account.name.clone(),
            jti,
            // A sign-on in the millisecond its user signed off everywhere still counts.
            iat: now.max(signed_off.before()),
            exp: now + TOKEN_LIFETIME_MS,
        };
        Ok(AccountAnswer {
            token: Some(token::issue(&key, &claims)),
            expires_at: Some(claims.exp),
            ..accepted("signed-on", &account.name)
        })
    }

    /// A token's claims, if it holds: ours, unexpired and not signed off; with its account's
    /// sign-offs. One read of the store (the signing key is kept once read).
    async fn verify(&self, token: &str, now: u64) -> Step<(Claims, Revocations)> {
        let unauthorized = |reason: &str| Failure::from(refused("unauthorized", reason));
        let kept = self
            .memory
            .signing_key()
            .map(|key| token::read(&key, token));
        let claims = match kept {
            Some(Ok(claims)) => claims,
            Some(Err(e)) if e != Unreadable::Forged => return Err(unauthorized(e.reason())),
            // Not kept yet, or kept before the key was replaced: the store has the chat's key.
            // Before the first sign-on there is none, and no token of ours.
            _ => {
                let key = self.stored_signing_key().await?;
                let key = key.ok_or_else(|| unauthorized(Unreadable::Forged.reason()))?;
                token::read(&key, token).map_err(|e| unauthorized(e.reason()))?
            }
        };
        if claims.exp <= now {
            return Err(unauthorized("the token has expired: sign on again"));
        }
        let revocations = self.revocations(&claims.sub).await?;
        if revocations.revoke(&claims) {
            return Err(unauthorized("the token was signed off"));
        }
        Ok((claims, revocations))
    }

    async fn revocations(&self, name: &str) -> Step<Revocations> {
        let members = self.store.set_members(&store::revocations_key(name)).await;
        Ok(Revocations::new(
            members.map_err(down("reading sign-offs"))?,
        ))
    }

    /// Whether guests may write: the operator's setting, read at most once a
    /// `GUESTS_SETTING_MS` by each instance.
    async fn guests_welcome(&self, now: u64) -> Step<bool> {
        if let Some(welcome) = self.memory.guests_welcome(now) {
            return Ok(welcome);
        }
        let setting = self.store.get(store::GUESTS).await;
        let setting = setting.map_err(down("reading the guests setting"))?;
        let welcome = setting.as_deref() != Some("closed");
        self.memory.keep_guests_welcome(welcome, now);
        Ok(welcome)
    }

    async fn account(&self, name: &str) -> Step<Option<Account>> {
        let found = self.store.get(&store::account_key(name)).await;
        match found.map_err(down("reading an account"))? {
            None => Ok(None),
            Some(json) => match serde_json::from_str(&json) {
                Ok(account) => Ok(Some(account)),
                Err(e) => Err(Failure::Down(
                    format!("the account of {name} is unreadable"),
                    RpcError::Deser(e.to_string()),
                )),
            },
        }
    }

    async fn put_account(&self, account: &Account) -> Step<()> {
        let json = serde_json::to_string(account).expect("an account serializes");
        let key = store::account_key(&account.name);
        self.store
            .set(&key, &json)
            .await
            .map_err(down("storing an account"))
    }

    async fn now(&self) -> Step<u64> {
        self.clock.now().await.map_err(down("reading the clock"))
    }

    async fn stored_signing_key(&self) -> Step<Option<Vec<u8>>> {
        let stored = self.store.get(store::SIGNING_KEY).await;
        let Some(encoded) = stored.map_err(down("reading the signing key"))? else {
            return Ok(None);
        };
        match STANDARD.decode(encoded) {
            Ok(key) if key.len() == KEY_BYTES => {
                self.memory.keep_signing_key(&key);
                Ok(Some(key))
            }
            _ => Err(Failure::Down(
                "the signing key is unreadable".into(),
                RpcError::Deser(format!(
                    "{} is not {KEY_BYTES} bytes of base64",
                    store::SIGNING_KEY
                )),
            )),
        }
    }

    /// The chat's signing key, made by the first sign-on on any host and kept in the store.
    /// Read from the store at every sign-on (rare, and slow anyway), so an instance never signs
    /// with a key that was replaced.
    async fn signing_key(&self) -> Step<Vec<u8>> {
        if let Some(key) = self.stored_signing_key().await? {
            return Ok(key);
        }
        let tries = self.store.increment(store::SIGNING_KEY_CLAIM).await;
        let tries = tries.map_err(down("claiming the signing key"))?;
        if tries != 1 && tries <= SIGNING_KEY_TRIES {
            // Another sign-on is making it right now.
            return match self.stored_signing_key().await? {
                Some(key) => Ok(key),
                None => Err(refused("unavailable", UNAVAILABLE).into()),
            };
        }
        let mut key = vec![0; KEY_BYTES];
        self.fill_random(&mut key).await?;
        self.store
            .set(store::SIGNING_KEY, &STANDARD.encode(&key))
            .await
            .map_err(down("storing the signing key"))?;
        self.memory.keep_signing_key(&key);
        self.log
            .write("info", "accounts: made the chat's signing key".into())
            .await;
        Ok(key)
    }

    async fn fill_random(&self, bytes: &mut [u8]) -> Step<()> {
        for chunk in bytes.chunks_mut(4) {
            let word = self
                .random
                .random_u32()
                .await
                .map_err(down("drawing random bits"))?;
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
