//! How the listeners accept connections: a cap on connections open at once (both
//! listeners share it), the timeouts that stop slow clients from holding a connection,
//! and the local address the plain listener's redirects need.

use std::future::{Future, Ready};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum_server::accept::Accept;
use gatehouse_web::middleware::limits;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How often, at most, a refused connection is logged.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Concurrent HTTP/2 streams per connection (the connection cap counts connections).
const H2_MAX_STREAMS: u32 = 100;
/// Streams reset by the client before they are served, per connection, before hyper
/// closes it (CVE-2023-44487, "rapid reset").
const H2_MAX_PENDING_RESETS: usize = 20;

/// The timeouts and limits of both listeners.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    /// Time allowed for a request's headers, and for a new connection's first request.
    pub header_read_timeout: Duration,
    /// Time allowed for a TLS handshake.
    pub handshake_timeout: Duration,
    /// Connections open at once over both listeners.
    pub max_connections: usize,
}

impl ConnectionSettings {
    /// Applies the timeouts and hyper's limits to a listener's HTTP/1 settings.
    pub fn configure<A: axum_server::Address, Acc>(
        &self,
        server: axum_server::Server<A, Acc>,
    ) -> axum_server::Server<A, Acc> {
        let mut server = server
            // SECURITY: hyper's header timeout starts only once it reads a request head;
            // this one also covers a connection that sends nothing at all after the
            // handshake (protocol detection has no timeout of its own).
            .first_request_timeout(self.header_read_timeout);
        server
            .http_builder()
            .http1()
            // SECURITY: a client that never finishes its headers (slowloris), or an
            // idle keep-alive connection, is closed after this long.
            .header_read_timeout(self.header_read_timeout)
            // hyper's own limits sit above the web layer's 414/431 checks, so that a
            // request over ours gets our JSON answer rather than hyper's empty one. Its
            // header count stays at its default (100, see `limits`): any explicit value
            // moves the parser's header array to the heap, one allocation per request.
            .max_buf_size(limits::TRANSPORT_MAX_BUF_BYTES);
        // HTTP/2 (ALPN `h2`) under the same bounds: the header block within the
        // transport buffer (the web layer's 431 check sits below it, as for HTTP/1), a
        // hundred streams per connection, the rapid-reset guard, and pings that close a
        // connection whose peer went silent. The first-request timeout above covers a
        // connection that never sends a request, whatever its protocol.
        server
            .http_builder()
            .http2()
            .max_header_list_size(limits::TRANSPORT_MAX_BUF_BYTES as u32)
            .max_concurrent_streams(H2_MAX_STREAMS)
            .max_pending_accept_reset_streams(Some(H2_MAX_PENDING_RESETS))
            .keep_alive_interval(Some(self.header_read_timeout.max(Duration::from_secs(10))))
            .keep_alive_timeout(self.header_read_timeout.max(Duration::from_secs(10)));
        server
    }
}

/// Refuses connections beyond the cap before any work is done for them (no TLS
/// handshake); an accepted connection holds its place until it closes.
#[derive(Clone)]
pub struct ConnectionLimit<A> {
    inner: A,
    places: Arc<Semaphore>,
    max: usize,
    log: Arc<RefusalLog>,
}

impl ConnectionLimit<()> {
    /// A cap of `max` connections, to share between listeners with [`Self::wrap`].
    pub fn new(max: usize) -> Self {
        ConnectionLimit {
            inner: (),
            places: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            max,
            log: Arc::new(RefusalLog::default()),
        }
    }

    /// The same cap in front of another acceptor.
    pub fn wrap<A>(&self, inner: A) -> ConnectionLimit<A> {
        ConnectionLimit {
            inner,
            places: self.places.clone(),
            max: self.max,
            log: self.log.clone(),
        }
    }
}

impl<A, S> Accept<TcpStream, S> for ConnectionLimit<A>
where
    A: Accept<TcpStream, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = Held<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // SECURITY: a flood of connections (slow or idle ones, say) cannot take every
        // file descriptor: past the cap a connection is closed before its handshake.
        let Ok(place) = self.places.clone().try_acquire_owned() else {
            drop(stream);
            self.log.refused(self.max);
            return Box::pin(std::future::ready(Err(io::Error::other(
                "server.max_connections reached",
            ))));
        };
        let accepted = self.inner.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((
                Held {
                    inner: stream,
                    _place: place,
                },
                service,
            ))
        })
    }
}

/// Logs refusals at most once per [`REFUSAL_LOG_INTERVAL`], with how many there were,
/// so a flood of connections does not become a flood of log lines.
#[derive(Default)]
struct RefusalLog {
    last: Mutex<Option<Instant>>,
    unlogged: AtomicU64,
}

impl RefusalLog {
    fn refused(&self, max: usize) {
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        // Another refusal holding the lock is about to decide; this one is counted.
        let Ok(mut last) = self.last.try_lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < REFUSAL_LOG_INTERVAL) {
            return;
        }
        *last = Some(now);
        drop(last);
        let refused = self.unlogged.swap(0, Ordering::Relaxed);
        tracing::warn!(
            max_connections = max,
            refused,
            "connections refused: server.max_connections reached (logged at most every 10 s)"
        );
    }
}

/// A connection's stream together with its place under the cap, which is given back
/// when the connection is dropped.
pub struct Held<S> {
    inner: S,
    _place: OwnedSemaphorePermit,
}

impl<S: AsyncRead + Unpin> AsyncRead for Held<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Held<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Gives the plain listener's copy of the application for a connection that
/// connection's local address (it redirects a wildcard bind's clients to the address
/// they reached).
#[derive(Clone, Copy, Debug, Default)]
pub struct TagLocalAddr;

impl Accept<TcpStream, gatehouse_web::App> for TagLocalAddr {
    type Stream = TcpStream;
    type Service = gatehouse_web::App;
    type Future = Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: gatehouse_web::App) -> Self::Future {
        std::future::ready(
            stream
                .local_addr()
                .map(|local| (stream, service.with_local_addr(local))),
        )
    }
}
