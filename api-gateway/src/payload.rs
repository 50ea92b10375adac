//! Reading a client's payload: the one JSON shape every request takes.

/// Only a JSON object will do (serde would also take an array of the fields in order). An
/// object is read straight into the fields; anything else is read as a `Value`, for the error.
pub fn parse_object<T: serde::de::DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    if text.bytes().find(|b| !b.is_ascii_whitespace()) == Some(b'{') {
        return serde_json::from_str(text);
    }
    match serde_json::from_str(text)? {
        object @ serde_json::Value::Object(_) => serde_json::from_value(object),
        _ => Err(serde::de::Error::custom("not an object")),
    }
}
