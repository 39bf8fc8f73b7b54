//! Readable messages for JSON bodies that do not fit their request type. serde's own
//! text names Rust types (`expected struct CreateKeyRequest`) and positions; clients get
//! the field at fault and what it must be, in the wire's terms only.

/// What is wrong with a body: the field at fault (`None` for the body as a whole) and
/// the reason, both free of Rust names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyProblem {
    /// Dotted path of the field (`name`, `scopes[1]`, `owner.id`).
    pub field: Option<String>,
    /// What it must be, e.g. `must be a string`.
    pub reason: String,
}

/// Rewrites a serde data error found at `path` (`.` for the top level).
pub fn describe(path: &str, serde_message: &str) -> BodyProblem {
    let message = strip_position(serde_message);
    // The path may already end at the named field (unknown fields) or stop at its
    // parent (missing fields).
    let at = |name: &str| {
        let field = match path {
            "." | "" => name.to_owned(),
            p if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
            p => format!("{p}.{name}"),
        };
        Some(field)
    };
    let here = (!matches!(path, "." | "")).then(|| path.to_owned());

    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, expected) = quoted_then(rest);
        let reason = match names_in(expected) {
            known if known.is_empty() => "is not a field of this request".to_owned(),
            known => format!("is not a field of this request (expected one of {known})"),
        };
        return BodyProblem {
            field: at(&name),
            reason,
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let (name, _) = quoted_then(rest);
        return BodyProblem {
            field: at(&name),
            reason: "is required".into(),
        };
    }
    if let Some(rest) = message.strip_prefix("duplicate field ") {
        let (name, _) = quoted_then(rest);
        return BodyProblem {
            field: at(&name),
            reason: "appears more than once".into(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (_, expected) = quoted_then(rest);
        let known = names_in(expected);
        return BodyProblem {
            field: here,
            reason: if known.is_empty() {
                "is not one of the allowed values".into()
            } else {
                format!("must be one of {known}")
            },
        };
    }
    let expected = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.rsplit_once(", expected "))
        .map(|(_, e)| e);
    if let Some(expected) = expected {
        let kind = kind_of(expected);
        if here.is_none() {
            return BodyProblem {
                field: None,
                reason: format!("the body must be {}", kind.unwrap_or("a JSON object")),
            };
        }
        return BodyProblem {
            field: here,
            reason: kind.map_or_else(
                || "has a value of the wrong type".to_owned(),
                |k| format!("must be {k}"),
            ),
        };
    }
    if message.starts_with("invalid length ") {
        return BodyProblem {
            field: here,
            reason: "has the wrong number of items".into(),
        };
    }
    // A message of our own (a validating Deserialize impl), if it names nothing internal.
    let safe = !message.is_empty()
        && !["struct ", "::", "enum ", "line ", "column "]
            .iter()
            .any(|bad| message.contains(bad));
    BodyProblem {
        field: here,
        reason: if safe {
            message.to_owned()
        } else {
            "has an invalid value".into()
        },
    }
}

/// Drops serde_json's ` at line L column C` suffix.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => &message[..i],
        _ => message,
    }
}

/// The first `` `quoted` `` name and what follows it.
fn quoted_then(s: &str) -> (String, &str) {
    let Some(rest) = s.strip_prefix('`') else {
        return (String::new(), s);
    };
    match rest.find('`') {
        Some(end) => (rest[..end].to_owned(), &rest[end + 1..]),
        None => (rest.to_owned(), ""),
    }
}

/// The `` `quoted` `` names in serde's "expected one of `a`, `b`" list, as `a, b`.
fn names_in(s: &str) -> String {
    s.split('`')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join(", ")
}

/// serde's "expected …" phrase as a JSON kind, or `None` when it names something else.
fn kind_of(expected: &str) -> Option<&'static str> {
    let e = expected.trim();
    Some(match e {
        _ if e.starts_with("struct ") || e.contains("map") => "a JSON object",
        _ if e.contains("string") || e == "a character" => "a string",
        _ if e.contains("sequence") || e.contains("tuple") || e.contains("array") => "an array",
        "a boolean" | "bool" => "true or false",
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" => "a whole number from 0 to 4294967295",
        "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "an integer" => "a whole number",
        "f32" | "f64" | "a number" => "a number",
        _ if e.starts_with("enum ") || e.contains("variant") => "one of the allowed values",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(field: Option<&str>, reason: &str) -> BodyProblem {
        BodyProblem {
            field: field.map(str::to_owned),
            reason: reason.to_owned(),
        }
    }

    #[test]
    fn type_errors_name_the_field_and_the_json_kind_never_the_rust_type() {
        assert_eq!(
            describe(
                ".",
                "invalid type: null, expected struct CreateKeyRequest at line 1 column 4"
            ),
            problem(None, "the body must be a JSON object")
        );
        assert_eq!(
            describe(
                "name",
                "invalid type: integer `5`, expected a string at line 1 column 10"
            ),
            problem(Some("name"), "must be a string")
        );
        assert_eq!(
            describe(
                "expires_in_days",
                "invalid value: integer `-1`, expected u32"
            ),
            problem(
                Some("expires_in_days"),
                "must be a whole number from 0 to 4294967295"
            )
        );
        assert_eq!(
            describe("scopes", "invalid type: string \"x\", expected a sequence"),
            problem(Some("scopes"), "must be an array")
        );
        assert_eq!(
            describe(
                "owner",
                "invalid type: integer `1`, expected struct gatehouse::Owner"
            ),
            problem(Some("owner"), "must be a JSON object")
        );
        assert_eq!(
            describe("x", "invalid type: map, expected some::Thing"),
            problem(Some("x"), "has a value of the wrong type")
        );
    }

    #[test]
    fn unknown_missing_and_enum_errors_become_field_messages() {
        assert_eq!(
            describe(
                ".",
                "unknown field `nmae`, expected one of `name`, `scopes` at line 1 column 7"
            ),
            problem(
                Some("nmae"),
                "is not a field of this request (expected one of name, scopes)"
            )
        );
        assert_eq!(
            describe("owner", "unknown field `x`, there are no fields"),
            problem(Some("owner.x"), "is not a field of this request")
        );
        assert_eq!(
            describe("owner.x", "unknown field `x`, expected `id`"),
            problem(
                Some("owner.x"),
                "is not a field of this request (expected one of id)"
            )
        );
        assert_eq!(
            describe(".", "missing field `password` at line 1 column 20"),
            problem(Some("password"), "is required")
        );
        assert_eq!(
            describe(
                "kind",
                "unknown variant `rsa`, expected `ed25519` or `ecdsa`"
            ),
            problem(Some("kind"), "must be one of ed25519, ecdsa")
        );
    }

    #[test]
    fn custom_messages_pass_only_when_they_name_nothing_internal() {
        assert_eq!(
            describe("scopes[0]", "unknown scope \"nope\""),
            problem(Some("scopes[0]"), "unknown scope \"nope\"")
        );
        assert_eq!(
            describe("a", "failed in gatehouse_core::thing at line 1 column 2"),
            problem(Some("a"), "has an invalid value")
        );
    }
}
