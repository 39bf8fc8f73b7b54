//! `/api/tokens`: issue, list and revoke bearer tokens; `/.well-known/jwks.json`.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::ids::TokenId;
use gatehouse_core::secrecy::ExposeSecret;
use gatehouse_core::service::NewToken;
use gatehouse_core::token::{Lifetime, TokenRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::error::ApiResult;
use crate::extract::{Caller, Json, JsonOrEmpty, PageParams};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(options))
        .routes(routes!(revoke))
        .routes(routes!(jwks))
}

/// `POST /api/tokens` body.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// Checked by hand so that `1.5`, `"3"` or `0` get one clear 422 message.
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    expires_in_hours: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

/// A token's metadata; never the token or its hash.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    id: String,
    name: String,
    scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    created_via: String,
}

impl From<&TokenRecord> for TokenResponse {
    fn from(t: &TokenRecord) -> Self {
        TokenResponse {
            id: t.id.to_string(),
            name: t.name.clone(),
            scopes: t.scopes.iter().map(str::to_owned).collect(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            created_via: t.created_via.clone(),
        }
    }
}

/// A new token: its metadata plus the token, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedTokenResponse {
    #[serde(flatten)]
    meta: TokenResponse,
    token: String,
}

/// `POST /api/tokens`. Requires: `tokens:write`; the token gets the caller's permissions
/// (or the subset named in `permissions`).
#[utoipa::path(
    post,
    operation_id = "tokens_create",
    path = "/api/tokens",
    tag = "tokens",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    request_body = Option<CreateTokenRequest>,
    responses((status = 201, description = "The new token (shown this once)", body = CreatedTokenResponse)),
    extensions(("x-permissions" = json!(["tokens:write"])))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonOrEmpty(req): JsonOrEmpty<CreateTokenRequest>,
) -> ApiResult<Response> {
    caller.require("tokens:write")?;
    let lifetime = match &req.expires_in_hours {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(Lifetime::from_json(v)?),
    };
    let (record, token) = state
        .core
        .issue_token(
            &caller.actor,
            NewToken {
                name: req.name.as_deref(),
                lifetime,
                permissions: req.permissions.as_deref(),
            },
        )
        .await?;
    // SECURITY: the one response that carries the token; `/api` answers are no-store.
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenResponse {
            meta: (&record).into(),
            token: token.expose_secret().to_owned(),
        }),
    )
        .into_response())
}

/// `GET /api/tokens?limit=&cursor=`: a page of the caller's live tokens, newest first.
/// Requires: `tokens:write`.
#[utoipa::path(
    get,
    operation_id = "tokens_list",
    path = "/api/tokens",
    tag = "tokens",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, description = "A page of your live tokens, newest first", body = Vec<TokenResponse>, headers(("Link" = String, description = "`<…>; rel=\"next\"` when there is a next page"), ("X-Next-Cursor" = String, description = "The next page's cursor, when there is one")))),
    extensions(("x-permissions" = json!(["tokens:write"])))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageParams,
) -> ApiResult<Response> {
    let tokens = state.core.list_tokens(&caller.actor, &page.request).await?;
    Ok(page.respond(tokens, |r| TokenResponse::from(r)))
}

/// `DELETE /api/tokens/{id}`: revokes at once. Requires: `tokens:write`; another user's
/// token is 404.
#[utoipa::path(
    delete,
    operation_id = "tokens_revoke",
    path = "/api/tokens/{id}",
    tag = "tokens",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 204, description = "Revoked")),
    extensions(("x-permissions" = json!(["tokens:write"])))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.core.revoke_token(&caller.actor, &TokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/tokens/options`: the lifetimes the caller's policy offers.
/// Requires: `tokens:write`.
#[utoipa::path(
    get,
    operation_id = "tokens_options",
    path = "/api/tokens/options",
    tag = "tokens",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The lifetimes your policy offers", body = TokenOptionsResponse)),
    extensions(("x-permissions" = json!(["tokens:write"])))
)]
pub async fn options(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<TokenOptionsResponse>> {
    caller.require("tokens:write")?;
    let policy = state.core.policy_for(&caller.actor).await?;
    Ok(Json(TokenOptionsResponse {
        hours: policy.offered_token_hours(),
        default_hours: policy.token_default_hours,
        max_hours: policy.token_max_hours,
        user_may_choose: policy.token_user_choice,
    }))
}

/// `GET /api/tokens/options` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenOptionsResponse {
    /// The lifetimes offered, in hours.
    hours: Vec<u32>,
    default_hours: u32,
    max_hours: u32,
    user_may_choose: bool,
}

/// `GET /.well-known/jwks.json`: the public keys that verify tokens. Public.
#[utoipa::path(
    get,
    operation_id = "tokens_jwks",
    path = "/.well-known/jwks.json",
    tag = "tokens",
    security(()),
    responses((status = 200, description = "The JSON Web Key Set (RFC 7517) of the token signing keys", body = Object)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut res = Json(json!({ "keys": state.core.jwks() })).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    res
}
