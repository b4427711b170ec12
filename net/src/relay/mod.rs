//! The sans-IO relay core: what a game's virtual network is and how datagrams cross it, with no
//! sockets, threads, async runtime or clock (every input carries an `Instant`). Builds with
//! `default-features = false` and needs nothing but thiserror.
//!
//! - [`session`]: [`Session`](session::Session), a player's hub or client state: handshake,
//!   addresses, routing and its checks, liveness, roster, chat and lobby.
//! - [`wire`]: the versioned binary frames links carry, with strict decoders.
//! - [`subnet`]: the virtual network's address arithmetic (default 10.77.0.0/24, hub .1).
//! - [`stats`]: the live figures per link and per session.
//! - [`bucket`]: the token bucket that limits rates of lines and messages.

pub mod bucket;
pub mod session;
pub mod stats;
pub mod subnet;
pub mod wire;
