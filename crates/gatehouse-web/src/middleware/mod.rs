//! Request middleware, composed into one layer by [`edge`]: client addresses, request
//! ids, the access log, security headers, request limits (414/431/413 and draining
//! unread bodies) and the JSON error mapping.

pub mod access_log;
pub mod client_ip;
pub mod edge;
pub mod headers;
pub mod json_errors;
pub mod limits;
