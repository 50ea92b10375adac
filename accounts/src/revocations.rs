//! An account's sign-offs, as the members of one set in the store (`store::revocations_key`),
//! so that verifying a token takes one read: `token <jti> <exp>` for each token signed off, and
//! `before <ms>` for each sign-off everywhere (tokens issued before then are revoked).

use crate::token::Claims;

/// The member for one signed-off token; it is of no use once the token has expired.
pub fn token_member(claims: &Claims) -> String {
    format!("token {} {}", claims.jti, claims.exp)
}

/// The member for signing off everywhere at `ms`.
pub fn before_member(ms: u64) -> String {
    format!("before {ms}")
}

/// One account's sign-offs, as read.
#[derive(Debug, Default)]
pub struct Revocations {
    members: Vec<String>,
}

impl Revocations {
    pub fn new(members: Vec<String>) -> Revocations {
        Revocations { members }
    }

    /// Tokens issued before this time are revoked (0: never signed off everywhere).
    pub fn before(&self) -> u64 {
        self.parsed()
            .filter_map(|m| match m {
                Member::Before(ms) => Some(ms),
                Member::Token(..) => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Whether the token with `claims` was signed off, alone or everywhere.
    pub fn revoke(&self, claims: &Claims) -> bool {
        claims.iat < self.before()
            || self
                .parsed()
                .any(|m| matches!(m, Member::Token(jti, _) if jti == claims.jti))
    }

    /// Members that no longer revoke anything at `now`: expired tokens' and all but the latest
    /// sign-off everywhere. Unreadable members are kept, for the operator to see.
    pub fn stale(&self, now: u64) -> Vec<&str> {
        let latest = self.before();
        self.members
            .iter()
            .filter(|m| match Member::parse(m) {
                Some(Member::Token(_, exp)) => exp <= now,
                Some(Member::Before(ms)) => ms < latest,
                None => false,
            })
            .map(String::as_str)
            .collect()
    }

    fn parsed(&self) -> impl Iterator<Item = Member<'_>> {
        self.members.iter().filter_map(|m| Member::parse(m))
    }
}

enum Member<'a> {
    Token(&'a str, u64),
    Before(u64),
}

impl Member<'_> {
    fn parse(member: &str) -> Option<Member<'_>> {
        let mut words = member.split(' ');
        let member = match (words.next()?, words.next()?, words.next()) {
            ("token", jti, Some(exp)) => Member::Token(jti, exp.parse().ok()?),
            ("before", ms, None) => Member::Before(ms.parse().ok()?),
            _ => return None,
        };
        words.next().is_none().then_some(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jti: &str, iat: u64) -> Claims {
        Claims {
            sub: "ann".into(),
            jti: jti.into(),
            iat,
            exp: iat + 100,
        }
    }

    #[test]
    fn a_token_is_revoked_by_its_own_sign_off_or_a_later_sign_off_everywhere() {
        let a = claims("a", 10);
        let b = claims("b", 20);
        let revocations =
            Revocations::new(vec![token_member(&a), before_member(15), before_member(5)]);
        assert!(revocations.revoke(&a));
        assert!(!revocations.revoke(&b));
        assert!(revocations.revoke(&claims("c", 14)));
        assert_eq!(revocations.before(), 15);
        assert!(!Revocations::default().revoke(&a));
    }

    #[test]
    fn stale_members_are_expired_tokens_and_earlier_sign_offs_everywhere() {
        let a = claims("a", 10); // expires at 110
        let b = claims("b", 50); // expires at 150
        let members = vec![
            token_member(&a),
            token_member(&b),
            before_member(5),
            before_member(15),
            "garbage".into(),
            "token x".into(),
            "before 1 2".into(),
        ];
        let revocations = Revocations::new(members);
        assert_eq!(revocations.stale(110), ["token a 110", "before 5"]);
        assert_eq!(revocations.before(), 15);
    }
}
