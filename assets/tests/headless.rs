// SPDX-License-Identifier: GPL-3.0-or-later
//! doom.wasm run headless in the doomlink kernel: the -timedemo figures native Chocolate Doom
//! gives on this machine, and netgames between guests of one kernel (over 127.0.0.1) that end
//! by themselves (DOOMLINK_TICS) with identical demos.
//!
//! Needs Freedoom (scripts/setup installs it) in /usr/share/games/doom.

use doomlink_assets::DOOM_WASM;
use doomlink_kernel::{
    CaptureSink, ExitStatus, GuestModule, Kernel, KernelConfig, Mount, NoNetwork, ProcessHandle,
    ProcessSpec, Vfs,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const WAD_DIR: &str = "/usr/share/games/doom";

fn kernel_and_module() -> &'static (Kernel, GuestModule) {
    static KERNEL: OnceLock<(Kernel, GuestModule)> = OnceLock::new();
    KERNEL.get_or_init(|| {
        let kernel = Kernel::new(KernelConfig::default(), Arc::new(NoNetwork)).expect("kernel");
        let module = kernel.load(DOOM_WASM).expect("doom.wasm loads");
        (kernel, module)
    })
}

struct Guest {
    handle: ProcessHandle,
    stdout: CaptureSink,
    stderr: CaptureSink,
}

impl Guest {
    /// Waits for the end; panics with the guest's output if it takes longer than `timeout`.
    fn finish(&self, timeout: Duration) -> (ExitStatus, String) {
        let status = self.handle.wait_timeout(timeout);
        let output = format!("{}{}", self.stdout.text(), self.stderr.text());
        match status {
            Some(status) => (status, output),
            None => {
                self.handle.kill();
                panic!("the guest did not end in {timeout:?}; its output:\n{output}");
            }
        }
    }
}

/// Starts doom.wasm with the IWAD at /iwad/IWAD, `data` (if any) as /data, and `env`.
fn start(iwad: &str, data: Option<&Path>, env: &[(&str, String)], args: &[&str]) -> Guest {
    let (kernel, module) = kernel_and_module();
    let host_iwad = Path::new(WAD_DIR).join(iwad);
    assert!(
        host_iwad.is_file(),
        "{} is missing: run scripts/setup",
        host_iwad.display()
    );

    let mut vfs = Vfs::new();
    vfs.mount(Mount::ReadOnlyFile {
        guest: format!("/iwad/{iwad}"),
        host: host_iwad,
    });
    if let Some(data) = data {
        vfs.mount(Mount::ReadWriteDir {
            guest: "/data".into(),
            host: data.to_path_buf(),
        });
    }
    let iwad_arg = format!("/iwad/{iwad}");
    let mut spec = ProcessSpec::new(
        ["doom.wasm", "-iwad", iwad_arg.as_str()]
            .into_iter()
            .chain(args.iter().copied()),
    );
    spec.vfs = vfs;
    spec.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
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

fn timedemo(iwad: &str, demo: &str) -> String {
    let guest = start(iwad, None, &[], &["-timedemo", demo]);
    let (status, output) = guest.finish(Duration::from_secs(60));
    assert_eq!(status, ExitStatus::Exited(0), "{output}");
    output
        .lines()
        .find(|l| l.starts_with("timed "))
        .unwrap_or_else(|| panic!("no timing:\n{output}"))
        .to_string()
}

#[test]
fn timedemos_run_as_native() {
    // Native chocolate-doom 3.0 (Debian) on the same IWADs.
    for (iwad, demo, gametics) in [
        ("freedoom1.wad", "demo1", 1531),
        ("freedoom1.wad", "demo2", 2763),
        ("freedoom1.wad", "demo3", 1241),
        ("freedoom2.wad", "demo1", 1415),
    ] {
        let line = timedemo(iwad, demo);
        assert!(
            line.starts_with(&format!("timed {gametics} gametics ")),
            "{iwad} {demo}: {line}"
        );
    }
}

/// A scratch directory for one guest's /data.
fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "doomlink-assets-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The demos of two peers of one netgame are the same but for byte 8 (consoleplayer).
fn assert_same_game(a: &[u8], b: &[u8], tics: usize, players: usize) {
    assert_eq!(a.len(), 13 + tics * 4 * players + 1, "demo length");
    assert_eq!(a.len(), b.len());
    let differing: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    assert!(
        differing.iter().all(|&i| i == 8),
        "demos differ at bytes {differing:?}"
    );
    assert_eq!(*a.last().unwrap(), 0x80, "demo end marker");
}

#[test]
fn two_peer_netgame_ends_by_itself_with_equal_demos() {
    const TICS: usize = 140;
    let tics = vec![("DOOMLINK_TICS", TICS.to_string())];
    let (server_data, client_data) = (data_dir("server"), data_dir("client"));
    let server = start(
        "freedoom1.wad",
        Some(&server_data),
        &tics,
        &[
            "-server", "-port", "2400", "-nodes", "2", "-record", "peer", "-warp", "1", "1",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let client = start(
        "freedoom1.wad",
        Some(&client_data),
        &tics,
        &["-connect", "127.0.0.1:2400", "-record", "peer"],
    );

    let (status, output) = client.finish(Duration::from_secs(60));
    assert_eq!(status, ExitStatus::Exited(0), "client:\n{output}");
    let (status, output) = server.finish(Duration::from_secs(60));
    assert_eq!(status, ExitStatus::Exited(0), "server:\n{output}");
    assert!(output.contains("Demo peer.lmp recorded"), "{output}");

    let a = std::fs::read(server_data.join("peer.lmp")).unwrap();
    let b = std::fs::read(client_data.join("peer.lmp")).unwrap();
    assert_same_game(&a, &b, TICS, 2);
    assert_eq!((a[8], b[8]), (0, 1), "consoleplayer");
}

#[test]
fn dedicated_server_serves_two_clients() {
    const TICS: usize = 105;
    let tics = vec![("DOOMLINK_TICS", TICS.to_string())];
    let server = start("freedoom2.wad", None, &[], &["-dedicated", "-port", "2410"]);
    std::thread::sleep(Duration::from_millis(300));
    let (data1, data2) = (data_dir("dedicated-1"), data_dir("dedicated-2"));
    let first = start(
        "freedoom2.wad",
        Some(&data1),
        &tics,
        &[
            "-connect",
            "127.0.0.1:2410",
            "-nodes",
            "2",
            "-record",
            "peer",
            "-warp",
            "1",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let second = start(
        "freedoom2.wad",
        Some(&data2),
        &tics,
        &["-connect", "127.0.0.1:2410", "-record", "peer"],
    );

    for (name, guest) in [("first", &first), ("second", &second)] {
        let (status, output) = guest.finish(Duration::from_secs(60));
        assert_eq!(status, ExitStatus::Exited(0), "{name} client:\n{output}");
    }
    let a = std::fs::read(data1.join("peer.lmp")).unwrap();
    let b = std::fs::read(data2.join("peer.lmp")).unwrap();
    assert_same_game(&a, &b, TICS, 2);

    // A dedicated server runs until it is stopped.
    assert!(
        server.handle.try_status().is_none(),
        "the dedicated server ended early"
    );
    server.handle.kill();
    server.handle.wait();
}
