//! Many hub-side peer connections on one UDP socket, driven by one thread: the dedicated
//! service's WebRTC edge.
//!
//! Owns the socket, a thread that reads it, and every peer connection made through it — each a
//! sans-IO `rtc` core ([`rtc::peer_connection::RTCPeerConnection`]) with no task, timer or socket
//! of its own. A [`crate::webrtc::peer::RtcLink`] is a webrtc 0.21 peer connection with a driver task, its
//! own sockets, and a reader and a writer task per channel: a game frame crossed about five task or
//! thread hops, and half of a dedicated room's CPU went to waking them. Here a frame makes one
//! hop each way:
//!
//! ```text
//! socket ─► mux thread: demux by address ─► core.handle_read ─► poll_read ─► LinkEvents::on_frame
//!                                                                            (the node, the kernel)
//! guest thread: HostIO::send_dgram ─► node ─► MuxLink::send ─► core ─► poll_write ─► socket
//! ```
//!
//! The wire is what a [`crate::webrtc::peer::RtcLink`] speaks: the same two negotiated channels (stream
//! ids [`DATAGRAM_STREAM`] and [`CONTROL_STREAM`]), the same certificate, an offer from this side,
//! so joiners need nothing new. This side only has host candidates: the socket's address (or, on
//! a wildcard bind, every interface's) plus any addresses it is told to advertise (a server
//! behind a 1:1 NAT). A dedicated hub is on a public address; players behind NAT reach it with
//! their server-reflexive or relayed candidates.
//!
//! # Demultiplexing
//!
//! A datagram from an address a link has answered goes to that link. From a new address only a
//! STUN binding request is taken: its USERNAME (`ours:theirs`) names the link by our ICE ufrag,
//! and the link's core checks its MESSAGE-INTEGRITY (the joiner's copy of our ICE password).
//! Anything else from an unknown address is dropped and counted.
//!
//! An address joins a link's table only when the core answers a binding request from it with a
//! success (so after the integrity check: a forged or replayed request with a known ufrag adds
//! nothing), and an address another live link holds is not taken from it. A link holds at most
//! [`MAX_LINK_ADDRS`] addresses and [`MAX_REMOTE_CANDIDATES`] candidates; past those, requests
//! from new addresses are dropped before the core sees them. A link whose peer stops
//! acknowledging (its SCTP data outstanding past [`SEND_QUEUE_CAP`]) is failed rather than left
//! to buffer without bound.
//!
//! # Who reads the socket
//!
//! [`RtcMux::bind`]: the mux thread, for every link of every room dealt to it. A frame for a
//! room then wakes two threads, the mux thread and the room's guest.
//! [`RtcMux::bind_pumped`]: one room's own socket, read by the room's guest thread while it
//! waits ([`RtcMux::socket_fd`], [`RtcMux::pump`]; the kernel's `HostIO::wait_fds`), as a LAN
//! room's port is: one wake per datagram. The mux thread then only runs the links' timers, and
//! reads the socket itself when it wakes for them (at least every [`MAX_SLEEP`]), so links live
//! on while no guest waits (between games).
//!
//! # Locks
//!
//! The table (addresses, ufrags, timers) and each link's core have their own mutexes, never held
//! together. Frames are handed to [`LinkEvents`] after the core's lock is released; the node may
//! send from inside that call.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::data_channel::RTCDataChannelId;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use crate::identity::Identity;
use crate::relay::wire::Channel;
use crate::signaling::{Candidate, Sdp, SdpKind};
use crate::webrtc::peer::{
    channel_init, path_of_pair, rtc_err, setting_engine, PathInfo, RtcError, RtcOptions,
};

/// What a link's owner hears from the mux thread.
pub trait LinkEvents: Send + Sync {
    /// A frame on one of the link's channels.
    fn on_frame(&self, channel: Channel, frame: &[u8]);
    /// The peer connection failed or closed, or a channel closed: the link is gone.
    fn on_closed(&self);
}

/// How far a link has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    Connecting,
    /// Connected, both channels open.
    Up,
    Failed(&'static str),
}

/// Figures for the whole mux.
#[derive(Debug, Default)]
pub struct MuxCounters {
    pub datagrams_in: AtomicU64,
    pub datagrams_out: AtomicU64,
    /// From an address no link knows, and not a binding request for one.
    pub unknown_dropped: AtomicU64,
    /// The socket refused a send (its buffer full).
    pub send_failed: AtomicU64,
    /// From a new address for a link that holds [`MAX_LINK_ADDRS`] already.
    pub addrs_refused: AtomicU64,
    /// Links failed because their peer stopped acknowledging ([`SEND_QUEUE_CAP`]).
    pub send_queue_overflows: AtomicU64,
}

/// Remote addresses one link may hold: a joiner's host, reflexive and relayed addresses, with
/// room to spare. More is a peer spraying source ports.
pub const MAX_LINK_ADDRS: usize = 8;
/// Remote candidates one link takes (before and after the answer).
pub const MAX_REMOTE_CANDIDATES: usize = 64;
/// Bytes a link's channel may have sent and not yet acknowledged: minutes of a game's frames
/// to a slow peer, so only a peer that stopped reading (or a flood) reaches it.
pub const SEND_QUEUE_CAP: usize = 1 << 20;
// A joiner fetching the room's files keeps this much asked for: it must fit, with the game's
// frames beside it.
const _: () = assert!(
    crate::relay::session::REQUESTS_IN_FLIGHT * crate::relay::session::REQUEST_LEN as usize
        <= SEND_QUEUE_CAP * 3 / 4
);

/// Grace between a link's close and the end of its core: SCTP may still resend the Bye.
const CLOSE_GRACE: Duration = Duration::from_millis(300);
/// The mux thread looks at the clock at least this often.
const MAX_SLEEP: Duration = Duration::from_millis(500);
/// Connectivity checks held per link until its answer is set.
const EARLY_CHECKS: usize = 16;
/// Largest datagram read (DTLS records from webrtc stay under 1200-1500 bytes).
const RECV_BUF: usize = 2048;

const SOCKET: mio::Token = mio::Token(0);
const WAKER: mio::Token = mio::Token(1);

/// The service's WebRTC edge: one socket, one thread, any number of links. Cheap to clone.
#[derive(Clone)]
pub struct RtcMux {
    inner: Arc<MuxInner>,
}

impl std::fmt::Debug for RtcMux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtcMux")
            .field("local_addr", &self.inner.local_addr)
            .finish_non_exhaustive()
    }
}

struct MuxInner {
    socket: mio::net::UdpSocket,
    local_addr: SocketAddr,
    /// Host candidates' addresses (with the socket's port).
    advertised: Vec<SocketAddr>,
    opts: RtcOptions,
    identity: Identity,
    table: Mutex<Table>,
    waker: mio::Waker,
    stop: AtomicBool,
    counters: Arc<MuxCounters>,
    /// Held by whoever reads the socket, so that one link's datagrams are fed in order.
    reading: Mutex<()>,
}

#[derive(Default)]
struct Table {
    links: HashMap<u64, Arc<Mutex<Core>>>,
    by_addr: HashMap<SocketAddr, u64>,
    by_ufrag: HashMap<String, u64>,
    /// Deadlines of the links' cores (possibly stale: checked when due).
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Links closing, and when their cores end.
    closing: Vec<(Instant, u64)>,
    /// Links with frames (or a close) the mux thread is to hand over: found during a send,
    /// which runs under the owner's lock and so cannot call it.
    undelivered: Vec<u64>,
    /// What the mux thread sleeps until (None: it is awake).
    armed: Option<Instant>,
    next_key: u64,
}

/// One link's core and bookkeeping.
struct Core {
    key: u64,
    pc: RTCPeerConnection,
    dgram: RTCDataChannelId,
    ctrl: RTCDataChannelId,
    ufrag: String,
    dgram_open: bool,
    ctrl_open: bool,
    connected: bool,
    /// Once closed or failed, nothing more is read from or written to the core.
    gone: bool,
    /// Frames that came before [`MuxLink::attach`].
    early: Vec<(Channel, Bytes)>,
    /// Frames (and a close) found during a send, for the mux thread to hand over.
    undelivered: Vec<(Channel, Bytes)>,
    close_undelivered: bool,
    handler: Option<Arc<dyn LinkEvents>>,
    status: tokio::sync::watch::Sender<LinkStatus>,
    /// Remote addresses this core sent to or heard from (registered in the table).
    addrs: Vec<SocketAddr>,
    /// The earliest deadline of this core in the table's heap.
    registered: Option<Instant>,
    /// Remote candidates that came before the answer.
    pending: Vec<Candidate>,
    /// Remote candidates taken, pending ones included ([`MAX_REMOTE_CANDIDATES`]).
    candidates_taken: usize,
    /// The joiner's first connectivity checks, which come before its answer (through the
    /// rendezvous) does; the core refuses them until it knows the joiner's ICE password, so
    /// they are held and fed with the answer instead of waiting for the joiner's retries.
    early_checks: Vec<(SocketAddr, Vec<u8>)>,
    have_remote: bool,
}

/// What one pass over a core produced, to act on after its lock is released.
#[derive(Default)]
struct Drained {
    frames: Vec<(Channel, Bytes)>,
    handler: Option<Arc<dyn LinkEvents>>,
    closed: bool,
    new_addrs: Vec<SocketAddr>,
    deadline: Option<Instant>,
}

impl MuxInner {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the core's frames and events, then sends what it has to send. Under the core's
    /// lock.
    ///
    /// Each `poll_*` call of an `rtc` peer connection sweeps its whole handler pipeline (eight
    /// handlers) before it pops, so the order and the number of calls are what this costs:
    /// reads first (one sweep, then `poll_data_read` pops without sweeping), events, writes
    /// last — taking a message or an event can queue a packet (a SACK, a DCEP ack), sending
    /// one queues neither. Only an event (a state change) can queue more reads, so only then
    /// is there another pass. A send (`reads` false) queues only packets.
    /// A datagram from the socket.
    fn on_datagram(&self, from: SocketAddr, data: &[u8], now: Instant) {
        self.counters.datagrams_in.fetch_add(1, Ordering::Relaxed);
        let found = {
            let t = self.table();
            let key = t
                .by_addr
                .get(&from)
                .copied()
                .or_else(|| stun_username_ufrag(data).and_then(|u| t.by_ufrag.get(u).copied()));
            key.and_then(|k| t.links.get(&k).map(|c| (k, c.clone())))
        };
        let Some((key, core)) = found else {
            self.counters
                .unknown_dropped
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        let d = {
            let mut c = lock(&core);
            if c.gone {
                return;
            }
            if !c.have_remote {
                if c.early_checks.len() < EARLY_CHECKS && stun_username_ufrag(data).is_some() {
                    c.early_checks.push((from, data.to_vec()));
                }
                return;
            }
            // The address itself is registered when the core answers it (`drain`).
            if c.addrs.len() >= MAX_LINK_ADDRS && !c.addrs.contains(&from) {
                self.counters.addrs_refused.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.guarded(&mut c, |mux, c| {
                mux.feed(c, from, data, now);
                mux.drain(c, true)
            })
        };
        self.settle(key, &core, d, false);
    }

    /// Runs `f`: a call into a link's core and the pass after it. The core is another crate's
    /// code fed from the network; if it panics, that one link fails and this edge (every room
    /// dealt to it) goes on.
    fn guarded(&self, c: &mut Core, f: impl FnOnce(&Self, &mut Core) -> Drained) -> Drained {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self, c))) {
            Ok(d) => d,
            Err(_) => {
                tracing::error!(
                    link = c.key,
                    "the WebRTC stack panicked on a link; closing it"
                );
                c.fail("the WebRTC stack failed");
                Drained {
                    closed: true,
                    handler: c.handler.clone(),
                    ..Default::default()
                }
            }
        }
    }

    fn feed(&self, c: &mut Core, from: SocketAddr, data: &[u8], now: Instant) {
        let r = c.pc.handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.local_addr,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(data),
        });
        if let Err(e) = r {
            tracing::debug!(%from, "mux read: {e}");
        }
    }

    /// Reads the socket until it is empty (unless another thread is reading it).
    fn read_socket(&self) -> usize {
        let Ok(_reading) = self.reading.try_lock() else {
            return 0;
        };
        let mut buf = [0u8; RECV_BUF];
        let mut read = 0;
        loop {
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    read += 1;
                    self.on_datagram(from, &buf[..n], Instant::now());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // ICMP errors surface here on Linux (ECONNREFUSED from a gone peer): go on.
                Err(e) => {
                    tracing::debug!("WebRTC edge: recv: {e}");
                    continue;
                }
            }
        }
    }

    /// Due timers and closing links.
    fn on_clock(&self, now: Instant) {
        let mut due = Vec::new();
        let mut ending = Vec::new();
        let undelivered;
        {
            let mut t = self.table();
            undelivered = std::mem::take(&mut t.undelivered);
            while let Some(Reverse((at, key))) = t.timers.peek().copied() {
                if at > now {
                    break;
                }
                t.timers.pop();
                if let Some(c) = t.links.get(&key) {
                    due.push((key, at, c.clone()));
                }
            }
            let closing = std::mem::take(&mut t.closing);
            for (at, key) in closing {
                if at <= now {
                    ending.push(key);
                } else {
                    t.closing.push((at, key));
                }
            }
        }
        for (key, at, core) in due {
            let d = {
                let mut c = lock(&core);
                if c.registered == Some(at) {
                    c.registered = None;
                }
                if c.gone {
                    continue;
                }
                self.guarded(&mut c, |mux, c| {
                    if c.pc.poll_timeout().is_some_and(|d| d <= now) {
                        if let Err(e) = c.pc.handle_timeout(now) {
                            tracing::debug!("mux timeout: {e}");
                        }
                    }
                    mux.drain(c, true)
                })
            };
            self.settle(key, &core, d, false);
        }
        for key in undelivered {
            let Some(core) = self.table().links.get(&key).cloned() else {
                continue;
            };
            let (frames, closed, handler) = {
                let mut c = lock(&core);
                let closed = std::mem::take(&mut c.close_undelivered);
                (
                    std::mem::take(&mut c.undelivered),
                    closed,
                    c.handler.clone(),
                )
            };
            if let Some(h) = handler {
                for (channel, frame) in &frames {
                    h.on_frame(*channel, frame);
                }
                if closed {
                    h.on_closed();
                }
            }
        }
        for key in ending {
            self.remove(key);
        }
    }

    fn remove(&self, key: u64) {
        let core = {
            let mut t = self.table();
            let Some(core) = t.links.remove(&key) else {
                return;
            };
            t.by_addr.retain(|_, k| *k != key);
            t.by_ufrag.retain(|_, k| *k != key);
            core
        };
        let mut c = lock(&core);
        if !c.gone {
            let _ = self.guarded(&mut c, |mux, c| {
                let _ = c.pc.close();
                // The close's own packets (DTLS close_notify), then nothing more.
                while let Some(w) = c.pc.poll_write() {
                    let _ = mux.socket.send_to(&w.message, w.transport.peer_addr);
                }
                Drained::default()
            });
            c.gone = true;
        }
        c.handler = None;
    }

    fn next_deadline(&self) -> Option<Instant> {
        let t = self.table();
        let timer = t.timers.peek().map(|r| r.0 .0);
        let closing = t.closing.iter().map(|c| c.0).min();
        match (timer, closing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Core {
    fn fail(&mut self, why: &'static str) {
        if !self.gone {
            self.gone = true;
            self.status.send_if_modified(|s| {
                let changed = *s != LinkStatus::Failed(why);
                *s = LinkStatus::Failed(why);
                changed
            });
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RtcMux {
    /// Binds `bind` and starts the mux thread. `extra` are more addresses to advertise (with
    /// the socket's port): a server behind a 1:1 NAT names its public address here. `opts`
    /// gives the ICE timeouts; its identity is the certificate every link presents.
    pub fn bind(
        bind: SocketAddr,
        extra: &[IpAddr],
        opts: &RtcOptions,
        identity: Identity,
    ) -> std::io::Result<RtcMux> {
        Self::bind_with(bind, extra, opts, identity, Arc::default(), false)
    }

    /// Like [`RtcMux::bind`], for one room: its owner reads the socket ([`RtcMux::pump`] when
    /// [`RtcMux::socket_fd`] is readable), the mux thread runs timers. `counters` may be shared
    /// by many such muxes (one figure for the service).
    pub fn bind_pumped(
        bind: SocketAddr,
        extra: &[IpAddr],
        opts: &RtcOptions,
        identity: Identity,
        counters: Arc<MuxCounters>,
    ) -> std::io::Result<RtcMux> {
        Self::bind_with(bind, extra, opts, identity, counters, true)
    }

    fn bind_with(
        bind: SocketAddr,
        extra: &[IpAddr],
        opts: &RtcOptions,
        identity: Identity,
        counters: Arc<MuxCounters>,
        pumped: bool,
    ) -> std::io::Result<RtcMux> {
        let std_socket = std::net::UdpSocket::bind(bind)?;
        std_socket.set_nonblocking(true)?;
        let local_addr = std_socket.local_addr()?;
        let mut socket = mio::net::UdpSocket::from_std(std_socket);
        let poll = mio::Poll::new()?;
        if !pumped {
            poll.registry()
                .register(&mut socket, SOCKET, mio::Interest::READABLE)?;
        }
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let mut advertised = host_addresses(local_addr);
        for ip in extra {
            let a = SocketAddr::new(*ip, local_addr.port());
            if !advertised.contains(&a) {
                advertised.push(a);
            }
        }
        let inner = Arc::new(MuxInner {
            socket,
            local_addr,
            advertised,
            opts: opts.clone(),
            identity,
            table: Mutex::new(Table::default()),
            waker,
            stop: AtomicBool::new(false),
            counters,
            reading: Mutex::new(()),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("rtc-mux".into())
            .spawn(move || run(poll, weak))?;
        tracing::info!(%local_addr, advertised = ?inner.advertised, "WebRTC edge listening");
        Ok(RtcMux { inner })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The socket, for a [`RtcMux::bind_pumped`] owner to wait on.
    pub fn socket_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.inner.socket.as_raw_fd()
    }

    /// Reads and handles what waits on the socket, without blocking; returns the datagrams
    /// read. For a [`RtcMux::bind_pumped`] owner (any thread holding no lock its links' frame
    /// handlers take); nothing if another thread is reading it now.
    pub fn pump(&self) -> usize {
        self.inner.read_socket()
    }

    pub fn counters(&self) -> &MuxCounters {
        &self.inner.counters
    }

    /// Links open now (connecting, up or closing).
    pub fn links(&self) -> usize {
        self.inner.table().links.len()
    }

    /// A new link and its offer. Our candidates are in [`MuxLink::local_candidates`]; trickle
    /// them after the offer.
    pub fn new_link(&self) -> Result<(MuxLink, Sdp), RtcError> {
        let now = Instant::now();
        let config = RTCConfigurationBuilder::new()
            .with_certificates(vec![self.inner.identity.certificate()])
            .build();
        let settings = setting_engine(&self.inner.opts);
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(config)
            .with_setting_engine(settings)
            .build(now)
            .map_err(rtc_err)?;
        let (label, init) = channel_init(Channel::Datagram);
        let dgram = pc
            .create_data_channel(label, Some(init))
            .map_err(rtc_err)?
            .id();
        let (label, init) = channel_init(Channel::Control);
        let ctrl = pc
            .create_data_channel(label, Some(init))
            .map_err(rtc_err)?
            .id();
        let offer = pc.create_offer(None).map_err(rtc_err)?;
        pc.set_local_description(now, offer.clone())
            .map_err(rtc_err)?;
        let ufrag = offer
            .sdp
            .lines()
            .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
            .ok_or(RtcError::Failed("no ICE ufrag in our offer"))?
            .to_owned();
        let mut candidates = Vec::new();
        for a in &self.inner.advertised {
            let c = CandidateHostConfig {
                base_config: CandidateConfig {
                    network: "udp".to_owned(),
                    address: a.ip().to_string(),
                    port: a.port(),
                    component: 1,
                    ..Default::default()
                },
                ..Default::default()
            }
            .new_candidate_host()
            .map_err(rtc_err)?;
            let init = RTCIceCandidate::from(&c).to_json().map_err(rtc_err)?;
            pc.add_local_candidate(init.clone()).map_err(rtc_err)?;
            candidates.push(Candidate {
                candidate: init.candidate,
                sdp_mid: init.sdp_mid,
                sdp_mline_index: init.sdp_mline_index,
            });
        }
        pc.add_local_candidate(RTCIceCandidateInit::default())
            .map_err(rtc_err)?;
        let (status, status_rx) = tokio::sync::watch::channel(LinkStatus::Connecting);
        let key;
        let core = {
            let mut t = self.inner.table();
            t.next_key += 1;
            key = t.next_key;
            let core = Arc::new(Mutex::new(Core {
                key,
                pc,
                dgram,
                ctrl,
                ufrag: ufrag.clone(),
                dgram_open: false,
                ctrl_open: false,
                connected: false,
                gone: false,
                early: Vec::new(),
                undelivered: Vec::new(),
                close_undelivered: false,
                handler: None,
                status,
                addrs: Vec::new(),
                registered: None,
                pending: Vec::new(),
                candidates_taken: 0,
                early_checks: Vec::new(),
                have_remote: false,
            }));
            t.links.insert(key, core.clone());
            t.by_ufrag.insert(ufrag, key);
            core
        };
        let link = MuxLink {
            mux: Arc::downgrade(&self.inner),
            core,
            key,
            status: status_rx,
            candidates,
            closed: AtomicBool::new(false),
        };
        Ok((
            link,
            Sdp {
                kind: SdpKind::Offer,
                sdp: offer.sdp,
            },
        ))
    }
}

impl Drop for MuxInner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The mux thread: reads the socket, runs the cores' timers. Holds only a weak reference: the
/// last [`RtcMux`] and [`MuxLink`] gone, it ends.
fn run(mut poll: mio::Poll, weak: Weak<MuxInner>) {
    let mut events = mio::Events::with_capacity(64);
    loop {
        let timeout = {
            let Some(inner) = weak.upgrade() else { return };
            if inner.stop.load(Ordering::Relaxed) {
                return;
            }
            let now = Instant::now();
            let until = inner
                .next_deadline()
                .map_or(now + MAX_SLEEP, |d| d.min(now + MAX_SLEEP));
            inner.table().armed = Some(until);
            // A deadline registered between next_deadline and here woke the waker (armed was
            // None meanwhile, which wakes no one), so look once more.
            let until = inner.next_deadline().map_or(until, |d| d.min(until));
            until.saturating_duration_since(now)
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                tracing::error!("WebRTC edge: poll failed: {e}");
                return;
            }
        }
        let Some(inner) = weak.upgrade() else { return };
        inner.table().armed = None;
        // Edge-triggered: read until the socket is empty. A pumped socket's owner reads it,
        // but not while no guest waits: what is there when the timers wake this thread is
        // read here.
        inner.read_socket();
        inner.on_clock(Instant::now());
    }
}

mod addr;
mod link;
mod pipeline;

pub use addr::stun_username_ufrag;
use addr::{host_addresses, is_binding_success};
pub use link::MuxLink;

#[cfg(test)]
mod tests;
