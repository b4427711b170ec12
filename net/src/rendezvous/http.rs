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
//! Behind a TLS proxy every connection comes from the proxy. Connections from an address in
//! [`HttpLimits`]' trusted proxies are held to the total only, and each of their requests is
//! attributed to the client the proxy names: the rightmost address in `X-Forwarded-For` that is
//! not itself a trusted proxy (the entries left of it are the client's own say, and a client can
//! write anything there). That address is the request's [`ConnectInfo`], so every per-address
//! limit after this loop (signaling connections, rooms, the admin API's failure throttle) counts
//! clients, not the proxy. A request from a proxy without a usable header counts as the proxy's.
//!
//! With TLS ([`super::tls`]) every connection is TLS: its handshake runs in the connection's own
//! task, bounded by [`HANDSHAKE_TIMEOUT`] and holding its slot, so a slow or silent client costs
//! one counted connection for a few seconds and never holds up the accept loop.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::slots::OpenCounts;
use super::throttle::source_key;
use super::tls::TlsReload;
use super::turn::IpNet;

/// How long a client may take to send its request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take over its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may last unless it becomes a WebSocket (creating a room starts a
/// guest: its request may take seconds).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How many HTTP connections the service holds, and whom it trusts to name clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Open at once, in all.
    pub connections: usize,
    /// Open at once from one source address (an IPv6 /64); a trusted proxy is not held to it.
    pub connections_per_ip: usize,
    /// Proxies (a TLS terminator in front of the service) whose `X-Forwarded-For` names the
    /// client. Empty by default: the header is ignored.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            connections: 4096,
            connections_per_ip: 64,
            trusted_proxies: Vec::new(),
        }
    }
}

impl HttpLimits {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(ip))
    }

    /// The client a trusted proxy's request is from: the rightmost `X-Forwarded-For` address
    /// that is not a trusted proxy; `None` if the header is missing or an entry is not an
    /// address (then the proxy itself is the source).
    fn forwarded_client(&self, headers: &hyper::HeaderMap) -> Option<IpAddr> {
        let mut entries = Vec::new();
        for v in headers.get_all("x-forwarded-for") {
            entries.extend(v.to_str().ok()?.split(',').map(str::trim));
        }
        for e in entries.into_iter().rev() {
            let ip: IpAddr = e.parse().ok()?;
            if !self.trusts(ip) {
                return Some(ip);
            }
        }
        None
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
    let open = OpenCounts::default();
    let limits = Arc::new(limits);
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
        let proxy = limits.trusts(peer.ip());
        // A trusted proxy's connections count in the total only.
        let per_source = (!proxy).then_some(limits.connections_per_ip);
        let Some(slot) = open.take(source_key(peer.ip()), limits.connections, per_source) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let limits = limits.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let conn = async move {
                let Some(tls) = tls else {
                    return serve_connection(TokioIo::new(stream), app, peer, proxy, limits).await;
                };
                // The configuration at this moment: a reload counts from the next connection.
                let handshake = tls.acceptor().accept(stream);
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(stream)) => {
                        serve_connection(TokioIo::new(stream), app, peer, proxy, limits).await
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            };
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, conn).await;
            drop(slot);
        });
    }
}

/// One connection's requests, handed to `app`, until it closes or becomes a WebSocket. From a
/// trusted proxy (`proxy`), each request is the client's its `X-Forwarded-For` names.
async fn serve_connection<I>(
    io: I,
    app: Router,
    peer: SocketAddr,
    proxy: bool,
    limits: Arc<HttpLimits>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            let client = proxy
                .then(|| limits.forwarded_client(req.headers()))
                .flatten()
                .map_or(peer, |ip| SocketAddr::new(ip, peer.port()));
            req.extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(client));
            app.clone().oneshot(req)
        });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(io, service)
        .with_upgrades()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &[&str]) -> HttpLimits {
        HttpLimits {
            trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            ..HttpLimits::default()
        }
    }

    fn xff(values: &[&str]) -> hyper::HeaderMap {
        let mut h = hyper::HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_client_is_the_rightmost_address_no_trusted_proxy_added() {
        let l = limits(&["10.0.0.0/8", "::1/128"]);
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(
            l.forwarded_client(&xff(&["203.0.113.9"])),
            ip("203.0.113.9")
        );
        // What the client wrote itself (left) is not believed.
        assert_eq!(
            l.forwarded_client(&xff(&["1.1.1.1, 203.0.113.9"])),
            ip("203.0.113.9")
        );
        // A chain of trusted proxies is walked through; several header lines are one list.
        assert_eq!(
            l.forwarded_client(&xff(&["198.51.100.4, 10.1.2.3", "10.9.9.9"])),
            ip("198.51.100.4")
        );
        assert_eq!(
            l.forwarded_client(&xff(&["2001:db8::7, ::1"])),
            ip("2001:db8::7")
        );
        // Missing, junk or only proxies: no client named (the proxy is the source).
        assert_eq!(l.forwarded_client(&xff(&[])), None);
        assert_eq!(l.forwarded_client(&xff(&["203.0.113.9, junk"])), None);
        assert_eq!(l.forwarded_client(&xff(&["203.0.113.9:443"])), None);
        assert_eq!(l.forwarded_client(&xff(&["10.0.0.1"])), None);
    }
}
