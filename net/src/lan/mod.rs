//! The LAN transport: a NAT at the kernel's edge that puts a guest's UDP sockets on the real
//! network, speaking Chocolate Doom's own wire protocol so stock Chocolate Doom players and
//! servers on the LAN interoperate with doomlink in both directions.
//!
//! Owns one real UDP socket per port a guest binds (the guest's server port keeps its number on
//! the LAN, 2342 by default, so native clients find it; ephemeral client ports get an ephemeral
//! real port, so several doomlink instances share one machine), and a receive thread per socket
//! unless the port is pumped (below).
//! Addresses are translated by [`NatTable`]: a guest sees each real LAN host as a virtual
//! 10.77.0.x address, never the real one (inside a guest 127.0.0.1 is its own kernel). A port
//! opened with [`LanBridge::open_port_pumped`] has no thread: its owner reads it with
//! [`LanBridge::pump`] (a dedicated room's guest thread, while it waits).
//! Guest-visible virtual addresses never reach the wire.
//!
//! With [`LanConfig::side`] set, the bridge also speaks doomlink's side protocol
//! ([`crate::lan::side`]: chat and ping between doomlink players) on the same sockets: frames with
//! its magic are taken out before anything reaches the guest (with or without `side`: they are
//! never the game's), the guest's unicast traffic tells the side state who its peers are (and
//! the bytes each sent, which bound what the side protocol may send it), and a timer thread
//! sends the pings that are due.
//!
//! [`files`] is the game's files for joiners who lack them: TCP on the game's port number, beside
//! the bridge, not through it. A native client whose WADs differ is told which files the game
//! plays by [`notice`], once the host names them ([`LanBridge::name_files_to_native_clients`]).

pub mod files;
pub mod nat;
pub mod notice;
pub mod query;
pub mod side;

use nat::{NatConfig, NatError, NatTable, Outbound};
use side::{
    is_side_frame, LanSide, RosterEntry, SideConfig, SideError, SideOutput, SidePeerStatus,
};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Duration;
use web_time::Instant;

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
    /// Speak doomlink's side protocol (chat, ping) with the doomlink players among the peers;
    /// None: side frames are only dropped.
    pub side: Option<SideConfig>,
}

impl Default for LanConfig {
    fn default() -> Self {
        LanConfig {
            bind_ip: Ipv4Addr::UNSPECIFIED,
            broadcast_ip: Ipv4Addr::BROADCAST,
            fixed_port_below: 49152,
            nat: NatConfig::default(),
            side: None,
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
    #[error(transparent)]
    Side(#[from] SideError),
    #[error("this bridge does not speak the side protocol")]
    NoSide,
}

/// A chat line heard or said over the side protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideChat {
    pub from: String,
    pub text: String,
    /// Ours.
    pub mine: bool,
}

/// A side-protocol peer with the address the guest sees it at.
#[derive(Debug, Clone, PartialEq)]
pub struct LanPeer {
    pub side: SidePeerStatus,
    /// Its virtual address, if the NAT maps it.
    pub guest_addr: Option<Ipv4Addr>,
}

/// Chat lines the bridge keeps.
pub const CHAT_KEEP: usize = 100;

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
    /// Side-protocol frames received (never given to the guest), and those that did not parse.
    pub side_frames_in: AtomicU64,
    pub side_frames_bad: AtomicU64,
    pub side_frames_out: AtomicU64,
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
    side: Option<Mutex<LanSide>>,
    /// Chat heard and said, the newest [`CHAT_KEEP`] lines, and how many were ever added.
    chat: Mutex<(VecDeque<SideChat>, u64)>,
    notice: Mutex<Option<notice::WadNotice>>,
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

/// How often the side protocol's timer thread runs (pings are due once a second).
const SIDE_TICK: Duration = Duration::from_millis(50);

impl LanBridge {
    pub fn new(cfg: LanConfig, sink: Arc<dyn GuestSink>) -> Result<Self, LanError> {
        let nat = NatTable::new(cfg.nat.clone())?;
        let side = cfg
            .side
            .clone()
            .map(|c| Mutex::new(LanSide::new(c, Instant::now())));
        let bridge = LanBridge {
            inner: Arc::new(Inner {
                cfg,
                nat: Mutex::new(nat),
                ports: Mutex::new(HashMap::new()),
                sink,
                stats: LanStats::default(),
                side,
                chat: Mutex::new((VecDeque::new(), 0)),
                notice: Mutex::new(None),
            }),
        };
        if bridge.inner.side.is_some() {
            // Holds the bridge weakly: it ends when the bridge is gone.
            let weak: Weak<Inner> = Arc::downgrade(&bridge.inner);
            std::thread::Builder::new()
                .name("lan-side".into())
                .spawn(move || loop {
                    std::thread::sleep(SIDE_TICK);
                    let Some(inner) = weak.upgrade() else { break };
                    let b = LanBridge { inner };
                    b.with_side(|s| s.handle_timeout(Instant::now()));
                })
                .map_err(|source| LanError::Bind {
                    ip: bridge.inner.cfg.bind_ip,
                    port: 0,
                    source,
                })?;
        }
        Ok(bridge)
    }

    /// Runs `f` on the side state (if any), then carries out what it yielded.
    fn with_side<R>(&self, f: impl FnOnce(&mut LanSide) -> R) -> Option<R> {
        let side = self.inner.side.as_ref()?;
        let mut outputs = Vec::new();
        let r = {
            let mut s = lock(side);
            let r = f(&mut s);
            while let Some(o) = s.poll_output() {
                outputs.push(o);
            }
            r
        };
        for o in outputs {
            match o {
                SideOutput::Send {
                    local_port,
                    to,
                    frame,
                } => {
                    let socket = lock(&self.inner.ports)
                        .get(&local_port)
                        .map(|p| p.socket.clone());
                    // A failed side send is like a lost datagram: the ping is counted lost.
                    if let Some(sock) = socket {
                        if sock.send_to(&frame, to).is_ok() {
                            self.inner
                                .stats
                                .side_frames_out
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                SideOutput::Chat { from, text } => self.push_chat(SideChat {
                    from,
                    text,
                    mine: false,
                }),
            }
        }
        Some(r)
    }

    fn push_chat(&self, line: SideChat) {
        let mut c = lock(&self.inner.chat);
        if c.0.len() == CHAT_KEEP {
            c.0.pop_front();
        }
        c.0.push_back(line);
        c.1 += 1;
    }

    /// Our name in the side protocol, if the bridge speaks it.
    pub fn side_name(&self) -> Option<String> {
        self.inner.side.as_ref().map(|s| lock(s).name().to_string())
    }

    /// The side protocol's peers with their guest-visible addresses (empty without `side`).
    pub fn side_peers(&self) -> Vec<LanPeer> {
        let Some(side) = self.inner.side.as_ref() else {
            return Vec::new();
        };
        let peers = lock(side).peers();
        let nat = lock(&self.inner.nat);
        peers
            .into_iter()
            .map(|p| LanPeer {
                guest_addr: nat.virtual_of(p.addr.ip()),
                side: p,
            })
            .collect()
    }

    /// A client's view of the other players, from its server's roster (empty for a host).
    pub fn side_roster(&self) -> Vec<RosterEntry> {
        self.inner
            .side
            .as_ref()
            .map(|s| lock(s).roster().to_vec())
            .unwrap_or_default()
    }

    /// Sends a chat line to the doomlink players (see [`LanSide::send_chat`]) and keeps it.
    pub fn send_chat(&self, text: &str) -> Result<(), LanError> {
        let now = Instant::now();
        self.with_side(|s| s.send_chat(now, text))
            .ok_or(LanError::NoSide)??;
        self.push_chat(SideChat {
            from: self.side_name().unwrap_or_default(),
            text: text.to_string(),
            mine: true,
        });
        Ok(())
    }

    /// The chat so far (the newest [`CHAT_KEEP`] lines), and how many lines were ever added.
    pub fn chat(&self) -> (Vec<SideChat>, u64) {
        let c = lock(&self.inner.chat);
        (c.0.iter().cloned().collect(), c.1)
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
        self.open(guest_port, true)
    }

    /// Like [`LanBridge::open_port`], but with no receive thread: the socket is non-blocking and
    /// the owner reads it with [`LanBridge::pump`] when [`LanBridge::port_fd`] is readable (a
    /// dedicated room's guest thread, as it waits: `HostIO::wait_fd`).
    pub fn open_port_pumped(&self, guest_port: u16) -> Result<u16, LanError> {
        self.open(guest_port, false)
    }

    fn open(&self, guest_port: u16, threaded: bool) -> Result<u16, LanError> {
        let ip = self.inner.cfg.bind_ip;
        let want = if guest_port < self.inner.cfg.fixed_port_below {
            guest_port
        } else {
            0
        };
        let bind_err = |source| LanError::Bind {
            ip,
            port: want,
            source,
        };
        let socket = UdpSocket::bind((ip, want)).map_err(bind_err)?;
        let _ = socket.set_broadcast(true);
        if threaded {
            socket.set_read_timeout(Some(RECV_POLL)).map_err(bind_err)?;
        } else {
            socket.set_nonblocking(true).map_err(bind_err)?;
        }
        let real_port = socket.local_addr().map(|a| a.port()).unwrap_or(want);
        let socket = Arc::new(socket);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = if threaded {
            let (socket, stop, bridge) = (socket.clone(), stop.clone(), self.clone());
            Some(
                std::thread::Builder::new()
                    .name(format!("lan-port-{guest_port}"))
                    .spawn(move || bridge.receive_loop(guest_port, &socket, &stop))
                    .map_err(bind_err)?,
            )
        } else {
            None
        };
        lock(&self.inner.ports).insert(
            guest_port,
            PortSocket {
                socket,
                stop,
                thread,
            },
        );
        Ok(real_port)
    }

    /// The raw fd of `guest_port`'s real socket, to wait on (see
    /// [`LanBridge::open_port_pumped`]). It is closed by [`LanBridge::close_port`].
    #[cfg(unix)]
    pub fn port_fd(&self, guest_port: u16) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        lock(&self.inner.ports)
            .get(&guest_port)
            .map(|p| p.socket.as_raw_fd())
    }

    /// Receives every datagram waiting on a pumped port, without blocking, and handles each as
    /// its receive thread would; returns how many were read.
    pub fn pump(&self, guest_port: u16) -> usize {
        let Some(socket) = lock(&self.inner.ports)
            .get(&guest_port)
            .map(|p| p.socket.clone())
        else {
            return 0;
        };
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 65536]);
        }
        BUF.with_borrow_mut(|buf| {
            let mut read = 0;
            loop {
                match socket.recv_from(buf) {
                    Ok((n, from)) => {
                        read += 1;
                        self.on_datagram(guest_port, from, &buf[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return read,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // ICMP port-unreachable from an earlier send: collected, not fatal.
                    Err(_) => {}
                }
            }
        })
    }

    /// The guest closed `guest_port`.
    pub fn close_port(&self, guest_port: u16) {
        let removed = lock(&self.inner.ports).remove(&guest_port);
        drop(removed); // joins the receive thread outside the lock
        if let Some(side) = &self.inner.side {
            lock(side).port_closed(guest_port);
        }
    }

    /// From now on, a native client whose WADs differ from the game's is told, once, that the
    /// game plays `files` (the IWAD's and PWADs' names, in load order).
    pub fn name_files_to_native_clients(&self, files: &[String]) {
        *lock(&self.inner.notice) = Some(notice::WadNotice::new(files));
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
        if let (Outbound::Unicast(real), Some(side)) = (out, &self.inner.side) {
            lock(side).guest_sent(Instant::now(), src_port, real);
        }
        let told = match (out, lock(&self.inner.notice).as_mut()) {
            (Outbound::Unicast(real), Some(n)) => n.outbound(real, data),
            _ => None,
        };
        let sent = socket.send_to(data, to);
        if let Some(message) = told {
            let _ = socket.send_to(&message, to);
        }
        match sent {
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
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => self.on_datagram(guest_port, from, &buf[..n]),
                // Timeouts (to look at `stop`), and ICMP port-unreachable from an earlier send,
                // which shows up here on Linux: not fatal.
                Err(_) => continue,
            }
        }
    }

    /// A datagram from the LAN on `guest_port`'s socket: side frames to the side state, the
    /// rest through the NAT to the guest.
    fn on_datagram(&self, guest_port: u16, from: SocketAddr, data: &[u8]) {
        if is_side_frame(data) {
            self.inner
                .stats
                .side_frames_in
                .fetch_add(1, Ordering::Relaxed);
            let r = self.with_side(|s| s.handle_frame(Instant::now(), guest_port, from, data));
            if matches!(r, Some(Err(_))) {
                self.inner
                    .stats
                    .side_frames_bad
                    .fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        if let Some(side) = &self.inner.side {
            lock(side).guest_received(Instant::now(), from, data.len());
        }
        if let Some(n) = lock(&self.inner.notice).as_mut() {
            n.inbound(from, data);
        }
        let src = match lock(&self.inner.nat).inbound(Instant::now(), from) {
            Ok(v) => v,
            Err(_) => return,
        };
        self.inner
            .stats
            .datagrams_in
            .fetch_add(1, Ordering::Relaxed);
        self.inner
            .stats
            .bytes_in
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.inner.sink.deliver(guest_port, src, data);
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
    fn a_pumped_port_is_read_only_by_its_pump() {
        let (b, rx) = bridge();
        let real_port = b.open_port_pumped(60002).unwrap();
        assert!(b.port_fd(60002).is_some());
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..3u8 {
            peer.send_to(&[b'a' + i], ("127.0.0.1", real_port)).unwrap();
        }
        // No thread reads it: the datagrams wait in the socket until pumped.
        std::thread::sleep(Duration::from_millis(100));
        assert!(rx.try_recv().is_err());
        let mut pumped = 0;
        for _ in 0..100 {
            pumped += b.pump(60002);
            if pumped == 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(pumped, 3);
        let got: Vec<Vec<u8>> = rx
            .try_iter()
            .map(|(port, _, d)| {
                assert_eq!(port, 60002);
                d
            })
            .collect();
        assert_eq!(got, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(b.pump(60002), 0, "nothing left: pump does not block");
        b.close_port(60002);
        assert_eq!(b.port_fd(60002), None);
        assert_eq!(b.pump(60002), 0);
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

    fn side_bridge(
        name: &str,
        role: side::SideRole,
    ) -> (LanBridge, mpsc::Receiver<(u16, SocketAddrV4, Vec<u8>)>) {
        let (tx, rx) = mpsc::channel();
        let mut side = SideConfig::new(name, role);
        side.ping_interval = Duration::from_millis(200);
        side.pong_timeout = Duration::from_millis(500);
        let cfg = LanConfig {
            bind_ip: Ipv4Addr::LOCALHOST,
            side: Some(side),
            ..Default::default()
        };
        (
            LanBridge::new(cfg, Arc::new(ChanSink(Mutex::new(tx)))).unwrap(),
            rx,
        )
    }

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Two doomlink bridges on 127.0.0.1 find each other from the guests' own traffic, measure
    /// an RTT and chat; side frames never reach a guest; a plain UDP peer (a native Chocolate
    /// Doom) gets a few probes and then nothing.
    #[test]
    fn side_protocol_between_two_bridges_and_a_silent_peer() {
        use side::{PeerKind, SideRole};
        let (host, host_rx) = side_bridge("Host", SideRole::Host);
        let (client, client_rx) = side_bridge("Client", SideRole::Client);
        let host_real = host.open_port(60010).unwrap();
        client.open_port(60011).unwrap();
        let server = client
            .map_remote(SocketAddr::from(([127, 0, 0, 1], host_real)))
            .unwrap();
        client.send(60011, server, b"\x00\x00syn").unwrap();
        let (_, from, data) = host_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(data, b"\x00\x00syn");
        host.send(60010, from, b"\x00\x00ack").unwrap();
        wait_for("both sides measure an RTT", || {
            let ok = |b: &LanBridge| {
                b.side_peers()
                    .first()
                    .is_some_and(|p| p.side.kind == PeerKind::Doomlink && p.side.rtt.is_some())
            };
            ok(&host) && ok(&client)
        });
        let hp = &host.side_peers()[0];
        assert_eq!(hp.side.name.as_deref(), Some("Client"));
        assert_eq!(hp.guest_addr, Some(*from.ip()));
        assert!(hp.side.rtt.unwrap() < Duration::from_millis(500));
        let cp = &client.side_peers()[0];
        assert_eq!(cp.guest_addr, Some(*server.ip()));
        assert_eq!((cp.side.dgrams_out, cp.side.dgrams_in), (1, 1));
        client.send_chat("hello there").unwrap();
        wait_for("the chat line arrives", || host.chat().1 == 1);
        assert_eq!(
            host.chat().0,
            vec![SideChat {
                from: "Client".into(),
                text: "hello there".into(),
                mine: false
            }]
        );
        assert!(client.chat().0[0].mine);
        assert!(matches!(
            client.send_chat("\u{1b}[2J"),
            Err(LanError::Side(_))
        ));
        // The guests saw only the game's datagrams.
        let only_game = |rx: &mpsc::Receiver<(u16, SocketAddrV4, Vec<u8>)>| {
            rx.try_iter().all(|(_, _, d)| !is_side_frame(&d))
        };
        assert!(only_game(&host_rx) && only_game(&client_rx));
        assert!(host.stats().side_frames_in.load(Ordering::Relaxed) >= 2);

        // A native peer: the host's guest talks to it and it to the guest (which is what lets
        // the host send it probes); it never answers one.
        let native = UdpSocket::bind("127.0.0.1:0").unwrap();
        native
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        native
            .send_to(b"\x00\x00syn", ("127.0.0.1", host_real))
            .unwrap();
        let (_, nfrom, _) = host_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let started = Instant::now();
        let mut probes = 0;
        let mut buf = [0u8; 512];
        while started.elapsed() < Duration::from_secs(3) {
            host.send(60010, nfrom, b"\x00\x06game").unwrap();
            native
                .send_to(b"\x00\x06game tics", ("127.0.0.1", host_real))
                .unwrap();
            while let Ok((n, _)) = native.recv_from(&mut buf) {
                if is_side_frame(&buf[..n]) {
                    probes += 1;
                }
            }
        }
        assert_eq!(probes, 3, "a native peer sees max_unanswered probes");
        let silent = host
            .side_peers()
            .into_iter()
            .find(|p| p.side.addr == native.local_addr().unwrap())
            .unwrap();
        assert_eq!(
            (silent.side.kind, silent.side.rtt),
            (PeerKind::Silent, None)
        );
    }
}
