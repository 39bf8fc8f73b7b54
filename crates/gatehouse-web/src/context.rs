//! What the request being served carries wherever its future runs: its id, set by the
//! request-id middleware and read by every error body. A module of its own so that
//! the error type and the middleware both depend on it rather than on each other.

tokio::task_local! {
    pub(crate) static REQUEST_ID: String;
}

/// The id of the request being handled, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}
