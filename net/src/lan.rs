//! The LAN transport: a NAT at the kernel's edge that puts a guest's UDP sockets on the real
//! network, speaking Chocolate Doom's own wire protocol so stock Chocolate Doom players and
//! servers on the LAN interoperate with doomlink in both directions.
//!
//! Owns one real UDP socket per port a guest binds (the guest's server port keeps its number on
//! the LAN, 2342 by default, so native clients find it; ephemeral client ports get an ephemeral
//! real port, so several doomlink instances share one machine), and a receive thread per socket.
//! Addresses are translated by [`NatTable`]: a guest sees each real LAN host as a virtual
//! 10.77.0.x address, never the real one (inside a guest 127.0.0.1 is its own kernel).
//! Guest-visible virtual addresses never reach the wire.

use crate::lan_nat::{NatConfig, NatError, NatTable, Outbound};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where datagrams from the LAN go: the app injects them into its kernel.
pub trait GuestSink: Send + Sync {
    /// A datagram for the guest socket on `dst_port`, from the virtual `src`.
    fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]);
}

#[derive(Debug, Clone)]
pub struct LanConfig {
    /// The real address to bind sockets to (0.0.0.0 for every interface; tests use 127.0.0.1 or
    /// an address inside a network namespace they made).
    pub bind_ip: Ipv4Addr,
    /// Where a guest's broadcast goes on the real network.
    pub broadcast_ip: Ipv4Addr,
    /// Guest ports below this keep their number on the LAN (a server's 2342); the others get
    /// whatever port the OS gives.
    pub fixed_port_below: u16,
    pub nat: NatConfig,
}

impl Default for LanConfig {
    fn default() -> Self {
        LanConfig {
            bind_ip: Ipv4Addr::UNSPECIFIED,
            broadcast_ip: Ipv4Addr::BROADCAST,
            fixed_port_below: 49152,
            nat: NatConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LanError {
    #[error("cannot open UDP port {port} on {ip}: {source}")]
    Bind {
        ip: Ipv4Addr,
        port: u16,
        source: std::io::Error,
    },
    #[error("the guest has no socket on port {0}")]
    NoSocket(u16),
    #[error(transparent)]
    Nat(#[from] NatError),
    #[error("send failed: {0}")]
    Send(std::io::Error),
}

/// Live figures of the bridge.
#[derive(Debug, Default)]
pub struct LanStats {
    pub datagrams_out: AtomicU64,
    pub datagrams_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub bytes_in: AtomicU64,
    /// Guest datagrams to virtual hosts nobody holds, or outside the network.
    pub dropped_unroutable: AtomicU64,
    pub send_errors: AtomicU64,
}

struct PortSocket {
    socket: Arc<UdpSocket>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for PortSocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Inner {
    cfg: LanConfig,
    nat: Mutex<NatTable>,
    ports: Mutex<HashMap<u16, PortSocket>>,
    sink: Arc<dyn GuestSink>,
    stats: LanStats,
}

/// The bridge. Cheap to clone.
#[derive(Clone)]
pub struct LanBridge {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How often a receive thread looks at its stop flag.
const RECV_POLL: Duration = Duration::from_millis(100);

impl LanBridge {
    pub fn new(cfg: LanConfig, sink: Arc<dyn GuestSink>) -> Result<Self, LanError> {
        let nat = NatTable::new(cfg.nat.clone())?;
        Ok(LanBridge {
            inner: Arc::new(Inner {
                cfg,
                nat: Mutex::new(nat),
                ports: Mutex::new(HashMap::new()),
                sink,
                stats: LanStats::default(),
            }),
        })
    }

    pub fn stats(&self) -> &LanStats {
        &self.inner.stats
    }

    /// The virtual endpoint the guest must use to reach a real one (e.g. the server given to
    /// `doomlink join`), allocating it if new.
    pub fn map_remote(&self, real: SocketAddr) -> Result<SocketAddrV4, LanError> {
        Ok(lock(&self.inner.nat).inbound(Instant::now(), real)?)
    }

    /// The real port behind a guest port, if open.
    pub fn real_port(&self, guest_port: u16) -> Option<u16> {
        lock(&self.inner.ports)
            .get(&guest_port)
            .and_then(|p| p.socket.local_addr().ok())
            .map(|a| a.port())
    }

    /// The guest bound `guest_port`: open its real socket and start receiving.
    pub fn open_port(&self, guest_port: u16) -> Result<u16, LanError> {
        let ip = self.inner.cfg.bind_ip;
        let want = if guest_port < self.inner.cfg.fixed_port_below {
            guest_port
        } else {
            0
        };
        let socket = UdpSocket::bind((ip, want)).map_err(|source| LanError::Bind {
            ip,
            port: want,
            source,
        })?;
        let _ = socket.set_broadcast(true);
        socket
            .set_read_timeout(Some(RECV_POLL))
            .map_err(|source| LanError::Bind {
                ip,
                port: want,
                source,
            })?;
        let real_port = socket.local_addr().map(|a| a.port()).unwrap_or(want);
        let socket = Arc::new(socket);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (socket, stop, bridge) = (socket.clone(), stop.clone(), self.clone());
            std::thread::Builder::new()
                .name(format!("lan-port-{guest_port}"))
                .spawn(move || bridge.receive_loop(guest_port, &socket, &stop))
                .map_err(|source| LanError::Bind {
                    ip,
                    port: want,
                    source,
                })?
        };
        lock(&self.inner.ports).insert(
            guest_port,
            PortSocket {
                socket,
                stop,
                thread: Some(thread),
            },
        );
        Ok(real_port)
    }

    /// The guest closed `guest_port`.
    pub fn close_port(&self, guest_port: u16) {
        let removed = lock(&self.inner.ports).remove(&guest_port);
        drop(removed); // joins the receive thread outside the lock
    }

    /// A guest datagram from its socket on `src_port` to the virtual `dst`.
    pub fn send(&self, src_port: u16, dst: SocketAddrV4, data: &[u8]) -> Result<(), LanError> {
        let out = match lock(&self.inner.nat).outbound(Instant::now(), dst) {
            Ok(o) => o,
            Err(e) => {
                self.inner
                    .stats
                    .dropped_unroutable
                    .fetch_add(1, Ordering::Relaxed);
                return Err(e.into());
            }
        };
        let socket = lock(&self.inner.ports)
            .get(&src_port)
            .map(|p| p.socket.clone())
            .ok_or(LanError::NoSocket(src_port))?;
        let to = match out {
            Outbound::Unicast(a) => a,
            Outbound::Broadcast(port) => {
                SocketAddr::new(IpAddr::V4(self.inner.cfg.broadcast_ip), port)
            }
        };
        match socket.send_to(data, to) {
            Ok(_) => {
                self.inner
                    .stats
                    .datagrams_out
                    .fetch_add(1, Ordering::Relaxed);
                self.inner
                    .stats
                    .bytes_out
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.inner.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                Err(LanError::Send(e))
            }
        }
    }

    fn receive_loop(&self, guest_port: u16, socket: &UdpSocket, stop: &AtomicBool) {
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            let (n, from) = match socket.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                // ICMP port-unreachable from an earlier send shows up here on Linux: not fatal.
                Err(_) => continue,
            };
            let src = match lock(&self.inner.nat).inbound(Instant::now(), from) {
                Ok(v) => v,
                Err(_) => continue,
            };
            self.inner
                .stats
                .datagrams_in
                .fetch_add(1, Ordering::Relaxed);
            self.inner
                .stats
                .bytes_in
                .fetch_add(n as u64, Ordering::Relaxed);
            self.inner.sink.deliver(guest_port, src, &buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    struct ChanSink(Mutex<mpsc::Sender<(u16, SocketAddrV4, Vec<u8>)>>);
    impl GuestSink for ChanSink {
        fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
            let _ = lock(&self.0).send((dst_port, src, data.to_vec()));
        }
    }

    fn bridge() -> (LanBridge, mpsc::Receiver<(u16, SocketAddrV4, Vec<u8>)>) {
        let (tx, rx) = mpsc::channel();
        let cfg = LanConfig {
            bind_ip: Ipv4Addr::LOCALHOST,
            ..Default::default()
        };
        (
            LanBridge::new(cfg, Arc::new(ChanSink(Mutex::new(tx)))).unwrap(),
            rx,
        )
    }

    #[test]
    fn a_real_peer_and_a_guest_talk_through_virtual_addresses() {
        let (b, rx) = bridge();
        let real_port = b.open_port(60001).unwrap();
        assert_ne!(real_port, 60001, "ephemeral guest ports get an OS port");
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        peer.send_to(b"hello guest", ("127.0.0.1", real_port))
            .unwrap();
        let (port, src, data) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((port, data.as_slice()), (60001, &b"hello guest"[..]));
        assert!(
            src.ip().octets()[0] == 10,
            "the guest sees a virtual address, got {src}"
        );
        assert_eq!(src.port(), peer.local_addr().unwrap().port());
        // The guest answers the virtual address; the real peer hears it from the bridge's port.
        b.send(60001, src, b"hello peer").unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello peer");
        assert_eq!(from.port(), real_port);
        // Unknown virtual hosts and outside addresses are dropped, counted, never sent.
        assert!(b
            .send(
                60001,
                SocketAddrV4::new(Ipv4Addr::new(10, 77, 0, 200), 1),
                b"x"
            )
            .is_err());
        assert!(b
            .send(
                60001,
                SocketAddrV4::new(Ipv4Addr::new(8, 8, 8, 8), 53),
                b"x"
            )
            .is_err());
        assert_eq!(b.stats().dropped_unroutable.load(Ordering::Relaxed), 2);
        b.close_port(60001);
        assert!(b.send(60001, src, b"x").is_err());
    }

    #[test]
    fn fixed_ports_keep_their_number_and_map_remote_is_stable() {
        let (b, _rx) = bridge();
        // Find a free low port first (another test or program may hold any given one).
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        let free = probe.local_addr().unwrap().port();
        drop(probe);
        if free < 49152 {
            assert_eq!(b.open_port(free).unwrap(), free);
        }
        let server: SocketAddr = "127.0.0.1:2342".parse().unwrap();
        let v1 = b.map_remote(server).unwrap();
        let v2 = b.map_remote(server).unwrap();
        assert_eq!(v1, v2);
        assert_eq!(v1.port(), 2342);
        assert!(
            !v1.ip().is_loopback(),
            "127.0.0.1 inside a guest is its own kernel"
        );
    }
}
