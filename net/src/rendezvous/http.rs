//! The service's HTTP accept loop: every connection counted, bounded and timed.
//!
//! Owns the TCP listener's side of what an idle or slow client may hold. Each request head must
//! arrive within [`HEADER_READ_TIMEOUT`] of the connection waiting for it (an idle keep-alive
//! connection is closed then), and a connection lives at most [`REQUEST_TIMEOUT`] (a WebSocket
//! leaves this loop at its upgrade and is then the signaling's, with its own limits). At most [`HttpLimits::connections`] are
//! open at once and [`HttpLimits::connections_per_ip`] from one source (an IPv6 /64 is one
//! source); a connection beyond either is closed as it is accepted, before a byte is read, so
//! holding thousands of idle sockets costs the service a bounded number of descriptors and
//! keeps nobody else out.
//!
//! With TLS ([`super::tls`]) every connection is TLS: its handshake runs in the connection's own
//! task, bounded by [`HANDSHAKE_TIMEOUT`] and holding its slot, so a slow or silent client costs
//! one counted connection for a few seconds and never holds up the accept loop.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::throttle::source_key;
use super::tls::TlsReload;

/// How long a client may take to send its request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take over its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may last unless it becomes a WebSocket (creating a room starts a
/// guest: its request may take seconds).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How many HTTP connections the service holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Open at once, in all.
    pub connections: usize,
    /// Open at once from one source address (an IPv6 /64).
    pub connections_per_ip: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            connections: 4096,
            connections_per_ip: 64,
        }
    }
}

/// Open connections, in all and per source.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// One open connection, counted until dropped.
struct Slot {
    open: Arc<Mutex<Open>>,
    source: IpAddr,
}

impl Slot {
    fn take(open: &Arc<Mutex<Open>>, limits: HttpLimits, source: IpAddr) -> Option<Slot> {
        let mut o = open.lock().unwrap_or_else(|e| e.into_inner());
        let mine = o.by_source.get(&source).copied().unwrap_or(0);
        if o.total >= limits.connections || mine >= limits.connections_per_ip {
            return None;
        }
        o.total += 1;
        *o.by_source.entry(source).or_default() += 1;
        Some(Slot {
            open: open.clone(),
            source,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|e| e.into_inner());
        o.total -= 1;
        if let Some(n) = o.by_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                o.by_source.remove(&self.source);
            }
        }
    }
}

/// Serves `app` on `listener` until `stop` is cancelled; connections in flight finish within
/// [`REQUEST_TIMEOUT`] on their own.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<TlsReload>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let open = Arc::new(Mutex::new(Open::default()));
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors, or a connection reset before it was taken: not the
                // listener's end. Give the system a moment and go on.
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Some(slot) = Slot::take(&open, limits, source_key(peer.ip())) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let conn = async move {
                let Some(tls) = tls else {
                    return serve_connection(TokioIo::new(stream), app, peer).await;
                };
                // The configuration at this moment: a reload counts from the next connection.
                let handshake = tls.acceptor().accept(stream);
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(stream)) => serve_connection(TokioIo::new(stream), app, peer).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            };
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, conn).await;
            drop(slot);
        });
    }
}

/// One connection's requests, handed to `app`, until it closes or becomes a WebSocket.
async fn serve_connection<I>(io: I, app: Router, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(req)
        });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(io, service)
        .with_upgrades()
        .await;
}
