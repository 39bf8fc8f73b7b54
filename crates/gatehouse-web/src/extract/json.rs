//! A JSON body extractor whose rejections use the API's error format: 415 for a wrong
//! content type, 413 for an oversize body, 400 for bad syntax, 422 for wrong fields (with
//! the field named, and no Rust type in the message; see `error/body_problem.rs`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::ApiError;
use crate::error::{BodyProblem, describe};

/// A JSON request or response body.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else if caused_by_body_timeout(&rejection) {
                ApiError::RequestTimeout
            } else {
                ApiError::BadRequest("the request body could not be read".into())
            }
        })?;
        parse(&bytes).map(Json)
    }
}

/// Whether a body read failed because the body read timeout passed.
fn caused_by_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<crate::middleware::limits::BodyReadTimeout>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Deserialises a body (always a JSON object: every request type is one), turning
/// serde's errors into ours.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let not_json = || ApiError::BadRequest("the body is not valid JSON".into());
    // serde would take an array for a struct, field by field in order; refuse it (and
    // `null`, strings, numbers) as a whole instead.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => ApiError::InvalidBody(BodyProblem {
                    field: None,
                    reason: "the body must be a JSON object".into(),
                }),
                Err(_) => not_json(),
            },
        );
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            // SECURITY: serde's text names Rust types and fields' paths as the code
            // spells them; only the rewritten, wire-level description is sent.
            Category::Data => ApiError::InvalidBody(describe(&path, &inner.to_string())),
            Category::Syntax | Category::Eof | Category::Io => not_json(),
        }
    })?;
    de.end().map_err(|_| not_json())?;
    Ok(value)
}

/// `application/json`, or an `application/…+json` type, parameters allowed.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A JSON body that may be absent: an empty body yields `T::default()`.
pub struct JsonOrEmpty<T>(pub T);

impl<T, S> FromRequest<S> for JsonOrEmpty<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let empty = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .is_some_and(|v| v == "0")
            || (!req.headers().contains_key(axum::http::header::CONTENT_TYPE)
                && !req
                    .headers()
                    .contains_key(axum::http::header::TRANSFER_ENCODING)
                && !req
                    .headers()
                    .contains_key(axum::http::header::CONTENT_LENGTH));
        if empty {
            return Ok(JsonOrEmpty(T::default()));
        }
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonOrEmpty(v))
    }
}

/// Deserialises a field that distinguishes "absent" (`None`) from `null` (`Some(None)`).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

/// A body sent as JSON (scripts, the CLI, the pages' JavaScript) or as the form post of a
/// page that works without JavaScript (sign-in). A JSON body that does not fit is
/// refused in our error format; a form that does not fit arrives as `Form(None)`, for
/// the handler to send the browser back to its page.
pub enum FormOrJson<T> {
    /// `application/json`.
    Json(T),
    /// `application/x-www-form-urlencoded`; `None` if it did not fit `T`.
    Form(Option<T>),
}

impl<T> FormOrJson<T> {
    /// Whether it came as a form post.
    pub fn is_form(&self) -> bool {
        matches!(self, FormOrJson::Form(_))
    }

    /// The body, if it fitted.
    pub fn into_inner(self) -> Option<T> {
        match self {
            FormOrJson::Json(t) => Some(t),
            FormOrJson::Form(t) => t,
        }
    }
}

impl<S, T> axum::extract::FromRequest<S> for FormOrJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = axum::response::Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let form = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        if form {
            Ok(FormOrJson::Form(
                axum::Form::<T>::from_request(req, state)
                    .await
                    .ok()
                    .map(|axum::Form(f)| f),
            ))
        } else {
            Json::<T>::from_request(req, state)
                .await
                .map(|Json(j)| FormOrJson::Json(j))
                .map_err(IntoResponse::into_response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct CreateThingRequest {
        name: String,
        scopes: Vec<String>,
        limit: Option<u32>,
        owner: Option<Owner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Owner {
        id: String,
    }

    /// (field, message) of a refused body.
    fn refused(body: &str) -> (Option<String>, String) {
        match parse::<CreateThingRequest>(body.as_bytes()) {
            Ok(v) => panic!("accepted {v:?}"),
            Err(ApiError::InvalidBody(p)) => (p.field, p.reason),
            Err(ApiError::BadRequest(m)) => (None, m),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bodies_that_do_not_fit_are_described_by_field_without_rust_names() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("null", None, "the body must be a JSON object"),
            ("[1, 2]", None, "the body must be a JSON object"),
            ("\"x\"", None, "the body must be a JSON object"),
            (
                r#"{"name": 5, "scopes": []}"#,
                Some("name"),
                "must be a string",
            ),
            (
                r#"{"name": "a", "scopes": "x"}"#,
                Some("scopes"),
                "must be an array",
            ),
            (
                r#"{"name": "a", "scopes": [1]}"#,
                Some("scopes[0]"),
                "must be a string",
            ),
            (
                r#"{"name": "a", "scopes": [], "limit": -1}"#,
                Some("limit"),
                "must be a whole number from 0 to 4294967295",
            ),
            (r#"{"scopes": []}"#, Some("name"), "is required"),
            (
                r#"{"name": "a", "scopes": [], "nmae": 1}"#,
                Some("nmae"),
                "is not a field of this request (expected one of name, scopes, limit, owner)",
            ),
            (
                r#"{"name": "a", "scopes": [], "owner": {"id": "u", "x": 1}}"#,
                Some("owner.x"),
                "is not a field of this request (expected one of id)",
            ),
            (
                r#"{"name": "a", "scopes": [], "owner": 7}"#,
                Some("owner"),
                "must be a JSON object",
            ),
            ("{not json", None, "the body is not valid JSON"),
            (
                r#"{"name": "a", "scopes": []} trailing"#,
                None,
                "the body is not valid JSON",
            ),
        ];
        for (body, field, reason) in cases {
            let (got_field, got_reason) = refused(body);
            assert_eq!(
                (got_field.as_deref(), got_reason.as_str()),
                (*field, *reason),
                "{body}"
            );
            for internal in ["struct", "::", "line ", "column", "CreateThing", "Owner"] {
                assert!(!got_reason.contains(internal), "{body}: {got_reason}");
            }
        }
    }
}
