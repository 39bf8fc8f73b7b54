//! `/api/admin/…`: the organisation's admin panel over JSON, for owners and admins (their
//! sessions hold the organisation scopes) and for the organisation's Public API Keys
//! that carry them. Every route acts inside the caller's own organisation; another
//! organisation's member or key answers 404. One file per page of the panel.

pub mod audit;
pub mod keys;
pub mod members;
pub mod org;
pub mod policy;
pub mod scim;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The routes of the admin panel's API.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(org::router())
        .merge(members::router())
        .merge(keys::router())
        .merge(audit::router())
        .merge(policy::router())
        .merge(scim::router())
}
