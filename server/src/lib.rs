//! doomlink's server: `doomlink serve` (also the `doomlink-server` binary) runs the rendezvous
//! for Internet play and hosts games itself, in dedicated rooms. Each room's server peer is the
//! service:
//! Chocolate Doom `-dedicated` (a server with no player of its own) in a kernel whose HostIO is a
//! hub `WebRtcNode`; players join by the room's invite link, or — in a room with a `lan_port` —
//! over the LAN transport at that real UDP port (`doomlink join IP:PORT`, stock `-connect`).
//! A room's WebRTC links go through an `RtcMux` (sans-IO peer connections on one UDP socket):
//! by default the room's own socket, read by the room's guest thread while it waits, as a LAN
//! port is (`rtc_edge = "per-room"`); or the service's shared edge threads, each reading one
//! socket for every room dealt to it (`"shared"`: fewer ports, a thread wake more per datagram).
//! A webrtc peer connection per player, each with its own driver task, sockets and channel
//! tasks, cost a room 2-3 times its game's CPU.
//!
//! Design:
//! - A room is a `host_room` client of the service's own rendezvous on 127.0.0.1 — the same
//!   code path as `doomlink host --internet`. The rendezvous then treats service rooms and
//!   player-hosted rooms alike (signaling, TURN credentials, expiry, the `closed` on shutdown),
//!   there is one implementation of hosting to trust, and the net crate keeps knowing no wasm.
//!   The link is rewritten to the public address (the room was registered over loopback).
//! - One kernel per room, chosen by measuring (`cargo bench -p doomlink-e2e --bench capacity`,
//!   2-core machine). Every kernel shares the process's one wasmtime engine and the guest's
//!   compiled module, so 16 idle `-dedicated` guests in a kernel each take 0.66 MB each and
//!   start in 0.7 ms, about what one shared kernel takes (0.64 MB, 0.2 ms). A playing
//!   four-player room costs the service 10-13 ms of CPU a second over the LAN transport and
//!   22-28 ms over WebRTC, and 3-10 MB, so a kernel of its own costs a room next to nothing. For
//!   that, a room's memory cap, kill, trap and HostIO are its own, with no routing by pid
//!   between rooms to get wrong and nothing shared that one room's failure could take down.
//! - The room's game options: Chocolate Doom's dedicated server takes them from the first player
//!   to join (the controller), and refuses them on its own command line. The service enforces
//!   the room's options instead by rewriting the settings of the controller's GAMESTART packet
//!   on its way into the server guest (`packets::enforce_settings`); the server then hands every player
//!   those settings, so all agree. The room's server launches the game itself once the room's
//!   player count is in (`-doomlink-autostart`, assets' dl_netserver.h); the controller may
//!   still start it earlier (its `-nodes` or the lobby's `start`), as natively.
//! - A room's PWADs are named by file name among the operator's `pwads` (never a path from a
//!   request); the room's session offers them with a free IWAD, its event drain answers joiners'
//!   requests from disk, and its LAN port serves them over TCP (net's `lan::files`).
//! - A room whose guest traps, I_Errors or exits is closed (its players get Bye HubClosing), logged
//!   and counted (`doomlink_rooms_failed_total`); other rooms go on. Standing rooms (from the
//!   config) start a new guest — a new game — after each game ends (its players all gone);
//!   rooms made through the admin API close after their one game.
//! - Limits: rooms, players per room (more joiners are turned away at the hub, and LAN joiners
//!   get Chocolate Doom's own "Server is full!" reject; both count the other transport's
//!   players), the guest's memory (the kernel's per-guest cap).
//! - LAN joins (`lan_room::LanRoom`): a room with a `lan_port` also holds a `LanBridge` (the NAT of
//!   `doomlink host --lan`) with that one real port. Its NAT hands LAN players addresses of
//!   `LAN_SUBNET`, apart from the session's /24, so the guest's HostIO routes each datagram by
//!   its destination: a LAN address to the bridge, anything else to the hub. Deliveries from
//!   the bridge go through the same `SettingsGuard` as the hub's. The bridge lives as long as
//!   the room, so a standing room's next guest (which binds 2342 again) is reached the same way.
//!   A LAN player has no link to count, so it counts from its datagrams: heard within
//!   `LAN_LIVE` and answered by the guest (or new, within `LAN_PENDING`).
//! - Guest CPU time: each guest runs on its own thread (the kernel names it `guest-PID`); the
//!   service finds its thread id when it starts and reads `/proc/self/task/TID/stat`.
//!
//! Modules: `config` (serve.toml, checked), `cli` (the `serve` and `room` commands), `service`
//! (the process: rendezvous, rooms, signals), `rooms` (making, watching and closing rooms),
//! `admin` (the rooms as the admin API sees them), `room_io` (a room's guest on the network),
//! `lan_room` (a room's LAN port), `packets` (the Chocolate Doom packets the service reads or
//! rewrites), `metrics`, `tic_clock` and `procstat` (figures). No two of them import each
//! other. No GUI crate is linked: the `doomlink-server` binary runs on a machine with no display.
//!
//! Test hook (tests only): `DOOMLINK_TEST_FAIL_ROOM=NAME:SECS` makes the service kill the guest
//! of the room named NAME SECS seconds after its first player came, through the kernel, without it being a
//! planned stop — the path a trap takes.

#![forbid(unsafe_code)]

mod admin;
pub mod cli;
pub mod config;
mod lan_room;
mod metrics;
mod packets;
mod procstat;
mod room_io;
mod rooms;
pub mod service;
mod tic_clock;

pub use lan_room::{LAN_LIVE, LAN_PENDING, LAN_SUBNET};
pub use packets::enforce_settings;
pub use rooms::{Rooms, RoomsConfig};
pub use service::{serve, service_data_dir, Service};
pub use tic_clock::TIC_BUCKETS;

/// The guest's server port in a room's kernel (WebRTC players reach it at the hub's address,
/// LAN players at the room's LAN port).
pub(crate) const GUEST_PORT: u16 = 2342;

/// A lock that a panic elsewhere does not poison for the service: the figures and tables
/// behind it stay usable.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
