//! The Group resource: a named set of the organisation's users that an identity
//! provider keeps, its JSON form, and the reading of a client's JSON into fields.
//! Display names are unique in the organisation without regard to case (the
//! group-to-role setting names groups by them).

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::json::{bounded, get, object, opt_string};
use super::{GROUP_SCHEMA, MAX_GROUP_MEMBERS, Meta, weak_etag, with_meta};
use crate::error::{Error, Result};
use crate::ids::{AccountId, OrgId, ScimGroupId};

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The user.
    pub id: AccountId,
    /// Their username.
    pub display: String,
}

/// A group as stored.
#[derive(Debug, Clone)]
pub struct ScimGroup {
    /// The group.
    pub id: ScimGroupId,
    /// Its organisation.
    pub org_id: OrgId,
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `meta.created`.
    pub created_at: OffsetDateTime,
    /// `meta.lastModified`.
    pub modified_at: OffsetDateTime,
    /// The members (empty when the caller did not ask for them).
    pub members: Vec<MemberRef>,
}

impl ScimGroup {
    fn body(&self, base: &str) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("schemas".into(), json!([GROUP_SCHEMA]));
        o.insert("id".into(), json!(self.id.0));
        if let Some(x) = &self.external_id {
            o.insert("externalId".into(), json!(x));
        }
        o.insert("displayName".into(), json!(self.display_name));
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|m| {
                json!({
                    "value": m.id.0,
                    "$ref": format!("{base}/Users/{}", m.id.0),
                    "display": m.display,
                    "type": "User",
                })
            })
            .collect();
        o.insert("members".into(), Value::Array(members));
        o
    }

    /// The weak entity tag (`meta.version`); it covers the members, so it is only
    /// meaningful on a group read with them.
    pub fn etag(&self) -> String {
        weak_etag(&Value::Object(self.body("")))
    }

    /// The JSON resource, with `meta`; `base` is the service's `/scim/v2` URL.
    pub fn to_json(&self, base: &str) -> Value {
        with_meta(
            self.body(base),
            Meta {
                version: self.etag(),
                resource_type: "Group",
                created: self.created_at,
                modified: self.modified_at,
                location: format!("{base}/Groups/{}", self.id.0),
            },
        )
    }
}

/// What a client may set on a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFields {
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The members' ids, without repeats, in the order given.
    pub members: Vec<AccountId>,
}

impl GroupFields {
    /// Reads a Group resource a client sent (members by `value`; `display` and `$ref`
    /// are ignored, as they are read-only).
    pub fn from_json(body: &Value) -> Result<Self> {
        let o = object(body, "the group")?;
        let display_name = bounded(opt_string(o, "displayName", "value")?, "displayName", 256)?
            .ok_or_else(|| Error::invalid("value", "displayName is required"))?;
        let mut members: Vec<AccountId> = Vec::new();
        match get(o, "members") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for m in list {
                    let m = m
                        .as_object()
                        .ok_or_else(|| Error::invalid("value", "each member must be an object"))?;
                    let id = opt_string(m, "value", "value")?.ok_or_else(|| {
                        Error::invalid("value", "each member needs a value (a user id)")
                    })?;
                    let id = AccountId(id);
                    if !members.contains(&id) {
                        members.push(id);
                    }
                }
            }
            Some(_) => return Err(Error::invalid("value", "members must be a list")),
        }
        if members.len() > MAX_GROUP_MEMBERS {
            return Err(Error::invalid(
                "value",
                format!("a group holds at most {MAX_GROUP_MEMBERS} members"),
            ));
        }
        Ok(GroupFields {
            display_name,
            external_id: bounded(opt_string(o, "externalId", "value")?, "externalId", 256)?,
            members,
        })
    }

    /// The display name's key: unique in the organisation.
    pub fn display_key(&self) -> String {
        self.display_name.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_read_with_members_once_each() {
        let g = GroupFields::from_json(&json!({
            "schemas": [GROUP_SCHEMA],
            "displayName": "Gatehouse Admins",
            "members": [{"value": "usr_1", "display": "x"}, {"value": "usr_1"}, {"value": "usr_2"}],
        }))
        .expect("ok");
        assert_eq!(
            g.members,
            vec![AccountId("usr_1".into()), AccountId("usr_2".into())]
        );
        assert_eq!(g.display_key(), "gatehouse admins");
        assert!(GroupFields::from_json(&json!({"members": []})).is_err());
        assert!(GroupFields::from_json(&json!({"displayName": "x", "members": [{}]})).is_err());
    }
}
