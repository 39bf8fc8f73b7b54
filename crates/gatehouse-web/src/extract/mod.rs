//! Extractors: JSON bodies with our error format, and the authenticated caller.

pub mod auth;
pub mod json;
pub mod json_message;

pub use auth::{Caller, SESSION_COOKIE};
pub use json::{Json, JsonOrEmpty, double_option};
