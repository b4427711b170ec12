//! doomlink's server side, until it is a crate of its own: the dedicated rooms of `doomlink
//! serve` and its config. The `doomlink` binary (main.rs) wires this, doomlink-play and the
//! window (doomlink-desktop) together.

pub mod dedicated;
pub mod serve_config;
