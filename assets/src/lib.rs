// SPDX-License-Identifier: GPL-3.0-or-later
//! The guest programs doomlink boots, compiled by this crate's build script.
//!
//! `DOOM_WASM` is Chocolate Doom 3.1.1 (Debian's upstream tarball) with doomlink's platform layer
//! (`chocolate-doom/`), built with clang-16 for wasm32-wasi. It imports only the
//! `wasi_snapshot_preview1` functions and the `doomlink_net` socket functions of
//! `kernel/ABI.md` (the build checks), and talks to the host through the devices listed there;
//! `chocolate-doom/README.md` says what the guest expects of each, and which environment
//! variables and arguments it reads.

#![forbid(unsafe_code)]

/// doom.wasm, ready for the kernel to load.
pub static DOOM_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/doom.wasm"));

include!(concat!(env!("OUT_DIR"), "/doom_wasm_sha256.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doom_wasm_is_a_wasm_module() {
        assert_eq!(&DOOM_WASM[..8], b"\0asm\x01\0\0\0");
        assert_eq!(DOOM_WASM_SHA256.len(), 64);
    }
}
