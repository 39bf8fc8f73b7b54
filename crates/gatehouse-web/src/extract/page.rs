//! Cursor pagination at the HTTP edge: `?limit=&cursor=` in, and the next page's cursor
//! out in a `Link: <…>; rel="next"` header (RFC 8288) and `X-Next-Cursor`, so the body
//! stays the plain JSON array clients already read.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::page::{Page, PageRequest};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::Json;

/// The page a list request asks for, and the path to link the next one from.
pub struct PageParams {
    /// The validated request.
    pub request: PageRequest,
    /// The route's path, for the `Link` header.
    path: String,
    /// The request's other query parameters (a list's filters), as sent: read with
    /// [`PageParams::filters`], and kept in the next page's link.
    filters: String,
}

/// `?limit=&cursor=` as the API description shows them (read by [`PageParams`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The cursor from the previous page's `X-Next-Cursor` (or its `Link` header).
    pub cursor: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawPage {
    limit: Option<String>,
    cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let raw = match parts.uri.query() {
            None => RawPage::default(),
            Some(_) => {
                Query::<RawPage>::try_from_uri(&parts.uri)
                    .map_err(|_| ApiError::BadRequest("the query string is malformed".into()))?
                    .0
            }
        };
        let filters: Vec<&str> = parts
            .uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("limit=") && !p.starts_with("cursor="))
            .collect();
        Ok(PageParams {
            request: PageRequest::parse(raw.limit.as_deref(), raw.cursor.as_deref())?,
            path: parts.uri.path().to_owned(),
            filters: filters.join("&"),
        })
    }
}

impl PageParams {
    /// The list's filters: the query parameters other than `limit` and `cursor`, read
    /// into `T` (which should refuse unknown fields). `takes` names the filters `T` knows,
    /// for the message that answers an unknown one.
    pub fn filters<T: serde::de::DeserializeOwned>(&self, takes: &str) -> Result<T, ApiError> {
        let uri: axum::http::Uri = format!("/?{}", self.filters)
            .parse()
            .map_err(|_| ApiError::BadRequest("the query string is malformed".into()))?;
        Query::<T>::try_from_uri(&uri).map(|q| q.0).map_err(|_| {
            ApiError::BadRequest(format!(
                "the query string has a parameter this list does not know (it takes {takes}, \
                 limit and cursor)"
            ))
        })
    }
}

/// The name of the header carrying the next page's cursor.
pub const NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

impl PageParams {
    /// A JSON array of the page's items, with the next page's cursor in the headers.
    pub fn respond<T, R: Serialize>(&self, page: Page<T>, render: impl Fn(&T) -> R) -> Response {
        let body: Vec<R> = page.items.iter().map(render).collect();
        let mut res = Json(body).into_response();
        if let Some(next) = page.next {
            // The cursor is base64url, so it needs no escaping in a URL or a header.
            let link = format!(
                "<{}?limit={}&cursor={next}{}{}>; rel=\"next\"",
                self.path,
                self.request.limit,
                if self.filters.is_empty() { "" } else { "&" },
                self.filters
            );
            if let (Ok(link), Ok(cursor)) =
                (HeaderValue::from_str(&link), HeaderValue::from_str(&next))
            {
                res.headers_mut().insert(header::LINK, link);
                res.headers_mut().insert(NEXT_CURSOR, cursor);
            }
        }
        res
    }
}
