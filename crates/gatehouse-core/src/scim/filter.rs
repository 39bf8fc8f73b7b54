//! SCIM filters (RFC 7644 §3.4.2.2) turned into a store-neutral [`Query`] over the
//! attributes we index. The grammar is the `scim_v2` crate's parser; what is ours is
//! the vocabulary: which attribute names exist for each resource type (matched without
//! regard to case, with or without their schema URN), which operators apply to each,
//! and how each value is typed. Case-insensitive attributes are compared by the store
//! with the database's own `LOWER` on both sides (against expression indexes), so the
//! folding is the same for the column and the value whatever the backend. Anything
//! else is `invalidFilter`, never a scan in memory.

use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{GROUP_SCHEMA, USER_SCHEMA};
use crate::error::{Error, Result};

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// Which resource type a filter is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/Users`.
    Users,
    /// `/Groups`.
    Groups,
}

/// An attribute a filter may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// `id`.
    Id,
    /// `userName` (users).
    UserName,
    /// `externalId`.
    ExternalId,
    /// `emails.value`, `emails` (users).
    Email,
    /// `displayName`.
    DisplayName,
    /// `name.givenName` (users).
    GivenName,
    /// `name.familyName` (users).
    FamilyName,
    /// `name.formatted` (users).
    FormattedName,
    /// `active` (users).
    Active,
    /// `meta.created`.
    Created,
    /// `meta.lastModified`.
    LastModified,
    /// `members.value`, `members` (groups).
    Member,
}

/// How an attribute's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text compared exactly.
    ExactText,
    /// Text compared without regard to case (by the store, on both sides).
    Text,
    /// A boolean.
    Bool,
    /// A date and time (Unix seconds).
    Time,
}

impl Attr {
    /// How the attribute compares.
    pub fn kind(self) -> Kind {
        match self {
            Attr::Id | Attr::ExternalId | Attr::Member => Kind::ExactText,
            Attr::UserName
            | Attr::Email
            | Attr::DisplayName
            | Attr::GivenName
            | Attr::FamilyName
            | Attr::FormattedName => Kind::Text,
            Attr::Active => Kind::Bool,
            Attr::Created | Attr::LastModified => Kind::Time,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `co`.
    Co,
    /// `sw`.
    Sw,
    /// `ew`.
    Ew,
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
}

/// A typed comparison value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text, as given.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// Unix seconds.
    Time(i64),
}

/// A filter the store turns into SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Every resource (no filter).
    All,
    /// The attribute has a non-empty value.
    Present(Attr),
    /// A comparison.
    Compare(Attr, Op, Value),
    /// Every part matches.
    And(Vec<Query>),
    /// Some part matches.
    Or(Vec<Query>),
    /// The part does not match.
    Not(Box<Query>),
}

fn invalid(reason: impl std::fmt::Display) -> Error {
    Error::invalid("filter", reason)
}

/// Parses `raw` as a filter over `resource`; an empty filter is [`Query::All`].
pub fn parse(raw: &str, resource: Resource) -> Result<Query> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Query::All);
    }
    if raw.len() > MAX_FILTER_LEN {
        return Err(invalid(format!(
            "the filter is longer than {MAX_FILTER_LEN} bytes"
        )));
    }
    let filter: Filter = raw
        .parse()
        .map_err(|_| invalid("the filter is not valid SCIM filter syntax (RFC 7644 §3.4.2.2)"))?;
    translate(&filter, resource)
}

fn translate(f: &Filter, resource: Resource) -> Result<Query> {
    Ok(match f {
        Filter::Attr(e) => expression(e, None, resource)?,
        Filter::ValuePath(vp) => value_filter(&vp.filter, Some(&vp.attr), resource)?,
        Filter::Not(inner) => Query::Not(Box::new(translate(inner, resource)?)),
        Filter::And(ops) => Query::And(
            ops.as_slice()
                .iter()
                .map(|f| translate(f, resource))
                .collect::<Result<_>>()?,
        ),
        Filter::Or(ops) => Query::Or(
            ops.as_slice()
                .iter()
                .map(|f| translate(f, resource))
                .collect::<Result<_>>()?,
        ),
    })
}

fn value_filter(f: &ValFilter, parent: Option<&AttrPath>, resource: Resource) -> Result<Query> {
    Ok(match f {
        ValFilter::Attr(e) => expression(e, parent, resource)?,
        ValFilter::Not(inner) => Query::Not(Box::new(value_filter(inner, parent, resource)?)),
        ValFilter::And(ops) => Query::And(
            ops.as_slice()
                .iter()
                .map(|f| value_filter(f, parent, resource))
                .collect::<Result<_>>()?,
        ),
        ValFilter::Or(ops) => Query::Or(
            ops.as_slice()
                .iter()
                .map(|f| value_filter(f, parent, resource))
                .collect::<Result<_>>()?,
        ),
    })
}

fn expression(e: &AttrExp, parent: Option<&AttrPath>, resource: Resource) -> Result<Query> {
    match e {
        AttrExp::Present(path) => Ok(Query::Present(attribute(path, parent, resource)?)),
        AttrExp::Comparison(path, op, value) => {
            let attr = attribute(path, parent, resource)?;
            let op = operator(op);
            let value = typed(attr, op, value)?;
            Ok(Query::Compare(attr, op, value))
        }
    }
}

fn operator(op: &CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Co,
        CompareOp::Sw => Op::Sw,
        CompareOp::Ew => Op::Ew,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

/// Resolves an attribute path (inside `parent[...]` when given) to one we index.
fn attribute(path: &AttrPath, parent: Option<&AttrPath>, resource: Resource) -> Result<Attr> {
    let schema = match resource {
        Resource::Users => USER_SCHEMA,
        Resource::Groups => GROUP_SCHEMA,
    };
    for p in parent.into_iter().chain(std::iter::once(path)) {
        if let Some(uri) = &p.uri
            && !uri.eq_ignore_ascii_case(schema)
        {
            return Err(invalid(format!(
                "attributes of the schema {uri:?} cannot be filtered on"
            )));
        }
    }
    let mut parts: Vec<String> = Vec::with_capacity(3);
    if let Some(p) = parent {
        parts.push(p.name.to_ascii_lowercase());
        if let Some(s) = &p.sub_attr {
            parts.push(s.to_ascii_lowercase());
        }
    }
    parts.push(path.name.to_ascii_lowercase());
    if let Some(s) = &path.sub_attr {
        parts.push(s.to_ascii_lowercase());
    }
    let dotted = parts.join(".");
    let attr = match (resource, dotted.as_str()) {
        (_, "id") => Attr::Id,
        (_, "externalid") => Attr::ExternalId,
        (_, "displayname") => Attr::DisplayName,
        (_, "meta.created") => Attr::Created,
        (_, "meta.lastmodified") => Attr::LastModified,
        (Resource::Users, "username") => Attr::UserName,
        (Resource::Users, "emails" | "emails.value") => Attr::Email,
        (Resource::Users, "name.givenname") => Attr::GivenName,
        (Resource::Users, "name.familyname") => Attr::FamilyName,
        (Resource::Users, "name.formatted") => Attr::FormattedName,
        (Resource::Users, "active") => Attr::Active,
        (Resource::Groups, "members" | "members.value") => Attr::Member,
        _ => {
            return Err(invalid(format!(
                "filtering on {dotted:?} is not supported; {}",
                match resource {
                    Resource::Users =>
                        "use userName, externalId, emails.value, displayName, name.givenName, \
                         name.familyName, active, id, meta.created or meta.lastModified",
                    Resource::Groups =>
                        "use displayName, externalId, members.value, id, meta.created or \
                         meta.lastModified",
                }
            )));
        }
    };
    Ok(attr)
}

fn typed(attr: Attr, op: Op, value: &CompValue) -> Result<Value> {
    let text_op = matches!(op, Op::Co | Op::Sw | Op::Ew);
    match (attr.kind(), value) {
        (Kind::Text | Kind::ExactText, CompValue::Str(s)) => Ok(Value::Text(s.clone())),
        (Kind::Bool, CompValue::True | CompValue::False) if matches!(op, Op::Eq | Op::Ne) => {
            Ok(Value::Bool(matches!(value, CompValue::True)))
        }
        (Kind::Time, CompValue::Str(s)) if !text_op => OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Value::Time(t.unix_timestamp()))
            .map_err(|_| invalid(format!("{s:?} is not an RFC 3339 date and time"))),
        (Kind::Bool, _) => Err(invalid(
            "active compares with eq or ne against true or false",
        )),
        (Kind::Time, _) => Err(invalid(
            "dates compare with eq, ne, gt, ge, lt or le against an RFC 3339 string",
        )),
        (_, CompValue::Null) => Err(invalid(
            "comparing with null is not supported: use `not (attribute pr)`",
        )),
        _ => Err(invalid("this attribute compares with a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(s: &str) -> Result<Query> {
        parse(s, Resource::Users)
    }

    #[test]
    fn attribute_names_and_urns_match_without_regard_to_case() {
        let want = Query::Compare(Attr::UserName, Op::Eq, Value::Text("bjensen".into()));
        assert_eq!(users(r#"USERNAME EQ "bjensen""#).expect("ok"), want);
        assert_eq!(
            users(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#)
                .expect("ok"),
            want
        );
    }

    #[test]
    fn exact_attributes_keep_their_case() {
        assert_eq!(
            users(r#"externalId eq "AbC""#).expect("ok"),
            Query::Compare(Attr::ExternalId, Op::Eq, Value::Text("AbC".into()))
        );
    }

    #[test]
    fn logic_and_value_paths_translate() {
        let q = users(
            r#"not (active eq false) and (emails[value ew "@example.org"] or displayName pr)"#,
        )
        .expect("ok");
        assert_eq!(
            q,
            Query::And(vec![
                Query::Not(Box::new(Query::Compare(
                    Attr::Active,
                    Op::Eq,
                    Value::Bool(false)
                ))),
                Query::Or(vec![
                    Query::Compare(Attr::Email, Op::Ew, Value::Text("@example.org".into())),
                    Query::Present(Attr::DisplayName),
                ]),
            ])
        );
    }

    #[test]
    fn dates_are_typed() {
        assert_eq!(
            users(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#).expect("ok"),
            Query::Compare(Attr::LastModified, Op::Gt, Value::Time(1_767_225_600))
        );
        assert!(users(r#"meta.lastModified gt "yesterday""#).is_err());
        assert!(users(r#"meta.lastModified co "2026""#).is_err());
    }

    #[test]
    fn unsupported_filters_are_invalid_filter_errors() {
        for bad in [
            r#"title eq "x""#,
            r#"userName eq"#,
            r#"active eq "yes""#,
            r#"userName eq null"#,
            r#"members.value eq "x""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#,
        ] {
            match users(bad) {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "filter", "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(
            parse(r#"members[value eq "usr_1"]"#, Resource::Groups).expect("ok"),
            Query::Compare(Attr::Member, Op::Eq, Value::Text("usr_1".into()))
        );
        assert!(parse(r#"userName eq "x""#, Resource::Groups).is_err());
    }
}
