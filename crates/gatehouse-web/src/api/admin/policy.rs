//! `/api/admin/policy`: every organisation policy in one document, each field with its
//! effect explained (the Policies form and `gatehouse org policy` render the same text).

use axum::extract::State;
use gatehouse_core::org::{AccountCaps, KeyExpiration, OrgPolicy, POLICY_FIELDS, PolicyField};
use gatehouse_core::scope;
use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::extract::{Caller, Json};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, update))
}

/// The policy on the wire. Expirations are codes: `none`, `7`, `30`, `60`, `90`; a cap
/// of `null` leaves the server's.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    api_key_expirations: Vec<String>,
    api_key_default_expiration: String,
    api_key_user_choice: bool,
    token_max_hours: u32,
    token_default_hours: u32,
    token_user_choice: bool,
    require_disable_before_delete: bool,
    require_mfa: bool,
    enforce_security_key: bool,
    passkey_sign_in: bool,
    security_key_models: Vec<String>,
    max_api_keys_per_account: Option<u32>,
    max_tokens_per_account: Option<u32>,
    max_ssh_keys_per_account: Option<u32>,
    max_ssh_private_keys_per_account: Option<u32>,
}

impl From<&OrgPolicy> for PolicyBody {
    fn from(p: &OrgPolicy) -> Self {
        PolicyBody {
            api_key_expirations: p
                .api_key_expirations
                .iter()
                .map(KeyExpiration::as_code)
                .collect(),
            api_key_default_expiration: p.api_key_default_expiration.as_code(),
            api_key_user_choice: p.api_key_user_choice,
            token_max_hours: p.token_max_hours,
            token_default_hours: p.token_default_hours,
            token_user_choice: p.token_user_choice,
            require_disable_before_delete: p.require_disable_before_delete,
            require_mfa: p.require_mfa,
            enforce_security_key: p.enforce_security_key,
            passkey_sign_in: p.passkey_sign_in,
            security_key_models: p
                .security_key_models
                .iter()
                .map(ToString::to_string)
                .collect(),
            max_api_keys_per_account: p.caps.api_keys,
            max_tokens_per_account: p.caps.tokens,
            max_ssh_keys_per_account: p.caps.ssh_keys,
            max_ssh_private_keys_per_account: p.caps.ssh_private_keys,
        }
    }
}

impl PolicyBody {
    fn parse(&self) -> gatehouse_core::Result<OrgPolicy> {
        Ok(OrgPolicy {
            api_key_expirations: self
                .api_key_expirations
                .iter()
                .map(|c| expiration(c, "api_key_expirations"))
                .collect::<gatehouse_core::Result<_>>()?,
            api_key_default_expiration: expiration(
                &self.api_key_default_expiration,
                "api_key_default_expiration",
            )?,
            api_key_user_choice: self.api_key_user_choice,
            token_max_hours: self.token_max_hours,
            token_default_hours: self.token_default_hours,
            token_user_choice: self.token_user_choice,
            require_disable_before_delete: self.require_disable_before_delete,
            require_mfa: self.require_mfa,
            enforce_security_key: self.enforce_security_key,
            passkey_sign_in: self.passkey_sign_in,
            security_key_models: OrgPolicy::parse_models(&self.security_key_models.join(","))?,
            caps: AccountCaps {
                api_keys: self.max_api_keys_per_account,
                tokens: self.max_tokens_per_account,
                ssh_keys: self.max_ssh_keys_per_account,
                ssh_private_keys: self.max_ssh_private_keys_per_account,
            },
        })
    }
}

/// An expiration code, refused under the name of the policy field that carried it.
fn expiration(code: &str, field: &'static str) -> gatehouse_core::Result<KeyExpiration> {
    KeyExpiration::parse_code(code).map_err(|e| match e {
        gatehouse_core::Error::Invalid { reason, .. } => {
            gatehouse_core::Error::Invalid { field, reason }
        }
        other => other,
    })
}

/// The server's caps, which the organisation's can only lower.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ServerLimits {
    api_keys: u64,
    tokens: u64,
    ssh_keys: u64,
    ssh_private_keys: u64,
}

/// `GET`/`PUT /api/admin/policy` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyResponse {
    policy: PolicyBody,
    /// Each field's label and effect, in the form's order.
    #[schema(value_type = Vec<Object>)]
    fields: &'static [PolicyField],
    server_limits: ServerLimits,
}

async fn respond(state: &AppState, caller: &Caller) -> ApiResult<Json<PolicyResponse>> {
    let (policy, limits) = state.core.admin_policy(&caller.actor).await?;
    Ok(Json(PolicyResponse {
        policy: (&policy).into(),
        fields: POLICY_FIELDS,
        server_limits: ServerLimits {
            api_keys: limits.api_keys,
            tokens: limits.tokens,
            ssh_keys: limits.ssh_keys,
            ssh_private_keys: limits.ssh_private_keys,
        },
    }))
}

/// `GET /api/admin/policy`. Requires: `org:members:read` or `org:policy:write`.
#[utoipa::path(
    get,
    operation_id = "admin_policy_show",
    path = "/api/admin/policy",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The policy, its fields and the server's caps", body = PolicyResponse)),
    extensions(("x-permissions" = json!(["org:members:read", "org:policy:write"])))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<PolicyResponse>> {
    caller.require_any(&[scope::ORG_MEMBERS_READ, scope::ORG_POLICY_WRITE])?;
    respond(&state, &caller).await
}

/// `PUT /api/admin/policy`: the whole policy (every field; read it first, change what
/// you mean to, send it back). A refused field answers 422 naming it, and nothing
/// changes. Requires: `org:policy:write`.
#[utoipa::path(
    put,
    operation_id = "admin_policy_update",
    path = "/api/admin/policy",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    request_body = PolicyBody,
    responses((status = 200, description = "The policy as saved", body = PolicyResponse)),
    extensions(("x-permissions" = json!(["org:policy:write"])))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<PolicyBody>,
) -> ApiResult<Json<PolicyResponse>> {
    caller.require(scope::ORG_POLICY_WRITE)?;
    state
        .core
        .change_org_policy(&caller.actor, &body.parse()?)
        .await?;
    respond(&state, &caller).await
}
