use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use futures::executor::block_on;

use super::*;
use crate::memory;

/// The key-value store, in memory; every call fails while `down`.
#[derive(Default)]
struct InMemory {
    values: Mutex<HashMap<String, String>>,
    sets: Mutex<HashMap<String, BTreeSet<String>>>,
    down: Mutex<bool>,
}

impl InMemory {
    fn check(&self) -> RpcResult<()> {
        match *self.down.lock().unwrap() {
            true => Err(RpcError::Other("the store is down".into())),
            false => Ok(()),
        }
    }
}

#[async_trait]
impl Store for InMemory {
    async fn get(&self, key: &str) -> RpcResult<Option<String>> {
        self.check()?;
        Ok(self.values.lock().unwrap().get(key).cloned())
    }
    async fn set(&self, key: &str, value: &str) -> RpcResult<()> {
        self.check()?;
        self.values.lock().unwrap().insert(key.into(), value.into());
        Ok(())
    }
    async fn increment(&self, key: &str) -> RpcResult<i32> {
        self.check()?;
        let mut values = self.values.lock().unwrap();
        let count = values.get(key).map_or(0, |v| v.parse().unwrap()) + 1;
        values.insert(key.into(), count.to_string());
        Ok(count)
    }
    async fn del(&self, key: &str) -> RpcResult<()> {
        self.check()?;
        self.values.lock().unwrap().remove(key);
        Ok(())
    }
    async fn set_add(&self, key: &str, member: &str) -> RpcResult<()> {
        self.check()?;
        let mut sets = self.sets.lock().unwrap();
        sets.entry(key.into()).or_default().insert(member.into());
        Ok(())
    }
    async fn set_del(&self, key: &str, member: &str) -> RpcResult<()> {
        self.check()?;
        if let Some(set) = self.sets.lock().unwrap().get_mut(key) {
            set.remove(member);
        }
        Ok(())
    }
    async fn set_members(&self, key: &str) -> RpcResult<Vec<String>> {
        self.check()?;
        let sets = self.sets.lock().unwrap();
        Ok(sets
            .get(key)
            .map_or_else(Vec::new, |s| s.iter().cloned().collect()))
    }
}

struct FixedClock(Mutex<u64>);

#[async_trait]
impl Clock for FixedClock {
    async fn now(&self) -> RpcResult<u64> {
        Ok(*self.0.lock().unwrap())
    }
}

/// Different numbers on every draw (the tests need distinct, not unpredictable).
#[derive(Default)]
struct Counter(Mutex<u32>);

#[async_trait]
impl Random for Counter {
    async fn random_u32(&self) -> RpcResult<u32> {
        let mut n = self.0.lock().unwrap();
        *n += 1;
        Ok(n.wrapping_mul(2_654_435_761))
    }
    async fn new_id(&self) -> RpcResult<String> {
        Ok(format!("id-{}", self.random_u32().await?))
    }
}

#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

#[async_trait]
impl Log for Lines {
    async fn write(&self, level: &str, text: String) {
        self.0.lock().unwrap().push(format!("{level}: {text}"));
    }
}

const START: u64 = 1_796_000_000_000;
const PASSWORD: &str = "correct horse battery";

struct World {
    store: InMemory,
    clock: FixedClock,
    random: Counter,
    log: Lines,
    memory: Memory,
}

impl World {
    fn new() -> Self {
        World {
            store: InMemory::default(),
            clock: FixedClock(Mutex::new(START)),
            random: Counter::default(),
            log: Lines::default(),
            memory: Memory::new(),
        }
    }

    fn services(&self) -> Services<'_, InMemory, FixedClock, Counter, Lines> {
        Services {
            store: &self.store,
            clock: &self.clock,
            random: &self.random,
            log: &self.log,
            memory: &self.memory,
        }
    }

    fn advance(&self, ms: u64) {
        *self.clock.0.lock().unwrap() += ms;
    }

    fn sign_up(&self, name: &str) -> AccountAnswer {
        block_on(self.services().sign_up(name, PASSWORD))
    }

    /// Signs `name` up and on; its token.
    fn token(&self, name: &str) -> String {
        self.sign_up(name);
        let answer = block_on(self.services().sign_on(name, PASSWORD));
        assert_eq!(answer.outcome, "signed-on", "{answer:?}");
        answer.token.unwrap()
    }

    fn identify(&self, name: &str, token: Option<&str>) -> AccountAnswer {
        block_on(self.services().identify(name, token))
    }
}

#[test]
fn a_signed_on_user_writes_verified_and_its_name_is_protected_whatever_the_case() {
    let world = World::new();
    let created = world.sign_up("Alice");
    assert_eq!(
        (created.accepted, created.outcome.as_str()),
        (true, "created")
    );
    assert_eq!(created.user_name.as_deref(), Some("Alice"));
    let signed_on = block_on(world.services().sign_on("alice", PASSWORD));
    assert_eq!(signed_on.expires_at, Some(START + TOKEN_LIFETIME_MS));
    let token = signed_on.token.unwrap();
    for name in ["Alice", "alice", ""] {
        let who = world.identify(name, Some(&token));
        assert_eq!(who.outcome, "verified", "{name:?}");
        assert_eq!(who.user_name.as_deref(), Some("Alice"));
        assert_eq!(
            who.expires_at, signed_on.expires_at,
            "until the token expires"
        );
    }
    for name in ["Alice", "ALICE"] {
        let who = world.identify(name, None);
        assert_eq!(who.outcome, "unauthorized", "{name}");
        assert!(who.reason.unwrap().contains("registered name"));
    }
    let guest = world.identify("bob", None);
    assert_eq!((guest.accepted, guest.outcome.as_str()), (true, "guest"));
    assert_eq!(guest.user_name.as_deref(), Some("bob"));
}

#[test]
fn a_name_is_taken_once_and_bad_names_and_passwords_are_refused() {
    let world = World::new();
    world.sign_up("carol");
    for name in ["carol", "CAROL"] {
        let again = world.sign_up(name);
        assert_eq!(again.outcome, "taken");
        assert_eq!(
            again.reason.as_deref(),
            Some(format!("the name {name} is taken").as_str())
        );
    }
    for name in ["", "has space", "émile", &"x".repeat(MAX_NAME_CHARS + 1)] {
        assert_eq!(world.sign_up(name).outcome, "invalid", "{name:?}");
    }
    let short = block_on(world.services().sign_up("dave", "short"));
    assert_eq!(short.outcome, "invalid");
    // The stored account keeps a hash, never the password.
    let stored = world.store.values.lock().unwrap()[&store::account_key("carol")].clone();
    assert!(
        !stored.contains(PASSWORD) && stored.contains("$argon2id$"),
        "{stored}"
    );
}

#[test]
fn a_wrong_password_and_an_unknown_name_get_the_same_refusal() {
    let world = World::new();
    world.sign_up("erin");
    let wrong = block_on(world.services().sign_on("erin", "not the password"));
    let unknown = block_on(world.services().sign_on("nobody", PASSWORD));
    for answer in [wrong, unknown] {
        assert_eq!(
            (answer.accepted, answer.outcome.as_str()),
            (false, "unauthorized")
        );
        assert_eq!(answer.reason.as_deref(), Some(WRONG));
        assert_eq!(answer.token, None);
    }
}

#[test]
fn tokens_are_refused_when_expired_forged_for_another_name_or_signed_off() {
    let world = World::new();
    let token = world.token("frank");
    world.sign_up("grace");
    let reason = |who: AccountAnswer| {
        assert_eq!(who.outcome, "unauthorized");
        who.reason.unwrap()
    };
    assert!(reason(world.identify("grace", Some(&token))).contains("another name"));
    let forged = token::issue(
        &[9; KEY_BYTES],
        &Claims {
            sub: "frank".into(),
            jti: "x".into(),
            iat: START,
            exp: START + 1_000,
        },
    );
    assert!(reason(world.identify("frank", Some(&forged))).contains("not issued here"));
    assert!(reason(world.identify("frank", Some("garbage"))).contains("malformed"));
    world.advance(TOKEN_LIFETIME_MS);
    assert!(reason(world.identify("frank", Some(&token))).contains("expired"));
}

#[test]
fn signing_off_revokes_that_token_and_everywhere_revokes_all() {
    let world = World::new();
    let first = world.token("heidi");
    let second = block_on(world.services().sign_on("heidi", PASSWORD))
        .token
        .unwrap();
    let third = block_on(world.services().sign_on("heidi", PASSWORD))
        .token
        .unwrap();
    let off = block_on(world.services().sign_off(&first, false));
    assert_eq!((off.accepted, off.outcome.as_str()), (true, "signed-off"));
    assert_eq!(
        world.identify("heidi", Some(&first)).reason.as_deref(),
        Some("the token was signed off")
    );
    assert_eq!(world.identify("heidi", Some(&second)).outcome, "verified");
    // A signed-off token can neither refresh nor sign off again.
    assert_eq!(
        block_on(world.services().refresh(&first)).outcome,
        "unauthorized"
    );
    assert_eq!(
        block_on(world.services().sign_off(&first, false)).outcome,
        "unauthorized"
    );
    assert!(block_on(world.services().sign_off(&second, true)).accepted);
    for token in [&second, &third] {
        assert_eq!(world.identify("heidi", Some(token)).outcome, "unauthorized");
    }
    // Signing on again works at once.
    let fresh = block_on(world.services().sign_on("heidi", PASSWORD))
        .token
        .unwrap();
    assert_eq!(world.identify("heidi", Some(&fresh)).outcome, "verified");
}

#[test]
fn a_refreshed_token_lives_on_from_now() {
    let world = World::new();
    let token = world.token("ivan");
    world.advance(TOKEN_LIFETIME_MS - 1);
    let refreshed = block_on(world.services().refresh(&token));
    assert_eq!(refreshed.outcome, "signed-on");
    assert_eq!(
        refreshed.expires_at,
        Some(START + 2 * TOKEN_LIFETIME_MS - 1)
    );
    world.advance(1);
    assert_eq!(world.identify("ivan", Some(&token)).outcome, "unauthorized");
    let new = refreshed.token.unwrap();
    assert_eq!(world.identify("ivan", Some(&new)).outcome, "verified");
}

#[test]
fn sign_ons_over_the_limit_wait_for_the_next_window() {
    let world = World::new();
    world.sign_up("judy");
    world.advance(SIGN_ON_WINDOW_MS - (START % SIGN_ON_WINDOW_MS) + 10_000);
    for _ in 0..SIGN_ON_ATTEMPTS {
        let answer = block_on(world.services().sign_on("judy", "wrong password"));
        assert_eq!(answer.outcome, "unauthorized");
    }
    // The right password too: the limit counts attempts, not failures.
    let limited = block_on(world.services().sign_on("JUDY", PASSWORD));
    assert_eq!(limited.outcome, "limited");
    assert_eq!(limited.retry_after_ms, Some(50_000));
    assert!(limited.reason.unwrap().contains("try again in 50 s"));
    assert_eq!(limited.token, None);
    world.advance(50_000);
    assert_eq!(
        block_on(world.services().sign_on("judy", PASSWORD)).outcome,
        "signed-on"
    );
    // The window before is gone from the store.
    let keys = world
        .store
        .values
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.contains(":attempts:"))
        .count();
    assert_eq!(keys, 1);
}

#[test]
fn a_chat_closed_to_guests_refuses_them_and_not_its_users() {
    let world = World::new();
    let token = world.token("ken");
    block_on(world.store.set(store::GUESTS, "closed")).unwrap();
    let guest = world.identify("visitor", None);
    assert_eq!((guest.accepted, guest.outcome.as_str()), (false, "closed"));
    assert_eq!(world.identify("ken", Some(&token)).outcome, "verified");
    block_on(world.store.set(store::GUESTS, "open")).unwrap();
    // An instance uses the setting it read for a second: then it reads it again.
    assert_eq!(world.identify("visitor", None).outcome, "closed");
    world.advance(memory::GUESTS_SETTING_MS);
    assert_eq!(world.identify("visitor", None).outcome, "guest");
}

#[test]
fn the_signing_key_is_made_once_and_every_host_reads_it() {
    let world = World::new();
    let token = world.token("leo");
    let key = world.store.values.lock().unwrap()[store::SIGNING_KEY].clone();
    assert_eq!(STANDARD.decode(&key).unwrap().len(), KEY_BYTES);
    // Another host: its own clock and numbers, the same store.
    let other = Services {
        random: &Counter(Mutex::new(1000)),
        memory: &Memory::new(),
        ..world.services()
    };
    assert_eq!(
        block_on(other.identify("leo", Some(&token))).outcome,
        "verified"
    );
    block_on(other.sign_on("leo", PASSWORD));
    assert_eq!(world.store.values.lock().unwrap()[store::SIGNING_KEY], key);
}

#[test]
fn a_store_that_is_down_is_unavailable_and_nothing_secret_is_logged() {
    let world = World::new();
    let token = world.token("mallory");
    *world.store.down.lock().unwrap() = true;
    let answers = [
        world.sign_up("nina"),
        block_on(world.services().sign_on("mallory", PASSWORD)),
        world.identify("mallory", Some(&token)),
        block_on(world.services().refresh(&token)),
    ];
    for answer in answers {
        assert_eq!(answer.outcome, "unavailable");
        assert_eq!(answer.reason.as_deref(), Some(UNAVAILABLE));
    }
    let key = world.store.values.lock().unwrap()[store::SIGNING_KEY].clone();
    let lines = world.log.0.lock().unwrap();
    assert!(
        lines.iter().any(|l| l.contains("the store is down")),
        "{lines:?}"
    );
    for line in lines.iter() {
        assert!(
            !line.contains(PASSWORD) && !line.contains(&token) && !line.contains(&key),
            "{line}"
        );
    }
}

#[test]
fn an_instance_that_kept_a_replaced_key_reads_the_stores_again() {
    let world = World::new();
    let old = world.token("olga");
    // The key is replaced in the store (its maker died before another took over, say); this
    // instance still keeps the old one.
    let new_key = STANDARD.encode([7u8; KEY_BYTES]);
    block_on(world.store.set(store::SIGNING_KEY, &new_key)).unwrap();
    let other_instance = Services {
        memory: &Memory::new(),
        ..world.services()
    };
    let fresh = block_on(other_instance.sign_on("olga", PASSWORD));
    let fresh = fresh.token.unwrap();
    assert_eq!(world.identify("olga", Some(&fresh)).outcome, "verified");
    let refused = world.identify("olga", Some(&old));
    assert_eq!(refused.reason.as_deref(), Some(Unreadable::Forged.reason()));
}

#[test]
fn sign_offs_that_revoke_nothing_more_are_tidied_away() {
    let world = World::new();
    let first = world.token("pia");
    let second = block_on(world.services().sign_on("pia", PASSWORD));
    assert!(block_on(world.services().sign_off(&first, false)).accepted);
    world.advance(TOKEN_LIFETIME_MS - 1);
    let third = block_on(world.services().refresh(&second.token.unwrap()));
    let third = third.token.unwrap();
    // The first token has expired: its sign-off goes with the next one.
    world.advance(1);
    assert!(block_on(world.services().sign_off(&third, true)).accepted);
    let sets = world.store.sets.lock().unwrap();
    let members: Vec<&String> = sets[&store::revocations_key("pia")].iter().collect();
    assert_eq!(members.len(), 1, "{members:?}");
    assert!(members[0].starts_with("before "), "{members:?}");
}
