//! `/api/admin/members`: the organisation's members, their roles and status, adding a
//! member (with their one-time set-password link), and resetting a member's 2-step
//! verification.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use gatehouse_core::ids::AccountId;
use gatehouse_core::org::Role;
use gatehouse_core::service::{IssuedLink, NewMember};
use gatehouse_core::store::{MemberFilter, MemberRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiResult;
use crate::extract::{Caller, Json, PageParams};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(reissue_link))
        .routes(routes!(show))
        .routes(routes!(set_role))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(reset_mfa))
}

/// A member as the panel shows them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberResponse {
    id: String,
    username: String,
    email: String,
    display_name: String,
    #[schema(value_type = String)]
    role: Role,
    disabled: bool,
    /// Whether 2-step verification is on (an authenticator app or a security key).
    two_step_verification: bool,
    /// False for a member who has not yet used their set-password link.
    password_set: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    last_sign_in_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<&MemberRecord> for MemberResponse {
    fn from(m: &MemberRecord) -> Self {
        MemberResponse {
            id: m.account.id.to_string(),
            username: m.account.username.clone(),
            email: m.account.email.clone(),
            display_name: m.account.display_name.clone(),
            role: m.account.role,
            disabled: m.account.disabled,
            two_step_verification: m.mfa_enabled,
            password_set: m.password_set,
            last_sign_in_at: m.last_sign_in_at,
            created_at: m.account.created_at,
        }
    }
}

/// `?role=&status=` filters.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MemberQuery {
    role: Option<String>,
    status: Option<String>,
}

/// `POST /api/admin/members/{id}/role` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    role: String,
}

/// `POST /api/admin/members` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMemberRequest {
    username: String,
    email: String,
    display_name: Option<String>,
    /// `member` when absent.
    role: Option<String>,
}

/// A set-password link, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkResponse {
    /// `https://…/set-password#gsp_…`: the secret is in the fragment, which browsers
    /// never send to a server.
    set_password_url: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// `POST /api/admin/members` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedMemberResponse {
    member: MemberResponse,
    #[serde(flatten)]
    link: LinkResponse,
}

/// The link for `link`, on the server's public origin (or the origin the admin reached
/// it by).
fn link_response(state: &AppState, headers: &HeaderMap, link: &IssuedLink) -> LinkResponse {
    let origin = crate::state::origin_of(&state.web, headers);
    LinkResponse {
        set_password_url: format!(
            "{}/set-password#{}",
            origin.trim_end_matches('/'),
            link.secret.expose()
        ),
        expires_at: link.expires_at,
    }
}

/// `POST /api/admin/members/{id}/reset-2sv` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    reason: String,
}

/// `GET /api/admin/members?role=&status=active|disabled&limit=&cursor=`: a page of the
/// organisation's members, oldest first. Requires: `org:members:read`.
#[utoipa::path(
    get,
    operation_id = "admin_members_list",
    path = "/api/admin/members",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(crate::extract::PageQuery, MemberQuery),
    responses((status = 200, description = "A page of the organisation's members, oldest first", body = Vec<MemberResponse>, headers(("Link" = String, description = "`<…>; rel=\"next\"` when there is a next page"), ("X-Next-Cursor" = String, description = "The next page's cursor, when there is one")))),
    extensions(("x-permissions" = json!(["org:members:read"])))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageParams,
) -> ApiResult<axum::response::Response> {
    let q: MemberQuery = page.filters("role, status")?;
    let filter = MemberFilter {
        role: q.role.as_deref().map(Role::parse).transpose()?,
        disabled: match q.status.as_deref() {
            None => None,
            Some("active") => Some(false),
            Some("disabled") => Some(true),
            Some(_) => {
                return Err(
                    gatehouse_core::Error::invalid("status", "must be active or disabled").into(),
                );
            }
        },
    };
    let members = state
        .core
        .list_members(&caller.actor, &filter, &page.request)
        .await?;
    Ok(page.respond(members, |m| MemberResponse::from(m)))
}

/// `GET /api/admin/members/{id}`. Requires: `org:members:read`.
#[utoipa::path(
    get,
    operation_id = "admin_members_show",
    path = "/api/admin/members/{id}",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The member", body = MemberResponse)),
    extensions(("x-permissions" = json!(["org:members:read"])))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberResponse>> {
    let m = state.core.get_member(&caller.actor, &AccountId(id)).await?;
    Ok(Json((&m).into()))
}

/// `POST /api/admin/members/{id}/role`. Requires: `org:members:write`; making or
/// unmaking an owner takes an owner; the last active owner cannot be demoted (409).
#[utoipa::path(
    post,
    operation_id = "admin_members_set_role",
    path = "/api/admin/members/{id}/role",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    request_body = RoleRequest,
    responses((status = 200, description = "The member with the new role", body = MemberResponse), (status = 409, description = "The organisation would be left without an active owner", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:members:write"])))
)]
pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<RoleRequest>,
) -> ApiResult<Json<MemberResponse>> {
    caller.require("org:members:write")?;
    let role = Role::parse(&req.role)?;
    let m = state
        .core
        .change_member_role(&caller.actor, &AccountId(id), role)
        .await?;
    Ok(Json((&m).into()))
}

/// `POST /api/admin/members/{id}/disable`: every session, token and API key of the
/// member stops at once. Requires: `org:members:write`.
#[utoipa::path(
    post,
    operation_id = "admin_members_disable",
    path = "/api/admin/members/{id}/disable",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The member, disabled (their sessions and tokens ended)", body = MemberResponse), (status = 409, description = "The organisation would be left without an active owner", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:members:write"])))
)]
pub async fn disable(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<Json<MemberResponse>> {
    set_disabled(state, caller, id, true).await
}

/// `POST /api/admin/members/{id}/enable`. Requires: `org:members:write`.
#[utoipa::path(
    post,
    operation_id = "admin_members_enable",
    path = "/api/admin/members/{id}/enable",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The member, enabled", body = MemberResponse)),
    extensions(("x-permissions" = json!(["org:members:write"])))
)]
pub async fn enable(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<Json<MemberResponse>> {
    set_disabled(state, caller, id, false).await
}

async fn set_disabled(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    disabled: bool,
) -> ApiResult<Json<MemberResponse>> {
    caller.require("org:members:write")?;
    let m = state
        .core
        .set_member_disabled(&caller.actor, &AccountId(id), disabled)
        .await?;
    Ok(Json((&m).into()))
}

/// `POST /api/admin/members/{id}/reset-2sv`: removes the member's authenticator app,
/// security keys and recovery codes and ends their sessions; the reason goes to the
/// audit log. Requires: `org:members:write`.
#[utoipa::path(
    post,
    operation_id = "admin_members_reset_mfa",
    path = "/api/admin/members/{id}/reset-2sv",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    request_body = ResetRequest,
    responses((status = 200, description = "How many factors were removed", body = ResetResponse)),
    extensions(("x-permissions" = json!(["org:members:write"])))
)]
pub async fn reset_mfa(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<ResetRequest>,
) -> ApiResult<Json<ResetResponse>> {
    caller.require("org:members:write")?;
    let removed = state
        .core
        .reset_member_mfa(&caller.actor, &AccountId(id), &req.reason)
        .await?;
    Ok(Json(ResetResponse {
        factors_removed: removed,
    }))
}

/// `POST /api/admin/members/{id}/reset-2sv` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetResponse {
    /// How many second factors were removed.
    factors_removed: u64,
}

/// `POST /api/admin/members`: adds a member without a password and answers 201 with
/// their one-time set-password link (shown once; it works for 72 hours). Requires:
/// `org:members:write`; adding an owner takes an owner.
#[utoipa::path(
    post,
    operation_id = "admin_members_create",
    path = "/api/admin/members",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    request_body = CreateMemberRequest,
    responses((status = 201, description = "The member, and their set-password link (shown once)", body = CreatedMemberResponse), (status = 409, description = "The username or email is taken", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:members:write"])))
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Json(req): Json<CreateMemberRequest>,
) -> ApiResult<axum::response::Response> {
    caller.require("org:members:write")?;
    let role = req.role.as_deref().map_or(Ok(Role::Member), Role::parse)?;
    let (member, link) = state
        .core
        .create_member(
            &caller.actor,
            NewMember {
                username: &req.username,
                email: &req.email,
                display_name: req.display_name.as_deref().filter(|d| !d.trim().is_empty()),
                role,
            },
        )
        .await?;
    // SECURITY: the one response that carries the link; `/api` answers are no-store.
    Ok((
        StatusCode::CREATED,
        Json(CreatedMemberResponse {
            member: (&member).into(),
            link: link_response(&state, &headers, &link),
        }),
    )
        .into_response())
}

/// `POST /api/admin/members/{id}/password-link`: a fresh link for a member who has not
/// set a password yet; the earlier link stops working. A member with a password is 409.
/// Requires: `org:members:write`.
#[utoipa::path(
    post,
    operation_id = "admin_members_reissue_link",
    path = "/api/admin/members/{id}/password-link",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "A new set-password link (shown once); the previous one stops working", body = LinkResponse), (status = 409, description = "The member has set a password already", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:members:write"])))
)]
pub async fn reissue_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LinkResponse>> {
    caller.require("org:members:write")?;
    let link = state
        .core
        .reissue_password_link(&caller.actor, &AccountId(id))
        .await?;
    Ok(Json(link_response(&state, &headers, &link)))
}
