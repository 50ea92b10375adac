//! Hides secrets from what the dashboard shows: passwords in URLs and values whose names say
//! they are secret (tokens, passwords, keys).

use std::collections::HashMap;

const MASK: &str = "***";
const SECRET_NAMES: &[&str] = &["PASSWORD", "TOKEN", "SECRET", "KEY", "AUTH", "CREDENTIAL"];

/// A URL with any password replaced by `***`; anything that is not a URL is returned as is.
pub fn url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some(MASK));
            parsed.to_string()
        }
        _ => value.to_string(),
    }
}

/// Link values with secret ones masked and passwords in URLs hidden.
pub fn link_values(values: &HashMap<String, String>) -> HashMap<String, String> {
    values
        .iter()
        .map(|(name, value)| {
            let upper = name.to_ascii_uppercase();
            let masked = if SECRET_NAMES.iter().any(|secret| upper.contains(secret)) {
                MASK.to_string()
            } else {
                url(value)
            };
            (name.clone(), masked)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords_and_secret_values() {
        assert_eq!(
            url("redis://:hunter2@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            url("redis://user:pw@cache:6379"),
            "redis://user:***@cache:6379"
        );
        assert_eq!(url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(url("0.0.0.0:8080"), "0.0.0.0:8080");
        let values = HashMap::from([
            ("AUTH_TOKEN".to_string(), "s3cret".to_string()),
            ("URL".to_string(), "redis://:pw@h:1".to_string()),
            ("SUBSCRIPTION".to_string(), "chat.in".to_string()),
            ("HEADER_X_API_KEY".to_string(), "k".to_string()),
        ]);
        let masked = link_values(&values);
        assert_eq!(masked["AUTH_TOKEN"], "***");
        assert_eq!(masked["HEADER_X_API_KEY"], "***");
        assert_eq!(masked["URL"], "redis://:***@h:1");
        assert_eq!(masked["SUBSCRIPTION"], "chat.in");
    }
}
