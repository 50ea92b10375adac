//! MQTT topics and subjects: any input is translated or refused, never mangled. A topic that
//! becomes a subject comes back as the same topic; a reply subject gives back exactly the
//! response topic and correlation data it was made from; filters match without panicking.
//! The translation is compiled here on its own (it needs only base64 and thiserror).
#![no_main]

#[allow(dead_code)]
#[path = "../../providers/mqtt/src/topic.rs"]
mod topic;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &[u8])| {
    let (text, other, correlation) = input;
    if let Ok(subject) = topic::subject_of(text) {
        assert_eq!(topic::topic_of(&subject).ok().as_deref(), Some(text), "{subject}");
    }
    if let Ok((topic, _)) = topic::destination(text) {
        assert!(!topic.is_empty());
        assert!(!topic.contains(['+', '#']), "{topic}");
    }
    let _ = topic::matches(text, other);
    let _ = topic::filter_of_subject(text);
    if !text.is_empty() && !text.contains(['+', '#']) {
        let reply = topic::reply_subject(text, correlation);
        let (topic, back) = topic::destination(&reply).expect("a reply subject of ours");
        assert_eq!((topic.as_str(), back.as_deref()), (text, Some(correlation)));
    }
});
