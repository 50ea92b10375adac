//! The chat's two trust zones on the brokers `cargo xtask up` runs. Chat clients, who need no
//! credential, may chat and nothing more; the lattice (the control interface, the WebSocket
//! relay, wash and wadm) and the chat's own service users need the credentials made here once
//! and kept in the data dir (`zones/`, readable by its owner only).
//!
//! - **NATS**, two accounts, so neither sees the other's subjects: `CHAT`, where a client with
//!   no credential is `guest` (publish `chat.in`; subscribe `rtchat.messages` and its own
//!   `_INBOX.>` replies) and the host's messaging link is `chat` (take `chat.in`, publish
//!   live copies and replies); `LATTICE`, where `lattice` may do everything.
//! - **MQTT** (mosquitto): a device with no credential may publish `chat/in`, read
//!   `rtchat/messages` and use response topics under `replies/`; only `chat` (the host's link)
//!   may subscribe to `chat/in`, shared or not.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The NATS users with a password, and the MQTT one.
const LATTICE_USER: &str = "lattice";
const CHAT_USER: &str = "chat";

/// What a client with no credential may do on NATS.
pub const GUEST_PUBLISH: &[&str] = &["chat.in"];
pub const GUEST_SUBSCRIBE: &[&str] = &["rtchat.messages", "_INBOX.>"];

/// The files of one data dir's zones, and the ports its brokers listen on (loopback).
#[derive(Debug, Clone)]
pub struct Zones {
    pub dir: PathBuf,
    pub nats_port: u16,
    pub mqtt_port: u16,
    lattice_password: String,
    chat_password: String,
}

impl Zones {
    /// Writes the brokers' configuration under `data_dir/zones/` for these ports; the
    /// passwords are made on the first call and kept.
    pub fn prepare(data_dir: &Path, nats_port: u16, mqtt_port: u16) -> Result<Zones> {
        let dir = std::path::absolute(data_dir.join("zones"))?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let zones = Zones {
            lattice_password: kept_password(&dir.join("lattice.password"))?,
            chat_password: kept_password(&dir.join("chat.password"))?,
            dir,
            nats_port,
            mqtt_port,
        };
        write_private(&zones.nats_config(), &zones.nats_config_text())?;
        write_private(&zones.dir.join("mosquitto.acl"), MOSQUITTO_ACL)?;
        zones.write_mosquitto_passwords()?;
        write_private(&zones.mosquitto_config(), &zones.mosquitto_config_text())?;
        Ok(zones)
    }

    pub fn nats_config(&self) -> PathBuf {
        self.dir.join("nats.conf")
    }

    pub fn mosquitto_config(&self) -> PathBuf {
        self.dir.join("mosquitto.conf")
    }

    /// Where a chat client connects, with no credential.
    pub fn guest_nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.nats_port)
    }

    /// The lattice's user: the control interface, the relay, wash and wadm.
    pub fn lattice_nats_url(&self) -> String {
        format!(
            "nats://{LATTICE_USER}:{}@127.0.0.1:{}",
            self.lattice_password, self.nats_port
        )
    }

    /// The host's NATS messaging link: it takes `chat.in` and publishes the live copies.
    pub fn chat_nats_url(&self) -> String {
        format!(
            "nats://{CHAT_USER}:{}@127.0.0.1:{}",
            self.chat_password, self.nats_port
        )
    }

    /// Where a device connects, with no credential.
    pub fn guest_mqtt_url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.mqtt_port)
    }

    /// The host's MQTT link, the only one that may subscribe to `chat/in`.
    pub fn chat_mqtt_url(&self) -> String {
        format!(
            "mqtt://{CHAT_USER}:{}@127.0.0.1:{}",
            self.chat_password, self.mqtt_port
        )
    }

    fn nats_config_text(&self) -> String {
        let quoted = |subjects: &[&str]| {
            subjects
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            r#"# The chat's trust zones (written by `cargo xtask up`; see the README, "Trust zones").
listen: "127.0.0.1:{port}"
jetstream {{
  store_dir: "{jetstream}"
}}
accounts {{
  CHAT {{
    users = [
      {{
        user: guest
        password: "{guest_password}"
        permissions: {{
          publish: {{ allow: [{guest_publish}] }}
          subscribe: {{ allow: [{guest_subscribe}] }}
        }}
      }}
      {{
        user: {CHAT_USER}
        password: "{chat_password}"
        permissions: {{
          publish: {{ allow: ["rtchat.messages", "_INBOX.>"] }}
          subscribe: {{ allow: ["chat.in", "_INBOX.>"] }}
          allow_responses: true
        }}
      }}
    ]
  }}
  LATTICE {{
    jetstream: enabled
    users = [
      {{ user: {LATTICE_USER}, password: "{lattice_password}" }}
    ]
  }}
}}
# A client with no credential is a guest of the chat.
no_auth_user: guest
"#,
            port = self.nats_port,
            jetstream = self.dir.join("jetstream").display(),
            // Nobody logs in as guest: clients without credentials become it.
            guest_password = uuid_token(),
            guest_publish = quoted(GUEST_PUBLISH),
            guest_subscribe = quoted(GUEST_SUBSCRIBE),
            chat_password = self.chat_password,
            lattice_password = self.lattice_password,
        )
    }

    fn mosquitto_config_text(&self) -> String {
        format!(
            "# The chat's trust zones (written by `cargo xtask up`; see the README, \"Trust zones\").\n\
             listener {port} 127.0.0.1\n\
             allow_anonymous true\n\
             password_file {passwords}\n\
             acl_file {acl}\n\
             # Small packets sent at once: with Nagle's algorithm an MQTT 5 request's ack waited\n\
             # about 40 ms on a delayed TCP ACK (BENCHMARKS.md).\n\
             set_tcp_nodelay true\n",
            port = self.mqtt_port,
            passwords = self.dir.join("mosquitto.passwd").display(),
            acl = self.dir.join("mosquitto.acl").display(),
        )
    }

    /// mosquitto takes only hashed passwords; its own tool hashes them.
    fn write_mosquitto_passwords(&self) -> Result<()> {
        let path = self.dir.join("mosquitto.passwd");
        write_private(&path, "")?;
        let program = ["/usr/bin/mosquitto_passwd", "mosquitto_passwd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("mosquitto_passwd");
        let status = Command::new(program)
            .arg("-b")
            .arg(&path)
            .arg(CHAT_USER)
            .arg(&self.chat_password)
            .status()
            .with_context(|| format!("running {program} (from Debian's mosquitto)"))?;
        if !status.success() {
            bail!("{program} failed ({status})");
        }
        Ok(())
    }
}

/// Devices may chat; only the chat's own user reads what they send.
const MOSQUITTO_ACL: &str = "\
# Clients with no credential (devices).
topic write chat/in
topic read rtchat/messages
topic readwrite replies/#

user chat
topic readwrite #
";

/// A password kept in `path`: read, or made and written on the first call.
fn kept_password(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(password) if !password.trim().is_empty() => return Ok(password.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let password = uuid_token();
    write_private(path, &password)?;
    Ok(password)
}

/// 244 random bits, as 64 hex digits: no character a URL or a config file must escape.
fn uuid_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Writes `text` to `path`, readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_made_once_and_no_config_is_readable_by_others() {
        let data = tempfile::tempdir().unwrap();
        let first = Zones::prepare(data.path(), 14222, 11883).unwrap();
        let again = Zones::prepare(data.path(), 14223, 11884).unwrap();
        assert_eq!(
            first.lattice_nats_url().replace("14222", "14223"),
            again.lattice_nats_url()
        );
        assert_ne!(first.lattice_password, first.chat_password);
        let config = std::fs::read_to_string(again.nats_config()).unwrap();
        assert!(config.contains("listen: \"127.0.0.1:14223\""), "{config}");
        #[cfg(unix)]
        for file in [
            "nats.conf",
            "lattice.password",
            "chat.password",
            "mosquitto.passwd",
        ] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(again.dir.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}
