//! The edge: everything every request passes through, as one tower layer (one boxed
//! future per request instead of one per concern), in this order:
//!
//! 1. the client address and the audit origin ([`super::client_ip`]);
//! 2. the request id, the access log line and the request metrics
//!    ([`crate::context`], [`super::access_log`], [`crate::observe`]);
//! 3. the request limits ([`super::limits`]);
//! 4. on the way out: our JSON for every error answer ([`super::json_errors`]) and the
//!    security headers ([`super::headers`]).
//!
//! It is the application's outermost service (see `crate::app`), around the whole
//! router once, not each route, and calls the router without cloning it (axum's router
//! is always ready); a request with no body, no log and no metrics allocates nothing
//! here. The listener makes one copy of it per connection ([`PerConnection`]) that
//! knows the connection's addresses, so nothing per connection is put into each
//! request's extensions.

use std::convert::Infallible;
use std::future::{Future, Ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tracing::Instrument;

use super::access_log::AccessRecord;
use super::limits::Admission;
use crate::context::{Connection, RequestId};
use crate::ip_net::IpNet;
use crate::state::AppState;

/// The edge layer of a router.
#[derive(Clone)]
pub struct EdgeLayer {
    state: AppState,
    /// Whether to resolve the client address (not on the plain listener, which hands
    /// trusted-proxy requests to the full application, whose edge does it).
    resolve_client: bool,
}

impl EdgeLayer {
    /// The edge of the HTTPS application.
    pub fn new(state: AppState) -> Self {
        EdgeLayer {
            state,
            resolve_client: true,
        }
    }

    /// The edge of the plain-HTTP listener.
    pub fn plain(state: AppState) -> Self {
        EdgeLayer {
            state,
            resolve_client: false,
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: self.state.clone(),
            proxies: if self.resolve_client {
                Some(self.state.web.trusted_proxies.clone().into())
            } else {
                None
            },
            connection: Connection::default(),
        }
    }
}

/// See the module doc.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    state: AppState,
    proxies: Option<Arc<[IpNet]>>,
    /// The connection this copy serves (empty until [`PerConnection`] sets it).
    connection: Connection,
}

impl<S> Edge<S> {
    /// This application for a connection from `peer`.
    pub fn for_peer(&self, peer: SocketAddr) -> Self
    where
        S: Clone,
    {
        let mut edge = self.clone();
        edge.connection.peer = Some(peer);
        edge
    }

    /// The same, knowing the local address the connection reached (the plain
    /// listener's redirects need it).
    pub fn with_local_addr(mut self, local: SocketAddr) -> Self {
        self.connection.local = Some(local);
        self
    }

    /// The same, for a request handed on from another listener's connection.
    pub fn for_connection(&self, connection: Connection) -> Self
    where
        S: Clone,
    {
        let mut edge = self.clone();
        edge.connection = connection;
        edge
    }
}

/// Makes the application's copy for each accepted connection (a tower `MakeService`
/// over the peer address, as the listener hands it).
#[derive(Clone)]
pub struct PerConnection<S>(pub Edge<S>);

impl<S: Clone> Service<SocketAddr> for PerConnection<S> {
    type Response = Edge<S>;
    type Error = Infallible;
    type Future = Ready<Result<Edge<S>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, peer: SocketAddr) -> Self::Future {
        std::future::ready(Ok(self.0.for_peer(peer)))
    }
}

type EdgeFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S, B> Service<axum::http::Request<B>> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::http::Request<B>) -> EdgeFuture {
        let started = Instant::now();
        let mut req = req.map(Body::new);
        let connection = self.connection;
        let origin = match &self.proxies {
            Some(proxies) => super::client_ip::prepare(proxies, connection.peer, &mut req),
            None => gatehouse_core::audit::Origin::default(),
        };
        let id = RequestId::next();
        let ip = origin.ip;
        let api = req.uri().path().starts_with("/api/");
        // What the log and the metrics need once the answer is known, taken now (the
        // request moves on). The path only: a query string is never logged.
        let log = super::access_log::enabled()
            .then(|| AccessRecord::new(id, req.method(), req.uri().path(), ip));
        let observed = crate::observe::enabled().then(|| {
            let slot = crate::observe::RouteSlot::default();
            req.extensions_mut().insert(slot.clone());
            (req.method().clone(), slot)
        });
        // SECURITY: the path only, as above. The span exists at `debug` and below; at
        // the default level it costs nothing.
        let span = tracing::debug_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %super::access_log::LoggedPath(req.uri().path()),
        );
        let (inner, policy) = match super::limits::admit(&self.state, req) {
            Admission::Run(req, policy) => (Ok(span.in_scope(|| self.inner.call(req))), policy),
            Admission::Refuse(error, policy) => (Err(error), policy),
        };
        let work = async move {
            let res = match inner {
                Ok(fut) => match fut.await {
                    Ok(res) => res,
                    Err(never) => match never {},
                },
                Err(error) => error.into_response(),
            };
            let mut res = policy.finish(super::json_errors::ensure_ours(res).await);
            super::headers::apply(&mut res, api);
            res
        };
        Box::pin(async move {
            let context = crate::context::RequestContext {
                id,
                client_ip: ip,
                connection,
            };
            let work = crate::context::REQUEST.scope(context, work.instrument(span));
            let mut res = gatehouse_core::audit::with_origin(origin, work).await;
            if let Some(v) = id.header_value() {
                res.headers_mut().insert("x-request-id", v);
            }
            let elapsed = started.elapsed();
            let status = res.status().as_u16();
            if let Some(record) = log {
                super::access_log::log(record.finished(status, elapsed));
            }
            if let Some((method, slot)) = observed {
                crate::observe::request(slot.route(), &method, status, elapsed);
            }
            Ok(res)
        })
    }
}
