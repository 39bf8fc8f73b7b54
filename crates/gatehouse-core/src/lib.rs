//! Gatehouse's domain: accounts, passwords, sessions, throttling and audit, and the
//! use cases that combine them. Nothing here knows HTTP or SQL.
//!
//! # Layout
//! - [`error`]: the domain error every layer maps from.
//! - [`clock`], [`ids`], [`secret`]: time, identifiers, random secrets and hashes.
//! - [`account`], [`password`], [`session`], [`throttle`], [`org`], [`audit`]: domain types.
//! - [`mfa`]: second factors (TOTP and recovery codes) for 2-step verification.
//! - [`ip_net`]: address ranges (trusted proxies, hosts the platform may not dial).
//! - [`cache`]: the bounded CLOCK map and the statistics the in-process caches share.
//! - [`page`]: cursor pagination of the list use cases.
//! - [`scope`]: the permissions every credential carries, and their catalogue.
//! - [`name`]: the rules for the labels of API keys, tokens and SSH keys.
//! - [`store`]: the storage trait the store crate implements.
//! - [`service`]: [`Core`], the use cases.

pub mod account;
pub mod actor;
pub mod api_key;
pub mod audit;
pub mod cache;
pub mod clock;
pub mod error;
pub mod ids;
pub mod ip_net;
pub mod mfa;
pub mod name;
pub mod org;
pub mod page;
pub mod password;
pub mod scim;
pub mod scope;
pub mod seal;
pub mod secret;
pub mod service;
pub mod session;
pub mod ssh;
pub mod store;
pub mod throttle;
pub mod token;

pub use error::{Error, Result};
pub use secrecy;
pub use service::{Core, CoreSettings};
