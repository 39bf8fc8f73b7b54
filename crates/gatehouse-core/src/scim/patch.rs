//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON form. The caller renders the
//! stored resource, applies every operation here in memory, and reads the result back
//! with the same reader as a PUT: a list of operations either all apply and yield a
//! valid resource, or the request fails and nothing is written.
//!
//! What identity providers really send is accepted: operation names in any case
//! (`"Replace"`), `replace` without a `path` carrying an object (whose keys may be
//! dotted, `"name.givenName"`, or a schema URN), `remove` of members by a value path
//! (`members[value eq "…"]`) or by a `value` list, and `add` of `emails[type eq
//! "work"].value` when no such email exists yet (the element is made from the filter).

use scim_v2::filter::{AttrExp, CompValue, CompareOp, PatchPath, ValFilter};
use serde_json::{Map, Value};

use super::json::{get, get_mut, remove, set};
use super::{MAX_PATCH_OPERATIONS, PATCH_SCHEMA};
use crate::error::{Error, Result};

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

/// One operation of a PATCH request.
#[derive(Debug, Clone)]
pub struct PatchOp {
    /// What it does.
    pub op: OpKind,
    /// Where, already parsed.
    pub path: Option<PatchPath>,
    /// The value.
    pub value: Option<Value>,
}

/// Reads a PATCH request body.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOp>> {
    let o = super::json::object(body, "the PATCH request")?;
    if let Some(s) = get(o, "schemas") {
        let ok = s.as_array().is_some_and(|a| {
            a.iter().any(|v| {
                v.as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(PATCH_SCHEMA))
            })
        });
        if !ok {
            return Err(Error::invalid(
                "syntax",
                format!("schemas must include {PATCH_SCHEMA}"),
            ));
        }
    }
    let ops = get(o, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid("syntax", "Operations must be a list of operations"))?;
    if ops.is_empty() {
        return Err(Error::invalid("syntax", "Operations is empty"));
    }
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(Error::invalid(
            "syntax",
            format!("a PATCH request carries at most {MAX_PATCH_OPERATIONS} operations"),
        ));
    }
    ops.iter().map(parse_op).collect()
}

fn parse_op(v: &Value) -> Result<PatchOp> {
    let o = v
        .as_object()
        .ok_or_else(|| Error::invalid("syntax", "each operation must be an object"))?;
    let op = match get(o, "op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("add") => OpKind::Add,
        Some("replace") => OpKind::Replace,
        Some("remove") => OpKind::Remove,
        _ => {
            return Err(Error::invalid(
                "syntax",
                "op must be add, replace or remove",
            ));
        }
    };
    let path = match get(o, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(p.trim().parse::<PatchPath>().map_err(|_| {
            Error::invalid(
                "path",
                format!("{:?} is not a valid attribute path", truncate(p)),
            )
        })?),
        Some(_) => return Err(Error::invalid("path", "path must be a string")),
    };
    let value = get(o, "value").cloned();
    if op != OpKind::Remove && value.is_none() {
        return Err(Error::invalid("value", "add and replace need a value"));
    }
    if op == OpKind::Remove && path.is_none() {
        return Err(Error::invalid("target", "remove needs a path"));
    }
    Ok(PatchOp { op, path, value })
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Applies `ops` in order to `resource` (a JSON object), whose core schema is
/// `schema`; attributes in `read_only` (and `id`, `meta`, `schemas`) cannot be changed.
pub fn apply(
    resource: &mut Value,
    ops: &[PatchOp],
    schema: &str,
    read_only: &[&str],
) -> Result<()> {
    let root = resource
        .as_object_mut()
        .ok_or_else(|| Error::internal("a resource renders as an object"))?;
    for op in ops {
        apply_one(root, op, schema, read_only)?;
    }
    Ok(())
}

/// An attribute named by a path: an extension's object (`ext`), the attribute and
/// its sub-attribute.
struct Named {
    ext: Option<String>,
    name: String,
    sub: Option<String>,
}

fn named(uri: &Option<String>, name: &str, sub: Option<String>, schema: &str) -> Named {
    Named {
        ext: uri.clone().filter(|u| !u.eq_ignore_ascii_case(schema)),
        name: name.to_owned(),
        sub,
    }
}

fn apply_one(
    root: &mut Map<String, Value>,
    op: &PatchOp,
    schema: &str,
    read_only: &[&str],
) -> Result<()> {
    let Some(path) = &op.path else {
        // No path: the value is an object of attributes (RFC 7644 §3.5.2.1, .3).
        let Some(Value::Object(attrs)) = &op.value else {
            return Err(Error::invalid(
                "value",
                "without a path, the value must be an object",
            ));
        };
        for (k, v) in attrs {
            let target = if k.to_ascii_lowercase().starts_with("urn:") {
                if k.eq_ignore_ascii_case(schema) {
                    // The core schema's own attributes, nested under its URN.
                    let nested = PatchOp {
                        op: op.op,
                        path: None,
                        value: Some(v.clone()),
                    };
                    apply_one(root, &nested, schema, read_only)?;
                    continue;
                }
                Named {
                    ext: None,
                    name: k.clone(),
                    sub: None,
                }
            } else if let Some((a, s)) = k.split_once('.') {
                Named {
                    ext: None,
                    name: a.to_owned(),
                    sub: Some(s.to_owned()),
                }
            } else {
                Named {
                    ext: None,
                    name: k.clone(),
                    sub: None,
                }
            };
            // Read-only attributes in a whole-object value (Okta repeats the `id`) are
            // ignored, as a PUT ignores them; a path naming one is refused.
            if guard(&target, read_only).is_err() {
                continue;
            }
            change_attr(root, &target, op.op, Some(v), read_only)?;
        }
        return Ok(());
    };
    match path {
        PatchPath::Attr(a) => {
            let target = named(&a.uri, &a.name, a.sub_attr.clone(), schema);
            change_attr(root, &target, op.op, op.value.as_ref(), read_only)
        }
        PatchPath::Value(vp) => {
            let target = named(&vp.attr.uri, &vp.attr.name, vp.sub_attr.clone(), schema);
            change_filtered(
                root,
                &target,
                &vp.filter,
                op.op,
                op.value.as_ref(),
                read_only,
            )
        }
    }
}

fn guard(target: &Named, read_only: &[&str]) -> Result<()> {
    if target.ext.is_none()
        && ["id", "meta", "schemas"]
            .iter()
            .chain(read_only)
            .any(|r| r.eq_ignore_ascii_case(&target.name))
    {
        return Err(Error::invalid(
            "mutability",
            format!("{} is read-only", target.name),
        ));
    }
    Ok(())
}

/// The object holding the target's attribute: the resource, or an extension's object
/// (made when `create`).
fn container<'a>(
    root: &'a mut Map<String, Value>,
    target: &Named,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match &target.ext {
        None => Some(root),
        Some(ext) => {
            if get(root, ext).is_none() && create {
                set(root, ext, Value::Object(Map::new()));
            }
            get_mut(root, ext).and_then(Value::as_object_mut)
        }
    }
}

fn change_attr(
    root: &mut Map<String, Value>,
    target: &Named,
    op: OpKind,
    value: Option<&Value>,
    read_only: &[&str],
) -> Result<()> {
    guard(target, read_only)?;
    let Some(obj) = container(root, target, op != OpKind::Remove) else {
        return Ok(());
    };
    let Some(sub) = &target.sub else {
        return match (op, value) {
            (OpKind::Remove, Some(Value::Array(drop))) => {
                // Entra: remove these members (by value) from a list.
                if let Some(Value::Array(list)) = get_mut(obj, &target.name) {
                    list.retain(|el| !drop.iter().any(|d| same_element(el, d)));
                }
                Ok(())
            }
            (OpKind::Remove, _) => {
                remove(obj, &target.name);
                Ok(())
            }
            (_, Some(v)) => {
                merge(obj, &target.name, v, op);
                Ok(())
            }
            (_, None) => Err(Error::invalid("value", "add and replace need a value")),
        };
    };
    // `name.givenName`: inside a complex attribute (or each element of a list).
    match get_mut(obj, &target.name) {
        Some(Value::Array(list)) => {
            for el in list.iter_mut().filter_map(Value::as_object_mut) {
                change_sub(el, sub, op, value);
            }
            Ok(())
        }
        Some(Value::Object(inner)) => {
            change_sub(inner, sub, op, value);
            Ok(())
        }
        None | Some(Value::Null) if op != OpKind::Remove => {
            let mut inner = Map::new();
            change_sub(&mut inner, sub, op, value);
            set(obj, &target.name, Value::Object(inner));
            Ok(())
        }
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(Error::invalid(
            "path",
            format!("{} has no sub-attributes", target.name),
        )),
    }
}

fn change_sub(el: &mut Map<String, Value>, sub: &str, op: OpKind, value: Option<&Value>) {
    match (op, value) {
        (OpKind::Remove, _) | (_, None) => {
            remove(el, sub);
        }
        (_, Some(v)) => merge(el, sub, v, op),
    }
}

/// Adds or replaces `name` in `obj` with `v`: `add` appends to a list (skipping
/// elements already there) and merges into an object; `replace` merges into an
/// object and replaces anything else.
fn merge(obj: &mut Map<String, Value>, name: &str, v: &Value, op: OpKind) {
    if v.is_null() {
        remove(obj, name);
        return;
    }
    match (get_mut(obj, name), v) {
        (Some(Value::Array(list)), Value::Array(more)) if op == OpKind::Add => {
            for m in more {
                if !list.iter().any(|el| same_element(el, m)) {
                    list.push(m.clone());
                }
            }
        }
        (Some(Value::Array(list)), Value::Object(_)) if op == OpKind::Add => {
            if !list.iter().any(|el| same_element(el, v)) {
                list.push(v.clone());
            }
        }
        (Some(Value::Object(inner)), Value::Object(more)) => {
            for (k, x) in more {
                merge(inner, k, x, op);
            }
        }
        _ => set(obj, name, v.clone()),
    }
}

/// Two list elements are the same when their `value`s are (or when they are equal).
fn same_element(a: &Value, b: &Value) -> bool {
    match (
        a.as_object().and_then(|o| get(o, "value")),
        b.as_object().and_then(|o| get(o, "value")),
    ) {
        (Some(x), Some(y)) => match (x.as_str(), y.as_str()) {
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
            _ => x == y,
        },
        _ => a == b,
    }
}

fn change_filtered(
    root: &mut Map<String, Value>,
    target: &Named,
    filter: &ValFilter,
    op: OpKind,
    value: Option<&Value>,
    read_only: &[&str],
) -> Result<()> {
    guard(target, read_only)?;
    let Some(obj) = container(root, target, op != OpKind::Remove) else {
        return Ok(());
    };
    if get(obj, &target.name).is_none_or(Value::is_null) {
        if op == OpKind::Remove {
            return Ok(());
        }
        set(obj, &target.name, Value::Array(Vec::new()));
    }
    let Some(Value::Array(list)) = get_mut(obj, &target.name) else {
        return Err(Error::invalid(
            "path",
            format!("{} is not a list", target.name),
        ));
    };
    let hits: Vec<usize> = (0..list.len())
        .filter(|&i| matches(filter, &list[i]))
        .collect();
    if op == OpKind::Remove {
        match &target.sub {
            None => {
                let mut i = 0;
                list.retain(|_| {
                    let keep = !hits.contains(&i);
                    i += 1;
                    keep
                });
            }
            Some(sub) => {
                for &i in &hits {
                    if let Some(el) = list[i].as_object_mut() {
                        remove(el, sub);
                    }
                }
            }
        }
        return Ok(());
    }
    let Some(v) = value else {
        return Err(Error::invalid("value", "add and replace need a value"));
    };
    if hits.is_empty() {
        // Entra adds `emails[type eq "work"].value` to a user without a work email:
        // the element is made from the filter's equalities.
        let Some(mut el) = element_from(filter) else {
            return Err(Error::invalid(
                "target",
                "the path's filter matches no value",
            ));
        };
        match &target.sub {
            Some(sub) => merge(&mut el, sub, v, op),
            None => {
                if let Value::Object(more) = v {
                    for (k, x) in more {
                        merge(&mut el, k, x, op);
                    }
                }
            }
        }
        list.push(Value::Object(el));
        return Ok(());
    }
    for i in hits {
        let Some(el) = list[i].as_object_mut() else {
            continue;
        };
        match (&target.sub, v) {
            (Some(sub), _) => merge(el, sub, v, op),
            (None, Value::Object(more)) => {
                for (k, x) in more {
                    merge(el, k, x, op);
                }
            }
            (None, _) => {
                return Err(Error::invalid("value", "the value must be an object"));
            }
        }
    }
    Ok(())
}

/// An element made of a filter's `attr eq value` terms (`None` for any other filter).
fn element_from(filter: &ValFilter) -> Option<Map<String, Value>> {
    let mut el = Map::new();
    let mut terms = vec![filter];
    while let Some(f) = terms.pop() {
        match f {
            ValFilter::And(ops) => terms.extend(ops.as_slice()),
            ValFilter::Attr(AttrExp::Comparison(p, CompareOp::Eq, v)) if p.sub_attr.is_none() => {
                el.insert(p.name.clone(), comp_json(v));
            }
            _ => return None,
        }
    }
    Some(el)
}

fn comp_json(v: &CompValue) -> Value {
    match v {
        CompValue::False => Value::Bool(false),
        CompValue::True => Value::Bool(true),
        CompValue::Null => Value::Null,
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::Str(s) => Value::String(s.clone()),
    }
}

/// Whether a list element matches a value filter (strings compare without regard to
/// case, as the attributes we keep are case-insensitive or ids).
fn matches(f: &ValFilter, el: &Value) -> bool {
    let Some(o) = el.as_object() else {
        return false;
    };
    match f {
        ValFilter::Not(inner) => !matches(inner, el),
        ValFilter::And(ops) => ops.as_slice().iter().all(|f| matches(f, el)),
        ValFilter::Or(ops) => ops.as_slice().iter().any(|f| matches(f, el)),
        ValFilter::Attr(AttrExp::Present(p)) => lookup(o, &p.name, p.sub_attr.as_deref())
            .is_some_and(|v| !v.is_null() && v.as_str() != Some("")),
        ValFilter::Attr(AttrExp::Comparison(p, op, want)) => {
            let have = lookup(o, &p.name, p.sub_attr.as_deref());
            compare(have, op, want)
        }
    }
}

fn lookup<'a>(o: &'a Map<String, Value>, name: &str, sub: Option<&str>) -> Option<&'a Value> {
    let v = get(o, name)?;
    match sub {
        None => Some(v),
        Some(s) => v.as_object().and_then(|i| get(i, s)),
    }
}

fn compare(have: Option<&Value>, op: &CompareOp, want: &CompValue) -> bool {
    use std::cmp::Ordering;
    let ordering = |o: Ordering| match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    };
    match (have, want) {
        (None | Some(Value::Null), CompValue::Null) => matches!(op, CompareOp::Eq),
        (Some(Value::String(h)), CompValue::Str(w)) => {
            let (h, w) = (h.to_lowercase(), w.to_lowercase());
            match op {
                CompareOp::Co => h.contains(&w),
                CompareOp::Sw => h.starts_with(&w),
                CompareOp::Ew => h.ends_with(&w),
                _ => ordering(h.cmp(&w)),
            }
        }
        (Some(Value::Bool(h)), CompValue::True | CompValue::False) => {
            ordering(h.cmp(&matches!(want, CompValue::True)))
        }
        (Some(Value::String(h)), CompValue::True | CompValue::False) => ordering(
            h.eq_ignore_ascii_case("true")
                .cmp(&matches!(want, CompValue::True)),
        ),
        (Some(Value::Number(h)), CompValue::Number(w)) => match (h.as_f64(), w.as_f64()) {
            (Some(h), Some(w)) => h.partial_cmp(&w).is_some_and(ordering),
            _ => false,
        },
        (None | Some(Value::Null), _) => matches!(op, CompareOp::Ne),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USER: &str = super::super::USER_SCHEMA;

    fn patch(mut doc: Value, ops: Value) -> Result<Value> {
        let ops = parse_request(&json!({"schemas": [PATCH_SCHEMA], "Operations": ops}))?;
        apply(&mut doc, &ops, USER, &["groups"])?;
        Ok(doc)
    }

    #[test]
    fn entra_and_okta_shapes_apply() {
        let doc = json!({"userName": "a", "active": true, "name": {"givenName": "A"}});
        let out = patch(
            doc,
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "replace", "value": {"name.familyName": "B", "displayName": "A B"}},
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@example.org"},
                {"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User": {"externalId": "x1"}}},
                {"op": "replace", "value": {"id": "usr_other", "meta": {}}},
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
            ]),
        )
        .expect("applies");
        assert_eq!(out["active"], json!("False"));
        assert_eq!(out["name"], json!({"givenName": "A", "familyName": "B"}));
        assert_eq!(
            out["emails"],
            json!([{"type": "work", "value": "a@example.org"}])
        );
        assert_eq!(out["externalId"], json!("x1"));
        assert_eq!(out["displayName"], json!("A B"));
        assert!(
            out.get("id").is_none(),
            "read-only attributes in a value are ignored"
        );
    }

    #[test]
    fn members_are_added_once_and_removed_by_value_path_or_value_list() {
        let doc = json!({"displayName": "g", "members": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]});
        let out = patch(
            doc,
            json!([
                {"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "u4"}]},
                {"op": "remove", "path": "members[value eq \"u1\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "u2"}]},
                {"op": "remove", "path": "members[value eq \"nobody\"]"},
            ]),
        )
        .expect("applies");
        assert_eq!(out["members"], json!([{"value": "u3"}, {"value": "u4"}]));
    }

    #[test]
    fn refusals_name_their_scim_type() {
        let field = |r: Result<Value>| match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let doc = json!({"userName": "a"});
        assert_eq!(
            field(patch(doc.clone(), json!([{"op": "remove"}]))),
            "target"
        );
        assert_eq!(
            field(patch(doc.clone(), json!([{"op": "move", "path": "x"}]))),
            "syntax"
        );
        assert_eq!(
            field(patch(
                doc.clone(),
                json!([{"op": "add", "path": "a[", "value": 1}])
            )),
            "path"
        );
        assert_eq!(
            field(patch(
                doc.clone(),
                json!([{"op": "replace", "path": "id", "value": "x"}])
            )),
            "mutability"
        );
        assert_eq!(
            field(patch(
                doc.clone(),
                json!([{"op": "add", "path": "groups", "value": []}])
            )),
            "mutability"
        );
        assert_eq!(
            field(patch(
                doc,
                json!([{"op": "replace", "path": "emails[type ne \"x\"]", "value": {"value": "b"}}])
            )),
            "target"
        );
    }
}
