//! The domain error: named conditions that every layer above maps to its own form.

use std::fmt;

/// Result alias used across the core crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms of the domain rather than of HTTP or SQL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist, or belongs to someone else (IDOR answers look the same).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; the text names what collided.
    #[error("{0}")]
    Conflict(String),
    /// Input failed validation.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// Username/password (or another factor) did not match. Deliberately vague.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No valid credential was presented.
    #[error("authentication required")]
    Unauthenticated,
    /// A second-factor code (or recovery code) did not match, or was already used.
    #[error("invalid code")]
    InvalidCode,
    /// A sensitive change needs a recent re-authentication (password or code).
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The organisation requires 2-step verification and this session has not set it
    /// up: only the 2-step verification routes answer.
    #[error("2-step verification setup required")]
    MfaSetupRequired,
    /// The organisation requires security keys and this session was opened without one:
    /// only the 2-step verification routes answer.
    #[error("security key setup required")]
    SecurityKeySetupRequired,
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The credential lacks a permission (scope) the operation needs.
    #[error("{0}")]
    InsufficientPermissions(String),
    /// The object changed since the version the client named (`If-Match`).
    #[error("{0}")]
    PreconditionFailed(String),
    /// Too many attempts; retry after the given number of seconds.
    #[error("{message}")]
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after: u64,
        /// Human-readable explanation.
        message: String,
    },
    /// A dependency (the store, the hashing pool) is unavailable; fail closed.
    #[error("service temporarily unavailable")]
    Unavailable { retry_after: u64 },
    /// A bug or an unexpected failure. The text is for logs only, never for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for a validation error.
    pub fn invalid(field: &'static str, reason: impl fmt::Display) -> Self {
        Error::Invalid {
            field,
            reason: reason.to_string(),
        }
    }

    /// Shorthand for an internal error carrying a loggable cause.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Error::Internal(cause.to_string())
    }
}
