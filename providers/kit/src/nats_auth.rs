//! How a NATS client proves who it is, in the forms the wasmCloud ecosystem uses: a user JWT
//! with its seed (a `.creds` file, or wasmCloud's `*_JWT`/`*_SEED`), an nkey seed alone (a user
//! of a server configured by nkey), or a user and password in the URL. async-nats reads
//! nothing from a URL's user part itself, so `connect_options` moves it into the options.

use std::sync::Arc;

use anyhow::{Context, Result};

/// A NATS client's credentials.
#[derive(Clone)]
pub enum NatsAuth {
    /// A user JWT and the seed that signs the server's nonce (decentralized auth).
    Jwt { jwt: String, seed: String },
    /// The same as a `.creds` file's text, which async-nats reads.
    Creds { text: String },
    /// An nkey user's seed.
    Nkey { seed: String },
}

impl std::fmt::Debug for NatsAuth {
    /// What kind, never the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NatsAuth::Jwt { .. } => "NatsAuth::Jwt(…)",
            NatsAuth::Creds { .. } => "NatsAuth::Creds(…)",
            NatsAuth::Nkey { .. } => "NatsAuth::Nkey(…)",
        })
    }
}

impl NatsAuth {
    /// A JWT user from a `.creds` file (what `nsc` and wash write), checked as async-nats reads it.
    pub fn from_creds_file(path: &std::path::Path) -> Result<NatsAuth> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        async_nats::ConnectOptions::with_credentials(&text)
            .with_context(|| format!("{} is not a NATS credentials file", path.display()))?;
        Ok(NatsAuth::Creds { text })
    }
}

/// Options that log in with `auth`, or with the user and password (or token) in `url`; and
/// `url` without them, which async-nats then connects to.
pub fn connect_options(
    url: &str,
    auth: Option<&NatsAuth>,
) -> Result<(async_nats::ConnectOptions, String)> {
    let mut options =
        async_nats::ConnectOptions::new().reconnect_delay_callback(crate::redial::nats_delay);
    let mut address = url.to_string();
    if let Ok(mut parsed) = url::Url::parse(url) {
        let user = percent(parsed.username())?;
        let password = parsed.password().map(percent).transpose()?;
        match (user.is_empty(), password) {
            (false, Some(password)) => options = options.user_and_password(user, password),
            (false, None) => options = options.token(user),
            (true, _) => {}
        }
        if !parsed.username().is_empty() {
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("");
            address = parsed.to_string();
        }
    }
    match auth {
        Some(NatsAuth::Jwt { jwt, seed }) => {
            let key = Arc::new(nkeys::KeyPair::from_seed(seed).context("the NATS user's seed")?);
            options = options.jwt(jwt.clone(), move |nonce| {
                let key = key.clone();
                async move { key.sign(&nonce).map_err(async_nats::AuthError::new) }
            });
        }
        Some(NatsAuth::Creds { text }) => {
            options = options.credentials(text).context("the NATS credentials")?
        }
        Some(NatsAuth::Nkey { seed }) => options = options.nkey(seed.clone()),
        None => {}
    }
    Ok((options, address))
}

fn percent(part: &str) -> Result<String> {
    Ok(percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .context("a NATS URL's user or password is not UTF-8")?
        .into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_creds_file_is_read_as_async_nats_reads_it() {
        let user = nkeys::KeyPair::new_user();
        let text = format!(
            "-----BEGIN NATS USER JWT-----\neyJhbGc.x.y\n------END NATS USER JWT------\n\n\
             ** IMPORTANT **\n\n-----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            user.seed().unwrap()
        );
        let dir = tempfile::tempdir().unwrap();
        let (good, bad) = (dir.path().join("good.creds"), dir.path().join("bad.creds"));
        std::fs::write(&good, &text).unwrap();
        std::fs::write(&bad, "nothing").unwrap();
        assert!(matches!(
            NatsAuth::from_creds_file(&good).unwrap(),
            NatsAuth::Creds { text: read } if read == text
        ));
        let refused = NatsAuth::from_creds_file(&bad).unwrap_err();
        assert!(format!("{refused:#}").contains("not a NATS credentials file"));
    }

    #[test]
    fn a_urls_user_moves_into_the_options() {
        let (_, address) = connect_options("nats://chat:p%40ss@127.0.0.1:4222", None).unwrap();
        assert_eq!(address, "nats://127.0.0.1:4222");
        let (_, plain) = connect_options("nats://127.0.0.1:4222", None).unwrap();
        assert_eq!(plain, "nats://127.0.0.1:4222");
    }
}
