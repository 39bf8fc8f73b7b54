//! SCIM attribute names are case-insensitive (RFC 7643 §2.1): lookups and removals by
//! name in a JSON object, and the lenient readings identity providers need (`"True"` for
//! a boolean, as Microsoft Entra ID sends it).

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The key of `obj` that names `name`, whatever its case.
pub(crate) fn key_of(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The value of `obj` named `name`, whatever its case.
pub(crate) fn get<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The string attribute `name` of a body, at most `max` characters (for the audit
/// trail: `None` when the body is not an object or has no such string).
pub(crate) fn named_text(body: &Value, name: &str, max: usize) -> Option<String> {
    body.as_object()
        .and_then(|o| get(o, name))
        .and_then(Value::as_str)
        .map(|s| s.chars().take(max).collect())
}

/// The value of `obj` named `name`, mutably, whatever its case.
pub(crate) fn get_mut<'a>(obj: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    obj.iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Removes `name` from `obj`, whatever its case.
pub(crate) fn remove(obj: &mut Map<String, Value>, name: &str) -> Option<Value> {
    key_of(obj, name).and_then(|k| obj.remove(&k))
}

/// Sets `name` in `obj`, replacing a key of any case.
pub(crate) fn set(obj: &mut Map<String, Value>, name: &str, value: Value) {
    let key = key_of(obj, name).unwrap_or_else(|| name.to_owned());
    obj.insert(key, value);
}

/// An optional string attribute (`null` and `""` are absent).
pub(crate) fn opt_string(
    obj: &Map<String, Value>,
    name: &str,
    field: &'static str,
) -> Result<Option<String>> {
    match get(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(Error::invalid(field, format!("{name} must be a string"))),
    }
}

/// A boolean attribute, accepting `"true"`/`"false"` in any case as well.
pub(crate) fn opt_bool(obj: &Map<String, Value>, name: &str) -> Result<Option<bool>> {
    match get(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(Error::invalid(
            "value",
            format!("{name} must be true or false"),
        )),
    }
}

/// The body as an object, or a readable refusal.
pub(crate) fn object<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| Error::invalid("syntax", format!("{what} must be a JSON object")))
}

/// Whether a bounded text value is acceptable: at most `max` characters, no control
/// characters.
pub(crate) fn bounded(value: Option<String>, name: &str, max: usize) -> Result<Option<String>> {
    if let Some(v) = &value {
        if v.chars().count() > max {
            return Err(Error::invalid(
                "value",
                format!("{name} must be at most {max} characters"),
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(Error::invalid(
                "value",
                format!("{name} must not contain control characters"),
            ));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_match_without_regard_to_case_and_booleans_read_leniently() {
        let v = json!({"UserName": "a", "Active": "False", "x": 3});
        let o = v.as_object().expect("object");
        assert_eq!(get(o, "userName"), Some(&json!("a")));
        assert_eq!(opt_bool(o, "active").expect("ok"), Some(false));
        assert!(opt_string(o, "x", "value").is_err());
        let mut m = o.clone();
        set(&mut m, "username", json!("b"));
        assert_eq!(m.get("UserName"), Some(&json!("b")));
        assert_eq!(remove(&mut m, "USERNAME"), Some(json!("b")));
    }
}
