//! Extractors: JSON bodies with our error format, the authenticated caller, and the
//! page a list request asks for.

pub mod auth;
pub mod json;
pub mod page;

pub use auth::{Caller, CallerCredential, SESSION_COOKIE};
pub use json::{FormOrJson, Json, JsonOrEmpty, double_option};
pub use page::{PageParams, PageQuery};
