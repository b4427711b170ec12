//! doomlink-net: the relay that carries doomlink guests' UDP datagrams between players.
//!
//! Each player's kernel hands the datagrams its guest (Chocolate Doom) sends to anything but
//! 127/8 to `HostIO::send_dgram`; this crate decides where they go in the game's virtual network
//! and hands them to the destination player's kernel as `inject_datagram` arguments. The crate
//! speaks plain ports, [`std::net::Ipv4Addr`] and bytes, and does not depend on the kernel: the
//! app wires the two together.
//!
//! The crate in layers, each depending only on those above it:
//!
//! - [`relay`]: the sans-IO core, [`Session`]; hub or client, fed with timestamps, polled for
//!   [`Output`]s (frames to send, datagrams to deliver, events) and deadlines; its wire format,
//!   the virtual subnet and the live figures. No sockets, threads or clock.
//! - [`sim`]: the simulated network: sessions joined by seeded lossy wires in virtual time, for
//!   tests.
//! - [`chocolate`]: Chocolate Doom's own packets, typed (header, SYN, reject, game settings), and
//!   a game's settings as players and rooms choose them.
//! - [`iwads`]: the IWADs anyone may pass on (Freedoom, FreeDM), known by SHA-256.
//! - [`text`]: what is stripped from names and messages from the network before they are shown.
//! - [`status`]: what a player is shown of the network: each peer's path, round trip and loss,
//!   and the chat lines.
//! - [`lan`]: the LAN transport: the bridge that puts a guest's UDP on real sockets, its address
//!   table, LAN discovery with Chocolate Doom's query packets, doomlink's side protocol.
//!
//! Internet play, behind the default `internet` feature (webrtc 0.21 on tokio):
//!
//! - [`files`]: owner-only files written whole (temp, fsync, rename) and private directories.
//! - [`identity`]: a host's persistent DTLS certificate and its fingerprint.
//! - [`signaling`]: the signaling messages and their strict decoder; invite links; certificate
//!   fingerprints. Its own feature, `signaling`, builds without WebRTC (for a browser).
//! - [`webrtc`]: the WebRTC transport: a peer connection per link, the one-socket mux of a
//!   dedicated service's edge, [`webrtc::node::WebRtcNode`] (a session driven over them).
//! - [`online`]: how players meet: the rendezvous client (`host_room`, `join_room`) and manual
//!   offer/answer codes for a game without a rendezvous.
//! - [`admin_api`]: the admin API's requests and answers, and its client.
//! - [`tls_client`]: what the clients trust for `wss://`/`https://` rendezvous, and connecting.
//! - [`rendezvous`] (the `rendezvous` feature, also on by default): `doomlink serve`, the
//!   service: signaling over WebSocket, the invite page, STUN and TURN with per-room
//!   credentials, rooms and limits, the admin API's server, TLS with a reloadable certificate.
//! - [`testing`] (the `testing` feature): what tests of WebRTC nodes share.
//!
//! # Links and transports
//!
//! The core knows links only as [`LinkId`]s. A transport tells it when a link comes up
//! ([`Session::link_up`]), what bytes arrived on it ([`Session::handle_frame`]) and when it went
//! away ([`Session::link_down`]); the core answers with [`Transmit`]s that name the link and the
//! [`Channel`] each frame needs, and with [`Event::LinkClosed`] when the transport should drop a
//! link. The WebRTC transport maps one peer connection to one link with two data channels:
//! [`Channel::Datagram`] → `ordered: false, maxRetransmits: 0` (game datagrams, ping/pong),
//! [`Channel::Control`] → reliable and ordered (handshake, bye, roster, chat, lobby); the link is
//! up when both are open. The in-memory [`sim`] transport models exactly that.

#![forbid(unsafe_code)]

#[cfg(feature = "internet")]
pub mod admin_api;
pub mod chocolate;
pub mod files;
#[cfg(feature = "internet")]
pub mod identity;
pub mod iwads;
pub mod lan;
#[cfg(feature = "internet")]
pub mod online;
pub mod relay;
#[cfg(feature = "rendezvous")]
pub mod rendezvous;
#[cfg(feature = "signaling")]
pub mod signaling;
pub mod sim;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
#[cfg(feature = "internet")]
pub mod tls_client;
#[cfg(feature = "internet")]
pub mod webrtc;

pub use relay::session::{
    CloseReason, Config, Delivery, Event, LinkId, LinkView, Output, Role, SendError, Session,
    SessionError, Transmit,
};
pub use relay::stats::{LinkStats, SessionStats};
pub use relay::subnet::{Dest, Subnet, SubnetError, DEFAULT_SUBNET};
pub use relay::wire::{ByeReason, Channel, Frame, FrameError, PeerInfo, WadHash, WadSet};
