//! Which room a chat message is for: its subject says, on every channel alike. `chat.in` is the
//! default room, `chat.in.<room>` another (MQTT's `chat/in/<room>` arrives as the same subject);
//! HTTP names its room routes' subjects so. Whether a name is a room's is the chat log's rule.

/// The subject of the default room's messages.
pub const CHAT_IN: &str = "chat.in";
/// The default room's name: `chat.in.general` is `chat.in`.
const DEFAULT_ROOM: &str = "general";

/// The room `subject` names as the client wrote it, checked when the message is stored; `None`
/// for the default room (`chat.in`, `chat.in.general`, or a subject the link chose that is not
/// the chat's).
pub fn room_in(subject: &str) -> Option<&str> {
    subject
        .strip_prefix("chat.in.")
        .or_else(|| subject.strip_prefix("chat/in/"))
        .filter(|room| *room != DEFAULT_ROOM)
}

/// Whether a client may write a chat message on `subject` where it names the subject itself
/// (a WebSocket frame): `chat.in` or `chat.in.<room>`.
pub fn is_chat_subject(subject: &str) -> bool {
    [CHAT_IN, "chat/in"].contains(&subject)
        || subject.starts_with("chat.in.")
        || subject.starts_with("chat/in/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_in_is_the_default_room_and_its_tokens_name_the_others() {
        assert_eq!(room_in("chat.in"), None);
        assert_eq!(room_in(""), None);
        assert_eq!(room_in("chat.input"), None);
        assert_eq!(room_in("chat.in.general"), None);
        assert_eq!(room_in("chat.in.dev"), Some("dev"));
        assert_eq!(room_in("chat/in/dev"), Some("dev"));
        // Left for the chat log to refuse, with its rule.
        assert_eq!(room_in("chat.in."), Some(""));
        assert_eq!(room_in("chat.in.a.b"), Some("a.b"));
    }

    #[test]
    fn clients_that_name_subjects_may_write_on_the_chats_own() {
        let chat = [
            "chat.in",
            "chat.in.dev",
            "chat/in",
            "chat/in/dev",
            "chat.in.Bad",
        ];
        for subject in chat.into_iter().chain(["chat.in.general"]) {
            assert!(is_chat_subject(subject), "{subject}");
        }
        for subject in ["", "chat", "chat.input", "rtchat.messages", "chat.inx.dev"] {
            assert!(!is_chat_subject(subject), "{subject}");
        }
    }
}
