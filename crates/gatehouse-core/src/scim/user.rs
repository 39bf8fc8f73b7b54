//! The User resource: a person's account as an identity provider sees it, its JSON form,
//! and the reading of a client's JSON (POST, PUT, and a PATCH's result) into validated
//! fields. `userName` is the account's username (the same rules, case-insensitive, unique
//! on the server); one email is kept (the primary, else the last given).

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::json::{bounded, get, object, opt_bool, opt_string};
use super::{Meta, USER_SCHEMA, weak_etag, with_meta};
use crate::account::{Account, DisplayName, Email, Username};
use crate::error::{Error, Result};
use crate::ids::ScimGroupId;

/// Longest externalId and name part we keep.
const MAX_TEXT: usize = 256;

/// A group a user is in (the read-only `groups` attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The group.
    pub id: ScimGroupId,
    /// Its display name.
    pub display: String,
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct ScimUser {
    /// The account.
    pub account: Account,
    /// The identity provider's id for them.
    pub external_id: Option<String>,
    /// `name.givenName`.
    pub given_name: Option<String>,
    /// `name.familyName`.
    pub family_name: Option<String>,
    /// `name.formatted`.
    pub formatted_name: Option<String>,
    /// The email's `type`, as sent.
    pub email_type: Option<String>,
    /// The email's `primary`, as sent.
    pub email_primary: Option<bool>,
    /// `meta.lastModified`.
    pub modified_at: OffsetDateTime,
    /// The groups they are in.
    pub groups: Vec<GroupRef>,
}

impl ScimUser {
    /// The resource without `meta` (what the entity tag covers).
    fn body(&self, base: &str) -> Map<String, Value> {
        let a = &self.account;
        let mut o = Map::new();
        o.insert("schemas".into(), json!([USER_SCHEMA]));
        o.insert("id".into(), json!(a.id.0));
        if let Some(x) = &self.external_id {
            o.insert("externalId".into(), json!(x));
        }
        o.insert("userName".into(), json!(a.username));
        let mut name = Map::new();
        for (k, v) in [
            ("givenName", &self.given_name),
            ("familyName", &self.family_name),
            ("formatted", &self.formatted_name),
        ] {
            if let Some(v) = v {
                name.insert(k.into(), json!(v));
            }
        }
        if !name.is_empty() {
            o.insert("name".into(), Value::Object(name));
        }
        o.insert("displayName".into(), json!(a.display_name));
        if !a.email.is_empty() {
            let mut email = Map::new();
            email.insert("value".into(), json!(a.email));
            if let Some(t) = &self.email_type {
                email.insert("type".into(), json!(t));
            }
            if let Some(p) = self.email_primary {
                email.insert("primary".into(), json!(p));
            }
            o.insert("emails".into(), json!([email]));
        }
        o.insert("active".into(), json!(!a.disabled));
        if !self.groups.is_empty() {
            let groups: Vec<Value> = self
                .groups
                .iter()
                .map(|g| {
                    json!({
                        "value": g.id.0,
                        "$ref": format!("{base}/Groups/{}", g.id.0),
                        "display": g.display,
                        "type": "direct",
                    })
                })
                .collect();
            o.insert("groups".into(), Value::Array(groups));
        }
        o
    }

    /// The weak entity tag (`meta.version`).
    pub fn etag(&self) -> String {
        weak_etag(&Value::Object(self.body("")))
    }

    /// The JSON resource, with `meta`; `base` is the service's `/scim/v2` URL.
    pub fn to_json(&self, base: &str) -> Value {
        with_meta(
            self.body(base),
            Meta {
                version: self.etag(),
                resource_type: "User",
                created: self.account.created_at,
                modified: self.modified_at,
                location: format!("{base}/Users/{}", self.account.id.0),
            },
        )
    }
}

/// What a client may set on a user, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFields {
    /// `userName`.
    pub username: Username,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `name.givenName`.
    pub given_name: Option<String>,
    /// `name.familyName`.
    pub family_name: Option<String>,
    /// `name.formatted`.
    pub formatted_name: Option<String>,
    /// `displayName`, or one made from the name, or the username.
    pub display_name: DisplayName,
    /// The primary email (empty when none).
    pub email: String,
    /// Its `type`.
    pub email_type: Option<String>,
    /// Its `primary` flag.
    pub email_primary: Option<bool>,
    /// `active`.
    pub active: bool,
}

impl UserFields {
    /// Reads a User resource a client sent; `active` is `default_active` when the body
    /// leaves it out (a PUT that omits it changes nothing about it). Read-only attributes
    /// (`id`, `meta`, `groups`) and attributes we do not keep are ignored, as RFC 7644
    /// §3.3 allows.
    pub fn from_json(body: &Value, default_active: bool) -> Result<Self> {
        let o = object(body, "the user")?;
        if let Some(s) = get(o, "schemas") {
            let ok = s.as_array().is_some_and(|a| {
                a.iter().any(|v| {
                    v.as_str()
                        .is_some_and(|v| v.eq_ignore_ascii_case(USER_SCHEMA))
                })
            });
            if !ok {
                return Err(Error::invalid(
                    "syntax",
                    format!("schemas must include {USER_SCHEMA}"),
                ));
            }
        }
        let user_name = opt_string(o, "userName", "value")?
            .ok_or_else(|| Error::invalid("value", "userName is required"))?;
        let username = Username::parse(&user_name).map_err(|e| match e {
            Error::Invalid { reason, .. } => Error::invalid("value", format!("userName {reason}")),
            other => other,
        })?;
        let empty = Map::new();
        let name = match get(o, "name") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(n)) => n,
            Some(_) => return Err(Error::invalid("value", "name must be an object")),
        };
        let given_name = bounded(
            opt_string(name, "givenName", "value")?,
            "name.givenName",
            MAX_TEXT,
        )?;
        let family_name = bounded(
            opt_string(name, "familyName", "value")?,
            "name.familyName",
            MAX_TEXT,
        )?;
        let formatted_name = bounded(
            opt_string(name, "formatted", "value")?,
            "name.formatted",
            MAX_TEXT,
        )?;
        let display = opt_string(o, "displayName", "value")?
            .or_else(|| formatted_name.clone())
            .or_else(|| {
                let parts: Vec<&str> = [&given_name, &family_name]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
            .unwrap_or_else(|| username.as_str().to_owned());
        let email = primary_email(o)?;
        let display_name = DisplayName::parse(&display).map_err(|_| {
            Error::invalid("value", "displayName must be 1 to 128 printable characters")
        })?;
        Ok(UserFields {
            external_id: bounded(
                opt_string(o, "externalId", "value")?,
                "externalId",
                MAX_TEXT,
            )?,
            email: email.value,
            email_type: email.kind,
            email_primary: email.primary,
            active: opt_bool(o, "active")?.unwrap_or(default_active),
            username,
            given_name,
            family_name,
            formatted_name,
            display_name,
        })
    }
}

/// The email a user keeps.
struct KeptEmail {
    value: String,
    kind: Option<String>,
    primary: Option<bool>,
}

/// The primary email of `emails` (else the last with a value), validated; empty when
/// there is none.
fn primary_email(o: &Map<String, Value>) -> Result<KeptEmail> {
    let none = || KeptEmail {
        value: String::new(),
        kind: None,
        primary: None,
    };
    let list = match get(o, "emails") {
        None | Some(Value::Null) => return Ok(none()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(Error::invalid("value", "emails must be a list")),
    };
    let mut chosen: Option<KeptEmail> = None;
    for e in list {
        let e = e
            .as_object()
            .ok_or_else(|| Error::invalid("value", "each of emails must be an object"))?;
        let Some(value) = opt_string(e, "value", "value")? else {
            continue;
        };
        let this = KeptEmail {
            value,
            kind: bounded(opt_string(e, "type", "value")?, "emails.type", 64)?,
            primary: opt_bool(e, "primary")?,
        };
        if this.primary == Some(true) {
            chosen = Some(this);
            break;
        }
        // Without a primary, the last one given: a PATCH that adds an address means it.
        chosen = Some(this);
    }
    let Some(mut kept) = chosen else {
        return Ok(none());
    };
    kept.value = Email::parse(&kept.value)
        .map(|e| e.as_str().to_owned())
        .map_err(|_| {
            Error::invalid("value", format!("{:?} is not an email address", kept.value))
        })?;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_user_reads() {
        let f = UserFields::from_json(
            &json!({
            "schemas": [USER_SCHEMA],
            "userName": "BJensen",
            "externalId": "00u1",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@home.example.org"}, {"value": "bjensen@Example.org", "primary": true}],
            "active": "False",
            "id": "ignored",
        }),
            true,
        )
        .expect("ok");
        let kept = UserFields::from_json(&json!({"userName": "ab"}), false).expect("ok");
        assert!(!kept.active, "an absent active keeps the default given");
        assert_eq!(f.username.as_str(), "bjensen");
        assert_eq!(f.display_name.as_str(), "Barbara Jensen");
        assert_eq!(f.email, "bjensen@example.org");
        assert!(!f.active);
        assert_eq!(f.external_id.as_deref(), Some("00u1"));
    }

    #[test]
    fn bad_users_are_refused_with_the_attribute_named() {
        for (body, word) in [
            (json!({"name": {}}), "userName is required"),
            (json!({"userName": "a b"}), "userName"),
            (
                json!({"userName": "ab", "emails": [{"value": "nope"}]}),
                "email",
            ),
            (json!({"userName": "ab", "active": "maybe"}), "active"),
            (json!({"userName": "ab", "schemas": ["urn:x"]}), "schemas"),
            (json!([1]), "object"),
        ] {
            let e = UserFields::from_json(&body, true)
                .expect_err("refused")
                .to_string();
            assert!(e.contains(word), "{body}: {e}");
        }
    }
}
