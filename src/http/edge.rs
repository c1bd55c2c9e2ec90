//! The server's edge: accepting connections with a limit, header-read and body-read
//! timeouts, the client's address (through trusted proxies), whether the request came over
//! TLS, the security headers of every answer, and hyper's own error answers (a request line
//! too long, headers too large, a malformed request) in the JSON error shape.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What `meishi serve` is told about its edge (flags and `MEISHI_*` variables; README).
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// A client must send a request's headers within this time, else the connection closes.
    pub header_timeout: Duration,
    /// A request body that sends nothing for this long is cut off (an idle limit, so a large
    /// import that keeps sending is never cut).
    pub body_timeout: Duration,
    /// Connections served at once; further ones wait in the listen queue.
    pub max_connections: usize,
    /// The largest import body (`POST /api/v1/imports`, the console's upload form).
    pub import_body_limit: u64,
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed (a reverse proxy).
    pub trusted_proxies: Vec<IpAddr>,
    /// The public URL is `https://…`: every answer says so with HSTS.
    pub public_https: bool,
    /// `GET /metrics` on this listener, for a bearer of this token (`MEISHI_METRICS_TOKEN`);
    /// without one it is not served here (`--metrics-addr` serves it on a listener of its own).
    pub metrics_token: Option<Arc<str>>,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            max_connections: 1024,
            import_body_limit: 512 * 1024 * 1024,
            trusted_proxies: vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])],
            public_https: false,
            metrics_token: None,
        }
    }
}

/// The connection's peer, put on every request by `serve`.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Who is calling, as far as we can tell: the client's address (the peer, or what a trusted
/// proxy says) and whether the request came over TLS.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub ip: Option<IpAddr>,
    pub https: bool,
}

impl Client {
    /// The client of a request: the peer, or, when the peer is a trusted proxy, the last
    /// address of `X-Forwarded-For` and its `X-Forwarded-Proto`. Also `https` when the
    /// configured public URL is https (a proxy that does not say so).
    pub fn of(headers: &HeaderMap, peer: Option<IpAddr>, config: &EdgeConfig) -> Client {
        let trusted = peer.is_some_and(|p| config.trusted_proxies.contains(&p));
        let forwarded_ip = || {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .next_back()
        };
        let forwarded_https = || headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
        let ip = if trusted { forwarded_ip().or(peer) } else { peer };
        Client {
            ip,
            https: config.public_https || (trusted && forwarded_https()),
        }
    }
}

/// Middleware: works out the `Client` of the request (an extension handlers read).
pub async fn client(config: Arc<EdgeConfig>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
    let client = Client::of(req.headers(), peer, &config);
    req.extensions_mut().insert(client);
    let mut res = next.run(req).await;
    security_headers(res.headers_mut(), client.https);
    res
}

/// The console's pages run only our own scripts (no inline script or handler: they live in
/// /static/console.js), are never framed, and send no referrer off the site. Styles may be
/// inline (htmx adds its indicator style). HSTS only over TLS: a browser ignores it over
/// plain HTTP, and a server reached over plain HTTP must stay reachable.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
                   frame-ancestors 'none'";

fn security_headers(h: &mut HeaderMap, https: bool) {
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        if !h.contains_key(name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    if https {
        set(h, "strict-transport-security", "max-age=31536000");
    }
}

/// Serves `router` on `listener` until `shutdown` resolves: at most `max_connections` at
/// once, headers within `header_timeout`; each request carries its `Peer`.
pub async fn serve(
    router: Router,
    listener: tokio::net::TcpListener,
    config: &EdgeConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(Peer(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(EdgeIo::new(stream)), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The connection as hyper sees it, with one change: the answers hyper makes itself for a
/// request it cannot parse (400, 414 URI too long, 431 headers too large: a status line and
/// `content-length: 0`, nothing from us) go out in the JSON error shape.
struct EdgeIo {
    inner: tokio::net::TcpStream,
    /// A rewritten answer still to be written.
    pending: Vec<u8>,
}

impl EdgeIo {
    fn new(inner: tokio::net::TcpStream) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }

    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.pending.is_empty() {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

/// hyper's own answer to a request it could not parse, as a JSON one.
fn rewrite(buf: &[u8]) -> Option<Vec<u8>> {
    let (status, message) = [
        (400u16, "the request cannot be parsed"),
        (414, "the request's address is too long"),
        (431, "the request's headers are too large"),
    ]
    .into_iter()
    .find(|(s, _)| buf.starts_with(format!("HTTP/1.1 {s} ").as_bytes()))?;
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.contains("\r\ncontent-length: 0") || buf.len() != head_end + 4 {
        return None;
    }
    let status = axum::http::StatusCode::from_u16(status).ok()?;
    let body = super::error::body_for(status, message);
    let mut h = HeaderMap::new();
    security_headers(&mut h, false);
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    for (k, v) in &h {
        out.push_str(&format!("{}: {}\r\n", k, v.to_str().unwrap_or("")));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

impl AsyncRead for EdgeIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for EdgeIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.drain(cx))?;
        if let Some(answer) = rewrite(buf) {
            self.pending = answer;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    // Not vectored: hyper then writes a response head in one piece, which `rewrite` sees whole.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// The client of a request, for handlers (sign-in throttling, the Secure cookie).
pub fn client_of(ext: &axum::http::Extensions) -> Client {
    ext.get::<Client>()
        .copied()
        .unwrap_or(Client { ip: None, https: false })
}

/// Middleware: a request body that sends nothing for `limit` is cut off (its reader gets an
/// error), so a client cannot hold a handler by stopping half-way.
pub async fn body_timeout(limit: Duration, req: Request, next: Next) -> Response {
    let req = req.map(|b| axum::body::Body::new(tower_http::timeout::TimeoutBody::new(limit, b)));
    next.run(req).await
}
