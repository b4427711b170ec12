//! doomlink-net: the relay that carries doomlink guests' UDP datagrams between players.
//!
//! Each player's kernel hands the datagrams its guest (Chocolate Doom) sends to anything but
//! 127/8 to `HostIO::send_dgram`; this crate decides where they go in the game's virtual network
//! and hands them to the destination player's kernel as `inject_datagram` arguments. The crate
//! speaks plain ports, [`std::net::Ipv4Addr`] and bytes, and does not depend on the kernel: the
//! app wires the two together.
//!
//! - [`subnet`]: the virtual network's address arithmetic (default 10.77.0.0/24, hub .1).
//! - [`wire`]: the versioned binary frames links carry, with strict decoders.
//! - [`session`]: the sans-IO core, [`Session`]; hub or client, fed with timestamps, polled for
//!   [`Output`]s (frames to send, datagrams to deliver, events) and deadlines.
//! - [`stats`]: the live figures per link and per session.
//! - [`sim`]: an in-memory transport over a simulated lossy network in virtual time, for tests.
//! - [`lan_nat`]: the sans-IO address table of the LAN bridge (real UDP endpoints ↔ virtual ones).
//! - [`chocolate`]: Chocolate Doom's own packets, typed: header, SYN, reject, game settings.
//! - [`lan_query`]: LAN discovery with Chocolate Doom's own server query packets.
//! - [`rng`]: the small seeded generator the simulation uses.
//!
//! Internet play, behind the default `internet` feature (webrtc 0.21 on tokio):
//!
//! - [`peer`]: one WebRTC peer connection = one link: two negotiated data channels, offer/answer,
//!   trickle ICE, fingerprint checks, the selected path (direct or relayed).
//! - [`node`]: [`node::WebRtcNode`], a [`Session`] driven over such links on tokio: what the app
//!   holds (guest datagrams in, deliveries to a [`lan::GuestSink`], events for the UI).
//! - [`online`]: the app's side of the rendezvous: `host_room` (a room, an invite link,
//!   joiners' links) and `join_room`.
//! - [`rendezvous`] (the `rendezvous` feature, also on by default): `doomlink serve`, the
//!   service: signaling over WebSocket, the invite page, STUN and TURN with per-room
//!   credentials, rooms and limits, the admin API's server.
//! - [`admin_api`]: the admin API's requests and answers, and its client.
//! - [`signal`]: the signaling messages and their strict decoder.
//! - [`invite`]: invite links (`doomlink://join/…` and the http form).
//! - [`manual`]: manual offer/answer codes, for a game without a rendezvous.
//! - [`identity`]: a host's persistent DTLS certificate and its fingerprint.
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
#[cfg(feature = "internet")]
pub mod identity;
#[cfg(feature = "internet")]
pub mod invite;
pub mod lan;
pub mod lan_nat;
pub mod lan_query;
pub mod lan_side;
#[cfg(feature = "internet")]
pub mod manual;
#[cfg(feature = "internet")]
pub mod mux;
#[cfg(feature = "internet")]
pub mod node;
#[cfg(feature = "internet")]
pub mod online;
#[cfg(feature = "internet")]
pub mod peer;
#[cfg(feature = "rendezvous")]
pub mod rendezvous;
pub mod rng;
pub mod session;
#[cfg(feature = "internet")]
pub mod signal;
pub mod sim;
pub mod stats;
pub mod subnet;
pub mod wire;

pub use session::{
    CloseReason, Config, Delivery, Event, LinkId, LinkView, Output, Role, SendError, Session,
    SessionError, Transmit,
};
pub use stats::{LinkStats, SessionStats};
pub use subnet::{Dest, Subnet, SubnetError, DEFAULT_SUBNET};
pub use wire::{ByeReason, Channel, Frame, FrameError, PeerInfo, WadHash, WadSet};
