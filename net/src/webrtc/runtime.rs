//! The async runtime a player's peer connections run on: webrtc's tokio runtime, except that each
//! UDP socket it binds gets a larger receive buffer before webrtc wraps it.
//!
//! Why: a joiner fetching the host's PWAD over the reliable channel receives SCTP's whole
//! congestion window at once. On a fast path (loopback, a LAN) the datagrams arrive faster than
//! the joiner's one driver task decrypts them; the kernel's default buffer (`rmem_default`,
//! 212992 bytes of accounting: about 90 datagrams) overflows, and SCTP recovers the tail of the
//! burst only when its retransmission timeout (at least a second) fires. Linux caps what a
//! process may ask for at `net.core.rmem_max` (212992 by default, which it doubles to 416 KiB;
//! the kernel counts overhead in it); asking for more is not an error. Only the player's side
//! does this: it is what receives files, and a player has a handful of sockets, while the
//! service (which receives only game frames and acknowledgements) keeps the default for each
//! of its many.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
};

/// The receive buffer asked for on each UDP socket of a player's peer connections: room for a
/// 1 MiB SCTP window (the most a receiver advertises) of ~1.2 KB datagrams with the kernel's
/// per-datagram overhead.
pub const PEER_RECV_BUFFER: usize = 4 << 20;

/// webrtc's default runtime with [`PEER_RECV_BUFFER`] asked for on every UDP socket.
pub struct PeerRuntime {
    inner: Arc<dyn Runtime>,
}

impl fmt::Debug for PeerRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerRuntime").finish_non_exhaustive()
    }
}

impl PeerRuntime {
    /// Around webrtc's default runtime (tokio's), ready to hand to a peer connection; None if
    /// webrtc was built without one.
    pub fn wrapping_default() -> Option<Arc<dyn Runtime>> {
        let inner = webrtc::runtime::default_runtime()?;
        Some(Arc::new(PeerRuntime { inner }))
    }
}

impl Runtime for PeerRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        // Best effort: a refusal leaves the kernel's default, which works, only slower.
        if let Err(e) = socket2::SockRef::from(&socket).set_recv_buffer_size(PEER_RECV_BUFFER) {
            tracing::debug!("UDP receive buffer of {PEER_RECV_BUFFER} bytes refused: {e}");
        }
        self.inner.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The socket webrtc is handed comes back with a larger receive buffer than a fresh one's
    /// (whatever the machine's cap, it allows more than the default).
    #[test]
    fn a_wrapped_socket_has_a_larger_receive_buffer() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let fresh = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let default = socket2::SockRef::from(&fresh).recv_buffer_size().unwrap();
        let runtime = PeerRuntime::wrapping_default().expect("webrtc's tokio runtime");
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let probe = socket.try_clone().unwrap();
        let wrapped = runtime.wrap_udp_socket(socket).unwrap();
        let raised = socket2::SockRef::from(&probe).recv_buffer_size().unwrap();
        assert!(raised > default, "{raised} bytes, default {default}");
        assert_eq!(wrapped.local_addr().unwrap(), probe.local_addr().unwrap());
    }
}
