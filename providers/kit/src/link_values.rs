//! Link values, as a manifest, `wash link put` or a lattice host's link definition gives them.

use std::collections::BTreeMap;

pub type LinkValues = BTreeMap<String, String>;

/// A link value by key, ignoring case (providers differ: `address`, `URL`, `SUBSCRIPTION`),
/// with blanks counted as absent.
pub fn link_value<'a>(values: &'a LinkValues, key: &str) -> Option<&'a str> {
    values
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A number from a link value, or `default` when the link gives none.
pub fn link_number<T: std::str::FromStr>(
    values: &LinkValues,
    key: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    link_value(values, key).map_or(Ok(default), |v| {
        v.parse()
            .map_err(|e| anyhow::anyhow!("link value {key}={v:?}: {e}"))
    })
}

/// Sets a link value, replacing it under any case of its key.
pub fn set_link_value(values: &mut LinkValues, key: &str, value: String) {
    values.retain(|k, _| !k.eq_ignore_ascii_case(key));
    values.insert(key.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_values_are_read_ignoring_case_and_set_replacing_any_case() {
        let mut values = LinkValues::from([("uri".to_string(), " nats://a ".to_string())]);
        assert_eq!(link_value(&values, "URI"), Some("nats://a"));
        set_link_value(&mut values, "URI", "nats://b".into());
        assert_eq!(values.len(), 1);
        assert_eq!(link_value(&values, "uri"), Some("nats://b"));
    }
}
