//! The HTTP error: every failure becomes `{"error","message","request_id"}` with the
//! right status. 5xx bodies are generic; their cause goes to the log only.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::Error as CoreError;
use serde::Serialize;

mod body_problem;

use crate::context::current_request_id;
pub use body_problem::{BodyProblem, describe};

/// An error answered over HTTP.
#[derive(Debug)]
pub enum ApiError {
    /// A domain error.
    Core(CoreError),
    /// Two credentials in one request (cookie and Authorization, say).
    MultipleAuthMethods,
    /// A credential of the given scheme was refused (`Basic` or `Bearer`).
    BadCredential(&'static str),
    /// A cookie-authenticated state change without a same-origin Origin or CSRF token.
    CsrfFailed,
    /// A credential on the plain-HTTP listener.
    HttpsRequired,
    /// Malformed request (bad JSON syntax, oversize field).
    BadRequest(String),
    /// Body of the wrong media type.
    UnsupportedMediaType,
    /// Body too large.
    PayloadTooLarge,
    /// The body did not arrive within the body read timeout.
    RequestTimeout,
    /// No such route.
    RouteNotFound,
    /// Route exists, method does not.
    MethodNotAllowed,
    /// A JSON body that does not fit the request type (the field at fault, if any).
    InvalidBody(BodyProblem),
    /// The request line's target is longer than we accept.
    UriTooLong,
    /// Too many header fields, or too many bytes of them.
    HeadersTooLarge,
    /// Any other refusal, by status (an extractor's rejection or a bare status that the
    /// error-mapping layer turned into our format). The message is ours, never the
    /// rejection's own text.
    Status(StatusCode, &'static str),
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError::Core(e)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// The machine-readable code of the JSON body (`invalid_credentials`, …).
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    /// Status, machine code and human message.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        use StatusCode as S;
        match self {
            ApiError::Core(e) => match e {
                CoreError::NotFound => (S::NOT_FOUND, "not_found", "no such object".into()),
                CoreError::Conflict(m) => (S::CONFLICT, "conflict", m.clone()),
                CoreError::Invalid { field, reason } => (
                    S::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    format!("{field}: {reason}"),
                ),
                CoreError::InvalidCredentials => (
                    S::UNAUTHORIZED,
                    "invalid_credentials",
                    "the username or password is incorrect".into(),
                ),
                CoreError::Unauthenticated => (
                    S::UNAUTHORIZED,
                    "unauthenticated",
                    "a valid credential is required".into(),
                ),
                CoreError::InvalidCode => (
                    S::UNAUTHORIZED,
                    "invalid_code",
                    "the code is incorrect, expired or already used".into(),
                ),
                CoreError::ReauthenticationRequired => (
                    S::UNAUTHORIZED,
                    "reauthentication_required",
                    "confirm it is you: re-enter your password or a code from your \
                     authenticator app (POST /api/auth/reauthenticate), then try again"
                        .into(),
                ),
                CoreError::MfaSetupRequired => (
                    S::FORBIDDEN,
                    "mfa_setup_required",
                    "your organisation requires 2-step verification: set it up under \
                     Account, Authentication, 2-Step Verification first"
                        .into(),
                ),
                CoreError::SecurityKeySetupRequired => (
                    S::FORBIDDEN,
                    "mfa_setup_required",
                    "your organisation requires a security key: add one under Account, \
                     Authentication, 2-Step Verification first"
                        .into(),
                ),
                CoreError::Forbidden(m) => (S::FORBIDDEN, "forbidden", m.clone()),
                CoreError::PreconditionFailed(m) => {
                    (S::PRECONDITION_FAILED, "precondition_failed", m.clone())
                }
                CoreError::InsufficientPermissions(m) => {
                    (S::FORBIDDEN, "insufficient_permissions", m.clone())
                }
                CoreError::RateLimited { message, .. } => {
                    (S::TOO_MANY_REQUESTS, "rate_limited", message.clone())
                }
                CoreError::Unavailable { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is temporarily unavailable; retry shortly".into(),
                ),
                CoreError::Internal(_) => (
                    S::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "an internal error occurred; quote the request id when reporting it".into(),
                ),
            },
            ApiError::BadCredential(_) => (
                S::UNAUTHORIZED,
                "invalid_credentials",
                "the credential is invalid, expired, disabled or revoked".into(),
            ),
            ApiError::MultipleAuthMethods => (
                S::BAD_REQUEST,
                "multiple_auth_methods",
                "use exactly one authentication method per request (cookie, Bearer or Basic)"
                    .into(),
            ),
            ApiError::CsrfFailed => (
                S::FORBIDDEN,
                "csrf_failed",
                "cookie-authenticated changes need a same-origin Origin header or an X-CSRF-Token header"
                    .into(),
            ),
            ApiError::HttpsRequired => (
                S::FORBIDDEN,
                "https_required",
                "credentials are accepted only over HTTPS".into(),
            ),
            ApiError::BadRequest(m) => (S::BAD_REQUEST, "invalid_request", m.clone()),
            ApiError::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json".into(),
            ),
            ApiError::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large".into(),
            ),
            ApiError::RequestTimeout => (
                S::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time; send it again".into(),
            ),
            ApiError::RouteNotFound => (S::NOT_FOUND, "not_found", "no such route".into()),
            ApiError::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method".into(),
            ),
            ApiError::InvalidBody(p) => (
                S::UNPROCESSABLE_ENTITY,
                "validation_failed",
                match &p.field {
                    Some(field) => format!("{field}: {}", p.reason),
                    None => p.reason.clone(),
                },
            ),
            ApiError::UriTooLong => (
                S::URI_TOO_LONG,
                "uri_too_long",
                "the URL is too long".into(),
            ),
            ApiError::HeadersTooLarge => (
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "the request has too many header fields, or too large ones".into(),
            ),
            ApiError::Status(status, message) => (*status, code_of(*status), (*message).into()),
        }
    }
}

/// The machine code for a status that has no more specific one.
fn code_of(status: StatusCode) -> &'static str {
    use StatusCode as S;
    match status {
        S::BAD_REQUEST => "invalid_request",
        S::UNAUTHORIZED => "unauthenticated",
        S::FORBIDDEN => "forbidden",
        S::NOT_FOUND => "not_found",
        S::METHOD_NOT_ALLOWED => "method_not_allowed",
        S::REQUEST_TIMEOUT => "request_timeout",
        S::LENGTH_REQUIRED => "length_required",
        S::PAYLOAD_TOO_LARGE => "payload_too_large",
        S::URI_TOO_LONG => "uri_too_long",
        S::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        S::UNPROCESSABLE_ENTITY => "validation_failed",
        S::TOO_MANY_REQUESTS => "rate_limited",
        S::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        S::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal_error",
        _ => "invalid_request",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if let ApiError::Core(CoreError::Internal(cause)) = &self {
            // SECURITY: the cause is logged with the request id and never sent.
            tracing::error!(%cause, request_id = %current_request_id(), "internal error");
        }
        let field = match &self {
            ApiError::Core(CoreError::Invalid { field, .. }) => Some(*field),
            ApiError::InvalidBody(p) => p.field.as_deref(),
            _ => None,
        };
        let body = Body {
            error: code,
            message,
            request_id: current_request_id(),
            field,
        };
        let mut res = (status, Json(body)).into_response();
        let h = res.headers_mut();
        match &self {
            ApiError::Core(
                CoreError::RateLimited { retry_after, .. } | CoreError::Unavailable { retry_after },
            ) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::Core(CoreError::Unauthenticated | CoreError::InvalidCredentials) => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"gatehouse\""),
                );
            }
            ApiError::BadCredential(scheme) => {
                let challenge = if *scheme == "Basic" {
                    "Basic realm=\"gatehouse\""
                } else {
                    "Bearer realm=\"gatehouse\", error=\"invalid_token\""
                };
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            _ => {}
        }
        res
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
