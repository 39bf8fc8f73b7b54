//! Request middleware: request ids and access logs, client addresses, security headers.

pub mod client_ip;
pub mod headers;
pub mod request_id;
