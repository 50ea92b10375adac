//! How a NATS client proves who it is, in the forms the wasmCloud ecosystem uses: a user JWT
//! with its seed (a `.creds` file, or wasmCloud's `*_JWT`/`*_SEED`), an nkey seed alone (a user
//! of a server configured by nkey), or a user and password in the URL. async-nats reads
//! nothing from a URL's user part itself, so `connect_options` moves it into the options.

use std::sync::Arc;

use anyhow::{bail, Context, Result};

/// A NATS client's credentials.
#[derive(Clone)]
pub enum NatsAuth {
    /// A user JWT and the seed that signs the server's nonce (decentralized auth).
    Jwt { jwt: String, seed: String },
    /// An nkey user's seed.
    Nkey { seed: String },
}

impl std::fmt::Debug for NatsAuth {
    /// What kind, never the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NatsAuth::Jwt { .. } => "NatsAuth::Jwt(…)",
            NatsAuth::Nkey { .. } => "NatsAuth::Nkey(…)",
        })
    }
}

impl NatsAuth {
    /// A JWT user from a `.creds` file's text (what `nsc` and wash write).
    pub fn from_creds(text: &str) -> Result<NatsAuth> {
        let block = |name: &str| {
            let begin = format!("-----BEGIN {name}-----");
            let body = text.split_once(&begin)?.1;
            let body = body.split_once("------END")?.0;
            Some(body.trim().to_string()).filter(|b| !b.is_empty())
        };
        match (block("NATS USER JWT"), block("USER NKEY SEED")) {
            (Some(jwt), Some(seed)) => Ok(NatsAuth::Jwt { jwt, seed }),
            _ => bail!("not a NATS credentials file (a user JWT and its seed)"),
        }
    }

    /// A JWT user from a `.creds` file.
    pub fn from_creds_file(path: &std::path::Path) -> Result<NatsAuth> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_creds(&text).with_context(|| path.display().to_string())
    }
}

/// Options that log in with `auth`, or with the user and password (or token) in `url`; and
/// `url` without them, which async-nats then connects to.
pub fn connect_options(
    url: &str,
    auth: Option<&NatsAuth>,
) -> Result<(async_nats::ConnectOptions, String)> {
    let mut options = async_nats::ConnectOptions::new();
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
    fn a_creds_file_gives_its_jwt_and_seed() {
        let text = "-----BEGIN NATS USER JWT-----\neyJhbGc.x.y\n------END NATS USER JWT------\n\n\
                    ** IMPORTANT **\n\n-----BEGIN USER NKEY SEED-----\nSUABC\n------END USER NKEY SEED------\n";
        match NatsAuth::from_creds(text).unwrap() {
            NatsAuth::Jwt { jwt, seed } => {
                assert_eq!((jwt.as_str(), seed.as_str()), ("eyJhbGc.x.y", "SUABC"))
            }
            other => panic!("{other:?}"),
        }
        assert!(NatsAuth::from_creds("nothing").is_err());
    }

    #[test]
    fn a_urls_user_moves_into_the_options() {
        let (_, address) = connect_options("nats://chat:p%40ss@127.0.0.1:4222", None).unwrap();
        assert_eq!(address, "nats://127.0.0.1:4222");
        let (_, plain) = connect_options("nats://127.0.0.1:4222", None).unwrap();
        assert_eq!(plain, "nats://127.0.0.1:4222");
    }
}
