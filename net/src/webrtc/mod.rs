//! The WebRTC transport: session links carried by WebRTC peer connections (two negotiated data
//! channels each), on tokio.
//!
//! - [`peer`]: one peer connection = one link ([`peer::RtcLink`], webrtc 0.21): offer/answer,
//!   trickle ICE, fingerprint checks, the selected path (direct or relayed).
//! - [`mux`]: many hub-side peer connections on one UDP socket and one thread (sans-IO `rtc`
//!   cores): a dedicated service's WebRTC edge.
//! - [`runtime`]: the async runtime a player's peer connections run on (tokio's, with larger
//!   UDP receive buffers).
//! - [`node`]: [`node::WebRtcNode`], a [`Session`](crate::Session) driven over such links: what
//!   a player's app or a dedicated room holds.

pub mod mux;
pub mod node;
pub mod peer;
pub mod runtime;
