//! Which sessions want a broadcast. Every session's patterns are in one tree keyed by token, so
//! a broadcast walks only the branches its subject's tokens lead to: it costs nothing for a
//! session whose patterns it does not match, however many there are.
//!
//! A new session follows the link's default patterns until it subscribes for itself; its first
//! subscription replaces them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;

use crate::pattern::{Pattern, Token};

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a session may hold at most {0} subscriptions; unsubscribe from one first")]
    TooMany(usize),
    #[error("the session has ended")]
    NoSession,
}

/// The patterns of every session, and the tree that finds them by subject.
pub struct Interest<K> {
    root: Node<K>,
    sessions: HashMap<K, Followed>,
}

struct Followed {
    patterns: BTreeSet<Pattern>,
    /// Still the defaults: the session has not subscribed yet.
    defaulted: bool,
}

struct Node<K> {
    /// Sessions with a pattern whose last token is this node's.
    complete: HashSet<K>,
    /// Sessions with a pattern that goes on with `>` here.
    rest: HashSet<K>,
    literals: HashMap<Box<str>, Node<K>>,
    any: Option<Box<Node<K>>>,
}

impl<K> Default for Node<K> {
    fn default() -> Self {
        Node {
            complete: HashSet::new(),
            rest: HashSet::new(),
            literals: HashMap::new(),
            any: None,
        }
    }
}

impl<K> Default for Interest<K> {
    fn default() -> Self {
        Interest {
            root: Node::default(),
            sessions: HashMap::new(),
        }
    }
}

impl<K: Copy + Eq + Hash + Ord> Interest<K> {
    /// A new session, following `defaults` until it subscribes.
    pub fn join(&mut self, session: K, defaults: &[Pattern]) {
        self.leave(session);
        for pattern in defaults {
            self.root.insert(pattern.tokens(), session);
        }
        let patterns = defaults.iter().cloned().collect();
        let followed = Followed {
            patterns,
            defaulted: true,
        };
        self.sessions.insert(session, followed);
    }

    pub fn leave(&mut self, session: K) {
        if let Some(followed) = self.sessions.remove(&session) {
            for pattern in &followed.patterns {
                self.root.remove(pattern.tokens(), session);
            }
        }
    }

    /// Adds a pattern (the first replaces the defaults); at most `most` per session.
    pub fn subscribe(
        &mut self,
        session: K,
        pattern: Pattern,
        most: usize,
    ) -> Result<&BTreeSet<Pattern>, Refusal> {
        let followed = self.sessions.get_mut(&session).ok_or(Refusal::NoSession)?;
        if followed.defaulted {
            followed.defaulted = false;
            for default in std::mem::take(&mut followed.patterns) {
                self.root.remove(default.tokens(), session);
            }
        }
        if !followed.patterns.contains(&pattern) {
            if followed.patterns.len() >= most {
                return Err(Refusal::TooMany(most));
            }
            self.root.insert(pattern.tokens(), session);
            followed.patterns.insert(pattern);
        }
        Ok(&followed.patterns)
    }

    /// Removes a pattern, if the session holds it.
    pub fn unsubscribe(
        &mut self,
        session: K,
        pattern: &Pattern,
    ) -> Result<&BTreeSet<Pattern>, Refusal> {
        let followed = self.sessions.get_mut(&session).ok_or(Refusal::NoSession)?;
        if followed.patterns.remove(pattern) {
            self.root.remove(pattern.tokens(), session);
        }
        Ok(&followed.patterns)
    }

    /// The sessions with a pattern that matches `subject`, each once.
    pub fn followers(&self, subject: &str) -> Vec<K> {
        let tokens: Vec<&str> = subject.split('.').collect();
        let mut found = Vec::new();
        self.root.collect(&tokens, &mut found);
        found.sort_unstable();
        found.dedup();
        found
    }
}

impl<K: Copy + Eq + Hash> Node<K> {
    fn insert<'a>(&mut self, mut tokens: impl Iterator<Item = Token<'a>>, session: K) {
        let Some(token) = tokens.next() else {
            self.complete.insert(session);
            return;
        };
        match token {
            Token::Rest => {
                self.rest.insert(session);
            }
            Token::Any => self.any.get_or_insert_default().insert(tokens, session),
            Token::Literal(literal) => self
                .literals
                .entry(literal.into())
                .or_default()
                .insert(tokens, session),
        }
    }

    /// Removes the session's pattern; branches left empty are pruned.
    fn remove<'a>(&mut self, mut tokens: impl Iterator<Item = Token<'a>>, session: K) {
        let Some(token) = tokens.next() else {
            self.complete.remove(&session);
            return;
        };
        match token {
            Token::Rest => {
                self.rest.remove(&session);
            }
            Token::Any => {
                if let Some(any) = &mut self.any {
                    any.remove(tokens, session);
                    if any.is_empty() {
                        self.any = None;
                    }
                }
            }
            Token::Literal(literal) => {
                if let Some(next) = self.literals.get_mut(literal) {
                    next.remove(tokens, session);
                    if next.is_empty() {
                        self.literals.remove(literal);
                    }
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.complete.is_empty()
            && self.rest.is_empty()
            && self.literals.is_empty()
            && self.any.is_none()
    }

    fn collect(&self, tokens: &[&str], found: &mut Vec<K>) {
        let Some((first, others)) = tokens.split_first() else {
            found.extend(&self.complete);
            return;
        };
        found.extend(&self.rest);
        if let Some(next) = self.literals.get(*first) {
            next.collect(others, found);
        }
        if let Some(any) = &self.any {
            any.collect(others, found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    #[test]
    fn a_session_follows_the_defaults_until_its_first_subscription_replaces_them() {
        let mut interest = Interest::default();
        interest.join(1, &[pattern("rtchat.messages")]);
        interest.join(2, &[pattern("rtchat.messages")]);
        assert_eq!(interest.followers("rtchat.messages"), [1, 2]);
        assert!(interest.followers("rtchat.dev.messages").is_empty());

        let now = interest
            .subscribe(2, pattern("rtchat.dev.messages"), 8)
            .unwrap();
        assert_eq!(
            now.iter().map(Pattern::as_str).collect::<Vec<_>>(),
            ["rtchat.dev.messages"]
        );
        assert_eq!(interest.followers("rtchat.messages"), [1]);
        assert_eq!(interest.followers("rtchat.dev.messages"), [2]);
        // Subscribing to general again is a choice like any other.
        interest
            .subscribe(2, pattern("rtchat.messages"), 8)
            .unwrap();
        assert_eq!(interest.followers("rtchat.messages"), [1, 2]);

        interest
            .unsubscribe(2, &pattern("rtchat.dev.messages"))
            .unwrap();
        assert!(interest.followers("rtchat.dev.messages").is_empty());
        interest.leave(1);
        assert_eq!(interest.followers("rtchat.messages"), [2]);
    }

    #[test]
    fn overlapping_patterns_deliver_once_and_the_bound_counts_patterns() {
        let mut interest = Interest::default();
        interest.join(7, &[]);
        for text in ["rtchat.>", "rtchat.*.messages", "rtchat.dev.messages"] {
            interest.subscribe(7, pattern(text), 3).unwrap();
        }
        assert_eq!(interest.followers("rtchat.dev.messages"), [7]);
        // The same pattern again is no new subscription.
        assert!(interest.subscribe(7, pattern("rtchat.>"), 3).is_ok());
        assert_eq!(
            interest.subscribe(7, pattern("rtchat.ops.messages"), 3),
            Err(Refusal::TooMany(3))
        );
        assert_eq!(
            interest.subscribe(8, pattern("rtchat.>"), 3),
            Err(Refusal::NoSession)
        );
    }

    #[test]
    fn the_tree_answers_as_each_pattern_would_and_empties_when_sessions_leave() {
        let patterns = [
            ">", "*", "a", "a.b", "a.*", "a.>", "*.b", "*.*", "a.b.c", "a.*.c", "*.>", "b.>",
            "a.b.>", "*.b.*",
        ];
        let subjects = [
            "a", "b", "a.b", "a.c", "b.b", "a.b.c", "a.x.c", "a.b.c.d", "c",
        ];
        let mut interest = Interest::default();
        for (session, text) in patterns.iter().enumerate() {
            interest.join(session, &[]);
            interest.subscribe(session, pattern(text), 1).unwrap();
        }
        for subject in subjects {
            let expected: Vec<usize> = (0..patterns.len())
                .filter(|&n| pattern(patterns[n]).matches(subject))
                .collect();
            assert_eq!(interest.followers(subject), expected, "{subject}");
        }
        for session in 0..patterns.len() {
            interest.leave(session);
        }
        assert!(interest.root.is_empty());
        assert!(interest.sessions.is_empty());
    }
}
