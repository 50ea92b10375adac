//! What a message must look like to be stored. Refusals name the field as users send it.

use crate::bindings::CanonicalChatMessage;

/// Longest accepted user name, in characters.
pub const MAX_USER_NAME_CHARS: usize = 64;
/// Longest accepted message body, in characters.
pub const MAX_BODY_CHARS: usize = 4096;
/// Longest accepted id or channel name, in characters (ids are GUIDs, channels short words).
pub const MAX_TAG_CHARS: usize = 64;

/// Checks a message before it is stored; `Err` holds the reason sent back to the client.
pub fn check_message(msg: &CanonicalChatMessage) -> Result<(), String> {
    check_text("user_name", &msg.source_user, MAX_USER_NAME_CHARS)?;
    if msg.source_user.chars().any(char::is_control) {
        return Err("user_name must not contain control characters".into());
    }
    // An override or isolate would make a name display as another (U+202E turns `evil` around).
    if msg.source_user.chars().any(is_bidi_control) {
        return Err("user_name must not contain bidirectional control characters".into());
    }
    check_text("body", &msg.body, MAX_BODY_CHARS)?;
    check_text("id", &msg.id, MAX_TAG_CHARS)?;
    check_text("channelName", &msg.channel_name, MAX_TAG_CHARS)?;
    Ok(())
}

/// Unicode's explicit bidirectional formatting characters: embeddings, overrides, isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(format!("{field} is longer than {max_chars} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(user: &str, body: &str) -> CanonicalChatMessage {
        CanonicalChatMessage {
            id: "7d2c6f1e-0000-4000-8000-000000000001".into(),
            channel_name: "http".into(),
            source_user: user.into(),
            body: body.into(),
            ..Default::default()
        }
    }

    #[test]
    fn refuses_a_name_that_overrides_the_text_direction() {
        for name in ["\u{202E}live", "a\u{2066}b", "x\u{202A}"] {
            assert_eq!(
                check_message(&message(name, "hi")),
                Err("user_name must not contain bidirectional control characters".into())
            );
        }
        assert_eq!(check_message(&message("عربي", "hi")), Ok(()));
    }

    #[test]
    fn accepts_an_ordinary_message() {
        assert_eq!(check_message(&message("alice", "hello, world")), Ok(()));
    }

    #[test]
    fn refuses_blank_fields_naming_the_field() {
        assert_eq!(
            check_message(&message("  ", "hi")),
            Err("user_name must not be empty".into())
        );
        assert_eq!(
            check_message(&message("alice", "\n\t ")),
            Err("body must not be empty".into())
        );
        let mut no_id = message("alice", "hi");
        no_id.id.clear();
        assert_eq!(check_message(&no_id), Err("id must not be empty".into()));
    }

    #[test]
    fn counts_limits_in_characters_not_bytes() {
        let longest = "é".repeat(MAX_BODY_CHARS);
        assert_eq!(check_message(&message("alice", &longest)), Ok(()));
        let too_long = "é".repeat(MAX_BODY_CHARS + 1);
        assert_eq!(
            check_message(&message("alice", &too_long)),
            Err(format!("body is longer than {MAX_BODY_CHARS} characters"))
        );
        let long_name = "x".repeat(MAX_USER_NAME_CHARS + 1);
        assert!(check_message(&message(&long_name, "hi")).is_err());
    }

    #[test]
    fn refuses_control_characters_in_user_names() {
        assert_eq!(
            check_message(&message("al\u{7}ice", "hi")),
            Err("user_name must not contain control characters".into())
        );
    }
}
