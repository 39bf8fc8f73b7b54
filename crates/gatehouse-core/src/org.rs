//! Organisations. For now every account belongs to the default one; policies come later.

use serde::Serialize;
use time::OffsetDateTime;

use crate::ids::OrgId;

/// The name of the organisation every new account joins.
pub const DEFAULT_ORG_NAME: &str = "default";

/// An organisation.
#[derive(Debug, Clone, Serialize)]
pub struct Org {
    /// Stable id.
    pub id: OrgId,
    /// Unique name.
    pub name: String,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}
