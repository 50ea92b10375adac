//! The chat's channels: the only place one differs from another. Everything else a message
//! goes through is the same rule for all of them.

/// One channel, by the name it stamps on the messages it brings in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channel {
    pub name: &'static str,
    /// Where its live clients are reached; `None` for a channel whose clients only read the
    /// history (HTTP: relaying to it cost a tenth of a NATS write, for nothing).
    pub live: Option<Live>,
    /// How its clients are answered.
    pub answers: Answers,
    /// Which subjects its clients may write on.
    pub subjects: Subjects,
}

/// A channel with live clients: `Outbound.PublishMessage` by call alias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Live {
    pub alias: &'static str,
    /// Also takes its own messages back: every browser, the sender's included, shows the one
    /// conversation in the order it was stored.
    pub echoes: bool,
}

/// The wire format of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answers {
    /// An HTTP body: `{"id"}` when stored, `{"reason"}` otherwise; the status says which.
    Http,
    /// A broker ack: `{"accepted","reason"?}`, with the stored message's `id` when `with_id`.
    Ack { with_id: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subjects {
    /// Whatever the link subscribed it to.
    Subscribed,
    /// The chat's own subjects only (`chat.in`, `chat.in.<room>` and the account requests'):
    /// the channel's clients name a subject in each frame.
    Chat,
}

pub const CHANNELS: &[Channel] = &[
    Channel {
        name: "http",
        live: None,
        answers: Answers::Http,
        subjects: Subjects::Subscribed,
    },
    Channel {
        name: "nats",
        live: Some(Live {
            alias: "mcchat/nats",
            echoes: false,
        }),
        // `chat.in` acks were `{"accepted"}` before ids existed; scripts compare them whole.
        answers: Answers::Ack { with_id: false },
        subjects: Subjects::Subscribed,
    },
    Channel {
        name: "ws",
        live: Some(Live {
            alias: "mcchat/ws",
            echoes: true,
        }),
        answers: Answers::Ack { with_id: true },
        subjects: Subjects::Chat,
    },
    Channel {
        name: "mqtt",
        live: Some(Live {
            alias: "mcchat/mqtt",
            echoes: false,
        }),
        answers: Answers::Ack { with_id: true },
        subjects: Subjects::Subscribed,
    },
];

/// The channel of that name.
pub fn channel(name: &str) -> Option<&'static Channel> {
    CHANNELS.iter().find(|c| c.name == name)
}
