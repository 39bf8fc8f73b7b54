//! Who is calling the SCIM service: only the organisation's SCIM Key, as a bearer token
//! (`Authorization: Bearer <key>`). A cookie, HTTP Basic, a bearer token or any other
//! key is refused with 401, so nothing but the key an admin generated for the identity
//! provider reaches these routes.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use gatehouse_core::Error as CoreError;
use gatehouse_core::actor::Actor;
use gatehouse_core::service::UseContext;
use zeroize::Zeroizing;

use super::error::ScimError;
use crate::middleware::client_ip::ClientIp;
use crate::state::AppState;

/// The SCIM Key's actor: the organisation's principal.
pub struct ScimCaller(pub Arc<Actor>);

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(CoreError::Unauthenticated.into());
        };
        let value = value.to_str().map_err(|_| CoreError::Unauthenticated)?;
        let Some((scheme, key)) = value.split_once(' ') else {
            return Err(CoreError::Unauthenticated.into());
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(CoreError::Unauthenticated.into());
        }
        let key = Zeroizing::new(key.trim().to_owned());
        let ip = ClientIp::current().0;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let principal = state
            .core
            .authenticate_scim(&key, UseContext { ip, user_agent })
            .await?;
        // Every audit record this request writes names the SCIM key as the actor.
        gatehouse_core::audit::note_actor(&principal.actor);
        Ok(ScimCaller(principal.actor.clone()))
    }
}
