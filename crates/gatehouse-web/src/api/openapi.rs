//! The OpenAPI 3.1 description of the JSON API, assembled from the handlers' own
//! `#[utoipa::path]` annotations by the areas' `OpenApiRouter`s (so a route cannot be
//! added without its operation), finished here with the error answers every operation
//! can give, and served once rendered at `GET /api/openapi.json`.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::ApiError;

/// The document's introduction.
const DESCRIPTION: &str = "Gatehouse's JSON API: sign-in, sessions, 2-step verification, \
API keys, tokens, SSH public and private keys, and the organisation admin panel's API, plus \
the health endpoints and the token verification keys.\n\n\
Out of scope: the SCIM 2.0 service at `/scim/v2`, which describes itself through its RFC 7643 \
discovery endpoints (`/scim/v2/ServiceProviderConfig`, `/scim/v2/ResourceTypes`, \
`/scim/v2/Schemas`), and the HTML pages of the web UI.\n\n\
**Credentials.** A request carries at most one: the `cloud.sso` session cookie, an API key \
as the username of HTTP Basic with an empty password, or a token as `Authorization: Bearer`. \
Two at once is 400 `multiple_auth_methods`. A cookie-authenticated request with any method \
other than GET, HEAD or OPTIONS must also prove it comes from Gatehouse's own pages: an \
`X-CSRF-Token` header with the session's CSRF token (`csrf_token` in `GET /api/auth/session`), \
or an `Origin` header equal to the configured public origin (without one: `https://` plus the \
request's `Host`); otherwise 403 `csrf_failed`.\n\n\
**Permissions.** Each operation's description says which permission it needs, and its \
`x-permissions` extension lists them (any one of several suffices where the description \
says \"or\"). A credential without it gets 403 `insufficient_permissions`.\n\n\
**Errors.** Every error answer is `{\"error\", \"message\", \"request_id\"}` (plus `field` \
for a refused field); 5xx answers never carry the cause. 401 answers to a missing or refused \
credential carry `WWW-Authenticate`; 429 and 503 answers carry `Retry-After` (seconds). Lists \
take `?limit=&cursor=` and give the next page's cursor in `Link` and `X-Next-Cursor`.";

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// A machine-readable code (`invalid_credentials`, `validation_failed`, …).
    error: String,
    /// A sentence for people.
    message: String,
    /// The request's id, also in the `X-Request-Id` header and the server's log.
    request_id: String,
    /// The request field at fault, for 422 answers about one field.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// A bare acknowledgement, `{"status": "accepted"}`.
#[derive(Serialize, ToSchema)]
pub struct StatusBody {
    /// What happened.
    status: String,
}

/// The root of the document: its introduction, the security schemes and the shared
/// error schema. The paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse API", description = DESCRIPTION),
    servers((url = "/", description = "this server")),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "Sign-in, sessions and passwords"),
        (name = "mfa", description = "2-step verification: authenticator apps, recovery codes, security keys"),
        (name = "api-keys", description = "Your API keys"),
        (name = "tokens", description = "Your short-lived tokens and the keys that verify them"),
        (name = "ssh-keys", description = "SSH public keys and sshd's authorized_keys lookup"),
        (name = "ssh-private-keys", description = "Stored SSH private keys: signing and connection tests"),
        (name = "admin", description = "The organisation admin panel"),
        (name = "health", description = "Liveness, readiness and this document"),
    )
)]
pub struct ApiDoc;

/// Adds the three credentials.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "An API key (`gwk_…`) as the username of HTTP Basic, with an empty \
                         password: `Authorization: Basic base64(KEY:)`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A token from `POST /api/tokens` (EdDSA JWT, verifiable with \
                         `/.well-known/jwks.json`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::extract::SESSION_COOKIE,
                "The browser session from `POST /api/auth/login`. Methods other than GET, HEAD \
                 and OPTIONS also need `X-CSRF-Token` (the session's `csrf_token`) or a \
                 same-origin `Origin` header.",
            ))),
        );
    }
}

/// The rendered document (built once, when the first router is built).
static DOCUMENT: OnceLock<Bytes> = OnceLock::new();

/// Finishes the routers' document and keeps it for [`serve`]; returns it as JSON.
pub fn publish(doc: utoipa::openapi::OpenApi) -> Value {
    let doc = finish(doc);
    // The document depends only on the code, so the first rendering is the only one.
    DOCUMENT.get_or_init(|| Bytes::from(doc.to_string()));
    doc
}

/// `GET /api/openapi.json`: this document. Public.
#[utoipa::path(
    get,
    operation_id = "openapi_document",
    path = "/api/openapi.json",
    tag = "health",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn serve() -> Response {
    match DOCUMENT.get() {
        Some(doc) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            doc.clone(),
        )
            .into_response(),
        None => ApiError::Status(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the API description is not built yet",
        )
        .into_response(),
    }
}

/// The shared error answers, by status: name, description, and the headers they carry.
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "Malformed request: bad JSON syntax, a malformed query string or Authorization \
         header, or two credentials at once (`multiple_auth_methods`)",
    ),
    (
        "401",
        "Unauthorized",
        "No credential, or one that is invalid, expired, disabled or revoked (with \
         `WWW-Authenticate`); or a wrong code or password where one is asked for",
    ),
    (
        "403",
        "Forbidden",
        "The credential lacks the permission (`insufficient_permissions`), the route takes \
         only a browser session (`forbidden`), a cookie-authenticated change failed the CSRF \
         rule (`csrf_failed`), or the organisation requires 2-step verification first \
         (`mfa_setup_required`)",
    ),
    (
        "404",
        "NotFound",
        "No such object (another account's or organisation's objects are 404 too)",
    ),
    (
        "408",
        "RequestTimeout",
        "The body did not arrive within the body read timeout",
    ),
    (
        "409",
        "Conflict",
        "The change conflicts with the current state",
    ),
    ("413", "PayloadTooLarge", "The body is larger than 64 KiB"),
    ("414", "UriTooLong", "The URL is too long"),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not `application/json`",
    ),
    (
        "422",
        "ValidationFailed",
        "The body or a parameter does not fit (`validation_failed`, with `field`)",
    ),
    (
        "429",
        "TooManyRequests",
        "Rate limited (per key, per address or per account); `Retry-After` says when to \
         try again",
    ),
    (
        "431",
        "HeadersTooLarge",
        "Too many header fields, or too large ones",
    ),
    (
        "500",
        "InternalError",
        "An internal error; quote the request id when reporting it",
    ),
    (
        "503",
        "Unavailable",
        "The store is unreachable or the password hashing queue is full; `Retry-After` \
         says when to try again",
    ),
];

/// Adds the shared error responses to the components and to every operation, as its
/// shape says it can give them, and sets the version.
fn finish(doc: utoipa::openapi::OpenApi) -> Value {
    let mut doc = match serde_json::to_value(&doc) {
        Ok(v) => v,
        // A derived `Serialize` of plain maps and strings: this cannot fail.
        Err(_) => return json!({}),
    };
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    let mut responses = Map::new();
    for (status, name, description) in ERRORS {
        let mut response = json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        });
        let retry_after = json!({
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 0},
        });
        match *status {
            "401" => {
                response["headers"] = json!({"WWW-Authenticate": {
                    "description": "The scheme to authenticate with (`Basic` or `Bearer`), when the credential was missing or refused",
                    "schema": {"type": "string"},
                }})
            }
            "429" | "503" => response["headers"] = json!({"Retry-After": retry_after}),
            _ => {}
        }
        responses.insert((*name).to_owned(), response);
    }
    doc["components"]["responses"] = Value::Object(responses);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (_, op) in item.iter_mut() {
            describe_access(op);
            let statuses = error_statuses(path, op);
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for status in statuses {
                if let Some((_, name, _)) = ERRORS.iter().find(|(s, _, _)| *s == status) {
                    responses.entry(status).or_insert_with(
                        || json!({"$ref": format!("#/components/responses/{name}")}),
                    );
                }
            }
        }
    }
    doc
}

/// Ends the operation's description with what it takes: the permission (any one of
/// `x-permissions`), a browser session only, or no credential.
fn describe_access(op: &mut Value) {
    let security: Vec<String> = op
        .get("security")
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_object)
                .flat_map(|r| r.keys().cloned())
                .collect()
        })
        .unwrap_or_default();
    let permissions: Vec<String> = op
        .get("x-permissions")
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .filter_map(Value::as_str)
                .map(|p| format!("`{p}`"))
                .collect()
        })
        .unwrap_or_default();
    let access = if security.is_empty() {
        "**Access:** no credential.".to_owned()
    } else if security == ["session"] {
        "**Access:** a browser session only (an API key or token gets 403).".to_owned()
    } else if permissions.is_empty() {
        "**Access:** any credential.".to_owned()
    } else {
        format!("**Permission:** {}.", permissions.join(" or "))
    };
    let description = match op.get("description").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => format!("{d}\n\n{access}"),
        _ => access,
    };
    op["description"] = Value::String(description);
}

/// The error statuses an operation can answer, from its shape: every route can meet
/// the request limits and the store; a credential can be missing, refused, short of
/// the permission or rate limited; a body can be malformed, too large, late, of the
/// wrong type or not fit; a path names an object that may not exist.
fn error_statuses(path: &str, op: &Value) -> Vec<&'static str> {
    let mut out = vec!["414", "431", "500", "503"];
    let authenticated = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
        });
    if authenticated {
        out.extend(["400", "401", "403", "429"]);
    }
    if op.get("requestBody").is_some() {
        out.extend(["400", "408", "413", "415", "422", "429"]);
    }
    let params = op.get("parameters").and_then(Value::as_array);
    if params.is_some_and(|p| p.iter().any(|p| p["in"] == "query")) {
        out.extend(["400", "422"]);
    }
    if path.contains('{') {
        out.push("404");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authenticated_operation_with_a_body_gets_every_shared_error() {
        let op = json!({"security": [{"api_key": []}], "requestBody": {}});
        let s = error_statuses("/api/x/{id}", &op);
        for status in [
            "400", "401", "403", "404", "413", "415", "422", "429", "503",
        ] {
            assert!(s.contains(&status), "{status}");
        }
        let public = error_statuses("/healthz", &json!({"security": [{}]}));
        assert!(!public.contains(&"401"));
    }
}

#[cfg(test)]
mod document_tests {
    use std::path::Path;

    use serde_json::Value;

    /// The operations that take no credential.
    const PUBLIC: &[(&str, &str)] = &[
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/api/openapi.json"),
        ("get", "/.well-known/jwks.json"),
        ("post", "/api/auth/login"),
        ("post", "/api/auth/login/mfa"),
        ("post", "/api/auth/login/webauthn/start"),
        ("post", "/api/auth/login/webauthn/finish"),
        ("post", "/api/auth/passkey/start"),
        ("post", "/api/auth/passkey/finish"),
        ("post", "/api/auth/set-password"),
        ("post", "/api/api-keys/revoke"),
    ];

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
        out
    }

    fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                out.push((path.display().to_string(), text));
            }
        }
    }

    #[test]
    fn every_api_route_is_added_with_its_operation_and_none_bypasses_the_description() {
        // `OpenApiRouter::routes(routes!(handler))` takes the path and method from the
        // handler's `#[utoipa::path]`, so a route added that way is documented; a plain
        // `.route(…)` would not be, and this refuses one.
        let mut files = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api"),
            &mut files,
        );
        let mut handlers = 0;
        // This file only describes routes (and names the calls in its messages).
        for (file, text) in files.iter().filter(|(f, _)| !f.ends_with("openapi.rs")) {
            assert!(
                !text.contains(".route(") && !text.contains(".route_service("),
                "{file} adds a route outside the API description: use .routes(routes!(handler))"
            );
            for call in text.split("routes!(").skip(1) {
                let args = call.split(')').next().unwrap_or_default();
                handlers += args.split(',').filter(|h| !h.trim().is_empty()).count();
            }
        }
        let doc = crate::api::document();
        assert_eq!(
            operations(&doc).len(),
            handlers,
            "every handler in a routes! call is one operation of the document"
        );
    }

    #[test]
    fn known_operations_are_described_with_their_parameters_security_and_errors() {
        let doc = crate::api::document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        for (method, path) in [
            ("post", "/api/api-keys"),
            ("delete", "/api/api-keys/{id}"),
            ("get", "/api/auth/session"),
            ("patch", "/api/mfa/webauthn/{id}"),
            ("put", "/api/admin/policy"),
            ("get", "/api/admin/audit/export"),
            ("delete", "/api/ssh-private-keys/known-hosts"),
            ("get", "/healthz"),
        ] {
            assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        }
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["api_key"]["scheme"], "basic");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["session"]["in"], "cookie");
        assert_eq!(schemes["session"]["name"], "cloud.sso");

        let mut ids = std::collections::BTreeSet::new();
        for (method, path, op) in operations(&doc) {
            let at = format!("{method} {path}");
            let id = op["operationId"].as_str().expect("operationId").to_owned();
            assert!(ids.insert(id), "{at}: operationId is not unique");
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('4') || s.starts_with('5')),
                "{at} has no error response"
            );
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3')),
                "{at} has no success response"
            );
            let security = op["security"].as_array().expect("security entry");
            let public = security
                .iter()
                .all(|r| r.as_object().is_some_and(|r| r.is_empty()));
            assert_eq!(
                public,
                PUBLIC.contains(&(method.as_str(), path.as_str())),
                "{at}: security {security:?}"
            );
            let description = op["description"].as_str().unwrap_or_default();
            assert!(
                description.contains("**Permission:**") || description.contains("**Access:**"),
                "{at}: the description does not say what it takes"
            );
            if !public {
                assert!(responses.contains_key("401"), "{at} has no 401");
                assert!(responses.contains_key("403"), "{at} has no 403");
                assert!(op["x-permissions"].is_array(), "{at} has no x-permissions");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{at} has no {status}");
                }
            }
            // Every `{name}` in the path is a declared path parameter.
            for name in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
                let declared = op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" && p["name"] == name));
                assert!(declared, "{at} does not declare {name}");
            }
        }
    }
}
