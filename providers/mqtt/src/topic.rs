//! MQTT topics and filters as messaging subjects, and back: levels `/` ↔ `.`, wildcards
//! `+` ↔ `*` and `#` ↔ `>`. So an actor uses the same subjects on MQTT as on NATS
//! (`chat/in` arrives as `chat.in`; `rtchat.messages` goes out as `rtchat/messages`).
//!
//! A reply subject carries an MQTT 5 request's response topic and correlation data, so any
//! instance of the provider can answer it: `_mqtt.reply.<topic>.<correlation>`, each base64url.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Why a topic or subject cannot be carried across.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("the topic is empty")]
    Empty,
    #[error("topic {0:?} has a level holding '.', '*' or '>', which a subject cannot carry")]
    Untranslatable(String),
    #[error("{0:?} is a filter (it has a wildcard), not a topic to publish to")]
    Wildcard(String),
    #[error("{0:?} has an empty level, which a subject cannot carry")]
    EmptyLevel(String),
    #[error("reply subject {0:?} is not one this provider made")]
    BadReply(String),
}

const REPLY_PREFIX: &str = "_mqtt.reply.";

/// The subject a received topic is delivered on.
pub fn subject_of(topic: &str) -> Result<String, TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.contains(['.', '*', '>', '+', '#']) {
        return Err(TopicError::Untranslatable(topic.to_string()));
    }
    if topic.split('/').any(str::is_empty) {
        return Err(TopicError::EmptyLevel(topic.to_string()));
    }
    Ok(topic.replace('/', "."))
}

/// The topic a subject is published to. Wildcards cannot be published to.
pub fn topic_of(subject: &str) -> Result<String, TopicError> {
    if subject.is_empty() {
        return Err(TopicError::Empty);
    }
    if subject.split('.').any(|level| level == "*" || level == ">") {
        return Err(TopicError::Wildcard(subject.to_string()));
    }
    if subject.split('.').any(str::is_empty) {
        return Err(TopicError::EmptyLevel(subject.to_string()));
    }
    if subject.contains(['+', '#', '/']) {
        return Err(TopicError::Untranslatable(subject.to_string()));
    }
    Ok(subject.replace('.', "/"))
}

/// A subscription filter written as a subject (`chat.*`), in MQTT syntax (`chat/+`).
pub fn filter_of_subject(subject: &str) -> String {
    subject
        .split('.')
        .map(|level| match level {
            "*" => "+",
            ">" => "#",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The filter a subscription matches topics with: a shared subscription's `$share/<group>/`
/// is not part of it.
pub fn without_share(filter: &str) -> &str {
    match filter.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, filter)| filter),
        None => filter,
    }
}

/// Whether `topic` matches the MQTT `filter` (`+` one level, `#` the rest, `$` topics only
/// when named).
pub fn matches(filter: &str, topic: &str) -> bool {
    let filter = without_share(filter);
    if topic.starts_with('$') && !filter.starts_with('$') {
        return false;
    }
    let mut levels = topic.split('/');
    for wanted in filter.split('/') {
        match (wanted, levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (wanted, Some(level)) if wanted == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

/// The reply subject for an MQTT 5 request.
pub fn reply_subject(response_topic: &str, correlation: &[u8]) -> String {
    format!(
        "{REPLY_PREFIX}{}.{}",
        URL_SAFE_NO_PAD.encode(response_topic),
        URL_SAFE_NO_PAD.encode(correlation)
    )
}

/// Where to publish a message sent on `subject`: a reply subject gives back its request's
/// response topic and correlation data; any other subject is its topic.
pub fn destination(subject: &str) -> Result<(String, Option<Vec<u8>>), TopicError> {
    let Some(reply) = subject.strip_prefix(REPLY_PREFIX) else {
        return Ok((topic_of(subject)?, None));
    };
    let bad = || TopicError::BadReply(subject.to_string());
    let (topic, correlation) = reply.split_once('.').ok_or_else(bad)?;
    let topic = URL_SAFE_NO_PAD.decode(topic).map_err(|_| bad())?;
    let topic = String::from_utf8(topic).map_err(|_| bad())?;
    if topic.is_empty() || topic.contains(['+', '#']) {
        return Err(bad());
    }
    let correlation = URL_SAFE_NO_PAD.decode(correlation).map_err(|_| bad())?;
    Ok((topic, Some(correlation)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_subjects_map_level_by_level() {
        assert_eq!(subject_of("chat/in").unwrap(), "chat.in");
        assert_eq!(topic_of("rtchat.messages").unwrap(), "rtchat/messages");
        assert_eq!(filter_of_subject("chat.*.in.>"), "chat/+/in/#");
        assert!(matches!(
            subject_of("chat/v1.2"),
            Err(TopicError::Untranslatable(_))
        ));
        assert_eq!(subject_of(""), Err(TopicError::Empty));
        for empty_level in ["chat/", "/chat", "chat//in"] {
            assert!(
                matches!(subject_of(empty_level), Err(TopicError::EmptyLevel(_))),
                "{empty_level}"
            );
        }
        assert!(matches!(topic_of("chat.*"), Err(TopicError::Wildcard(_))));
        assert!(matches!(
            topic_of("chat..in"),
            Err(TopicError::EmptyLevel(_))
        ));
        assert!(matches!(
            topic_of("a/b.c"),
            Err(TopicError::Untranslatable(_))
        ));
    }

    #[test]
    fn filters_match_as_mqtt_matches_them() {
        assert!(matches("chat/in", "chat/in"));
        assert!(!matches("chat/in", "chat/other"));
        assert!(!matches("chat/in", "chat/in/more"));
        assert!(matches("chat/+", "chat/in"));
        assert!(!matches("chat/+", "chat"));
        assert!(matches("chat/#", "chat"));
        assert!(matches("chat/#", "chat/a/b"));
        assert!(matches("#", "anything/at/all"));
        assert!(!matches("#", "$SYS/broker"));
        assert!(matches("$share/mcchat/chat/in", "chat/in"));
        assert!(!matches("$share/mcchat/chat/in", "mcchat/chat/in"));
        assert_eq!(without_share("$share/g/a/+"), "a/+");
    }

    #[test]
    fn a_reply_subject_carries_the_response_topic_and_correlation_data() {
        let subject = reply_subject("replies/device 7.a", b"\x00\xffid-1");
        assert!(subject.starts_with("_mqtt.reply."), "{subject}");
        assert_eq!(
            destination(&subject).unwrap(),
            (
                "replies/device 7.a".to_string(),
                Some(b"\x00\xffid-1".to_vec())
            )
        );
        assert_eq!(
            destination(&reply_subject("r", b"")).unwrap(),
            ("r".to_string(), Some(vec![]))
        );
        assert_eq!(
            destination("rtchat.messages").unwrap(),
            ("rtchat/messages".to_string(), None)
        );
        for forged in [
            "_mqtt.reply.",
            "_mqtt.reply.!!.x",
            "_mqtt.reply.Iw.",
            "_mqtt.reply.nodot",
        ] {
            assert!(
                matches!(destination(forged), Err(TopicError::BadReply(_))),
                "{forged}"
            );
        }
    }
}
