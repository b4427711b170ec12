//! doomlink's app crate: the wiring between the kernel (doomlink-kernel), the guest
//! (doomlink-assets' doom.wasm), the relay (doomlink-net) and the window. The `doomlink` binary
//! (main.rs) is its command line; the modules are a library so that end-to-end tests can run
//! several players in one process.

pub mod audio;
pub mod bot;
pub mod dedicated;
pub mod guest;
pub mod gui;
pub mod internet;
pub mod internet_netplay;
pub mod iwad;
pub mod netplay;
pub mod netview;
pub mod relay;
pub mod serve_config;
pub mod single_instance;
