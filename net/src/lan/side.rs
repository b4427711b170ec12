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
//! type 1 Ping  body: u32 seq, u64 time_us, str8 name    (the sender's name; time_us is
//!                                                        opaque: ours carry a nonce)
//! type 2 Pong  body: u32 seq, u64 time_us, str8 name    (seq and time_us echo the Ping's;
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
//! sends only (a client's guest talks to its server only; a server's guest to each client).
//! Each new peer is probed with a Ping every [`SideConfig::ping_interval`]; one that answers
//! nothing after [`SideConfig::max_unanswered`] pings is taken for a native Chocolate Doom
//! ([`PeerKind::Silent`]) and sent nothing more, unless it pings us (then it is probed again).
//! Chat goes to the verified peers; the host ([`SideRole::Host`]) relays a client's chat to its
//! other verified clients and sends them rosters.
//!
//! # Defences against spoofed sources
//!
//! UDP does not authenticate source addresses: anyone on the network can send frames that
//! claim to come from a victim, so that we answer the victim (reflection), ideally with more
//! than they sent (amplification). The state therefore:
//!
//! - makes peers only from the guest's own sends (the game talks to them), never from a side
//!   frame or a datagram for the guest; a side frame from any other source gets no answer and
//!   is only counted ([`SideCounters::ignored_frames`]);
//! - verifies a peer by return routability: the `time_us` of each of our Pings carries a nonce,
//!   a keyed hash (SipHash, keys from a [`RandomState`] made with the state) of the peer's
//!   address, a per-peer salt and the Ping's seq, which nobody who does not receive the Ping
//!   can know. Only a Pong that echoes it makes the peer [`PeerKind::Doomlink`]; no other
//!   frame proves anything, and a Pong with a wrong nonce is dropped and counted. Version 1
//!   peers echo the field verbatim and never read it as a time, so the wire is unchanged;
//! - shows and relays chat only from verified peers, at most [`CHAT_RATE`] lines per peer,
//!   and sends rosters only to verified peers;
//! - holds what it sends each peer to a byte budget: side-frame bytes sent to a peer never
//!   exceed 1.5 × the bytes received from it (side frames and the guest's datagrams), or
//!   [`SEND_ALLOWANCE`] (one Ping of the longest name, so the first probe can go) while that
//!   is more; and Pongs to [`PONG_RATE`] per peer. A frame over either is not sent (counted);
//!   a ping not sent so is not counted as lost.
//!
//! So whatever a spoofer sends, we send an address at most 1.5 × the bytes that arrived under
//! it (or the one first probe), and only an address the game itself talks to.

use crate::relay::stats::PingTracker;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, VecDeque};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::time::Duration;
use web_time::Instant;

/// The first four bytes of every side frame.
pub const MAGIC: [u8; 4] = *b"DLNK";
/// The side protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// Magic, version, type.
pub const HEADER_LEN: usize = 6;
/// Player names, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 32;
/// A chat line, in bytes of UTF-8.
pub const MAX_TEXT_LEN: usize = crate::status::MAX_CHAT_BYTES;
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
    /// Bytes from this peer (side frames and the guest's datagrams), and side-frame bytes sent
    /// to it: its byte budget (see the module docs).
    pub bytes_in: u64,
    pub bytes_out: u64,
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
    #[error("the doomlink players have sent too little yet to be sent more")]
    OverBudget,
}

/// Chat lines a verified peer may have shown and relayed: (burst, then per second).
pub const CHAT_RATE: (u32, u32) = (5, 1);
/// Pongs a peer may be sent (it pings once a second): (burst, then per second).
pub const PONG_RATE: (u32, u32) = (4, 4);
/// A Ping or Pong without its name.
const PING_FIXED_LEN: usize = HEADER_LEN + 4 + 8 + 1;
/// Bytes a peer may be sent while 1.5 × what it sent us is less: one Ping of the longest name,
/// so the first probe can go.
pub const SEND_ALLOWANCE: u64 = (PING_FIXED_LEN + MAX_NAME_LEN) as u64;

/// A token bucket kept as one instant (GCRA): `due` runs ahead of now by one step (1 / rate)
/// per token taken, at most `burst` steps ahead. Takes a token if there is one.
fn take_token(due: &mut Instant, now: Instant, (burst, per_sec): (u32, u32)) -> bool {
    let step = Duration::from_secs(1) / per_sec;
    let t = (*due).max(now);
    let ok = t < now + step * burst;
    if ok {
        *due = t + step;
    }
    ok
}

#[derive(Debug)]
struct Peer {
    local_port: u16,
    kind: PeerKind,
    name: Option<String>,
    /// Mixed into the nonces of this peer's pings (a peer forgotten and learnt again gets new
    /// ones).
    salt: u64,
    pings: PingTracker,
    pings_sent: u64,
    /// `pings_sent` when probing (re)started.
    probe_base: u64,
    pongs_received: u64,
    next_ping: Instant,
    last_activity: Instant,
    dgrams_in: u64,
    dgrams_out: u64,
    bad_frames: u64,
    bytes_in: u64,
    bytes_out: u64,
    /// The chat and pong token buckets (see [`take_token`]).
    chats: Instant,
    pongs: Instant,
}

impl Peer {
    /// Whether `len` more bytes keep this peer within its budget (see the module docs).
    fn may_send(&self, len: usize) -> bool {
        let cap = (self.bytes_in.saturating_mul(3) / 2).max(SEND_ALLOWANCE);
        self.bytes_out.saturating_add(len as u64) <= cap
    }
}

/// What the state dropped to defend itself (see the module docs), since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideCounters {
    /// Side frames from sources that are no peer: never answered.
    pub ignored_frames: u64,
    /// Pongs that did not echo the nonce of our Ping: they verify nothing.
    pub bad_nonce_pongs: u64,
    /// Chat lines from peers not verified, or over [`CHAT_RATE`]: neither shown nor relayed.
    pub dropped_chats: u64,
    /// Frames not sent: over a peer's byte budget, or over [`PONG_RATE`].
    pub throttled_frames: u64,
}

/// The sans-IO side state. See the module docs.
#[derive(Debug)]
pub struct LanSide {
    cfg: SideConfig,
    peers: BTreeMap<SocketAddr, Peer>,
    out: VecDeque<SideOutput>,
    /// A client: the latest roster from its server (the other players).
    roster: Vec<RosterEntry>,
    /// The keys of the ping nonces.
    nonce_key: RandomState,
    /// Peers ever made (the next one's salt).
    peers_made: u64,
    counters: SideCounters,
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
    pub fn new(mut cfg: SideConfig, _now: Instant) -> LanSide {
        cfg.name = clean_name(&cfg.name);
        cfg.max_unanswered = cfg.max_unanswered.max(1);
        LanSide {
            cfg,
            peers: BTreeMap::new(),
            out: VecDeque::new(),
            roster: Vec::new(),
            nonce_key: RandomState::new(),
            peers_made: 0,
            counters: SideCounters::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn role(&self) -> SideRole {
        self.cfg.role
    }

    /// What the state dropped to defend itself.
    pub fn counters(&self) -> SideCounters {
        self.counters
    }

    /// Side frames from sources that are no peer (see [`SideCounters::ignored_frames`]).
    pub fn ignored_frames(&self) -> u64 {
        self.counters.ignored_frames
    }

    /// The nonce our Ping `seq` to `addr` carries in its `time_us`, and its Pong must echo.
    fn nonce(&self, addr: SocketAddr, salt: u64, seq: u32) -> u64 {
        self.nonce_key.hash_one((addr, salt, seq))
    }

    /// The guest sent a unicast datagram from `local_port` to the real `to`: a peer to know
    /// (the only way one is made).
    pub fn guest_sent(&mut self, now: Instant, local_port: u16, to: SocketAddr) {
        if !self.peers.contains_key(&to) {
            if self.peers.len() >= MAX_PEERS {
                return;
            }
            self.peers_made += 1;
            self.peers.insert(
                to,
                Peer {
                    local_port,
                    kind: PeerKind::Probing,
                    name: None,
                    salt: self.peers_made,
                    pings: PingTracker::new(self.cfg.loss_window),
                    pings_sent: 0,
                    probe_base: 0,
                    pongs_received: 0,
                    next_ping: now,
                    last_activity: now,
                    dgrams_in: 0,
                    dgrams_out: 0,
                    bad_frames: 0,
                    bytes_in: 0,
                    bytes_out: 0,
                    chats: now,
                    pongs: now,
                },
            );
        }
        if let Some(p) = self.peers.get_mut(&to) {
            p.dgrams_out += 1;
            p.last_activity = now;
        }
    }

    /// A datagram of `len` bytes for the guest arrived from `from`. Counted (towards the peer's
    /// byte budget too) for peers already known; never creates one (anyone can send us
    /// anything).
    pub fn guest_received(&mut self, now: Instant, from: SocketAddr, len: usize) {
        if let Some(p) = self.peers.get_mut(&from) {
            p.dgrams_in += 1;
            p.bytes_in = p.bytes_in.saturating_add(len as u64);
            p.last_activity = now;
        }
    }

    /// Queues `frame` to the peer at `to` if its byte budget allows; false if not sent.
    fn queue(&mut self, to: SocketAddr, frame: Vec<u8>) -> bool {
        let Some(p) = self.peers.get_mut(&to) else {
            return false;
        };
        if !p.may_send(frame.len()) {
            self.counters.throttled_frames += 1;
            return false;
        }
        p.bytes_out += frame.len() as u64;
        self.out.push_back(SideOutput::Send {
            local_port: p.local_port,
            to,
            frame,
        });
        true
    }

    /// A side frame arrived from `from` (on the socket of guest port `_local_port`; answers go
    /// from the socket the guest talks to that peer on). A frame from a source that is no peer
    /// is dropped unanswered; an error says only that the frame did not parse.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        _local_port: u16,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), SideError> {
        let parsed = SideMsg::parse(bytes);
        let Some(p) = self.peers.get_mut(&from) else {
            self.counters.ignored_frames += 1;
            return parsed.map(|_| ()).map_err(SideError::from);
        };
        p.bytes_in = p.bytes_in.saturating_add(bytes.len() as u64);
        p.last_activity = now;
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                p.bad_frames += 1;
                return Err(e.into());
            }
        };
        match msg {
            SideMsg::Ping { seq, time_us, name } => {
                if p.kind == PeerKind::Silent {
                    // Taken for native, yet it pings: probe it again.
                    p.kind = PeerKind::Probing;
                    p.probe_base = p.pings_sent;
                    p.next_ping = now;
                }
                if p.kind == PeerKind::Doomlink {
                    p.name = Some(name);
                }
                if !take_token(&mut p.pongs, now, PONG_RATE) {
                    self.counters.throttled_frames += 1;
                    return Ok(());
                }
                let name = self.cfg.name.clone();
                let frame = SideMsg::Pong { seq, time_us, name }.to_vec()?;
                self.queue(from, frame);
            }
            SideMsg::Pong { seq, time_us, name } => {
                let salt = p.salt;
                if time_us != self.nonce(from, salt, seq) {
                    self.counters.bad_nonce_pongs += 1;
                    return Ok(());
                }
                let Some(p) = self.peers.get_mut(&from) else {
                    return Ok(());
                };
                p.kind = PeerKind::Doomlink;
                p.name = Some(name);
                if p.pings.pong(seq, now).is_some() {
                    p.pongs_received += 1;
                }
            }
            SideMsg::Chat { name, text } => {
                if p.kind != PeerKind::Doomlink || !take_token(&mut p.chats, now, CHAT_RATE) {
                    self.counters.dropped_chats += 1;
                    return Ok(());
                }
                if self.cfg.role == SideRole::Host {
                    let frame = SideMsg::Chat {
                        name: name.clone(),
                        text: text.clone(),
                    }
                    .to_vec()?;
                    for to in self.verified() {
                        if to != from {
                            self.queue(to, frame.clone());
                        }
                    }
                }
                self.out.push_back(SideOutput::Chat { from: name, text });
            }
            SideMsg::Roster { entries } => {
                // Only a client listens to a roster, from the server it talks to.
                if self.cfg.role == SideRole::Client && p.kind == PeerKind::Doomlink {
                    self.roster = entries;
                }
            }
        }
        Ok(())
    }

    /// The verified peers' addresses.
    fn verified(&self) -> Vec<SocketAddr> {
        let v = self.peers.iter();
        v.filter(|(_, p)| p.kind == PeerKind::Doomlink)
            .map(|(a, _)| *a)
            .collect()
    }

    /// Sends a chat line of ours to every doomlink peer (a client has only its server).
    pub fn send_chat(&mut self, _now: Instant, text: &str) -> Result<(), SideError> {
        let frame = SideMsg::Chat {
            name: self.cfg.name.clone(),
            text: text.to_string(),
        }
        .to_vec()?;
        let to = self.verified();
        if to.is_empty() {
            return Err(SideError::NoPeers);
        }
        let mut sent = false;
        for a in to {
            sent |= self.queue(a, frame.clone());
        }
        if !sent {
            return Err(SideError::OverBudget);
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
        let mut due = Vec::new();
        for (addr, p) in self.peers.iter_mut() {
            p.pings.expire(now, cfg.pong_timeout);
            let probes = p.pings_sent - p.probe_base;
            if p.kind == PeerKind::Probing && probes >= u64::from(cfg.max_unanswered) {
                if p.pings.next_expiry(cfg.pong_timeout).is_none() {
                    p.kind = PeerKind::Silent;
                }
                continue;
            }
            if p.kind == PeerKind::Silent || now < p.next_ping {
                continue;
            }
            p.next_ping = now + cfg.ping_interval;
            due.push(*addr);
        }
        // Peers pinged in this pass: the host sends them a roster along.
        let mut pinged = Vec::new();
        let len = PING_FIXED_LEN + self.cfg.name.len();
        for addr in due {
            let Some(p) = self.peers.get_mut(&addr) else {
                continue;
            };
            // A ping over budget is not sent (nor counted as lost).
            if !p.may_send(len) {
                self.counters.throttled_frames += 1;
                continue;
            }
            let seq = p.pings.send(now);
            p.pings_sent += 1;
            let salt = p.salt;
            let time_us = self.nonce(addr, salt, seq);
            let name = self.cfg.name.clone();
            if let Ok(frame) = (SideMsg::Ping { seq, time_us, name }).to_vec() {
                self.queue(addr, frame);
                pinged.push(addr);
            }
        }
        if self.cfg.role == SideRole::Host {
            self.send_rosters(&pinged);
        }
    }

    /// The host tells each verified client in `to` who else is in and how well they reach the
    /// host.
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
            if !clients.iter().any(|(a, _)| a == addr) {
                continue;
            }
            let entries: Vec<RosterEntry> = clients
                .iter()
                .filter(|(a, _)| a != addr)
                .take(MAX_ROSTER)
                .map(|(_, e)| e.clone())
                .collect();
            if let Ok(frame) = (SideMsg::Roster { entries }).to_vec() {
                self.queue(*addr, frame);
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
                bytes_in: p.bytes_in,
                bytes_out: p.bytes_out,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
