//! Request middleware: request ids and access logs, client addresses, security headers,
//! request limits (414/431/413 and draining unread bodies) and the JSON error mapping.

pub mod client_ip;
pub mod headers;
pub mod json_errors;
pub mod limits;
pub mod request_id;
