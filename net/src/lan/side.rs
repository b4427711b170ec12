//! doomlink's side protocol on the LAN: chat and ping between doomlink players, carried on the
//! LAN bridge's own real UDP sockets next to Chocolate Doom's packets.
//!
//! Owns the side frames' byte layout ([`SideMsg`]: strict parse, checked emit) and the sans-IO
//! state ([`LanSide`]: inputs with a timestamp, outputs polled, like [`crate::relay::session`]). The
//! bridge ([`crate::lan`]) demultiplexes by the magic before anything reaches the guest, feeds the state
//! with the guest's own traffic (who the game talks to) and sends what it yields.
//!
//! # Why a magic, and why it is safe with stock Chocolate Doom
//!
//! On the LAN the wire is Chocolate Doom's own protocol, and a native Chocolate Doom may be on
//! the other end. Every Chocolate Doom packet starts with a big-endian u16 type: a small value
//! (`NET_PACKET_TYPE_*`, 0..=16 in 3.0's net_defs.h), possibly with the reliable bit 0x8000. A
//! side frame starts with the four bytes `DLNK`: read as that u16 it is 0x444C, which is no type
//! with or without the reliable bit. A native peer that gets one anyway (we probe it a few times
//! before we know it is native) ignores it: `NET_SV_Packet` and `NET_CL_ParsePacket` fall to their
//! `default:` branch for unknown types, and `NET_Conn_Packet` only looks deeper at packets with
//! the reliable bit.
//!
//! # Frames
//!
//! ```text
//! "DLNK" | version (1) | type | body            (integers big-endian, strings UTF-8)
//! type 1 Ping  body: u32 seq, u64 time_us, str8 name    (the sender's name)
//! type 2 Pong  body: u32 seq, u64 time_us, str8 name    (seq and time echo the Ping's;
//!                                                        name is the answerer's)
//! type 3 Chat  body: str8 name, str16 text              (name: who wrote the line)
//! type 4 Roster (host → client) body: u8 n, n × (str8 name, u32 rtt_us, u8 loss_pct)
//!                                     (the host's other doomlink clients and their RTT and
//!                                      loss to the host; u32::MAX / 255: not known yet)
//! ```
//!
//! A roster lists at most [`MAX_ROSTER`] players. Names are 1..=[`MAX_NAME_LEN`] bytes, chat text 1..=[`MAX_TEXT_LEN`]; neither may hold control
//! characters (they end up on terminals and in the window). Short, oversized, unknown-version,
//! unknown-type, bad-UTF-8 and trailing-byte input is rejected with a [`SideFrameError`].
//!
//! # Topology
//!
//! A star, as Chocolate Doom's own game: the state learns its peers from the guest's unicast
//! sends (a client's guest talks to its server only; a server's guest to each client) and from
//! side frames. Each new peer is probed with a Ping every [`SideConfig::ping_interval`]; one
//! that answers nothing after [`SideConfig::max_unanswered`] pings is taken for a native
//! Chocolate Doom ([`PeerKind::Silent`]) and never sent anything again. Chat goes to the peers
//! that answered; the host ([`SideRole::Host`]) relays a client's chat to its other doomlink
//! clients.

use crate::relay::stats::PingTracker;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The first four bytes of every side frame.
pub const MAGIC: [u8; 4] = *b"DLNK";
/// The side protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// Magic, version, type.
pub const HEADER_LEN: usize = 6;
/// Player names, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 32;
/// A chat line, in bytes of UTF-8 (the app's `MAX_CHAT_BYTES`).
pub const MAX_TEXT_LEN: usize = 200;
/// Players in a roster (Chocolate Doom games have at most 8, plus observers).
pub const MAX_ROSTER: usize = 16;
/// The largest valid side frame (a full roster of the longest names; a chat line is shorter).
pub const MAX_FRAME_LEN: usize = HEADER_LEN + 1 + MAX_ROSTER * (1 + MAX_NAME_LEN + 4 + 1);
/// Peers the state tracks at most (more than any Chocolate Doom game has: 8 players plus
/// observers); a flood of pings from new addresses cannot grow it beyond this.
pub const MAX_PEERS: usize = 64;

mod ty {
    pub const PING: u8 = 1;
    pub const PONG: u8 = 2;
    pub const CHAT: u8 = 3;
    pub const ROSTER: u8 = 4;
}

/// True if `bytes` starts with the side protocol's magic (then it is not for the guest).
pub fn is_side_frame(bytes: &[u8]) -> bool {
    bytes.len() >= MAGIC.len() && bytes[..MAGIC.len()] == MAGIC
}

/// One side frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideMsg {
    Ping {
        seq: u32,
        time_us: u64,
        name: String,
    },
    Pong {
        seq: u32,
        time_us: u64,
        name: String,
    },
    Chat {
        name: String,
        text: String,
    },
    Roster {
        entries: Vec<RosterEntry>,
    },
}

/// One player in a host's roster: a client of the host, as the host measures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub name: String,
    /// Smoothed RTT between that player and the host, in µs (None: not measured yet).
    pub rtt_us: Option<u32>,
    /// Recent ping loss between that player and the host, in percent (None: not known yet).
    pub loss_pct: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SideFrameError {
    #[error("not a doomlink side frame (no magic)")]
    NotSide,
    #[error("side frame of {0} bytes is larger than any valid one")]
    Oversized(usize),
    #[error("side frame ends inside its {0}")]
    Truncated(&'static str),
    #[error("side protocol version {0} is not spoken here")]
    UnsupportedVersion(u8),
    #[error("unknown side frame type {0}")]
    UnknownType(u8),
    #[error("{what} is {len} bytes; must be 1..={max}")]
    BadLength {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0} is not valid UTF-8 without control characters")]
    BadText(&'static str),
    #[error("{0} bytes after the end of the side frame")]
    Trailing(usize),
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SideFrameError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(SideFrameError::Truncated(what))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, SideFrameError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, SideFrameError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, SideFrameError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, SideFrameError> {
        let b = self.take(8, what)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    fn text(
        &mut self,
        len: usize,
        what: &'static str,
        max: usize,
    ) -> Result<String, SideFrameError> {
        // The length is checked before the bytes are taken, so a bad length reads as one.
        check_len(what, len, max)?;
        let b = self.take(len, what)?;
        let s = std::str::from_utf8(b).map_err(|_| SideFrameError::BadText(what))?;
        check_text(what, s, max)?;
        Ok(s.to_string())
    }
}

fn check_len(what: &'static str, len: usize, max: usize) -> Result<(), SideFrameError> {
    if len == 0 || len > max {
        return Err(SideFrameError::BadLength { what, len, max });
    }
    Ok(())
}

/// Checks a name or chat text as the wire requires it: 1..=max bytes, no control characters.
pub fn check_text(what: &'static str, s: &str, max: usize) -> Result<(), SideFrameError> {
    check_len(what, s.len(), max)?;
    if s.chars().any(char::is_control) {
        return Err(SideFrameError::BadText(what));
    }
    Ok(())
}

impl SideMsg {
    /// Parses one whole UDP payload.
    pub fn parse(b: &[u8]) -> Result<SideMsg, SideFrameError> {
        if !is_side_frame(b) {
            return Err(SideFrameError::NotSide);
        }
        if b.len() > MAX_FRAME_LEN {
            return Err(SideFrameError::Oversized(b.len()));
        }
        let mut r = Reader { b, pos: 4 };
        let version = r.u8("header")?;
        if version != VERSION {
            return Err(SideFrameError::UnsupportedVersion(version));
        }
        let t = r.u8("header")?;
        let msg = match t {
            ty::PING | ty::PONG => {
                let seq = r.u32("sequence number")?;
                let time_us = r.u64("timestamp")?;
                let n = r.u8("name length")? as usize;
                let name = r.text(n, "name", MAX_NAME_LEN)?;
                if t == ty::PING {
                    SideMsg::Ping { seq, time_us, name }
                } else {
                    SideMsg::Pong { seq, time_us, name }
                }
            }
            ty::CHAT => {
                let n = r.u8("name length")? as usize;
                let name = r.text(n, "name", MAX_NAME_LEN)?;
                let n = r.u16("text length")? as usize;
                let text = r.text(n, "chat text", MAX_TEXT_LEN)?;
                SideMsg::Chat { name, text }
            }
            ty::ROSTER => {
                let n = r.u8("roster length")? as usize;
                if n > MAX_ROSTER {
                    return Err(SideFrameError::BadLength {
                        what: "roster",
                        len: n,
                        max: MAX_ROSTER,
                    });
                }
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let len = r.u8("name length")? as usize;
                    let name = r.text(len, "name", MAX_NAME_LEN)?;
                    let rtt = r.u32("roster RTT")?;
                    let loss = r.u8("roster loss")?;
                    if loss > 100 && loss != u8::MAX {
                        return Err(SideFrameError::BadLength {
                            what: "loss percentage",
                            len: loss as usize,
                            max: 100,
                        });
                    }
                    entries.push(RosterEntry {
                        name,
                        rtt_us: (rtt != u32::MAX).then_some(rtt),
                        loss_pct: (loss != u8::MAX).then_some(loss),
                    });
                }
                SideMsg::Roster { entries }
            }
            other => return Err(SideFrameError::UnknownType(other)),
        };
        if r.pos != b.len() {
            return Err(SideFrameError::Trailing(b.len() - r.pos));
        }
        Ok(msg)
    }

    /// Appends the frame to `out`; refuses what `parse` would refuse (nothing is written then).
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), SideFrameError> {
        match self {
            SideMsg::Ping { name, .. } | SideMsg::Pong { name, .. } => {
                check_text("name", name, MAX_NAME_LEN)?
            }
            SideMsg::Chat { name, text } => {
                check_text("name", name, MAX_NAME_LEN)?;
                check_text("chat text", text, MAX_TEXT_LEN)?;
            }
            SideMsg::Roster { entries } => {
                if entries.len() > MAX_ROSTER {
                    return Err(SideFrameError::BadLength {
                        what: "roster",
                        len: entries.len(),
                        max: MAX_ROSTER,
                    });
                }
                for e in entries {
                    check_text("name", &e.name, MAX_NAME_LEN)?;
                    if e.loss_pct.is_some_and(|l| l > 100) || e.rtt_us == Some(u32::MAX) {
                        return Err(SideFrameError::BadLength {
                            what: "roster figure",
                            len: e.loss_pct.unwrap_or(0) as usize,
                            max: 100,
                        });
                    }
                }
            }
        }
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        match self {
            SideMsg::Ping { seq, time_us, name } | SideMsg::Pong { seq, time_us, name } => {
                out.push(if matches!(self, SideMsg::Ping { .. }) {
                    ty::PING
                } else {
                    ty::PONG
                });
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(&time_us.to_be_bytes());
                out.push(name.len() as u8);
                out.extend_from_slice(name.as_bytes());
            }
            SideMsg::Chat { name, text } => {
                out.push(ty::CHAT);
                out.push(name.len() as u8);
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(&(text.len() as u16).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            SideMsg::Roster { entries } => {
                out.push(ty::ROSTER);
                out.push(entries.len() as u8);
                for e in entries {
                    out.push(e.name.len() as u8);
                    out.extend_from_slice(e.name.as_bytes());
                    out.extend_from_slice(&e.rtt_us.unwrap_or(u32::MAX).to_be_bytes());
                    out.push(e.loss_pct.unwrap_or(u8::MAX));
                }
            }
        }
        Ok(())
    }

    pub fn to_vec(&self) -> Result<Vec<u8>, SideFrameError> {
        let mut v = Vec::with_capacity(MAX_FRAME_LEN);
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// Which end of the star this player is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideRole {
    /// The game's server: relays chat between its clients.
    Host,
    /// A client: talks to its server only.
    Client,
}

#[derive(Debug, Clone)]
pub struct SideConfig {
    /// Our name in Ping, Pong and Chat (cut to [`MAX_NAME_LEN`] bytes, control characters
    /// dropped).
    pub name: String,
    pub role: SideRole,
    /// How often each peer is pinged.
    pub ping_interval: Duration,
    /// A ping unanswered for this long is lost.
    pub pong_timeout: Duration,
    /// Pings a peer that never answered gets before it is taken for a native Chocolate Doom.
    pub max_unanswered: u32,
    /// Pings the loss figure is computed over.
    pub loss_window: usize,
    /// A peer neither the guest nor the side protocol exchanged anything with for this long is
    /// forgotten (a player who left).
    pub forget_after: Duration,
}

impl SideConfig {
    pub fn new(name: &str, role: SideRole) -> SideConfig {
        SideConfig {
            name: name.to_string(),
            role,
            ping_interval: Duration::from_secs(1),
            pong_timeout: Duration::from_secs(3),
            max_unanswered: 3,
            loss_window: 20,
            forget_after: Duration::from_secs(30),
        }
    }
}

/// What we know a peer to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// Pinged, no answer yet.
    Probing,
    /// Speaks the side protocol.
    Doomlink,
    /// Never answered: a native Chocolate Doom (or gone). Sent nothing more.
    Silent,
}

/// One peer as the app shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SidePeerStatus {
    /// Its real endpoint.
    pub addr: SocketAddr,
    pub kind: PeerKind,
    pub name: Option<String>,
    /// Smoothed RTT of the side pings (None for a peer that never answered).
    pub rtt: Option<Duration>,
    /// Fraction of recent pings lost (None until a doomlink peer's ping was resolved).
    pub loss: Option<f64>,
    pub pings_sent: u64,
    pub pongs_received: u64,
    /// The guest's datagrams to and from this peer.
    pub dgrams_in: u64,
    pub dgrams_out: u64,
    /// Side frames from this peer that did not parse.
    pub bad_frames: u64,
}

/// What the state wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideOutput {
    /// Send `frame` from the bridge's socket of guest port `local_port` to `to`.
    Send {
        local_port: u16,
        to: SocketAddr,
        frame: Vec<u8>,
    },
    /// A chat line from another player, for this player to see.
    Chat { from: String, text: String },
}

/// Why the state refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SideError {
    #[error(transparent)]
    Frame(#[from] SideFrameError),
    #[error("no doomlink player to chat with yet")]
    NoPeers,
}

#[derive(Debug)]
struct Peer {
    local_port: u16,
    kind: PeerKind,
    name: Option<String>,
    pings: PingTracker,
    pings_sent: u64,
    pongs_received: u64,
    next_ping: Instant,
    last_activity: Instant,
    dgrams_in: u64,
    dgrams_out: u64,
    bad_frames: u64,
}

/// The sans-IO side state. See the module docs.
#[derive(Debug)]
pub struct LanSide {
    cfg: SideConfig,
    epoch: Instant,
    peers: BTreeMap<SocketAddr, Peer>,
    out: VecDeque<SideOutput>,
    /// A client: the latest roster from its server (the other players).
    roster: Vec<RosterEntry>,
}

fn clean_name(s: &str) -> String {
    let mut n = String::new();
    for c in s.chars().filter(|c| !c.is_control()) {
        if n.len() + c.len_utf8() > MAX_NAME_LEN {
            break;
        }
        n.push(c);
    }
    if n.is_empty() {
        n.push_str("player");
    }
    n
}

impl LanSide {
    pub fn new(mut cfg: SideConfig, now: Instant) -> LanSide {
        cfg.name = clean_name(&cfg.name);
        cfg.max_unanswered = cfg.max_unanswered.max(1);
        LanSide {
            cfg,
            epoch: now,
            peers: BTreeMap::new(),
            out: VecDeque::new(),
            roster: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn role(&self) -> SideRole {
        self.cfg.role
    }

    fn peer_entry(&mut self, now: Instant, local_port: u16, addr: SocketAddr) -> Option<&mut Peer> {
        if !self.peers.contains_key(&addr) {
            if self.peers.len() >= MAX_PEERS {
                return None;
            }
            self.peers.insert(
                addr,
                Peer {
                    local_port,
                    kind: PeerKind::Probing,
                    name: None,
                    pings: PingTracker::new(self.cfg.loss_window),
                    pings_sent: 0,
                    pongs_received: 0,
                    next_ping: now,
                    last_activity: now,
                    dgrams_in: 0,
                    dgrams_out: 0,
                    bad_frames: 0,
                },
            );
        }
        let p = self.peers.get_mut(&addr)?;
        p.last_activity = now;
        Some(p)
    }

    /// The guest sent a unicast datagram from `local_port` to the real `to`: a peer to know.
    pub fn guest_sent(&mut self, now: Instant, local_port: u16, to: SocketAddr) {
        if let Some(p) = self.peer_entry(now, local_port, to) {
            p.dgrams_out += 1;
        }
    }

    /// A datagram for the guest arrived from `from`. Counted for peers already known; never
    /// creates one (anyone can send us anything).
    pub fn guest_received(&mut self, now: Instant, from: SocketAddr) {
        if let Some(p) = self.peers.get_mut(&from) {
            p.dgrams_in += 1;
            p.last_activity = now;
        }
    }

    /// A side frame arrived on the socket of guest port `local_port` from `from`.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        local_port: u16,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), SideError> {
        let msg = match SideMsg::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                if let Some(p) = self.peers.get_mut(&from) {
                    p.bad_frames += 1;
                }
                return Err(e.into());
            }
        };
        let role = self.cfg.role;
        let me = self.cfg.name.clone();
        let Some(p) = self.peer_entry(now, local_port, from) else {
            return Ok(());
        };
        // Anything that parses proves the peer speaks the protocol.
        p.kind = PeerKind::Doomlink;
        match msg {
            SideMsg::Ping { seq, time_us, name } => {
                p.name = Some(name);
                let frame = SideMsg::Pong {
                    seq,
                    time_us,
                    name: me,
                }
                .to_vec()?;
                let local_port = p.local_port;
                self.out.push_back(SideOutput::Send {
                    local_port,
                    to: from,
                    frame,
                });
            }
            SideMsg::Pong { seq, name, .. } => {
                p.name = Some(name);
                if p.pings.pong(seq, now).is_some() {
                    p.pongs_received += 1;
                }
            }
            SideMsg::Chat { name, text } => {
                if role == SideRole::Host {
                    let frame = SideMsg::Chat {
                        name: name.clone(),
                        text: text.clone(),
                    }
                    .to_vec()?;
                    for (addr, q) in &self.peers {
                        if *addr != from && q.kind == PeerKind::Doomlink {
                            self.out.push_back(SideOutput::Send {
                                local_port: q.local_port,
                                to: *addr,
                                frame: frame.clone(),
                            });
                        }
                    }
                }
                self.out.push_back(SideOutput::Chat { from: name, text });
            }
            SideMsg::Roster { entries } => {
                // Only a client listens to a roster, from the server it talks to.
                if role == SideRole::Client {
                    self.roster = entries;
                }
            }
        }
        Ok(())
    }

    /// Sends a chat line of ours to every doomlink peer (a client has only its server).
    pub fn send_chat(&mut self, _now: Instant, text: &str) -> Result<(), SideError> {
        let frame = SideMsg::Chat {
            name: self.cfg.name.clone(),
            text: text.to_string(),
        }
        .to_vec()?;
        let mut sent = 0;
        for (addr, p) in &self.peers {
            if p.kind == PeerKind::Doomlink {
                self.out.push_back(SideOutput::Send {
                    local_port: p.local_port,
                    to: *addr,
                    frame: frame.clone(),
                });
                sent += 1;
            }
        }
        if sent == 0 {
            return Err(SideError::NoPeers);
        }
        Ok(())
    }

    /// The bridge closed the socket of guest port `local_port`: its peers go with it.
    pub fn port_closed(&mut self, local_port: u16) {
        self.peers.retain(|_, p| p.local_port != local_port);
    }

    /// Sends the pings that are due, gives up on late pongs, takes peers that never answered
    /// for native ones and forgets peers long quiet.
    pub fn handle_timeout(&mut self, now: Instant) {
        let cfg = &self.cfg;
        self.peers
            .retain(|_, p| now.saturating_duration_since(p.last_activity) < cfg.forget_after);
        let time_us = now.saturating_duration_since(self.epoch).as_micros() as u64;
        // Peers pinged in this pass: the host sends them a roster along.
        let mut due = Vec::new();
        for (addr, p) in self.peers.iter_mut() {
            p.pings.expire(now, cfg.pong_timeout);
            if p.kind == PeerKind::Probing && p.pings_sent >= u64::from(cfg.max_unanswered) {
                if p.pings.next_expiry(cfg.pong_timeout).is_none() {
                    p.kind = PeerKind::Silent;
                }
                continue;
            }
            if p.kind == PeerKind::Silent || now < p.next_ping {
                continue;
            }
            let seq = p.pings.send(now);
            due.push(*addr);
            p.pings_sent += 1;
            p.next_ping = now + cfg.ping_interval;
            let ping = SideMsg::Ping {
                seq,
                time_us,
                name: cfg.name.clone(),
            };
            if let Ok(frame) = ping.to_vec() {
                self.out.push_back(SideOutput::Send {
                    local_port: p.local_port,
                    to: *addr,
                    frame,
                });
            }
        }
        if self.cfg.role == SideRole::Host {
            self.send_rosters(&due);
        }
    }

    /// The host tells each client in `to` who else is in and how well they reach the host.
    fn send_rosters(&mut self, to: &[SocketAddr]) {
        let clients: Vec<(SocketAddr, RosterEntry)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.kind == PeerKind::Doomlink)
            .filter_map(|(a, p)| {
                Some((
                    *a,
                    RosterEntry {
                        name: p.name.clone()?,
                        rtt_us: p
                            .pings
                            .rtt
                            .srtt
                            .map(|r| r.as_micros().min(u32::MAX as u128 - 1) as u32),
                        loss_pct: (p.pongs_received > 0)
                            .then(|| (p.pings.loss() * 100.0).round() as u8),
                    },
                ))
            })
            .collect();
        for addr in to {
            let Some(p) = self.peers.get(addr) else {
                continue;
            };
            if p.kind != PeerKind::Doomlink {
                continue;
            }
            let entries: Vec<RosterEntry> = clients
                .iter()
                .filter(|(a, _)| a != addr)
                .take(MAX_ROSTER)
                .map(|(_, e)| e.clone())
                .collect();
            if let Ok(frame) = (SideMsg::Roster { entries }).to_vec() {
                self.out.push_back(SideOutput::Send {
                    local_port: p.local_port,
                    to: *addr,
                    frame,
                });
            }
        }
    }

    /// A client: the other players as its server last listed them (empty for the host).
    pub fn roster(&self) -> &[RosterEntry] {
        &self.roster
    }

    /// When [`Self::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers
            .values()
            .flat_map(|p| {
                let ping = (p.kind != PeerKind::Silent).then_some(p.next_ping);
                let expiry = p.pings.next_expiry(self.cfg.pong_timeout);
                [ping, expiry, Some(p.last_activity + self.cfg.forget_after)]
            })
            .flatten()
            .min()
    }

    pub fn poll_output(&mut self) -> Option<SideOutput> {
        self.out.pop_front()
    }

    /// The peers, in address order. Silent peers are listed too (the game talks to them; they
    /// just show no ping).
    pub fn peers(&self) -> Vec<SidePeerStatus> {
        self.peers
            .iter()
            .map(|(addr, p)| SidePeerStatus {
                addr: *addr,
                kind: p.kind,
                name: p.name.clone(),
                rtt: p.pings.rtt.srtt,
                loss: (p.kind == PeerKind::Doomlink && p.pongs_received > 0)
                    .then(|| p.pings.loss()),
                pings_sent: p.pings_sent,
                pongs_received: p.pongs_received,
                dgrams_in: p.dgrams_in,
                dgrams_out: p.dgrams_out,
                bad_frames: p.bad_frames,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
