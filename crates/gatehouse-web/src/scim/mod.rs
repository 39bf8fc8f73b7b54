//! The SCIM 2.0 service provider (RFC 7644) at `/scim/v2`: its own router, its own
//! credential (the organisation's SCIM Key as a bearer token, `auth.rs`) and its own
//! error format (`error.rs`), all as `application/scim+json`.
//!
//! - `discovery.rs`: `ServiceProviderConfig`, `ResourceTypes`, `Schemas`.
//! - `users.rs`, `groups.rs`: the resources. Handlers stay thin: the use cases
//!   (`Core::scim_*`) read, validate, patch and store; this layer reads the body and
//!   the query, renders resources with the service's base URL, projects
//!   `attributes`/`excludedAttributes`, and sets `ETag` and `Location`.

mod auth;
mod discovery;
mod error;
mod groups;
mod users;

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use gatehouse_core::scim::{LIST_SCHEMA, ListPage, ListWindow};
use serde_json::{Map, Value, json};

pub use error::ScimError;

use crate::state::AppState;

/// The SCIM media type.
pub const SCIM_JSON: &str = "application/scim+json";
/// Where the service lives.
pub const BASE_PATH: &str = "/scim/v2";
/// Largest SCIM request body.
pub const MAX_BODY_BYTES: usize = crate::MAX_SCIM_BODY_BYTES;

/// The SCIM routes, under [`BASE_PATH`].
pub fn router() -> Router<AppState> {
    let inner = Router::new()
        .merge(discovery::router())
        .merge(users::router())
        .merge(groups::router())
        .route("/.search", post(not_implemented))
        .route("/Bulk", post(not_implemented))
        .route("/Me", any(not_implemented))
        .fallback(|| async {
            ScimError::Status(StatusCode::NOT_FOUND, None, "no such SCIM endpoint".into())
        })
        .method_not_allowed_fallback(|| async {
            ScimError::Status(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "this endpoint does not take that method".into(),
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new().nest(BASE_PATH, inner)
}

/// What the service does not offer (the configuration says so too): 501.
async fn not_implemented() -> ScimError {
    ScimError::Status(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "not supported here: search /Users or /Groups; bulk and /Me are not offered".into(),
    )
}

/// The service's base URL (`https://host/scim/v2`): the public origin, or the one the
/// client reached us by.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    format!(
        "{}{BASE_PATH}",
        crate::state::origin_of(&state.web, headers)
    )
}

/// A SCIM JSON request body (`application/scim+json` or `application/json`).
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ScimError> {
        let ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|t| t == SCIM_JSON || t == "application/json");
        if !ok {
            return Err(ScimError::Status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "send the body as application/scim+json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::Status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    format!("the body is over {MAX_BODY_BYTES} bytes"),
                )
            } else {
                ScimError::syntax("the request body could not be read")
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|_| ScimError::syntax("the body is not valid JSON"))?;
        if !value.is_object() {
            return Err(ScimError::syntax("the body must be a JSON object"));
        }
        Ok(ScimBody(value))
    }
}

/// The query parameters of a list or read (names compared without regard to case).
pub struct ListParams {
    /// `filter`.
    pub filter: String,
    /// `startIndex` and `count`.
    pub window: ListWindow,
    /// `attributes`, lowercased, without schema URNs.
    pub attributes: Vec<String>,
    /// `excludedAttributes`, likewise.
    pub excluded: Vec<String>,
}

impl ListParams {
    /// Reads the query.
    pub fn parse(raw: &HashMap<String, String>) -> Result<Self, ScimError> {
        let get = |name: &str| {
            raw.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            get(name)
                .map(|v| {
                    v.trim().parse::<i64>().map_err(|_| {
                        ScimError::Status(
                            StatusCode::BAD_REQUEST,
                            Some("invalidValue"),
                            format!("{name} must be a whole number"),
                        )
                    })
                })
                .transpose()
        };
        // Lowercased, without a schema URN prefix.
        let list = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| {
                    v.split(',')
                        .map(|a| {
                            let a = a.trim().to_ascii_lowercase();
                            match a.rsplit_once(':') {
                                Some((urn, rest)) if urn.starts_with("urn:") => rest.to_owned(),
                                _ => a,
                            }
                        })
                        .filter(|a| !a.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(ListParams {
            filter: get("filter").unwrap_or_default().to_owned(),
            window: ListWindow::new(number("startIndex")?, number("count")?),
            attributes: list("attributes"),
            excluded: list("excludedAttributes"),
        })
    }

    /// Reads a `POST …/.search` body (RFC 7644 §3.4.3) as the same parameters.
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let Some(o) = body.as_object() else {
            return Err(ScimError::syntax("the body must be a JSON object"));
        };
        let mut raw = HashMap::new();
        for (k, v) in o {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                _ => continue,
            };
            raw.insert(k.clone(), text);
        }
        Self::parse(&raw)
    }

    /// Whether the answer leaves `attr` out.
    pub fn leaves_out(&self, attr: &str) -> bool {
        let attr = attr.to_ascii_lowercase();
        self.excluded.contains(&attr)
            || (!self.attributes.is_empty()
                && !self
                    .attributes
                    .iter()
                    .any(|a| *a == attr || a.starts_with(&format!("{attr}."))))
    }

    /// Applies `attributes`/`excludedAttributes` to a rendered resource (`id`,
    /// `schemas` and `meta` always stay).
    pub fn project(&self, resource: Value) -> Value {
        if self.attributes.is_empty() && self.excluded.is_empty() {
            return resource;
        }
        let Value::Object(o) = resource else {
            return resource;
        };
        let (wanted, dropped) = (&self.attributes, &self.excluded);
        let mut out = Map::new();
        for (k, v) in o {
            let key = k.to_ascii_lowercase();
            let always = matches!(key.as_str(), "id" | "schemas" | "meta");
            let keep = always
                || ((wanted.is_empty()
                    || wanted
                        .iter()
                        .any(|a| *a == key || a.split('.').next() == Some(key.as_str())))
                    && !dropped.contains(&key));
            if !keep {
                continue;
            }
            // `name.givenName` keeps only that part of `name` (unless `name` is asked
            // for whole); `excludedAttributes=name.formatted` drops only that part.
            let prefix = format!("{key}.");
            let subs: Vec<&str> = wanted
                .iter()
                .filter_map(|a| a.strip_prefix(&prefix))
                .collect();
            let gone: Vec<&str> = dropped
                .iter()
                .filter_map(|a| a.strip_prefix(&prefix))
                .collect();
            let whole = wanted.is_empty() || wanted.contains(&key);
            let v = match v {
                Value::Object(inner) if !always => Value::Object(
                    inner
                        .into_iter()
                        .filter(|(s, _)| {
                            let s = s.to_ascii_lowercase();
                            (whole || subs.contains(&s.as_str())) && !gone.contains(&s.as_str())
                        })
                        .collect(),
                ),
                other => other,
            };
            out.insert(k, v);
        }
        Value::Object(out)
    }
}

/// The query string as a map (a malformed one is `invalidSyntax`).
pub struct RawQuery(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for RawQuery {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ScimError> {
        Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| RawQuery(q))
            .map_err(|_| ScimError::syntax("the query string is not valid"))
    }
}

/// A resource answer: status, `ETag`, and `Location` for a creation.
pub fn resource(status: StatusCode, body: Value, etag: &str, location: Option<&str>) -> Response {
    let mut res = (
        status,
        [(header::CONTENT_TYPE, SCIM_JSON)],
        body.to_string(),
    )
        .into_response();
    if let Ok(v) = etag.parse() {
        res.headers_mut().insert(header::ETAG, v);
    }
    if let Some(loc) = location.and_then(|l| l.parse().ok()) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    res
}

/// A list answer (RFC 7644 §3.4.2).
pub fn list<T>(page: ListPage<T>, params: &ListParams, render: impl Fn(&T) -> Value) -> Response {
    let resources: Vec<Value> = page
        .items
        .iter()
        .map(|r| params.project(render(r)))
        .collect();
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": page.total,
        "startIndex": page.window.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, SCIM_JSON)],
        body.to_string(),
    )
        .into_response()
}

/// The `If-Match` header, if any.
pub fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &[(&str, &str)]) -> ListParams {
        let raw: HashMap<String, String> = q
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListParams::parse(&raw).expect("parses")
    }

    #[test]
    fn query_names_are_case_insensitive_and_projections_keep_the_id() {
        let p = params(&[
            ("STARTINDEX", "3"),
            ("Count", "2"),
            ("attributes", "userName,name.givenName"),
        ]);
        assert_eq!(p.window.start_index, 3);
        assert_eq!(p.window.count, 2);
        let out = p
            .project(json!({"id": "1", "userName": "a", "name": {"givenName": "A", "familyName": "B"}, "emails": []}));
        assert_eq!(
            out,
            json!({"id": "1", "userName": "a", "name": {"givenName": "A"}})
        );
        let p = params(&[(
            "excludedAttributes",
            "urn:ietf:params:scim:schemas:core:2.0:Group:members",
        )]);
        assert_eq!(
            p.project(json!({"id": "g", "members": []})),
            json!({"id": "g"})
        );
        assert!(p.leaves_out("members"));
        assert!(ListParams::parse(&HashMap::from([("count".into(), "x".into())])).is_err());
    }
}
