//! Request limits, answered in our error format before any route runs: 414 for a long
//! target, 431 for too many or too large header fields. The listeners set hyper's own
//! limits above these ([`TRANSPORT_MAX_HEADERS`], [`TRANSPORT_MAX_BUF_BYTES`]) so that
//! ours bite first; only a request beyond hyper's gets its bare, empty answer.

use axum::extract::Request;
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header fields accepted.
pub const MAX_HEADER_COUNT: usize = 100;
/// Most bytes of header fields (names, values and separators) accepted.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's limit on header fields, above [`MAX_HEADER_COUNT`].
pub const TRANSPORT_MAX_HEADERS: usize = 256;
/// hyper's read buffer, which bounds a request head; above [`MAX_HEADER_BYTES`] and
/// [`MAX_URI_BYTES`] together.
pub const TRANSPORT_MAX_BUF_BYTES: usize = 128 * 1024;

/// Applies the limits.
pub async fn request_limits(req: Request, next: Next) -> Response {
    if target_len(req.uri()) > MAX_URI_BYTES {
        return ApiError::UriTooLong.into_response();
    }
    if req.headers().len() > MAX_HEADER_COUNT || header_bytes(req.headers()) > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge.into_response();
    }
    next.run(req).await
}

/// The request target's length as it was on the request line.
fn target_len(uri: &Uri) -> usize {
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len());
    authority + target
}

/// Bytes of header fields as sent: `name: value\r\n` each.
fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_target_and_header_sizes_are_counted_as_sent() {
        let uri: Uri = "/api/x?y=1".parse().expect("uri");
        assert_eq!(target_len(&uri), 10);
        let absolute: Uri = "https://h:1/p".parse().expect("uri");
        assert_eq!(target_len(&absolute), "h:1/p".len());
        let mut h = HeaderMap::new();
        h.insert("x-a", HeaderValue::from_static("12345"));
        h.append("x-a", HeaderValue::from_static("6"));
        assert_eq!(header_bytes(&h), (3 + 5 + 4) + (3 + 1 + 4));
    }
}
