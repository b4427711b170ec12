//! Runs one wasm32-wasi guest in a doomlink kernel, for debugging guests by hand.
//!
//! usage: cargo run --release -p doomlink-kernel --example run_guest -- \
//!          [--mount-ro GUEST=HOST]… [--mount-rw GUEST=HOST]… [--env K=V]… FILE.wasm [ARGS…]
//! The guest's argv[0] is the file name; stdout/stderr go to the terminal; the exit status is the
//! guest's (134 for a trap). Compiled modules are cached in $TMPDIR/doomlink-run-guest-cache.

use doomlink_kernel::*;
use std::path::PathBuf;
use std::sync::Arc;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut vfs = Vfs::new();
    let mut env = Vec::new();
    let file = loop {
        let Some(a) = args.next() else {
            eprintln!(
                "usage: run_guest [--mount-ro G=H] [--mount-rw G=H] [--env K=V] FILE.wasm [ARGS…]"
            );
            std::process::exit(64);
        };
        let mut pair = |flag: &str| {
            let v = args.next().unwrap_or_default();
            let (g, h) = v
                .split_once('=')
                .unwrap_or_else(|| panic!("{flag} wants GUEST=HOST"));
            (g.to_string(), PathBuf::from(h))
        };
        match a.as_str() {
            "--mount-ro" => {
                let (guest, host) = pair("--mount-ro");
                if host.is_dir() {
                    vfs.mount(Mount::ReadOnlyDir { guest, host });
                } else {
                    vfs.mount(Mount::ReadOnlyFile { guest, host });
                }
            }
            "--mount-rw" => {
                let (guest, host) = pair("--mount-rw");
                vfs.mount(Mount::ReadWriteDir { guest, host });
            }
            "--env" => {
                let (k, v) = pair("--env");
                env.push((k, v.to_string_lossy().into_owned()));
            }
            _ => break a,
        }
    };
    let wasm = std::fs::read(&file).unwrap_or_else(|e| {
        eprintln!("run_guest: cannot read {file}: {e}");
        std::process::exit(66)
    });
    let cache = std::env::temp_dir().join("doomlink-run-guest-cache");
    let kernel = Kernel::new(
        KernelConfig {
            cache_dir: Some(cache),
            ..Default::default()
        },
        Arc::new(NoNetwork),
    )
    .expect("kernel");
    let t = std::time::Instant::now();
    let module = kernel.load(&wasm).unwrap_or_else(|e| {
        eprintln!("run_guest: {e}");
        std::process::exit(65)
    });
    eprintln!("run_guest: loaded in {:?}", t.elapsed());
    let mut spec = ProcessSpec::new(std::iter::once(file.clone()).chain(args));
    spec.vfs = vfs;
    spec.env = env;
    let status = kernel.spawn(&module, spec).expect("spawn").wait();
    if !matches!(status, ExitStatus::Exited(_)) {
        eprintln!("run_guest: guest {status}");
    }
    std::process::exit(status.code());
}
