//! Query strings, read one way for every route: their parameters, and the page size a listing
//! takes.

use std::borrow::Cow;

/// The query string's parameters, decoded (a leading `?` is ignored).
pub fn params(query_string: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(query_string.trim_start_matches('?').as_bytes())
}

/// A `limit` parameter: a whole number from 1 to `max`, or the client's error.
pub fn limit(value: &str, max: u32) -> Result<u32, String> {
    value
        .parse()
        .ok()
        .filter(|limit| (1..=max).contains(limit))
        .ok_or_else(|| format!("limit must be a whole number from 1 to {max}, not {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_a_whole_number_in_range() {
        assert_eq!(limit("7", 10), Ok(7));
        for bad in ["0", "11", "-1", "x", ""] {
            assert!(
                limit(bad, 10).unwrap_err().starts_with("limit must be"),
                "{bad}"
            );
        }
        let decoded: Vec<_> = params("?after=a%2Db&limit=2").collect();
        assert_eq!(decoded[0], ("after".into(), "a-b".into()));
    }
}
