//! Hides secrets from what the dashboard shows: passwords in URLs and values whose names say
//! they are secret (tokens, passwords, keys).

use std::collections::HashMap;

const MASK: &str = "***";
const SECRET_NAMES: &[&str] = &[
    "PASSWORD",
    "TOKEN",
    "SECRET",
    "KEY",
    "AUTH",
    "CREDENTIAL",
    "SEED",
    "JWT",
];

/// A URL with any password replaced by `***` (or its user, when it has no password: a NATS
/// token travels as `nats://TOKEN@host`); anything that is not a URL is returned as is.
pub fn url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some(MASK));
            parsed.to_string()
        }
        Ok(mut parsed) if !parsed.username().is_empty() => {
            let _ = parsed.set_username(MASK);
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

/// An event's data with every link's values masked (`values` objects) and every URL's password
/// hidden, at any depth: what the dashboard streams. The lattice's own events keep the values,
/// as wasmCloud hosts send them: wadm compares them with its manifest.
pub fn event_data(data: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match data {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| {
                    let masked = match value {
                        Value::Object(values) if name == "values" => {
                            let plain: HashMap<String, String> = values
                                .iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().into()))
                                .collect();
                            serde_json::to_value(link_values(&plain)).unwrap_or_default()
                        }
                        other => event_data(other),
                    };
                    (name.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(event_data).collect()),
        Value::String(text) => Value::String(url(text)),
        other => other.clone(),
    }
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
        assert_eq!(
            url("nats://s3cret@127.0.0.1:4222"),
            "nats://***@127.0.0.1:4222"
        );
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

    #[test]
    fn event_data_hides_link_values_and_urls_at_any_depth() {
        let event = serde_json::json!({
            "linkdef": {"values": {"URL": "redis://:pw@h:1", "AUTH_TOKEN": "t0k", "address": "0.0.0.0:80"}},
            "ctl_host": "nats://lattice:hunter2@127.0.0.1:4222",
            "actors": [{"image_ref": "file:///a.wasm"}],
        });
        let masked = event_data(&event).to_string();
        for secret in ["pw", "t0k", "hunter2"] {
            assert!(!masked.contains(secret), "{masked}");
        }
        assert!(
            masked.contains("0.0.0.0:80") && masked.contains("file:///a.wasm"),
            "{masked}"
        );
    }
}
