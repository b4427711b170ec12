//! The session's vocabulary: links, roles, its configuration, what it outputs (transmits,
//! deliveries, events) and its errors.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::relay::stats::LinkStats;
use crate::relay::subnet::Subnet;
use crate::relay::wire::{ByeReason, Channel, FrameError, PeerInfo, WadEntry, WadHash, WadSet};

/// A link as the session knows it: an id the session hands out in [`Session::link_up`]; the
/// transport keeps the mapping to its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u32);

impl std::fmt::Display for LinkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "link#{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Holds the subnet's first address, assigns the others, forwards between clients.
    Hub,
    /// Joins a hub over one link and is given its address.
    Client,
}

/// A session's settings. [`Config::new`] has the defaults given on each field.
#[derive(Debug, Clone)]
pub struct Config {
    /// The player's name, cut to [`MAX_NAME_LEN`] bytes.
    pub name: String,
    /// Sent in Hello for the host's information (compatibility is the protocol version's job).
    pub doomlink_version: String,
    /// A client must have exactly the hub's. At most [`crate::relay::wire::MAX_PWADS`] PWADs are
    /// sent; more are cut (on both sides alike).
    pub wads: WadSet,
    /// The virtual network; a hub uses it, a client learns the hub's from the Welcome.
    pub subnet: Subnet,
    /// How often each link is pinged (default 1 s).
    pub ping_interval: Duration,
    /// A ping without a pong after this long counts as lost (default 2 s).
    pub pong_timeout: Duration,
    /// A link not heard from for this long, or not through its handshake, is dead (default 10 s;
    /// a link moving files before its handshake counts from the last frame heard).
    pub link_timeout: Duration,
    /// How many recent pings the loss figure is over (default 20).
    pub loss_window: usize,
    /// Hub: the game's files as told to a joiner whose Hello names other WADs (the IWAD, then
    /// the PWADs in load order), each marked whether the hub sends it. Empty (the default):
    /// such a joiner is refused at once.
    pub offer: Vec<WadEntry>,
}

impl Config {
    pub fn new(name: impl Into<String>, wads: WadSet) -> Self {
        Config {
            name: name.into(),
            doomlink_version: env!("CARGO_PKG_VERSION").to_owned(),
            wads,
            subnet: Subnet::default(),
            ping_interval: Duration::from_secs(1),
            pong_timeout: Duration::from_secs(2),
            link_timeout: Duration::from_secs(10),
            loss_window: 20,
            offer: Vec::new(),
        }
    }
}

/// What the session wants done; drained with [`Session::poll_output`].
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send `frame` on `link`, over `channel`.
    Transmit(Transmit),
    /// Hand a datagram to the local guest (`kernel.inject_datagram`).
    Deliver(Delivery),
    Event(Event),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub link: LinkId,
    pub channel: Channel,
    pub frame: Vec<u8>,
}

/// A datagram for the local guest, shaped like `inject_datagram`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub dst_port: u16,
    pub src_ip: Ipv4Addr,
    pub src_port: u16,
    pub data: Vec<u8>,
}

/// Why a link was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Not heard from (or not through its handshake) within `Config::link_timeout`: dead.
    TimedOut,
    /// The other end said Bye.
    ByeReceived(ByeReason),
    /// We refused it (wrong WADs, protocol version, full) and said why in a Bye.
    Refused(ByeReason),
    /// We closed it ([`Session::close`], [`Session::kick`]) after a Bye.
    Local(ByeReason),
    /// The transport reported it gone ([`Session::link_down`]).
    TransportClosed,
}

impl CloseReason {
    /// The reason the other members are told in PeerLeft.
    pub(super) fn as_bye(self) -> ByeReason {
        match self {
            CloseReason::TimedOut => ByeReason::TimedOut,
            CloseReason::ByeReceived(r) | CloseReason::Refused(r) | CloseReason::Local(r) => r,
            CloseReason::TransportClosed => ByeReason::Quit,
        }
    }
}

/// Things the app shows or acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Client: the hub welcomed us; the guest can now use the network.
    Joined {
        addr: Ipv4Addr,
        hub: Ipv4Addr,
        subnet: Subnet,
        /// Everyone else, the hub included.
        peers: Vec<PeerInfo>,
    },
    /// A member joined (`link` is set on the hub: the link it came over).
    PeerJoined {
        link: Option<LinkId>,
        peer: PeerInfo,
    },
    /// A member left, cleanly or not.
    PeerLeft {
        link: Option<LinkId>,
        peer: PeerInfo,
        reason: ByeReason,
    },
    /// A link is gone: the transport should drop its connection. `peer` is who was at the other
    /// end once through the handshake; `stats` are the link's final figures. On a client this
    /// means the game is over (the hub is gone) until it links up again.
    LinkClosed {
        link: LinkId,
        peer: Option<PeerInfo>,
        reason: CloseReason,
        /// Boxed: the event is rare, and `Output` (every datagram's) stays small.
        stats: Box<LinkStats>,
    },
    /// A chat line from another member (one's own lines are not echoed).
    Chat {
        from: Ipv4Addr,
        name: String,
        text: String,
    },
    /// Another member's lobby state changed (or was first heard on joining).
    Lobby {
        from: Ipv4Addr,
        name: String,
        text: String,
    },
    /// Client, before the Welcome: the hub plays other WADs than ours and lists the game's.
    /// Fetch what is missing of the offered ones ([`super::Session::fetch_file`]) and say Hello
    /// again with the game's ([`super::Session::hello_again`]), or close.
    HostWads(Vec<WadEntry>),
    /// Client: bytes of the file being fetched, in order from its start.
    FileData {
        hash: WadHash,
        offset: u64,
        data: Vec<u8>,
    },
    /// Client: every byte of the file has arrived (checking them against the hash is the app's).
    FileFetched { hash: WadHash },
    /// Hub: a waiting joiner asks for `len` bytes of offered file `hash` from `offset`: answer
    /// with [`super::Session::send_file_data`].
    FileWanted {
        link: LinkId,
        hash: WadHash,
        offset: u64,
        len: u32,
    },
}

/// Why a guest's datagram was not sent. Each is counted in [`SessionStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("datagram of {0} bytes exceeds the 65507-byte UDP limit")]
    TooLarge(usize),
    #[error("not in a game (no address yet, or the session is closed)")]
    NotConnected,
    #[error("{0} is outside the virtual network")]
    OutOfNetwork(Ipv4Addr),
    #[error("no member holds {0}")]
    NoRoute(Ipv4Addr),
}

impl SendError {
    /// The WASI errno the kernel's `send_dgram` could return for this (kernel/ABI.md's numbers):
    /// EMSGSIZE for a datagram too large, ENETUNREACH otherwise. An app may as well report
    /// success for `NoRoute`, as real UDP to an absent host does.
    pub fn wasi_errno(&self) -> i32 {
        match self {
            SendError::TooLarge(_) => 35,
            _ => 40,
        }
    }
}

/// Why a request of the app was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("not in a game")]
    NotConnected,
    #[error("the session is closed")]
    Closed,
    #[error("a client has one link, to its hub, and it is up")]
    AlreadyLinked,
    #[error("only the hub can do that")]
    NotHub,
    #[error("no such link {0}")]
    UnknownLink(LinkId),
    #[error(transparent)]
    Files(#[from] super::FileError),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// A link's id, who is at its other end, and its figures.
#[derive(Debug, Clone, Copy)]
pub struct LinkView<'a> {
    pub link: LinkId,
    /// The address of the member at the other end, once through the handshake.
    pub addr: Option<Ipv4Addr>,
    pub name: Option<&'a str>,
    pub stats: &'a LinkStats,
}
