//! Every error answer is ours: an error response that is not already JSON (or an HTML
//! page) — axum's extractor rejections (`Path`, `Query`, `Form`, …) answer `text/plain`
//! with serde's text, and some statuses come with no body at all — is replaced by
//! `{"error","message","request_id"}` with a message of our own for its status.

use axum::body::to_bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// How much of a replaced body is read to recognise which rejection it was.
const SNIFF_BYTES: usize = 1024;

/// Replaces a non-JSON error response (see the module doc); any other response passes
/// through untouched. Called by the security-headers middleware on every answer, so the
/// check costs no layer of its own.
pub async fn ensure_ours(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json")
        || content_type.starts_with("application/scim+json")
        || content_type.starts_with("text/html")
    {
        return res;
    }
    let (parts, body) = res.into_parts();
    // SECURITY: the original text is only matched against known prefixes, never sent:
    // it can name Rust types, fields as the code spells them, or parser internals.
    let text = to_bytes(body, SNIFF_BYTES).await.unwrap_or_default();
    let mut ours = ApiError::Status(status, message_for(status, &text)).into_response();
    // Headers that mean something for the status are kept.
    for name in [
        header::ALLOW,
        header::RETRY_AFTER,
        header::WWW_AUTHENTICATE,
        header::CONNECTION,
    ] {
        if let Some(v) = parts.headers.get(&name) {
            ours.headers_mut().insert(name, v.clone());
        }
    }
    ours
}

/// A readable message for an error status, more precise when the rejection is known.
fn message_for(status: StatusCode, text: &[u8]) -> &'static str {
    let known: &[(&[u8], &str)] = &[
        (b"Invalid URL", "the URL path is not valid"),
        (
            b"Wrong number of path arguments",
            "the URL path is not valid",
        ),
        (
            b"Failed to deserialize query string",
            "the query string is not valid",
        ),
        (b"Failed to deserialize form", "the form is not valid"),
        (
            b"Form requests must have",
            "send the form as application/x-www-form-urlencoded",
        ),
        (
            b"Request body didn't contain valid UTF-8",
            "the body is not valid UTF-8",
        ),
    ];
    if let Some((_, message)) = known.iter().find(|(prefix, _)| text.starts_with(prefix)) {
        return message;
    }
    use StatusCode as S;
    match status {
        S::BAD_REQUEST => "the request is not valid",
        S::UNAUTHORIZED => "a valid credential is required",
        S::FORBIDDEN => "this request is not allowed",
        S::NOT_FOUND => "no such route",
        S::METHOD_NOT_ALLOWED => "this route does not accept that method",
        S::REQUEST_TIMEOUT => "the request took too long to arrive",
        S::LENGTH_REQUIRED => "the request needs a Content-Length",
        S::PAYLOAD_TOO_LARGE => "the request body is too large",
        S::URI_TOO_LONG => "the URL is too long",
        S::UNSUPPORTED_MEDIA_TYPE => "the body's content type is not accepted here",
        S::UNPROCESSABLE_ENTITY => "the request is not valid",
        S::TOO_MANY_REQUESTS => "too many requests; retry later",
        S::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            "the request has too many header fields, or too large ones"
        }
        S::SERVICE_UNAVAILABLE => "the service is temporarily unavailable; retry shortly",
        s if s.is_server_error() => {
            "an internal error occurred; quote the request id when reporting it"
        }
        _ => "the request cannot be answered",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_rejections_get_their_own_message_and_others_one_for_the_status() {
        assert_eq!(
            message_for(
                StatusCode::BAD_REQUEST,
                b"Invalid URL: Cannot parse `id` with value `\xff`"
            ),
            "the URL path is not valid"
        );
        assert_eq!(
            message_for(
                StatusCode::BAD_REQUEST,
                b"Failed to deserialize query string: unknown field `x`"
            ),
            "the query string is not valid"
        );
        assert_eq!(
            message_for(
                StatusCode::INTERNAL_SERVER_ERROR,
                b"Missing request extension"
            ),
            "an internal error occurred; quote the request id when reporting it"
        );
        assert_eq!(
            message_for(StatusCode::URI_TOO_LONG, b""),
            "the URL is too long"
        );
    }
}
