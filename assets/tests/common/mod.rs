// SPDX-License-Identifier: GPL-3.0-or-later
//! Running doom.wasm in a doomlink kernel from the tests: one kernel and one compiled module per
//! test binary, guests with an IWAD, a /data directory, environment and devices.

#![allow(dead_code)] // each test binary uses its own part

use doomlink_assets::DOOM_WASM;
use doomlink_kernel::{
    CaptureSink, Device, ExitStatus, GuestModule, Kernel, KernelConfig, Mount, NoNetwork,
    ProcessHandle, ProcessSpec, Vfs,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub const WAD_DIR: &str = "/usr/share/games/doom";

fn kernel_and_module() -> &'static (Kernel, GuestModule) {
    static KERNEL: OnceLock<(Kernel, GuestModule)> = OnceLock::new();
    KERNEL.get_or_init(|| {
        let kernel = Kernel::new(KernelConfig::default(), Arc::new(NoNetwork)).expect("kernel");
        let module = kernel.load(DOOM_WASM).expect("doom.wasm loads");
        (kernel, module)
    })
}

/// What a guest gets besides its arguments.
#[derive(Default)]
pub struct Setup<'a> {
    /// An IWAD of WAD_DIR, mounted at /iwad/NAME and passed as -iwad.
    pub iwad: Option<&'a str>,
    /// A host directory mounted read-write at /data.
    pub data: Option<&'a Path>,
    pub env: Vec<(&'a str, String)>,
    /// Devices by name under /dev.
    pub devices: Vec<(&'a str, Arc<dyn Device>)>,
}

pub struct Guest {
    pub handle: ProcessHandle,
    stdout: CaptureSink,
    stderr: CaptureSink,
}

impl Guest {
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout.text(), self.stderr.text())
    }

    /// Waits for the end; panics with the guest's output if it takes longer than `timeout`.
    pub fn finish(&self, timeout: Duration) -> (ExitStatus, String) {
        let status = self.handle.wait_timeout(timeout);
        let output = self.output();
        // Shown by `cargo test -- --nocapture`, and with any failure.
        eprintln!(
            "---- guest {} ended {status:?} ----\n{output}",
            self.handle.pid()
        );
        match status {
            Some(status) => (status, output),
            None => {
                self.handle.kill();
                panic!("the guest did not end in {timeout:?}; its output:\n{output}");
            }
        }
    }
}

pub fn start(setup: Setup, args: &[&str]) -> Guest {
    let (kernel, module) = kernel_and_module();
    let mut vfs = Vfs::new();
    let mut argv = vec!["doom.wasm".to_string()];
    if let Some(iwad) = setup.iwad {
        let host_iwad = Path::new(WAD_DIR).join(iwad);
        assert!(
            host_iwad.is_file(),
            "{} is missing: run scripts/setup",
            host_iwad.display()
        );
        vfs.mount(Mount::ReadOnlyFile {
            guest: format!("/iwad/{iwad}"),
            host: host_iwad,
        });
        argv.extend(["-iwad".to_string(), format!("/iwad/{iwad}")]);
    }
    if let Some(data) = setup.data {
        vfs.mount(Mount::ReadWriteDir {
            guest: "/data".into(),
            host: data.to_path_buf(),
        });
    }
    for (name, device) in setup.devices {
        vfs.add_device(name, device);
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    let mut spec = ProcessSpec::new(argv);
    spec.vfs = vfs;
    spec.env = setup
        .env
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let stdout = CaptureSink::new();
    let stderr = CaptureSink::new();
    spec.stdout = Arc::new(stdout.clone());
    spec.stderr = Arc::new(stderr.clone());
    let handle = kernel.spawn(module, spec).expect("spawn");
    Guest {
        handle,
        stdout,
        stderr,
    }
}

/// A fresh scratch directory for one guest's /data, removed when dropped.
pub struct DataDir(PathBuf);

impl std::ops::Deref for DataDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn data_dir(name: &str) -> DataDir {
    let dir = std::env::temp_dir().join(format!(
        "doomlink-assets-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    DataDir(dir)
}

/// The demos of two peers of one netgame are the same but for byte 8 (consoleplayer).
pub fn assert_same_game(a: &[u8], b: &[u8], tics: usize, players: usize) {
    assert_eq!(a.len(), 13 + tics * 4 * players + 1, "demo length");
    assert_eq!(a.len(), b.len());
    let differing: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    assert!(
        differing.iter().all(|&i| i == 8),
        "demos differ at bytes {differing:?}"
    );
    assert_eq!(*a.last().unwrap(), 0x80, "demo end marker");
}
