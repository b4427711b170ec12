//! The screens the desktop window and the browser page both draw, in egui: the same code on
//! both, so a player sees the same lobby wherever they play. Owns the drawing and the small
//! state the drawing needs; the figures come from doomlink-net's types (the lobby records a
//! guest writes, each peer's status, the chat lines), whoever fills them in.
//!
//! - [`lobby`]: the netgame lobby while the game waits to start: players with path, ping and
//!   loss, the WAD checks, the chat, Start (for the controller) and Leave
//! - [`overlay`]: the in-game network overlay (peers on demand, new chat lines for a while)
//! - [`view`]: where Doom's 320×200 picture goes in a window, at 4:3, letterboxed

#![forbid(unsafe_code)]

pub mod lobby;
pub mod overlay;
pub mod view;

pub use egui;
