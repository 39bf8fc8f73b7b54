//! How the listeners accept connections: acceptors that run before hyper sees a
//! connection.

use std::future::Ready;
use std::io;

use axum::Extension;
use gatehouse_web::plain::ConnectionLocalAddr;
use tokio::net::TcpStream;
use tower::Layer;

/// Puts the connection's local address into every request on it (the plain listener
/// redirects a wildcard bind's clients to the address they reached).
#[derive(Clone, Copy, Debug, Default)]
pub struct TagLocalAddr;

impl<S> axum_server::accept::Accept<TcpStream, S> for TagLocalAddr {
    type Stream = TcpStream;
    type Service = axum::middleware::AddExtension<S, ConnectionLocalAddr>;
    type Future = Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        std::future::ready(stream.local_addr().map(|local| {
            let service = Extension(ConnectionLocalAddr(local)).layer(service);
            (stream, service)
        }))
    }
}
