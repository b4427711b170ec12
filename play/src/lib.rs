//! Playing doomlink, with no window: what every way of playing shares (the `doomlink` command
//! line, the desktop window, the dedicated rooms of `doomlink serve`, the tests).
//!
//! - `guest`: Chocolate Doom (doom.wasm) started in a kernel with its mounts and devices;
//!   `iwad`: finding the IWAD; `bot`: seeded key presses for headless play
//! - `game`: a game's settings and the Chocolate Doom arguments they become
//! - `launch`: a started game ([`launch::Launched`]) and a local game's choice; `log`: the
//!   tracing subscriber every command installs (`RUST_LOG`)
//! - `netview`: what a netgame shows of its network (peers, paths, chat); `sink`: datagrams
//!   from a transport into the kernel
//! - `wadshare`, `wadcache`, `lanfiles`: a game's files for joiners who lack them (the policy,
//!   the joiner's cache, the LAN service)
//! - `roomgame`: what a room plays, told to the rendezvous and read before joining
//! - `internet`: the kernel's HostIO on a WebRTC session (rendezvous rooms, invite links,
//!   manual codes)
//! - `netplay`: network play behind one interface ([`netplay::Netplay`]), and its LAN and
//!   Internet implementations
//!
//! The kernel and the network crates are re-exported, so a front end (the window) needs this
//! crate only.

#![forbid(unsafe_code)]

pub mod bot;
pub mod game;
pub mod guest;
pub mod internet;
pub mod iwad;
pub mod lanfiles;
pub mod launch;
pub mod log;
pub mod netplay;
pub mod netview;
pub mod roomgame;
pub mod sink;
pub mod wadcache;
pub mod wadshare;

pub use doomlink_kernel as kernel;
pub use doomlink_net as net;
