//! The relay's wire format: one versioned binary envelope for every frame a link carries.
//!
//! Owns byte layouts, limits and validation; nothing here knows about sessions or time. Every
//! type parses from `&[u8]` (rejecting short, oversized, unknown-version, unknown-type, bad-length
//! and trailing-byte input with a [`FrameError`], never a panic) and emits into a caller's buffer
//! (`emit`) or a fresh `Vec` (`to_vec`). All integers are big-endian.
//!
//! # Envelope
//!
//! Every frame starts with two bytes: `version` (currently [`VERSION`] = 1) and `type`. A frame
//! whose version we do not speak is rejected as [`FrameError::UnsupportedVersion`] before its
//! type is looked at, so a later protocol may change anything after byte 0.
//!
//! # Datagram frame (type 0x01): a guest's UDP datagram
//!
//! ```text
//!  0       1       2       3       4       5       6       7
//! +-------+-------+-------+-------+-------+-------+-------+-------+
//! |version| 0x01  |   src port    |  reserved (0) |   dst port    |
//! +-------+-------+-------+-------+-------+-------+-------+-------+
//! |          src address          |          dst address          |
//! +-------+-------+-------+-------+-------+-------+-------+-------+
//! |  payload (0..=65507 bytes) ...
//! ```
//!
//! Bytes 1 to 7 are exactly the seed's 7-byte relay frame (type 0x01, src port, 2 reserved bytes,
//! dst port), so the two read alike; we put a version byte in front and append both virtual
//! addresses. The seed needed no addresses because it linked exactly two peers; a star with
//! broadcast needs the destination (to route and to fan out) and the source (so a receiver
//! learns who sent it, and the hub can check a client speaks only for itself). The reserved
//! bytes must be zero: a decoder rejects anything else, so a later version can give them meaning
//! without an old peer silently misreading them. The header is 16 bytes, the largest frame
//! 16 + 65507 = [`MAX_DGRAM_FRAME_LEN`] (65507 is the largest UDP payload over IPv4, and the
//! kernel refuses larger sends with EMSGSIZE).
//!
//! # Control frames
//!
//! After the two envelope bytes (strings are UTF-8 with a length prefix, `str8` = u8 length,
//! `str16` = u16 length; a hash is 32 bytes, e.g. SHA-256 of the WAD file):
//!
//! | type | name | body | channel |
//! |---|---|---|---|
//! | 0x10 | Hello (client → hub) | `str8 doomlink_version, str8 name, hash iwad, u8 n, hash pwad[n]` | control |
//! | 0x11 | Welcome (hub → client) | `addr you, addr network, u8 prefix_len, addr hub, u8 n, (addr, str8 name)[n]` | control |
//! | 0x12 | Bye | `u8 reason, str16 message` | control |
//! | 0x20 | Ping | `u32 seq` | datagram |
//! | 0x21 | Pong | `u32 seq` (echoes the ping's) | datagram |
//! | 0x30 | PeerJoined (hub → clients) | `addr, str8 name` | control |
//! | 0x31 | PeerLeft (hub → clients) | `addr, u8 reason` | control |
//! | 0x32 | Chat | `addr from, str16 text` | control |
//! | 0x33 | Lobby | `addr from, str16 text` (the sender's whole lobby state) | control |
//! | 0x40 | Wads (hub → client) | `u8 n, (hash, u64 size, u8 flags, str8 name)[n]` (flags: 1 IWAD, 2 offered) | control |
//! | 0x41 | FileRequest (client → hub) | `hash, u64 offset, u32 len` | control |
//! | 0x42 | FileData (hub → client) | `hash, u64 offset, bytes` (the rest of the frame) | control |
//!
//! Control frames are capped at [`MAX_CONTROL_FRAME_LEN`] (16 KiB; the largest legal one, a
//! Welcome listing 253 peers, is under 10 KiB). Ping and Pong travel on the datagram channel on
//! purpose: they measure the path the game's datagrams take, loss included.
//!
//! Wads, FileRequest and FileData carry a game's files to a joiner who lacks them, before its
//! handshake ends; their bodies and limits are in [`files`].

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::relay::subnet::Subnet;

mod files;
pub use files::{
    plain_file_name, FileData, FileRequest, WadEntry, MAX_FILE_CHUNK, MAX_FILE_NAME_LEN,
    MAX_FILE_REQUEST, MAX_WAD_ENTRIES,
};

/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// The largest UDP payload over IPv4; the kernel refuses larger sends.
pub const MAX_DGRAM_PAYLOAD: usize = 65_507;
/// Version, type, src port, reserved, dst port, src address, dst address.
pub const DGRAM_HEADER_LEN: usize = 16;
pub const MAX_DGRAM_FRAME_LEN: usize = DGRAM_HEADER_LEN + MAX_DGRAM_PAYLOAD;
/// No control frame is legitimately larger than ~10 KiB (see the module docs).
pub const MAX_CONTROL_FRAME_LEN: usize = 16 * 1024;
/// The largest frame of any type: a transport can size its receive buffer with this.
pub const MAX_FRAME_LEN: usize = MAX_DGRAM_FRAME_LEN;
/// Player names, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 32;
/// The doomlink version string in Hello, in bytes.
pub const MAX_VERSION_LEN: usize = 32;
/// PWADs per game.
pub const MAX_PWADS: usize = 16;
/// Peers listed in a Welcome: everyone but the recipient, so a hub takes at most this many
/// clients whatever its subnet's size.
pub const MAX_PEERS: usize = 253;
/// A chat line, in bytes.
pub const MAX_CHAT_LEN: usize = 512;
/// One peer's lobby state, in bytes.
pub const MAX_LOBBY_LEN: usize = 4096;
/// The free text of a Bye, in bytes.
pub const MAX_BYE_MESSAGE_LEN: usize = 256;

/// A WAD's content hash (SHA-256 by convention; the app computes it, the relay only compares).
pub type WadHash = [u8; 32];

/// Frame type codes (byte 1 of every frame).
pub mod frame_type {
    pub const DATAGRAM: u8 = 0x01;
    pub const HELLO: u8 = 0x10;
    pub const WELCOME: u8 = 0x11;
    pub const BYE: u8 = 0x12;
    pub const PING: u8 = 0x20;
    pub const PONG: u8 = 0x21;
    pub const PEER_JOINED: u8 = 0x30;
    pub const PEER_LEFT: u8 = 0x31;
    pub const CHAT: u8 = 0x32;
    pub const LOBBY: u8 = 0x33;
    pub const WADS: u8 = 0x40;
    pub const FILE_REQUEST: u8 = 0x41;
    pub const FILE_DATA: u8 = 0x42;
}
use frame_type as ft;

/// Why bytes are not a frame, or a frame cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame truncated")]
    Truncated,
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    Oversized { len: usize, max: usize },
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    #[error("unknown frame type {0:#04x}")]
    UnknownType(u8),
    #[error("frame type {0:#04x} where another type was expected")]
    UnexpectedType(u8),
    #[error("{0} trailing bytes after the frame")]
    TrailingBytes(usize),
    #[error("reserved field is not zero")]
    ReservedNonZero,
    #[error("{field} is {len} long, the limit is {max}")]
    FieldTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0} is not valid UTF-8")]
    BadUtf8(&'static str),
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("buffer of {have} bytes is too small for a {need}-byte frame")]
    BufferTooSmall { need: usize, have: usize },
}

/// How a frame must travel: the core says it for every frame it emits, and a transport with two
/// channels per link (WebRTC: one unordered data channel without retransmits, one
/// reliable ordered) sends it on the matching one. A transport with a single reliable stream may
/// send both on it; one with a single lossy one must not carry control frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Unreliable, unordered, no retransmits: game datagrams and ping/pong (a late game packet is
    /// worse than a lost one, Doom's own protocol resends what matters).
    Datagram,
    /// Reliable and ordered: handshake, bye, roster, chat, lobby.
    Control,
}

/// Why a peer leaves or is refused. Unknown codes survive as `Other` so a newer peer's reason
/// still reads as a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByeReason {
    /// The player left.
    Quit,
    /// The hub ends the game.
    HubClosing,
    /// The peer speaks another protocol version.
    IncompatibleVersion,
    /// IWAD or PWADs differ from the hub's: the game would desync.
    WadMismatch,
    /// No address left, or the hub already has [`MAX_PEERS`] clients.
    NetworkFull,
    /// The peer sent something the protocol does not allow at that point.
    ProtocolError,
    /// Not heard from for the link timeout.
    TimedOut,
    /// Removed by the hub's player.
    Kicked,
    Other(u8),
}

impl ByeReason {
    pub fn code(self) -> u8 {
        match self {
            ByeReason::Quit => 0,
            ByeReason::HubClosing => 1,
            ByeReason::IncompatibleVersion => 2,
            ByeReason::WadMismatch => 3,
            ByeReason::NetworkFull => 4,
            ByeReason::ProtocolError => 5,
            ByeReason::TimedOut => 6,
            ByeReason::Kicked => 7,
            ByeReason::Other(c) => c,
        }
    }

    pub fn from_code(c: u8) -> Self {
        match c {
            0 => ByeReason::Quit,
            1 => ByeReason::HubClosing,
            2 => ByeReason::IncompatibleVersion,
            3 => ByeReason::WadMismatch,
            4 => ByeReason::NetworkFull,
            5 => ByeReason::ProtocolError,
            6 => ByeReason::TimedOut,
            7 => ByeReason::Kicked,
            c => ByeReason::Other(c),
        }
    }
}

/// The IWAD and PWADs a game runs with; a joiner must match the hub's exactly (PWAD order
/// matters, it is load order).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct WadSet {
    pub iwad: WadHash,
    pub pwads: Vec<WadHash>,
}

/// A guest's UDP datagram between two virtual addresses. Borrows its payload: the hot path
/// parses without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramFrame<'a> {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: &'a [u8],
}

/// Client → hub, first frame on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub doomlink_version: String,
    pub name: String,
    pub wads: WadSet,
}

/// One member of a game's roster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerInfo {
    pub addr: Ipv4Addr,
    pub name: String,
}

/// Hub → client: the address assignment. `peers` lists every member but the recipient, the hub
/// included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    pub your_addr: Ipv4Addr,
    pub subnet: Subnet,
    pub hub_addr: Ipv4Addr,
    pub peers: Vec<PeerInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bye {
    pub reason: ByeReason,
    pub message: String,
}

/// A chat line or a lobby state, attributed to the member that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub from: Ipv4Addr,
    pub text: String,
}

/// Any frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    Datagram(DatagramFrame<'a>),
    Hello(Hello),
    Welcome(Welcome),
    Bye(Bye),
    Ping(u32),
    Pong(u32),
    PeerJoined(PeerInfo),
    PeerLeft { addr: Ipv4Addr, reason: ByeReason },
    Chat(Line),
    Lobby(Line),
    Wads(Vec<WadEntry>),
    FileRequest(FileRequest),
    FileData(FileData<'a>),
}

impl DatagramFrame<'_> {
    /// Parses a datagram frame without copying its payload.
    pub fn parse(buf: &[u8]) -> Result<DatagramFrame<'_>, FrameError> {
        let ty = check_envelope(buf)?;
        if ty != ft::DATAGRAM {
            return Err(FrameError::UnexpectedType(ty));
        }
        parse_datagram(buf)
    }

    pub fn buffer_len(&self) -> usize {
        DGRAM_HEADER_LEN + self.payload.len()
    }

    /// Writes the frame into `buf`, returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, FrameError> {
        Frame::Datagram(*self).emit(buf)
    }

    pub fn to_vec(&self) -> Result<Vec<u8>, FrameError> {
        if self.payload.len() > MAX_DGRAM_PAYLOAD {
            return Err(FrameError::FieldTooLong {
                field: "datagram payload",
                len: self.payload.len(),
                max: MAX_DGRAM_PAYLOAD,
            });
        }
        let mut v = Vec::with_capacity(self.buffer_len());
        v.extend_from_slice(&[VERSION, ft::DATAGRAM]);
        v.extend_from_slice(&self.src.port().to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&self.dst.port().to_be_bytes());
        v.extend_from_slice(&self.src.ip().octets());
        v.extend_from_slice(&self.dst.ip().octets());
        v.extend_from_slice(self.payload);
        Ok(v)
    }
}

/// Generates `parse` for the owned control frame types: each accepts exactly a whole frame of its
/// own type and rejects any other as [`FrameError::UnexpectedType`].
macro_rules! typed_parse {
    ($($ty:ident => $variant:ident),*) => {$(
        impl $ty {
            pub fn parse(buf: &[u8]) -> Result<$ty, FrameError> {
                match Frame::parse(buf)? {
                    Frame::$variant(x) => Ok(x),
                    other => Err(FrameError::UnexpectedType(other.type_code())),
                }
            }
            pub fn to_vec(&self) -> Result<Vec<u8>, FrameError> {
                Frame::$variant(self.clone()).to_vec()
            }
        }
    )*};
}
typed_parse!(Hello => Hello, Welcome => Welcome, Bye => Bye);

impl<'a> Frame<'a> {
    /// Parses one whole frame: the buffer must hold exactly one frame, nothing after it.
    pub fn parse(buf: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let ty = check_envelope(buf)?;
        if ty == ft::DATAGRAM {
            return parse_datagram(buf).map(Frame::Datagram);
        }
        if buf.len() > MAX_CONTROL_FRAME_LEN {
            return Err(FrameError::Oversized {
                len: buf.len(),
                max: MAX_CONTROL_FRAME_LEN,
            });
        }
        let mut r = Reader { buf: &buf[2..] };
        let frame = match ty {
            ft::HELLO => {
                let doomlink_version = r.str8("doomlink version", MAX_VERSION_LEN)?;
                let name = r.str8("name", MAX_NAME_LEN)?;
                let iwad = r.hash()?;
                let n = r.count("pwads", MAX_PWADS)?;
                let mut pwads = Vec::with_capacity(n);
                for _ in 0..n {
                    pwads.push(r.hash()?);
                }
                Frame::Hello(Hello {
                    doomlink_version,
                    name,
                    wads: WadSet { iwad, pwads },
                })
            }
            ft::WELCOME => {
                let your_addr = r.addr()?;
                let network = r.addr()?;
                let prefix_len = r.u8()?;
                let subnet =
                    Subnet::new(network, prefix_len).map_err(|_| FrameError::Invalid("subnet"))?;
                let hub_addr = r.addr()?;
                let n = r.count("peers", MAX_PEERS)?;
                let mut peers = Vec::with_capacity(n);
                for _ in 0..n {
                    let addr = r.addr()?;
                    let name = r.str8("name", MAX_NAME_LEN)?;
                    peers.push(PeerInfo { addr, name });
                }
                let w = Welcome {
                    your_addr,
                    subnet,
                    hub_addr,
                    peers,
                };
                w.check_addresses()?;
                Frame::Welcome(w)
            }
            ft::BYE => Frame::Bye(Bye {
                reason: ByeReason::from_code(r.u8()?),
                message: r.str16("bye message", MAX_BYE_MESSAGE_LEN)?,
            }),
            ft::PING => Frame::Ping(r.u32()?),
            ft::PONG => Frame::Pong(r.u32()?),
            ft::PEER_JOINED => Frame::PeerJoined(PeerInfo {
                addr: r.addr()?,
                name: r.str8("name", MAX_NAME_LEN)?,
            }),
            ft::PEER_LEFT => Frame::PeerLeft {
                addr: r.addr()?,
                reason: ByeReason::from_code(r.u8()?),
            },
            ft::CHAT => Frame::Chat(Line {
                from: r.addr()?,
                text: r.str16("chat text", MAX_CHAT_LEN)?,
            }),
            ft::LOBBY => Frame::Lobby(Line {
                from: r.addr()?,
                text: r.str16_raw("lobby text", MAX_LOBBY_LEN)?,
            }),
            ft::WADS => Frame::Wads(files::parse_wads(&mut r)?),
            ft::FILE_REQUEST => Frame::FileRequest(files::parse_request(&mut r)?),
            ft::FILE_DATA => Frame::FileData(files::parse_data(&mut r)?),
            other => return Err(FrameError::UnknownType(other)),
        };
        r.finish()?;
        Ok(frame)
    }

    pub fn type_code(&self) -> u8 {
        match self {
            Frame::Datagram(_) => ft::DATAGRAM,
            Frame::Hello(_) => ft::HELLO,
            Frame::Welcome(_) => ft::WELCOME,
            Frame::Bye(_) => ft::BYE,
            Frame::Ping(_) => ft::PING,
            Frame::Pong(_) => ft::PONG,
            Frame::PeerJoined(_) => ft::PEER_JOINED,
            Frame::PeerLeft { .. } => ft::PEER_LEFT,
            Frame::Chat(_) => ft::CHAT,
            Frame::Lobby(_) => ft::LOBBY,
            Frame::Wads(_) => ft::WADS,
            Frame::FileRequest(_) => ft::FILE_REQUEST,
            Frame::FileData(_) => ft::FILE_DATA,
        }
    }

    /// The channel this frame must travel on.
    pub fn channel(&self) -> Channel {
        match self {
            Frame::Datagram(_) | Frame::Ping(_) | Frame::Pong(_) => Channel::Datagram,
            _ => Channel::Control,
        }
    }

    /// The exact number of bytes [`Frame::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        2 + match self {
            Frame::Datagram(d) => DGRAM_HEADER_LEN - 2 + d.payload.len(),
            Frame::Hello(h) => {
                1 + h.doomlink_version.len() + 1 + h.name.len() + 32 + 1 + 32 * h.wads.pwads.len()
            }
            Frame::Welcome(w) => {
                4 + 4 + 1 + 4 + 1 + w.peers.iter().map(|p| 4 + 1 + p.name.len()).sum::<usize>()
            }
            Frame::Bye(b) => 1 + 2 + b.message.len(),
            Frame::Ping(_) | Frame::Pong(_) => 4,
            Frame::PeerJoined(p) => 4 + 1 + p.name.len(),
            Frame::PeerLeft { .. } => 4 + 1,
            Frame::Chat(l) | Frame::Lobby(l) => 4 + 2 + l.text.len(),
            Frame::Wads(list) => files::wads_len(list),
            Frame::FileRequest(_) => files::REQUEST_LEN,
            Frame::FileData(d) => files::data_len(d),
        }
    }

    /// Checks the limits a decoder would enforce, so we never emit what a peer must reject.
    pub fn validate(&self) -> Result<(), FrameError> {
        match self {
            Frame::Datagram(d) => check_len("datagram payload", d.payload.len(), MAX_DGRAM_PAYLOAD),
            Frame::Hello(h) => {
                check_len(
                    "doomlink version",
                    h.doomlink_version.len(),
                    MAX_VERSION_LEN,
                )?;
                check_len("name", h.name.len(), MAX_NAME_LEN)?;
                check_len("pwads", h.wads.pwads.len(), MAX_PWADS)
            }
            Frame::Welcome(w) => {
                check_len("peers", w.peers.len(), MAX_PEERS)?;
                for p in &w.peers {
                    check_len("name", p.name.len(), MAX_NAME_LEN)?;
                }
                w.check_addresses()
            }
            Frame::Bye(b) => check_len("bye message", b.message.len(), MAX_BYE_MESSAGE_LEN),
            Frame::Ping(_) | Frame::Pong(_) | Frame::PeerLeft { .. } => Ok(()),
            Frame::PeerJoined(p) => check_len("name", p.name.len(), MAX_NAME_LEN),
            Frame::Chat(l) => check_len("chat text", l.text.len(), MAX_CHAT_LEN),
            Frame::Lobby(l) => check_len("lobby text", l.text.len(), MAX_LOBBY_LEN),
            Frame::Wads(list) => files::validate_wads(list),
            Frame::FileRequest(req) => files::validate_request(req),
            Frame::FileData(d) => files::validate_data(d),
        }
    }

    /// Writes the frame into `buf` and returns its length; fails (without writing a partial
    /// frame's worth of meaning) if a field exceeds its limit or `buf` is too small.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, FrameError> {
        self.validate()?;
        let need = self.buffer_len();
        if buf.len() < need {
            return Err(FrameError::BufferTooSmall {
                need,
                have: buf.len(),
            });
        }
        let mut w = Writer { buf, pos: 0 };
        w.put(&[VERSION, self.type_code()])?;
        match self {
            Frame::Datagram(d) => {
                w.put(&d.src.port().to_be_bytes())?;
                w.put(&[0, 0])?;
                w.put(&d.dst.port().to_be_bytes())?;
                w.put(&d.src.ip().octets())?;
                w.put(&d.dst.ip().octets())?;
                w.put(d.payload)?;
            }
            Frame::Hello(h) => {
                w.str8(&h.doomlink_version)?;
                w.str8(&h.name)?;
                w.put(&h.wads.iwad)?;
                w.put(&[h.wads.pwads.len() as u8])?;
                for p in &h.wads.pwads {
                    w.put(p)?;
                }
            }
            Frame::Welcome(wl) => {
                w.put(&wl.your_addr.octets())?;
                w.put(&wl.subnet.network().octets())?;
                w.put(&[wl.subnet.prefix_len()])?;
                w.put(&wl.hub_addr.octets())?;
                w.put(&[wl.peers.len() as u8])?;
                for p in &wl.peers {
                    w.put(&p.addr.octets())?;
                    w.str8(&p.name)?;
                }
            }
            Frame::Bye(b) => {
                w.put(&[b.reason.code()])?;
                w.str16(&b.message)?;
            }
            Frame::Ping(seq) | Frame::Pong(seq) => w.put(&seq.to_be_bytes())?,
            Frame::PeerJoined(p) => {
                w.put(&p.addr.octets())?;
                w.str8(&p.name)?;
            }
            Frame::PeerLeft { addr, reason } => {
                w.put(&addr.octets())?;
                w.put(&[reason.code()])?;
            }
            Frame::Chat(l) | Frame::Lobby(l) => {
                w.put(&l.from.octets())?;
                w.str16(&l.text)?;
            }
            Frame::Wads(list) => files::emit_wads(&mut w, list)?,
            Frame::FileRequest(req) => files::emit_request(&mut w, req)?,
            Frame::FileData(d) => files::emit_data(&mut w, d)?,
        }
        Ok(w.pos)
    }

    pub fn to_vec(&self) -> Result<Vec<u8>, FrameError> {
        let mut v = vec![0; self.buffer_len()];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }
}

impl Welcome {
    /// Every address must be a host of the subnet, and the recipient's must not be the hub's:
    /// a client acts on these without further checks.
    fn check_addresses(&self) -> Result<(), FrameError> {
        if !self.subnet.contains_host(self.your_addr) {
            return Err(FrameError::Invalid("assigned address"));
        }
        if !self.subnet.contains_host(self.hub_addr) || self.hub_addr == self.your_addr {
            return Err(FrameError::Invalid("hub address"));
        }
        if self
            .peers
            .iter()
            .any(|p| !self.subnet.contains_host(p.addr) || p.addr == self.your_addr)
        {
            return Err(FrameError::Invalid("peer address"));
        }
        Ok(())
    }
}

/// Checks what every frame shares: a cap on the total size, then version, returns the type.
fn check_envelope(buf: &[u8]) -> Result<u8, FrameError> {
    if buf.len() > MAX_FRAME_LEN {
        return Err(FrameError::Oversized {
            len: buf.len(),
            max: MAX_FRAME_LEN,
        });
    }
    match *buf {
        [VERSION, ty, ..] => Ok(ty),
        [v, _, ..] => Err(FrameError::UnsupportedVersion(v)),
        _ => Err(FrameError::Truncated),
    }
}

fn parse_datagram(buf: &[u8]) -> Result<DatagramFrame<'_>, FrameError> {
    let Some((h, payload)) = buf.split_first_chunk::<DGRAM_HEADER_LEN>() else {
        return Err(FrameError::Truncated);
    };
    if h[4..6] != [0, 0] {
        return Err(FrameError::ReservedNonZero);
    }
    let port = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let ip = |i: usize| Ipv4Addr::new(h[i], h[i + 1], h[i + 2], h[i + 3]);
    // The envelope's MAX_FRAME_LEN check already bounds the payload to MAX_DGRAM_PAYLOAD.
    Ok(DatagramFrame {
        src: SocketAddrV4::new(ip(8), port(2)),
        dst: SocketAddrV4::new(ip(12), port(6)),
        payload,
    })
}

fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), FrameError> {
    if len > max {
        Err(FrameError::FieldTooLong { field, len, max })
    } else {
        Ok(())
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.buf.len() < n {
            return Err(FrameError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, FrameError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Everything left: a frame's last field, whose length is the frame's.
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    fn addr(&mut self) -> Result<Ipv4Addr, FrameError> {
        Ok(Ipv4Addr::from(self.array::<4>()?))
    }

    fn hash(&mut self) -> Result<WadHash, FrameError> {
        self.array()
    }

    fn count(&mut self, field: &'static str, max: usize) -> Result<usize, FrameError> {
        let n = usize::from(self.u8()?);
        check_len(field, n, max)?;
        Ok(n)
    }

    fn string(
        &mut self,
        field: &'static str,
        len: usize,
        max: usize,
    ) -> Result<String, FrameError> {
        check_len(field, len, max)?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| FrameError::BadUtf8(field))
    }

    /// A string people will see: a terminal's escapes and bidi overrides removed.
    fn str8(&mut self, field: &'static str, max: usize) -> Result<String, FrameError> {
        let len = usize::from(self.u8()?);
        let s = self.string(field, len, max)?;
        Ok(crate::text::displayable(&s).into_owned())
    }

    /// A string people will see (see [`Reader::str8`]).
    fn str16(&mut self, field: &'static str, max: usize) -> Result<String, FrameError> {
        let s = self.str16_raw(field, max)?;
        Ok(crate::text::displayable(&s).into_owned())
    }

    /// A string for a program (a lobby state), as sent.
    fn str16_raw(&mut self, field: &'static str, max: usize) -> Result<String, FrameError> {
        let len = usize::from(self.u16()?);
        self.string(field, len, max)
    }

    fn finish(self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FrameError::TrailingBytes(self.buf.len()))
        }
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        let have = self.buf.len();
        let end = self.pos + bytes.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(FrameError::BufferTooSmall { need: end, have })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    // Lengths were checked by `Frame::validate` against limits below 256 / 65536.
    fn str8(&mut self, s: &str) -> Result<(), FrameError> {
        self.put(&[s.len() as u8])?;
        self.put(s.as_bytes())
    }

    fn str16(&mut self, s: &str) -> Result<(), FrameError> {
        self.put(&(s.len() as u16).to_be_bytes())?;
        self.put(s.as_bytes())
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary (names typed by players may be long).
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
