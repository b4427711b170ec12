//! What a player is shown of a netgame's network, whatever transport carries it: each peer's
//! status (path, round-trip time, loss: the lobby's ping column and the in-game network overlay)
//! and the chat lines. The transports' wiring fills these in; the desktop window and the browser
//! page draw them with the same screens (doomlink-screens).

use std::net::Ipv4Addr;
use std::time::Duration;

/// One peer as the network panel shows it. For a client that is the server it talks to (and,
/// where the transport knows them, the others); for the host, each client.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeerStatus {
    /// The player's name, if known yet.
    pub name: Option<String>,
    /// The address the local guest sees this peer at, to match a lobby row (`player N NAME
    /// ADDR` in /dev/lobby), if the transport knows it.
    pub guest_addr: Option<Ipv4Addr>,
    /// How the traffic goes: "LAN", "direct", "relayed (TURN)", …
    pub path: Option<String>,
    /// Smoothed round-trip time.
    pub rtt: Option<Duration>,
    /// Fraction of recent probes lost, 0.0–1.0.
    pub loss: Option<f64>,
    /// Guest datagrams in and out over this peer's link.
    pub dgrams_in: u64,
    pub dgrams_out: u64,
    /// Datagrams dropped on this link (queue full, forged, no route, invalid).
    pub drops: u64,
}

/// A chat line, ours or another player's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub from: String,
    pub text: String,
    /// True for lines this player sent.
    pub mine: bool,
}

/// Longest chat line any transport carries, in bytes of UTF-8.
pub const MAX_CHAT_BYTES: usize = 200;
