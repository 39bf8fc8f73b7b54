//! `/Users`: list (filter, paging), create, read, replace, patch and delete the
//! organisation's users. Deleting deprovisions: see `Core::scim_delete_user`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_core::actor::Actor;
use gatehouse_core::scim::ScimUser;

use super::auth::ScimCaller;
use super::{ListParams, RawQuery, ScimBody, ScimError, base_url, if_match, list, resource};
use crate::state::AppState;

/// The routes of this area (under `/scim/v2`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list_users).post(create))
        .route("/Users/.search", post(search))
        .route(
            "/Users/{id}",
            get(show).put(replace).patch(patch).delete(delete),
        )
}

fn answer(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    user: &ScimUser,
    params: Option<&ListParams>,
) -> Response {
    let base = base_url(state, headers);
    let location = format!("{base}/Users/{}", user.account.id);
    let body = user.to_json(&base);
    let body = match params {
        Some(p) => p.project(body),
        None => body,
    };
    resource(
        status,
        body,
        &user.etag(),
        (status == StatusCode::CREATED).then_some(location.as_str()),
    )
}

/// A page of users for `params` (from the query or a `.search` body).
async fn listing(
    state: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    params: ListParams,
) -> Result<Response, ScimError> {
    let page = state
        .core
        .scim_list_users(actor, &params.filter, params.window)
        .await?;
    let base = base_url(state, headers);
    Ok(list(page, &params, |u| u.to_json(&base)))
}

/// `GET /scim/v2/Users?filter=&startIndex=&count=`.
pub async fn list_users(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    listing(&state, &actor, &headers, ListParams::parse(&query)?).await
}

/// `POST /scim/v2/Users/.search`: a list with its parameters in the body.
pub async fn search(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    listing(&state, &actor, &headers, ListParams::from_search(&body)?).await
}

/// `POST /scim/v2/Users`.
pub async fn create(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let user = state.core.scim_create_user(&actor, &body).await?;
    Ok(answer(&state, &headers, StatusCode::CREATED, &user, None))
}

/// `GET /scim/v2/Users/{id}`.
pub async fn show(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let params = ListParams::parse(&query)?;
    let user = state.core.scim_get_user(&actor, &id).await?;
    Ok(answer(
        &state,
        &headers,
        StatusCode::OK,
        &user,
        Some(&params),
    ))
}

/// `PUT /scim/v2/Users/{id}`.
pub async fn replace(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let user = state
        .core
        .scim_replace_user(&actor, &id, &body, if_match(&headers))
        .await?;
    Ok(answer(&state, &headers, StatusCode::OK, &user, None))
}

/// `PATCH /scim/v2/Users/{id}`: answers with the resource as it now is.
pub async fn patch(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let user = state
        .core
        .scim_patch_user(&actor, &id, &body, if_match(&headers))
        .await?;
    Ok(answer(&state, &headers, StatusCode::OK, &user, None))
}

/// `DELETE /scim/v2/Users/{id}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    state
        .core
        .scim_delete_user(&actor, &id, if_match(&headers))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
