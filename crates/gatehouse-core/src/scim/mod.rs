//! SCIM 2.0 provisioning (RFC 7643, RFC 7644): the User and Group resources as we keep
//! them, their JSON form, filters and PATCH.
//!
//! - `filter.rs`: a filter string to a store-neutral [`filter::Query`] over indexed
//!   attributes (the grammar is the `scim_v2` crate's parser).
//! - `user.rs`, `group.rs`: the stored records ([`ScimUser`], [`ScimGroup`]), their JSON
//!   rendering (with `meta` and the weak ETag) and the reading of a client's JSON into
//!   validated fields ([`UserFields`], [`GroupFields`]).
//! - `patch.rs`: PATCH operations applied to a resource's JSON form, then read back with
//!   the same reader as a PUT, so one list of operations either yields a valid resource
//!   or changes nothing. Written by hand: `scim_v2` parses paths but applies nothing,
//!   and no maintained crate applies RFC 7644 §3.5.2 to a resource of our own.
//! - `detail.rs`: an audit record's `key=value` detail read back.
//! - `json.rs`: attribute names are case-insensitive (RFC 7643 §2.1); lookups by name.
//!
//! The use cases are in `service/scim.rs`; storage is [`crate::store::ScimStore`].

pub mod detail;
pub mod filter;
mod group;
mod json;
pub mod patch;
mod user;

pub use group::{GroupFields, MemberRef, ScimGroup};
pub(crate) use json::named_text;
pub use user::{GroupRef, ScimUser, UserFields};

use sha2::{Digest, Sha256};

/// The core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// A list response.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A PATCH request.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// An error response.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The most resources one list answer holds (`filter.maxResults`).
pub const MAX_RESULTS: u32 = 200;
/// Resources per page when the client names no `count`.
pub const DEFAULT_COUNT: u32 = 100;
/// The most operations one PATCH request may carry.
pub const MAX_PATCH_OPERATIONS: usize = 100;
/// The most members one group may have.
pub const MAX_GROUP_MEMBERS: usize = 10_000;

/// A page of a list: 1-based `startIndex` and `count`, bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListWindow {
    /// 1-based index of the first resource.
    pub start_index: u64,
    /// How many resources at most.
    pub count: u32,
}

impl ListWindow {
    /// The window a client asked for: a `startIndex` below 1 is 1 (RFC 7644 §3.4.2.4), a
    /// missing count is [`DEFAULT_COUNT`], and no count exceeds [`MAX_RESULTS`].
    pub fn new(start_index: Option<i64>, count: Option<i64>) -> Self {
        ListWindow {
            start_index: start_index.unwrap_or(1).max(1) as u64,
            count: count
                .unwrap_or(i64::from(DEFAULT_COUNT))
                .clamp(0, i64::from(MAX_RESULTS)) as u32,
        }
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        self.start_index - 1
    }
}

/// A page of resources.
#[derive(Debug, Clone)]
pub struct ListPage<T> {
    /// How many resources match the filter in all.
    pub total: u64,
    /// The window's resources.
    pub items: Vec<T>,
    /// The window asked for.
    pub window: ListWindow,
}

/// A resource's `meta`.
pub(crate) struct Meta {
    pub resource_type: &'static str,
    pub version: String,
    pub created: time::OffsetDateTime,
    pub modified: time::OffsetDateTime,
    pub location: String,
}

/// The resource `body` with its `meta`.
pub(crate) fn with_meta(
    mut body: serde_json::Map<String, serde_json::Value>,
    meta: Meta,
) -> serde_json::Value {
    use time::format_description::well_known::Rfc3339;
    body.insert(
        "meta".into(),
        serde_json::json!({
            "resourceType": meta.resource_type,
            "created": meta.created.format(&Rfc3339).unwrap_or_default(),
            "lastModified": meta.modified.format(&Rfc3339).unwrap_or_default(),
            "location": meta.location,
            "version": meta.version,
        }),
    );
    serde_json::Value::Object(body)
}

/// The weak entity tag of a resource's JSON form (without `meta`): it changes whenever
/// anything a client can see changes, however the change was made.
pub(crate) fn weak_etag(body: &serde_json::Value) -> String {
    let digest = Sha256::digest(body.to_string().as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..10]))
}

/// Whether an `If-Match` header value allows a change to a resource whose current tag
/// is `current` (`*` matches anything; a list matches when any member does; strong and
/// weak forms of one tag match, as weak comparison does).
pub fn if_match_allows(header: &str, current: &str) -> bool {
    let bare = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    let want = bare(current);
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || bare(t) == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_windows_are_bounded() {
        assert_eq!(
            ListWindow::new(None, None),
            ListWindow {
                start_index: 1,
                count: DEFAULT_COUNT
            }
        );
        assert_eq!(
            ListWindow::new(Some(-4), Some(100_000)),
            ListWindow {
                start_index: 1,
                count: MAX_RESULTS
            }
        );
        assert_eq!(ListWindow::new(Some(11), Some(-1)).count, 0);
        assert_eq!(ListWindow::new(Some(11), Some(5)).offset(), 10);
    }

    #[test]
    fn if_match_compares_weakly() {
        assert!(if_match_allows("W/\"abc\"", "W/\"abc\""));
        assert!(if_match_allows("\"abc\"", "W/\"abc\""));
        assert!(if_match_allows("W/\"x\", W/\"abc\"", "W/\"abc\""));
        assert!(if_match_allows("*", "W/\"abc\""));
        assert!(!if_match_allows("W/\"abd\"", "W/\"abc\""));
    }
}
