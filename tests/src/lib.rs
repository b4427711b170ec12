//! Helpers for doomlink's end-to-end tests: the real `doomlink` binary (built on first use),
//! scratch directories, and running commands with a deadline. Child processes (kill-on-drop,
//! headless peer arguments, invite links, `doomlink serve`) are in [`procs`], re-exported here;
//! a real browser and the page bundle in [`browser`].

pub mod browser;
pub mod chocobot;

pub mod measure;
pub use measure::*;

pub mod natlab;
pub mod netns;

pub mod procs;
pub mod pwad;
pub mod relay;
pub use procs::*;

pub mod xvfb;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `doomlink` binary of this workspace, built (in the test profile) the first time it is asked
/// for. Cargo does not build another package's binary for a test, so this asks cargo to.
pub fn doomlink() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_bin("doomlink", &[])).clone()
}

/// The `doomlink-server` binary (the server alone, no GUI) of this workspace, built in the test
/// profile the first time it is asked for.
pub fn doomlink_server() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_bin("doomlink-server", &[]))
        .clone()
}

/// The directory holding Chocolate Doom 3.1.1's native `chocolate-doom` and `chocolate-server`,
/// built from the source doom.wasm is built from by `scripts/native-chocolate-doom` (once per
/// machine, into a cache; about two minutes on two cores the first time).
pub fn native_chocolate_doom_3_1_1() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Command::new(repo_root().join("scripts/native-chocolate-doom"))
            .stderr(Stdio::inherit())
            .output()
            .expect("running scripts/native-chocolate-doom");
        assert!(
            out.status.success(),
            "scripts/native-chocolate-doom: {}",
            out.status
        );
        let text = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(text.lines().last().expect("a directory").trim())
    })
    .clone()
}

/// The `doomlink` binary as it ships, built in the `dist` profile (release with whole-program
/// optimisation, as `packaging/build-deb` builds it) the first time it is asked for: for the
/// service benchmarks, which measure what a server runs. A cold build takes ~19 minutes on two
/// cores; later ones relink the whole program (minutes).
///
/// `DOOMLINK_BENCH_BIN` names another binary instead (a copy built from an older commit): so
/// that two builds of the service can be measured by the same benchmark and bots, in turns or
/// at once (`tests/benches/saturation-ab.sh`).
pub fn doomlink_dist() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os("DOOMLINK_BENCH_BIN") {
        Some(bin) => {
            let bin = PathBuf::from(bin);
            // A bench, not a user's path: stopping here with the reason is the clear error.
            assert!(
                bin.is_file(),
                "DOOMLINK_BENCH_BIN: no such file: {}",
                bin.display()
            );
            bin
        }
        None => build_bin("doomlink", &["--profile", "dist"]),
    })
    .clone()
}

/// `cargo` for a build a test asks for, as a plain `cargo build` in the workspace would run.
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    repo_command(cargo)
}

/// `program` run in the repository, without the variables cargo gives a test (a build it
/// starts is then the plain build's, see [`cargo`]).
pub(crate) fn repo_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut build = Command::new(program);
    // Cargo gives a test the variables of the package under test (CARGO_MANIFEST_DIR, ...).
    // Passed on, they make this build differ from a plain `cargo build`: ring's build script
    // reruns on a changed CARGO_MANIFEST_DIR, and with it everything above ring, here and again
    // in the next plain build (minutes on two cores, every test run).
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let from_test = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
        ]
        .iter()
        .any(|p| key.starts_with(p));
        if from_test {
            build.env_remove(&*key);
        }
    }
    build.current_dir(repo_root());
    build
}

/// `cargo build -p NAME --bin NAME` with `profile` arguments (the package and its binary share
/// the name); the executable's path.
fn build_bin(name: &str, profile: &[&str]) -> PathBuf {
    let mut build = cargo();
    let out = build
        .args(["build", "-q"])
        .args(profile)
        .args(["-p", name, "--bin", name, "--message-format=json"])
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "building {name} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"executable\":\"") && l.contains(&format!("/{name}\"")))
        .filter_map(|l| {
            l.split("\"executable\":\"")
                .nth(1)?
                .split('"')
                .next()
                .map(PathBuf::from)
        })
        .next_back()
        .unwrap_or_else(|| panic!("cargo names the {name} executable"))
}

/// A scratch directory removed when dropped.
pub struct Scratch(pub PathBuf);
impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("doomlink-e2e-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command to its end, killing it after `limit`.
pub fn run_with_deadline(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "command timed out after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub const FREEDOOM1: &str = "/usr/share/games/doom/freedoom1.wad";
pub const FREEDOOM2: &str = "/usr/share/games/doom/freedoom2.wad";

/// Gametics a netgame test plays: 3000 (about 90 s of game) unless DOOMLINK_TEST_TICS says
/// otherwise (a quicker local run).
pub fn test_tics() -> u32 {
    std::env::var("DOOMLINK_TEST_TICS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// Checks that demos recorded by the peers of one netgame are equal except the consoleplayer
/// byte (offset 8 of the 13-byte header), and that they hold `tics` tics for `players` players.
pub fn assert_demos_equal(demos: &[PathBuf], players: usize, tics: u32) {
    let want_len = 13 + 4 * players * tics as usize + 1;
    for p in demos {
        let len = std::fs::metadata(p).map(|m| m.len() as usize).unwrap_or(0);
        assert_eq!(
            len,
            want_len,
            "{}: {len} bytes, want {want_len} ({players} players × {tics} tics)",
            p.display()
        );
    }
    assert_same_game(demos, players);
}

/// Checks that demos recorded by the peers of one netgame are equal except the consoleplayer
/// byte, whatever their length (a player who left mid-game shortens every tic after).
pub fn assert_same_game(demos: &[PathBuf], players: usize) {
    let bytes: Vec<Vec<u8>> = demos
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    for (p, b) in demos.iter().zip(&bytes) {
        assert!(
            b.len() > 14,
            "{}: {} bytes is no demo",
            p.display(),
            b.len()
        );
        assert_eq!(b[0], 109, "{}: demo version", p.display());
        assert_eq!(b[b.len() - 1], 0x80, "{}: demo end marker", p.display());
        let in_game = b[9..13].iter().filter(|&&x| x == 1).count();
        assert_eq!(in_game, players, "{}: playeringame", p.display());
    }
    let mut consoleplayers: Vec<u8> = bytes.iter().map(|b| b[8]).collect();
    consoleplayers.sort();
    consoleplayers.dedup();
    assert_eq!(
        consoleplayers.len(),
        demos.len(),
        "each peer is a different player"
    );
    for (i, b) in bytes.iter().enumerate().skip(1) {
        assert_eq!(
            b.len(),
            bytes[0].len(),
            "{} and {} differ in length",
            demos[i].display(),
            demos[0].display()
        );
        let diff: Vec<usize> = (0..b.len())
            .filter(|&k| k != 8 && b[k] != bytes[0][k])
            .collect();
        assert!(
            diff.is_empty(),
            "{} differs from {} at {} bytes, first at {:?}",
            demos[i].display(),
            demos[0].display(),
            diff.len(),
            diff.first()
        );
    }
}

/// A UDP port below the ephemeral range that is free on 127.0.0.1 now (LAN servers keep their
/// port number on the wire only below 49152).
pub fn free_server_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 20000 + (std::process::id() % 500) * 40;
    loop {
        let p = (base + NEXT.fetch_add(1, Ordering::Relaxed) % 19000) as u16;
        // A LAN host serves its files on the same number over TCP.
        if std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
        {
            return p;
        }
    }
}

/// Starts Chocolate Doom in `kernel` as `cfg` says, its stdout and stderr both into the log
/// returned with it (tests read the guest's `gametic` lines, timedemo results and errors).
pub fn start_logged_guest(
    kernel: &doomlink_kernel::Kernel,
    module: &doomlink_kernel::GuestModule,
    cfg: &doomlink_play::guest::DoomConfig,
) -> (
    doomlink_play::guest::DoomGuest,
    doomlink_kernel::CaptureSink,
) {
    let log = doomlink_kernel::CaptureSink::new();
    let g = doomlink_play::guest::DoomGuest::start(
        kernel,
        module,
        cfg,
        std::sync::Arc::new(log.clone()),
        std::sync::Arc::new(log.clone()),
    )
    .expect("Chocolate Doom starts in the kernel");
    (g, log)
}
