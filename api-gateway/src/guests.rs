//! The guest names an instance was told it may write under, for a moment: the accounts' answer
//! for a guest (the name is nobody's, and the chat takes guests) is used again for
//! `GUEST_ANSWER_MS` without asking, so a guest's message costs no call to `mcchat/accounts`
//! and no read of the store. A token is never taken on trust: every signed-on message asks.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// How long an instance uses an accounts' "guest" answer: a name signed up, or a chat closed
/// to guests, holds on every instance within this time (and the accounts' own second).
pub const GUEST_ANSWER_MS: u64 = 2000;
/// Names an instance keeps at most; past it, the answers that have run out go, or all of them.
const MOST_NAMES: usize = 4096;

/// One instance's guest answers, by the name as given, with when each was answered.
#[derive(Default)]
pub struct RecentGuests {
    answered: Mutex<BTreeMap<String, u64>>,
}

impl RecentGuests {
    pub const fn new() -> RecentGuests {
        RecentGuests {
            answered: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether `name` was answered as a guest less than `GUEST_ANSWER_MS` before `now` (and
    /// not after it: a clock set back forgets it).
    pub fn welcome(&self, name: &str, now: u64) -> bool {
        let answered = self.answered.lock().unwrap_or_else(|e| e.into_inner());
        answered.get(name).is_some_and(|&at| fresh(at, now))
    }

    pub fn remember(&self, name: &str, now: u64) {
        let mut answered = self.answered.lock().unwrap_or_else(|e| e.into_inner());
        if answered.len() >= MOST_NAMES && !answered.contains_key(name) {
            answered.retain(|_, &mut at| fresh(at, now));
            if answered.len() >= MOST_NAMES {
                answered.clear();
            }
        }
        answered.insert(name.to_string(), now);
    }
}

fn fresh(answered_at: u64, now: u64) -> bool {
    answered_at <= now && now - answered_at < GUEST_ANSWER_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_holds_for_its_time_and_by_the_name_as_given() {
        let guests = RecentGuests::new();
        guests.remember("ann", 1000);
        assert!(guests.welcome("ann", 1000));
        assert!(guests.welcome("ann", 1000 + GUEST_ANSWER_MS - 1));
        assert!(!guests.welcome("ann", 1000 + GUEST_ANSWER_MS));
        assert!(!guests.welcome("Ann", 1000));
        assert!(!guests.welcome("ann", 999), "a clock set back forgets it");
    }

    #[test]
    fn a_full_memory_forgets_what_ran_out_first() {
        let guests = RecentGuests::new();
        for n in 0..MOST_NAMES {
            guests.remember(&format!("old{n}"), 0);
        }
        guests.remember("first", GUEST_ANSWER_MS);
        guests.remember("new", GUEST_ANSWER_MS);
        assert!(guests.welcome("first", GUEST_ANSWER_MS));
        assert!(guests.welcome("new", GUEST_ANSWER_MS));
        assert_eq!(guests.answered.lock().unwrap().len(), 2);
    }
}
