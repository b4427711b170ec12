//! Helpers for doomlink's end-to-end tests: the real `doomlink` binary (built on first use),
//! scratch directories, and running commands with a deadline.

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
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "doomlink",
                "--bin",
                "doomlink",
                "--message-format=json",
            ])
            .current_dir(repo_root())
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(out.status.success(), "building doomlink failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("\"executable\":\"") && l.contains("doomlink"))
            .filter_map(|l| {
                l.split("\"executable\":\"")
                    .nth(1)?
                    .split('"')
                    .next()
                    .map(PathBuf::from)
            })
            .next_back()
            .expect("cargo names the doomlink executable")
    })
    .clone()
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
