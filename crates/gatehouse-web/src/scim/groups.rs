//! `/Groups`: list (filter, paging), create, read, replace, patch and delete the
//! organisation's groups. Members are read unless `excludedAttributes` leaves them out.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_core::actor::Actor;
use gatehouse_core::scim::ScimGroup;

use super::auth::ScimCaller;
use super::{ListParams, RawQuery, ScimBody, ScimError, base_url, if_match, list, resource};
use crate::state::AppState;

/// The routes of this area (under `/scim/v2`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/Groups", get(list_groups).post(create))
        .route("/Groups/.search", post(search))
        .route(
            "/Groups/{id}",
            get(show).put(replace).patch(patch).delete(delete),
        )
}

fn answer(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    group: &ScimGroup,
    params: Option<&ListParams>,
) -> Response {
    let base = base_url(state, headers);
    let location = format!("{base}/Groups/{}", group.id);
    let body = group.to_json(&base);
    let body = match params {
        Some(p) => p.project(body),
        None => body,
    };
    resource(
        status,
        body,
        &group.etag(),
        (status == StatusCode::CREATED).then_some(location.as_str()),
    )
}

/// A page of groups for `params` (from the query or a `.search` body).
async fn listing(
    state: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    params: ListParams,
) -> Result<Response, ScimError> {
    let page = state
        .core
        .scim_list_groups(
            actor,
            &params.filter,
            params.window,
            !params.leaves_out("members"),
        )
        .await?;
    let base = base_url(state, headers);
    Ok(list(page, &params, |g| g.to_json(&base)))
}

/// `POST /scim/v2/Groups/.search`: a list with its parameters in the body.
pub async fn search(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    listing(&state, &actor, &headers, ListParams::from_search(&body)?).await
}

/// `GET /scim/v2/Groups?filter=&startIndex=&count=`.
pub async fn list_groups(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    listing(&state, &actor, &headers, ListParams::parse(&query)?).await
}

/// `POST /scim/v2/Groups`.
pub async fn create(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let group = state.core.scim_create_group(&actor, &body).await?;
    Ok(answer(&state, &headers, StatusCode::CREATED, &group, None))
}

/// `GET /scim/v2/Groups/{id}`.
pub async fn show(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let params = ListParams::parse(&query)?;
    let group = state
        .core
        .scim_get_group(&actor, &id, !params.leaves_out("members"))
        .await?;
    Ok(answer(
        &state,
        &headers,
        StatusCode::OK,
        &group,
        Some(&params),
    ))
}

/// `PUT /scim/v2/Groups/{id}`.
pub async fn replace(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let group = state
        .core
        .scim_replace_group(&actor, &id, &body, if_match(&headers))
        .await?;
    Ok(answer(&state, &headers, StatusCode::OK, &group, None))
}

/// `PATCH /scim/v2/Groups/{id}`: answers with the resource as it now is.
pub async fn patch(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let group = state
        .core
        .scim_patch_group(&actor, &id, &body, if_match(&headers))
        .await?;
    Ok(answer(&state, &headers, StatusCode::OK, &group, None))
}

/// `DELETE /scim/v2/Groups/{id}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    ScimCaller(actor): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    state
        .core
        .scim_delete_group(&actor, &id, if_match(&headers))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
