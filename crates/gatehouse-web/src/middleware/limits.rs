//! Request limits, answered in our error format before any route runs: 414 for a long
//! target, 431 for too many or too large header fields, 413 for a declared body over
//! [`crate::MAX_BODY_BYTES`]. hyper's own limits sit above these
//! ([`TRANSPORT_MAX_HEADERS`], its default, and [`TRANSPORT_MAX_BUF_BYTES`], which the
//! listeners set) so that ours bite first; only a request beyond hyper's gets its bare,
//! empty answer.
//!
//! A body must arrive within `server.body_read_timeout_seconds` of its headers; a
//! slower one is answered 408, so a client trickling a body cannot hold a connection.
//!
//! A body the application did not read to its end (refused as too large, or not wanted
//! by the route) is drained after the answer, within [`DRAIN_MAX_BYTES`] and
//! [`DRAIN_MAX_TIME`], as nginx's lingering close does: closing while the client is still
//! sending makes its TCP stack discard our answer on the reset, and the client sees a
//! broken connection instead of the 413.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use http_body::{Frame, SizeHint};

use crate::error::ApiError;
use crate::state::AppState;

/// Longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header fields accepted (below hyper's [`TRANSPORT_MAX_HEADERS`]).
pub const MAX_HEADER_COUNT: usize = 90;
/// Most bytes of header fields (names, values and separators) accepted.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's limit on header fields, its default: setting any other value makes hyper
/// allocate its header array on the heap for every request (a measured 5 % or more on
/// the hot path), so the web layer's own limit stays below it instead.
pub const TRANSPORT_MAX_HEADERS: usize = 100;
/// hyper's read buffer, which bounds a request head; above [`MAX_HEADER_BYTES`] and
/// [`MAX_URI_BYTES`] together.
pub const TRANSPORT_MAX_BUF_BYTES: usize = 128 * 1024;
/// Most bytes of an unread body read and discarded after the answer.
pub const DRAIN_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Longest time spent draining an unread body after the answer.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

/// The largest body a path takes: SCIM's group member lists need more.
fn body_limit(path: &str) -> usize {
    if path.starts_with("/scim/") {
        crate::MAX_SCIM_BODY_BYTES
    } else {
        crate::MAX_BODY_BYTES
    }
}

/// What the limits make of a request: run it (its body, if any, wrapped to time out and
/// to drain on drop), or answer it at once; either way, what [`BodyPolicy::finish`]
/// does to the answer.
pub enum Admission {
    /// Pass the request on.
    Run(Request, BodyPolicy),
    /// Answer this error instead (made into a response inside the request's scope, so
    /// that it carries the request id).
    Refuse(ApiError, BodyPolicy),
}

/// What the answer to a request with a body needs (nothing for one without).
#[derive(Default)]
pub struct BodyPolicy {
    /// An HTTP/1 request whose 413 or 408 answer then closes the connection.
    close_on_refusal: bool,
}

impl BodyPolicy {
    /// Applies the policy to the answer.
    pub fn finish(self, mut res: Response) -> Response {
        if self.close_on_refusal
            && matches!(
                res.status(),
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
            )
        {
            // The rest of an oversize body is not worth reading once drained up to the
            // bound.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }
}

/// Applies the limits, and makes every body drain on drop.
pub fn admit(state: &AppState, req: Request) -> Admission {
    let limit = body_limit(req.uri().path());
    let refusal = if target_len(req.uri()) > MAX_URI_BYTES {
        Some(ApiError::UriTooLong)
    } else if req.headers().len() > MAX_HEADER_COUNT
        || header_bytes(req.headers()) > MAX_HEADER_BYTES
    {
        Some(ApiError::HeadersTooLarge)
    } else if declared_length(req.headers()).is_some_and(|n| n > limit as u64) {
        // SECURITY: refused from the declared length alone, before authentication or
        // any read of the body.
        Some(ApiError::PayloadTooLarge)
    } else {
        None
    };
    // A request without a body (most of them) has nothing to time out or drain: it
    // passes without a wrapper, so the hot path pays no allocation here.
    if refusal.is_none() && req.body().is_end_stream() {
        return Admission::Run(req, BodyPolicy::default());
    }
    let expect_continue = req
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, body) = req.into_parts();
    // `Connection` exists in HTTP/1 only (an HTTP/2 stream is reset instead).
    let http1 = parts.version <= axum::http::Version::HTTP_11;
    // Only a request that has a body pays for a timer.
    let deadline = state
        .web
        .body_read_timeout
        .filter(|_| !body.is_end_stream())
        .map(|t| Box::pin(tokio::time::sleep(t)));
    let body = LingeringBody {
        inner: Some(body),
        expect_continue,
        polled: false,
        deadline,
        http2: !http1,
    };
    let policy = BodyPolicy {
        close_on_refusal: http1,
    };
    match refusal {
        // The body drops here and drains (unless the client waits for 100-continue,
        // which it now never gets, and so sends nothing).
        Some(error) => Admission::Refuse(error, policy),
        // Bounded as it is read too: a body without a declared length (chunked) stops
        // at the path's limit, and the extractors answer 413 (they recognise the
        // limit's error).
        None => Admission::Run(
            Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, limit))),
            policy,
        ),
    }
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

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// A request body that, dropped before its end, is read to its end (within bounds) by
/// a task of its own, so hyper can finish the exchange instead of resetting it.
struct LingeringBody {
    inner: Option<Body>,
    /// The client waits for `100 Continue` before sending.
    expect_continue: bool,
    /// Whether anyone asked for the body (which makes hyper send `100 Continue`).
    polled: bool,
    /// When the body must have arrived.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// An HTTP/2 stream: its body is always drained (see `Drop`).
    http2: bool,
}

/// The error a body read fails with once its deadline passes.
#[derive(Debug)]
pub struct BodyReadTimeout;

impl std::fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyReadTimeout {}

impl HttpBody for LingeringBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        this.polled = true;
        let Some(body) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(body).poll_frame(cx) {
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    // SECURITY: a client that missed the deadline gets no lingering
                    // drain either, or it could hold the connection that much longer.
                    this.inner = None;
                    Poll::Ready(Some(Err(axum::Error::new(BodyReadTimeout))))
                } else {
                    Poll::Pending
                }
            }
            ready => ready,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for LingeringBody {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        // A client waiting for `100 Continue` that never came sends nothing more, so
        // there is nothing to drain. Except over HTTP/2: dropping the body there resets
        // the stream (clients such as curl 7.88 then show no answer at all, not our
        // 413), so it is drained like any other.
        if self.expect_continue && !self.polled && !self.http2 {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(body));
        }
    }
}

/// Reads and discards what is left of a body, within [`DRAIN_MAX_BYTES`] and
/// [`DRAIN_MAX_TIME`]; dropping it then lets hyper close the connection.
async fn drain(mut body: Body) {
    let read_all = async {
        let mut seen: u64 = 0;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > DRAIN_MAX_BYTES {
                break;
            }
        }
    };
    // Either way the body is dropped here; a timeout only ends the wait sooner.
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, read_all).await;
}

#[cfg(test)]
mod tests {
    use super::*;

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
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static(" 70000"));
        assert_eq!(declared_length(&h), Some(70_000));
    }
}
