//! Builds the C test guests (kernel/tests/guests) for wasm32-wasi with Debian's clang-16 and the
//! repo's guest libc, once per test binary, into cargo's per-target temp dir.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Compiles `kernel/tests/guests/<name>.c` (plus the guest libc) and returns the wasm bytes.
pub fn guest(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>> =
        OnceLock::new();
    let cache = BUILT.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap();
    if let Some(w) = cache.get(name) {
        return w.clone();
    }
    let root = repo_root();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.wasm"));
    let status = Command::new("clang-16")
        .args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-O2",
            "-Wall",
            "-fuse-ld=lld",
            "-L/usr/lib/wasm32-wasi",
        ])
        .arg("-I")
        .arg(root.join("assets/guest-libc/include"))
        .args(["-isystem", "/usr/include/wasm32-wasi"])
        .arg(root.join(format!("kernel/tests/guests/{name}.c")))
        .arg(root.join("assets/guest-libc/src/socket.c"))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang-16 runs (scripts/setup installs it)");
    assert!(status.success(), "building guest {name} failed");
    let wasm = std::fs::read(&out).unwrap();
    cache.insert(name.to_string(), wasm.clone());
    wasm
}
