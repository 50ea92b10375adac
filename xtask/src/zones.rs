//! The chat's two trust zones on the brokers `cargo xtask up` runs. Chat clients and devices
//! need no credential and may chat, and nothing more; the lattice and the chat's own service
//! users need credentials, made here once and kept in the data dir (`zones/`, readable by its
//! owner only).
//!
//! - **The chat's NATS** (config mode): a client with no credential is `guest`, who may publish
//!   `chat.in`, `chat.in.<room>` and the account requests (`chat.signon`, …) and subscribe to
//!   every room's live copies (`rtchat.>`) and `_INBOX.>` (its replies); the host's messaging
//!   link is an nkey user who takes those subjects and publishes live copies and replies.
//! - **The lattice's NATS**, a server of its own on loopback, in operator mode: every client
//!   needs a user JWT signed by the lattice's account (`lattice.creds`), the form wash, wadm and
//!   wasmCloud hosts take (`--ctl-credsfile`, `--nats-creds-file`, `--ctl-jwt`/`--ctl-seed`).
//!   Nothing the chat's clients reach is on it: the control interface, the WebSocket relay and
//!   wadm's streams.
//! - **MQTT** (mosquitto): a device with no credential may publish `chat/in` and
//!   `chat/in/<room>` (and `chat/signon`, …), read `rtchat/#` and use response topics under
//!   `replies/`; only the host's link (user `chat`, with a password) may subscribe to
//!   `chat/in`, shared or not.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nkeys::KeyPair;
use serde_json::json;

/// What a client with no credential may do on the chat's NATS: chat, and the account requests.
pub const GUEST_PUBLISH: &[&str] = &[
    "chat.in",
    "chat.in.>",
    "chat.signup",
    "chat.signon",
    "chat.refresh",
    "chat.signoff",
];
pub const GUEST_SUBSCRIBE: &[&str] = &["rtchat.>", "_INBOX.>"];
/// What the host's messaging link takes: what guests publish.
const SERVICE_SUBSCRIBE: &[&str] = GUEST_PUBLISH;
/// The MQTT user of the host's link.
const MQTT_USER: &str = "chat";

/// One data dir's zones: their files, and the loopback ports of their brokers.
#[derive(Debug, Clone)]
pub struct Zones {
    pub dir: PathBuf,
    pub chat_nats_port: u16,
    pub lattice_nats_port: u16,
    pub mqtt_port: u16,
    /// The seed of the chat's NATS service user (an nkey user).
    chat_seed: String,
    mqtt_password: String,
}

impl Zones {
    /// Writes the brokers' configuration under `data_dir/zones/` for these ports; keys and
    /// passwords are made on the first call and kept.
    pub fn prepare(
        data_dir: &Path,
        chat_nats_port: u16,
        lattice_nats_port: u16,
        mqtt_port: u16,
    ) -> Result<Zones> {
        let dir = std::path::absolute(data_dir.join("zones"))?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let zones = Zones {
            chat_seed: kept(&dir.join("chat.nk"), || seed(KeyPair::new_user()))?,
            mqtt_password: kept(&dir.join("mqtt.password"), uuid_token)?,
            dir,
            chat_nats_port,
            lattice_nats_port,
            mqtt_port,
        };
        write_private(&zones.chat_nats_config(), &zones.chat_nats_config_text()?)?;
        write_private(
            &zones.lattice_nats_config(),
            &zones.lattice_nats_config_text()?,
        )?;
        write_private(&zones.dir.join("mosquitto.acl"), &mosquitto_acl())?;
        zones.write_mosquitto_passwords()?;
        write_private(&zones.mosquitto_config(), &zones.mosquitto_config_text())?;
        Ok(zones)
    }

    pub fn chat_nats_config(&self) -> PathBuf {
        self.dir.join("chat-nats.conf")
    }

    pub fn lattice_nats_config(&self) -> PathBuf {
        self.dir.join("lattice-nats.conf")
    }

    pub fn mosquitto_config(&self) -> PathBuf {
        self.dir.join("mosquitto.conf")
    }

    /// The lattice user's credentials (its JWT and seed), as wash and wadm read them.
    pub fn lattice_creds(&self) -> PathBuf {
        self.dir.join("lattice.creds")
    }

    /// Where chat clients connect, with no credential.
    pub fn chat_nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.chat_nats_port)
    }

    /// The seed of the host's NATS messaging link (`CLIENT_SEED`).
    pub fn chat_nats_seed(&self) -> &str {
        &self.chat_seed
    }

    /// The lattice's server: the control interface, the relay, wash and wadm.
    pub fn lattice_nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.lattice_nats_port)
    }

    /// Where a device connects, with no credential.
    pub fn guest_mqtt_url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.mqtt_port)
    }

    /// The host's MQTT link, the only one that may subscribe to `chat/in`.
    pub fn chat_mqtt_url(&self) -> String {
        format!(
            "mqtt://{MQTT_USER}:{}@127.0.0.1:{}",
            self.mqtt_password, self.mqtt_port
        )
    }

    fn chat_nats_config_text(&self) -> Result<String> {
        let quoted = |subjects: &[&str]| {
            subjects
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let service = KeyPair::from_seed(&self.chat_seed)?.public_key();
        Ok(format!(
            r#"# The chat's NATS, one of its trust zones (written by `cargo xtask up`; README, "Trust zones").
listen: "127.0.0.1:{port}"
accounts {{
  CHAT {{
    users = [
      # Clients with no credential are guests (no_auth_user takes a plain password; nobody
      # logs in with it).
      {{
        user: guest
        password: "{guest_password}"
        permissions: {{
          publish: {{ allow: [{guest_publish}] }}
          subscribe: {{ allow: [{guest_subscribe}] }}
        }}
      }}
      # The host's messaging link.
      {{
        nkey: {service}
        permissions: {{
          publish: {{ allow: ["rtchat.>", "_INBOX.>"] }}
          subscribe: {{ allow: [{service_subscribe}, "_INBOX.>"] }}
          allow_responses: true
        }}
      }}
    ]
  }}
}}
no_auth_user: guest
"#,
            port = self.chat_nats_port,
            guest_password = uuid_token(),
            guest_publish = quoted(GUEST_PUBLISH),
            guest_subscribe = quoted(GUEST_SUBSCRIBE),
            service_subscribe = quoted(SERVICE_SUBSCRIBE),
        ))
    }

    /// The operator, the account and its user, made once: the server trusts the operator, the
    /// operator signed the account, the account signed the user in `lattice.creds`.
    fn lattice_nats_config_text(&self) -> Result<String> {
        let operator = KeyPair::from_seed(&kept(&self.dir.join("operator.nk"), || {
            seed(KeyPair::new_operator())
        })?)?;
        let account = KeyPair::from_seed(&kept(&self.dir.join("account.nk"), || {
            seed(KeyPair::new_account())
        })?)?;
        let user = KeyPair::from_seed(&kept(&self.dir.join("lattice.nk"), || {
            seed(KeyPair::new_user())
        })?)?;
        // JetStream (wadm's streams) needs the server's own account.
        let system = KeyPair::from_seed(&kept(&self.dir.join("system.nk"), || {
            seed(KeyPair::new_account())
        })?)?;
        let operator_jwt = jwt(
            &operator,
            &operator.public_key(),
            "mcchat",
            json!({"type": "operator", "version": 2, "system_account": system.public_key()}),
        )?;
        let system_jwt = jwt(
            &operator,
            &system.public_key(),
            "SYS",
            json!({"type": "account", "version": 2}),
        )?;
        let unlimited = json!({
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
            // JetStream, for wadm's streams and stores.
            "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
        });
        let account_jwt = jwt(
            &operator,
            &account.public_key(),
            "LATTICE",
            json!({"type": "account", "version": 2, "limits": unlimited}),
        )?;
        let user_jwt = jwt(
            &account,
            &user.public_key(),
            "lattice",
            json!({"type": "user", "version": 2, "subs": -1, "data": -1, "payload": -1}),
        )?;
        write_private(&self.lattice_creds(), &creds_file(&user_jwt, &seed(user)))?;
        Ok(format!(
            r#"# The lattice's NATS, one of the chat's trust zones (written by `cargo xtask up`; README,
# "Trust zones"): every client needs the user JWT in lattice.creds.
listen: "127.0.0.1:{port}"
operator: "{operator_jwt}"
system_account: {system}
resolver: MEMORY
resolver_preload: {{
  {account}: "{account_jwt}"
  {system}: "{system_jwt}"
}}
jetstream {{
  store_dir: "{jetstream}"
}}
"#,
            port = self.lattice_nats_port,
            account = account.public_key(),
            system = system.public_key(),
            jetstream = self.dir.join("jetstream").display(),
        ))
    }

    fn mosquitto_config_text(&self) -> String {
        format!(
            "# The chat's MQTT broker, in its trust zones (written by `cargo xtask up`; README,\n\
             # \"Trust zones\").\n\
             listener {port} 127.0.0.1\n\
             allow_anonymous true\n\
             # Run as the user who started it: these files are readable by their owner only.\n\
             user {user}\n\
             password_file {passwords}\n\
             acl_file {acl}\n\
             # Small packets sent at once: with Nagle's algorithm an MQTT 5 request's ack waited\n\
             # about 40 ms on a delayed TCP ACK (BENCHMARKS.md).\n\
             set_tcp_nodelay true\n",
            port = self.mqtt_port,
            user = current_user(),
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
            .arg(MQTT_USER)
            .arg(&self.mqtt_password)
            .status()
            .with_context(|| format!("running {program} (from Debian's mosquitto)"))?;
        if !status.success() {
            bail!("{program} failed ({status})");
        }
        Ok(())
    }
}

/// Devices may chat and make the account requests, on the topics that mirror the guests' NATS
/// subjects; only the chat's own user reads what they send.
fn mosquitto_acl() -> String {
    let writes: String = GUEST_PUBLISH
        .iter()
        .map(|subject| format!("topic write {}\n", mqtt_filter(subject)))
        .collect();
    format!(
        "# Clients with no credential (devices): chat, and the account requests.\n\
         {writes}\
         topic read rtchat/#\n\
         topic readwrite replies/#\n\
         \n\
         user chat\n\
         topic readwrite #\n"
    )
}

/// The MQTT filter for a NATS subject: levels for tokens, `+` and `#` for `*` and `>`.
fn mqtt_filter(subject: &str) -> String {
    subject
        .split('.')
        .map(|token| match token {
            "*" => "+",
            ">" => "#",
            token => token,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A NATS JWT (`ed25519-nkey`): `nats` claims about `subject`, signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> Result<String> {
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = json!({
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "iat": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = issuer
        .sign(signed.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing a JWT: {e}"))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// The `.creds` file NATS clients read: the user's JWT and seed.
fn creds_file(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    )
}

fn seed(key: KeyPair) -> String {
    key.seed().expect("a new key has its seed")
}

/// Who runs this: mosquitto started as root would otherwise become `mosquitto` and could not
/// read its own files.
fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "root".into())
}

/// A secret kept in `path`: read, or made with `make` and written on the first call.
fn kept(path: &Path, make: impl FnOnce() -> String) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(secret) if !secret.trim().is_empty() => return Ok(secret.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let secret = make();
    write_private(path, &secret)?;
    Ok(secret)
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
    fn keys_are_made_once_and_no_file_is_readable_by_others() {
        let data = tempfile::tempdir().unwrap();
        let first = Zones::prepare(data.path(), 14222, 14248, 11883).unwrap();
        let creds = std::fs::read_to_string(first.lattice_creds()).unwrap();
        let again = Zones::prepare(data.path(), 14223, 14249, 11884).unwrap();
        assert_eq!(first.chat_seed, again.chat_seed);
        assert_eq!(first.mqtt_password, again.mqtt_password);
        // The same user, whose JWT is signed again.
        let seed_of = |creds: &str| {
            creds
                .lines()
                .find(|l| l.starts_with("SU"))
                .map(String::from)
        };
        assert_eq!(
            seed_of(&creds),
            seed_of(&std::fs::read_to_string(again.lattice_creds()).unwrap())
        );
        let config = std::fs::read_to_string(again.chat_nats_config()).unwrap();
        assert!(config.contains("listen: \"127.0.0.1:14223\""), "{config}");
        #[cfg(unix)]
        for file in std::fs::read_dir(&again.dir).unwrap() {
            use std::os::unix::fs::PermissionsExt;
            let file = file.unwrap();
            let mode = file.metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{:?}", file.file_name());
        }
    }
}
