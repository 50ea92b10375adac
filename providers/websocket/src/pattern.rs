//! Subject patterns as NATS takes them: tokens between dots, where a token that is `*` matches
//! any one token, and a last token that is `>` matches one or more. A session subscribes with
//! them (`rtchat.>`, `rtchat.*.messages`, `rtchat.dev.messages`).

use crate::frame::MAX_SUBJECT_LEN;

/// A pattern NATS would accept, with wildcards only as whole tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern(String);

/// Why a pattern was refused; the text goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPattern {
    #[error(
        "a pattern is a JSON string of 1 to {MAX_SUBJECT_LEN} characters with no spaces or \
         control characters"
    )]
    NotASubject,
    #[error("{0:?} has an empty token: a dot may not start or end a pattern, or follow a dot")]
    EmptyToken(String),
    #[error("{0:?} has a wildcard inside a token: '*' and '>' stand alone between dots")]
    WildcardInToken(String),
    #[error("{0:?} has '>' before its end: '>' matches the rest of a subject, so it comes last")]
    TailNotLast(String),
}

/// A token of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    Literal(&'a str),
    /// `*`: any one token.
    Any,
    /// `>`: one or more tokens, to the end.
    Rest,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, BadPattern> {
        if text.is_empty()
            || text.len() > MAX_SUBJECT_LEN
            || text.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(BadPattern::NotASubject);
        }
        let tokens: Vec<&str> = text.split('.').collect();
        for (n, token) in tokens.iter().enumerate() {
            if token.is_empty() {
                return Err(BadPattern::EmptyToken(text.into()));
            }
            if token.len() > 1 && token.contains(['*', '>']) {
                return Err(BadPattern::WildcardInToken(text.into()));
            }
            if *token == ">" && n + 1 != tokens.len() {
                return Err(BadPattern::TailNotLast(text.into()));
            }
        }
        Ok(Pattern(text.into()))
    }

    /// `>`: every subject.
    pub fn all() -> Pattern {
        Pattern(">".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn tokens(&self) -> impl Iterator<Item = Token<'_>> {
        self.0.split('.').map(|token| match token {
            "*" => Token::Any,
            ">" => Token::Rest,
            literal => Token::Literal(literal),
        })
    }

    /// Whether `subject` matches, token by token (the index answers the same for many
    /// patterns at once).
    pub fn matches(&self, subject: &str) -> bool {
        let mut subject = subject.split('.');
        for token in self.tokens() {
            match (token, subject.next()) {
                (Token::Rest, Some(_)) => return true,
                (Token::Any, Some(_)) => {}
                (Token::Literal(literal), Some(given)) if literal == given => {}
                _ => return false,
            }
        }
        subject.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_token_or_the_rest() {
        let cases = [
            ("rtchat.>", "rtchat.messages", true),
            ("rtchat.>", "rtchat.dev.messages", true),
            ("rtchat.>", "rtchat", false),
            ("rtchat.*.messages", "rtchat.dev.messages", true),
            ("rtchat.*.messages", "rtchat.messages", false),
            ("rtchat.dev.messages", "rtchat.dev.messages", true),
            ("rtchat.dev.messages", "rtchat.ops.messages", false),
            ("rtchat.messages", "rtchat.messages.x", false),
            (">", "anything.at.all", true),
            ("*", "one", true),
            ("*", "one.two", false),
        ];
        for (pattern, subject, expected) in cases {
            let pattern = Pattern::parse(pattern).unwrap();
            assert_eq!(pattern.matches(subject), expected, "{pattern:?} {subject}");
        }
    }

    #[test]
    fn patterns_a_broker_would_refuse_are_refused_with_the_rule() {
        let long = "a".repeat(MAX_SUBJECT_LEN + 1);
        let cases = [
            ("", "1 to 256 characters"),
            ("rtchat. dev", "no spaces"),
            (long.as_str(), "1 to 256 characters"),
            ("rtchat..messages", "empty token"),
            (".rtchat", "empty token"),
            ("rtchat.", "empty token"),
            ("rtchat.>.messages", "'>' before its end"),
            ("rtchat.dev*", "wildcard inside a token"),
            ("rtchat.>>", "wildcard inside a token"),
        ];
        for (text, expected) in cases {
            let refused = Pattern::parse(text).unwrap_err().to_string();
            assert!(refused.contains(expected), "{text:?}: {refused}");
        }
    }
}
