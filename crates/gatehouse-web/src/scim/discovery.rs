//! Discovery (RFC 7644 §4): what the service supports, its resource types, and the
//! schemas of the attributes it keeps (RFC 7643 §7), so a client or a compliance
//! tester knows exactly what it may send. These answer only to the SCIM Key, like the
//! rest of the service.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_core::scim::{GROUP_SCHEMA, LIST_SCHEMA, MAX_RESULTS, USER_SCHEMA};
use serde_json::{Value, json};

use super::auth::ScimCaller;
use super::{SCIM_JSON, ScimError, base_url};
use crate::state::AppState;

const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The routes of this area (under `/scim/v2`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, SCIM_JSON)],
        body.to_string(),
    )
        .into_response()
}

/// The document whose `id` is `id` (in any case), or 404.
fn by_id(docs: Vec<Value>, id: &str) -> Result<Response, ScimError> {
    docs.into_iter()
        .find(|d| d["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .map(ok)
        .ok_or_else(|| gatehouse_core::Error::NotFound.into())
}

fn listed(items: Vec<Value>) -> Response {
    ok(json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    }))
}

/// `GET /ServiceProviderConfig`.
pub async fn config(State(state): State<AppState>, _: ScimCaller, headers: HeaderMap) -> Response {
    let base = base_url(&state, &headers);
    ok(json!({
        "schemas": [CONFIG_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM Key",
            "description": "The organisation's SCIM Key (Admin panel, Keys) as a bearer token.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    }))
}

fn resource_type_docs(base: &str) -> Vec<Value> {
    [("User", "/Users", USER_SCHEMA, "A member of the organisation"), ("Group", "/Groups", GROUP_SCHEMA, "A group of members")]
        .into_iter()
        .map(|(id, endpoint, schema, description)| {
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": id,
                "name": id,
                "endpoint": endpoint,
                "description": description,
                "schema": schema,
                "schemaExtensions": [],
                "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")},
            })
        })
        .collect()
}

/// `GET /ResourceTypes`.
pub async fn resource_types(
    State(state): State<AppState>,
    _: ScimCaller,
    headers: HeaderMap,
) -> Response {
    listed(resource_type_docs(&base_url(&state, &headers)))
}

/// `GET /ResourceTypes/{id}`.
pub async fn resource_type(
    State(state): State<AppState>,
    _: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    by_id(resource_type_docs(&base_url(&state, &headers)), &id)
}

/// One attribute definition (RFC 7643 §7).
fn attr(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    })
}

/// `attr` with some fields replaced.
fn with(mut a: Value, changes: Value) -> Value {
    if let (Some(o), Some(c)) = (a.as_object_mut(), changes.as_object()) {
        for (k, v) in c {
            o.insert(k.clone(), v.clone());
        }
    }
    a
}

fn schema_docs(base: &str) -> Vec<Value> {
    let user = vec![
        with(
            attr(
                "userName",
                "string",
                "The username: 2 to 32 of a-z 0-9 . _ -, starting with a letter or digit; unique on the server, case-insensitive.",
            ),
            json!({"required": true, "uniqueness": "server"}),
        ),
        with(
            attr("name", "complex", "The person's name."),
            json!({"subAttributes": [
                attr("formatted", "string", "The full name, formatted for display."),
                attr("familyName", "string", "The family name."),
                attr("givenName", "string", "The given name."),
            ]}),
        ),
        attr("displayName", "string", "The name shown in the interface."),
        with(
            attr(
                "emails",
                "complex",
                "Email addresses; the primary one is kept.",
            ),
            json!({"multiValued": true, "subAttributes": [
                attr("value", "string", "The address."),
                with(attr("type", "string", "The kind of address."), json!({"canonicalValues": ["work"]})),
                attr("primary", "boolean", "Whether this is the primary address."),
            ]}),
        ),
        attr(
            "active",
            "boolean",
            "Whether the account may sign in; false deprovisions it.",
        ),
        with(
            attr(
                "groups",
                "complex",
                "The groups the user is in (change them through /Groups).",
            ),
            json!({"multiValued": true, "mutability": "readOnly", "subAttributes": [
                with(attr("value", "string", "The group's id."), json!({"mutability": "readOnly"})),
                with(attr("$ref", "reference", "The group's URI."), json!({"mutability": "readOnly", "referenceTypes": ["Group"]})),
                with(attr("display", "string", "The group's display name."), json!({"mutability": "readOnly"})),
                with(attr("type", "string", "Always direct."), json!({"mutability": "readOnly", "canonicalValues": ["direct"]})),
            ]}),
        ),
    ];
    let group = vec![
        with(
            attr(
                "displayName",
                "string",
                "The group's name; unique in the organisation, case-insensitive.",
            ),
            json!({"required": true}),
        ),
        with(
            attr("members", "complex", "The users in the group."),
            json!({"multiValued": true, "subAttributes": [
                with(attr("value", "string", "The user's id."), json!({"mutability": "immutable"})),
                with(attr("$ref", "reference", "The user's URI."), json!({"mutability": "immutable", "referenceTypes": ["User"]})),
                with(attr("display", "string", "The user's username."), json!({"mutability": "readOnly"})),
                with(attr("type", "string", "Always User."), json!({"mutability": "immutable", "canonicalValues": ["User"]})),
            ]}),
        ),
    ];
    [
        (USER_SCHEMA, "User", "User Account", user),
        (GROUP_SCHEMA, "Group", "Group", group),
    ]
    .into_iter()
    .map(|(id, name, description, attributes)| {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": id,
            "name": name,
            "description": description,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
        })
    })
    .collect()
}

/// `GET /Schemas`.
pub async fn schemas(State(state): State<AppState>, _: ScimCaller, headers: HeaderMap) -> Response {
    listed(schema_docs(&base_url(&state, &headers)))
}

/// `GET /Schemas/{id}`.
pub async fn schema(
    State(state): State<AppState>,
    _: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    by_id(schema_docs(&base_url(&state, &headers)), &id)
}
