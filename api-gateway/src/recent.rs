//! The accounts' answers an instance uses again for a moment, without asking: that a name is a
//! guest's (nobody registered it, and the chat takes guests), and that a token holds for a
//! name. A message that one of them covers costs no call to `mcchat/accounts` and no read of
//! the store.
//!
//! Each answer holds for `ANSWER_MS`, and a token's never past its expiry. So a sign-up, a
//! chat closed to guests or a sign-off holds on every instance within that time; a sign-off
//! holds at once on the instance that relayed it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// How long an instance uses an accounts' answer.
pub const ANSWER_MS: u64 = 2000;
/// Answers of each kind an instance keeps at most; past it, the ones that have run out go, or
/// all of them.
const MOST_ANSWERS: usize = 4096;

/// A token, as kept: its SHA-256, never the token itself, so a lookup compares digests (an
/// attacker timing it learns nothing of a token) and a memory dump holds none.
type TokenDigest = [u8; 32];

/// One instance's answers, with when each was given.
pub struct RecentAnswers {
    kept: Mutex<Kept>,
}

struct Kept {
    /// Guest names, as given, and when each was answered.
    guests: BTreeMap<String, u64>,
    /// Tokens, each with the name the message gave it under (a token holds only for its own
    /// user's name, or none): the last one answered, which is what a client sends each time.
    verified: BTreeMap<TokenDigest, Verified>,
}

struct Verified {
    /// The name the message gave, as given.
    name: String,
    /// The user, as registered.
    user: String,
    answered_at: u64,
    expires_at: u64,
}

impl RecentAnswers {
    pub const fn new() -> RecentAnswers {
        RecentAnswers {
            kept: Mutex::new(Kept {
                guests: BTreeMap::new(),
                verified: BTreeMap::new(),
            }),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `name` was answered as a guest's less than `ANSWER_MS` before `now` (and not
    /// after it: a clock set back forgets it).
    pub fn guest(&self, name: &str, now: u64) -> bool {
        let kept = self.kept();
        kept.guests.get(name).is_some_and(|&at| fresh(at, now))
    }

    pub fn remember_guest(&self, name: &str, now: u64) {
        let guests = &mut self.kept().guests;
        make_room(guests, name, |&at| fresh(at, now));
        guests.insert(name.to_string(), now);
    }

    /// The user `token` was answered as holding for under `name`, while that answer holds.
    pub fn verified(&self, token: &str, name: &str, now: u64) -> Option<String> {
        let kept = self.kept();
        let verified = kept.verified.get(&digest(token))?;
        (verified.name == name && verified.holds(now)).then(|| verified.user.clone())
    }

    /// The accounts' answer that `token` holds for `user` under `name` until `expires_at`.
    pub fn remember_verified(
        &self,
        token: &str,
        name: &str,
        user: &str,
        expires_at: u64,
        now: u64,
    ) {
        let verified = &mut self.kept().verified;
        let key = digest(token);
        make_room(verified, &key, |v| v.holds(now));
        let answer = Verified {
            name: name.to_string(),
            user: user.to_string(),
            answered_at: now,
            expires_at,
        };
        verified.insert(key, answer);
    }

    /// Forgets `token`: it was signed off.
    pub fn forget_token(&self, token: &str) {
        self.kept().verified.remove(&digest(token));
    }

    /// Forgets every token of `user`: they were all signed off.
    pub fn forget_user(&self, user: &str) {
        self.kept().verified.retain(|_, v| v.user != user);
    }
}

impl Default for RecentAnswers {
    fn default() -> Self {
        Self::new()
    }
}

impl Verified {
    fn holds(&self, now: u64) -> bool {
        fresh(self.answered_at, now) && now < self.expires_at
    }
}

/// Makes room in `answers` for `key`: when full, the answers that no longer hold go, or, if
/// none has run out, all of them.
fn make_room<K: Ord + ?Sized, Q: Ord + std::borrow::Borrow<K>, V>(
    answers: &mut BTreeMap<Q, V>,
    key: &K,
    holds: impl Fn(&V) -> bool,
) {
    if answers.len() >= MOST_ANSWERS && !answers.contains_key(key) {
        answers.retain(|_, answer| holds(answer));
        if answers.len() >= MOST_ANSWERS {
            answers.clear();
        }
    }
}

fn fresh(answered_at: u64, now: u64) -> bool {
    answered_at <= now && now - answered_at < ANSWER_MS
}

fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_answer_holds_for_its_time_and_by_the_name_as_given() {
        let answers = RecentAnswers::new();
        answers.remember_guest("ann", 1000);
        assert!(answers.guest("ann", 1000));
        assert!(answers.guest("ann", 1000 + ANSWER_MS - 1));
        assert!(!answers.guest("ann", 1000 + ANSWER_MS));
        assert!(!answers.guest("Ann", 1000));
        assert!(!answers.guest("ann", 999), "a clock set back forgets it");
    }

    #[test]
    fn a_token_answer_holds_for_its_name_its_time_and_never_past_the_tokens_expiry() {
        let answers = RecentAnswers::new();
        answers.remember_verified("mc1.t", "ann", "Ann", 1_000_000, 1000);
        assert_eq!(
            answers.verified("mc1.t", "ann", 1000).as_deref(),
            Some("Ann")
        );
        assert_eq!(
            answers
                .verified("mc1.t", "ann", 1000 + ANSWER_MS - 1)
                .as_deref(),
            Some("Ann")
        );
        assert_eq!(answers.verified("mc1.t", "ann", 1000 + ANSWER_MS), None);
        assert_eq!(
            answers.verified("mc1.t", "", 1000),
            None,
            "another name asks again"
        );
        assert_eq!(answers.verified("mc1.u", "ann", 1000), None);
        assert_eq!(
            answers.verified("mc1.t", "ann", 999),
            None,
            "a clock set back forgets it"
        );

        answers.remember_verified("mc1.soon", "", "Ann", 1500, 1000);
        assert!(answers.verified("mc1.soon", "", 1499).is_some());
        assert_eq!(
            answers.verified("mc1.soon", "", 1500),
            None,
            "the token expired"
        );
    }

    #[test]
    fn a_sign_off_forgets_the_token_or_every_token_of_the_user() {
        let answers = RecentAnswers::new();
        for (token, user) in [("mc1.a", "Ann"), ("mc1.b", "Ann"), ("mc1.c", "Bob")] {
            answers.remember_verified(token, "", user, u64::MAX, 0);
        }
        answers.forget_token("mc1.a");
        assert_eq!(answers.verified("mc1.a", "", 1), None);
        assert!(answers.verified("mc1.b", "", 1).is_some());
        answers.forget_user("Ann");
        assert_eq!(answers.verified("mc1.b", "", 1), None);
        assert!(answers.verified("mc1.c", "", 1).is_some());
    }

    #[test]
    fn no_token_is_kept_only_its_digest() {
        let answers = RecentAnswers::new();
        answers.remember_verified("mc1.secret", "ann", "ann", u64::MAX, 0);
        let kept = answers.kept();
        let (digest, _) = kept.verified.iter().next().unwrap();
        assert_ne!(&digest[..], b"mc1.secret".as_slice());
        assert_eq!(digest, &super::digest("mc1.secret"));
    }

    #[test]
    fn a_full_memory_forgets_what_ran_out_first() {
        let answers = RecentAnswers::new();
        for n in 0..MOST_ANSWERS {
            answers.remember_guest(&format!("old{n}"), 0);
        }
        answers.remember_guest("first", ANSWER_MS);
        answers.remember_guest("new", ANSWER_MS);
        assert!(answers.guest("first", ANSWER_MS));
        assert!(answers.guest("new", ANSWER_MS));
        assert_eq!(answers.kept().guests.len(), 2);

        for n in 0..MOST_ANSWERS + 1 {
            answers.remember_verified(&format!("mc1.{n}"), "", "ann", u64::MAX, ANSWER_MS);
        }
        assert_eq!(
            answers.kept().verified.len(),
            1,
            "none had run out: all went"
        );
    }
}
