//! SCIM's own error format (RFC 7644 §3.12): `schemas`, `status` as a string, `scimType`
//! where one applies, and a `detail` a person can read, as `application/scim+json`. 5xx
//! details are generic (the cause goes to the log, with the request id the detail names).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::Error as CoreError;
use gatehouse_core::scim::ERROR_SCHEMA;
use serde_json::json;

use super::SCIM_JSON;
use crate::context::current_request_id;

/// An error answered by the SCIM service.
#[derive(Debug)]
pub enum ScimError {
    /// A domain error.
    Core(CoreError),
    /// Anything else, by status, with its `scimType` and detail.
    Status(StatusCode, Option<&'static str>, String),
}

impl From<CoreError> for ScimError {
    fn from(e: CoreError) -> Self {
        ScimError::Core(e)
    }
}

impl ScimError {
    /// A malformed request (`invalidSyntax`).
    pub fn syntax(detail: impl Into<String>) -> Self {
        ScimError::Status(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            detail.into(),
        )
    }

    fn parts(&self) -> (StatusCode, Option<&'static str>, String) {
        match self {
            ScimError::Status(s, t, d) => (*s, *t, d.clone()),
            ScimError::Core(e) => core_parts(e),
        }
    }
}

/// Status, `scimType` and detail of a domain error.
fn core_parts(e: &CoreError) -> (StatusCode, Option<&'static str>, String) {
    use StatusCode as S;
    {
        match e {
            CoreError::NotFound => (S::NOT_FOUND, None, "no such resource".into()),
            CoreError::Conflict(m) if m.contains(gatehouse_core::service::LAST_OWNER) => {
                (S::CONFLICT, None, m.clone())
            }
            CoreError::Conflict(m) => (S::CONFLICT, Some("uniqueness"), m.clone()),
            CoreError::Invalid { field, reason } => {
                let kind = match *field {
                    "filter" => "invalidFilter",
                    "path" => "invalidPath",
                    "syntax" => "invalidSyntax",
                    "target" => "noTarget",
                    "mutability" => "mutability",
                    _ => "invalidValue",
                };
                (S::BAD_REQUEST, Some(kind), reason.clone())
            }
            CoreError::PreconditionFailed(m) => (S::PRECONDITION_FAILED, None, m.clone()),
            CoreError::InvalidCredentials | CoreError::Unauthenticated | CoreError::InvalidCode => {
                (
                    S::UNAUTHORIZED,
                    None,
                    "send the organisation's SCIM Key as a bearer token (Authorization: Bearer …)"
                        .into(),
                )
            }
            CoreError::Forbidden(m) | CoreError::InsufficientPermissions(m) => {
                (S::FORBIDDEN, None, m.clone())
            }
            CoreError::RateLimited { message, .. } => (S::TOO_MANY_REQUESTS, None, message.clone()),
            CoreError::Unavailable { .. } => (
                S::SERVICE_UNAVAILABLE,
                None,
                "the service is temporarily unavailable; retry shortly".into(),
            ),
            CoreError::ReauthenticationRequired
            | CoreError::MfaSetupRequired
            | CoreError::SecurityKeySetupRequired => {
                (S::FORBIDDEN, None, "this request is not allowed".into())
            }
            CoreError::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                None,
                format!(
                    "an internal error occurred; quote request id {} when reporting it",
                    current_request_id()
                ),
            ),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        if let ScimError::Core(CoreError::Internal(cause)) = &self {
            tracing::error!(%cause, request_id = %current_request_id(), "internal error");
        }
        let (status, scim_type, detail) = self.parts();
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": status.as_u16().to_string(),
            "detail": detail,
        });
        if let (Some(t), Some(o)) = (scim_type, body.as_object_mut()) {
            o.insert("scimType".into(), json!(t));
        }
        let mut res = (
            status,
            [(header::CONTENT_TYPE, SCIM_JSON)],
            body.to_string(),
        )
            .into_response();
        let retry = match &self {
            ScimError::Core(CoreError::RateLimited { retry_after, .. })
            | ScimError::Core(CoreError::Unavailable { retry_after }) => Some(*retry_after),
            _ => None,
        };
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        res
    }
}
