//! Child processes of the end-to-end tests: a guard that kills a child when dropped, waiting for
//! one with a deadline, the arguments of a headless bot peer, reading what a child prints on
//! stdout (an invite link, an offer code), and `doomlink serve` on a free port of 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) when dropped, so that a failed assertion leaves no game
/// waiting in its lobby and no service listening.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port free on 127.0.0.1 now (the kernel picks an ephemeral one).
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for `child` to end, polling every 100 ms; after `limit` kills it and returns `None`.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for `child` to end, at most `limit`; past it kills the child and panics with
/// "`what` did not finish within `limit`" and `logs()` (the child's own log, say).
pub fn wait_with_deadline(
    child: &mut Child,
    limit: Duration,
    what: &str,
    logs: impl FnOnce() -> String,
) -> ExitStatus {
    wait_or_kill(child, limit)
        .unwrap_or_else(|| panic!("{what} did not finish within {limit:?}\n{}", logs()))
}

/// Waits for `child` to end within `limit` (see [`wait_with_deadline`]) and asserts it succeeded;
/// either failure message carries the text of `log` (where its stderr goes).
pub fn wait_success(child: &mut Child, limit: Duration, what: &str, log: &Path) {
    let st = wait_with_deadline(child, limit, what, || read_log(log));
    assert!(st.success(), "{what}: {st}\n{}", read_log(log));
}

/// Calls `check` every `every` until it is true; past `limit` panics with
/// "`what`: not within `limit`" and `logs()`.
pub fn poll_until(
    every: Duration,
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> bool,
    logs: impl FnOnce() -> String,
) {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > limit {
            panic!("{what}: not within {limit:?}\n{}", logs());
        }
        std::thread::sleep(every);
    }
}

/// How long a netgame of `tics` gametics may take, start to end, on a busy 2-core machine.
pub fn game_limit(tics: u32) -> Duration {
    Duration::from_secs(90 + tics as u64 / 20)
}

/// A file's text, or "" where there is none yet (a child's log, for a failure message).
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A child's stdout or stderr written to the file `path` (created or truncated).
pub fn log_file(path: &Path) -> Stdio {
    Stdio::from(std::fs::File::create(path).unwrap())
}

/// Which transport a headless peer uses, bound to which local address.
#[derive(Clone, Copy, Debug)]
pub enum Bind<'a> {
    /// `--lan-bind ADDR`: Chocolate Doom's protocol over the LAN transport.
    Lan(&'a str),
    /// `--rtc-bind ADDR`: WebRTC (Internet play), its ICE candidates on ADDR only.
    Rtc(&'a str),
}

/// The arguments of a headless peer playing `tics` gametics of bot input from `seed` in data
/// dir `dir`, with the IWAD Freedoom 1: `--lan-bind|--rtc-bind ADDR --headless --iwad FREEDOOM1
/// --bot-input SEED --tics TICS --data-dir DIR`. Game arguments for Chocolate Doom follow `--`.
pub fn headless_args(bind: Bind, dir: &Path, seed: u64, tics: u32) -> Vec<String> {
    let (flag, addr) = match bind {
        Bind::Lan(addr) => ("--lan-bind", addr),
        Bind::Rtc(addr) => ("--rtc-bind", addr),
    };
    vec![
        flag.into(),
        addr.into(),
        "--headless".into(),
        "--iwad".into(),
        crate::FREEDOOM1.into(),
        "--bot-input".into(),
        seed.to_string(),
        "--tics".into(),
        tics.to_string(),
        "--data-dir".into(),
        dir.display().to_string(),
    ]
}

/// [`headless_args`] followed by `-- -record RECORD`: the peer records its demo as
/// `DIR/RECORD.lmp` (further Chocolate Doom arguments may be appended).
pub fn peer_args(bind: Bind, dir: &Path, seed: u64, tics: u32, record: &str) -> Vec<String> {
    let mut v = headless_args(bind, dir, seed, tics);
    v.extend(["--".into(), "-record".into(), record.into()]);
    v
}

/// The first line `child` prints on stdout, as read (with its newline; "" if it printed none).
/// The rest of its stdout is drained by a thread, so that the child never blocks writing.
pub fn first_stdout_line(child: &mut Child) -> String {
    let mut out = BufReader::new(child.stdout.take().expect("stdout piped"));
    let mut line = String::new();
    let _ = out.read_line(&mut line);
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    line
}

/// Starts `cmd` (a `doomlink host --internet --rendezvous …` with stdout piped) until its first
/// stdout line is an invite link; returns the host and the link. The rendezvous may take a
/// moment to listen: then the host fails, and is started again, for 20 s at most; a failure
/// message carries `err_log` (where the host's stderr goes).
pub fn spawn_until_link(cmd: &mut Command, err_log: &Path) -> (KillOnDrop, String) {
    let start = Instant::now();
    loop {
        let mut child = cmd.spawn().unwrap();
        let line = first_stdout_line(&mut child);
        if line.starts_with("doomlink://") {
            return (KillOnDrop(child), line.trim().to_string());
        }
        let _ = child.wait();
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the host printed no link: {line}\n{}",
            read_log(err_log)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `BIN serve --listen 127.0.0.1:PORT --stun-port 0 --turn-port 0 --data-dir DIR` on a free
/// `PORT` (STUN/TURN on ephemeral ports), not started yet; `bin` is `doomlink()` or a release
/// build. Returns the command and `PORT`.
pub fn serve_command(bin: &Path, dir: &Path) -> (Command, u16) {
    let port = free_tcp_port();
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--stun-port", "0", "--turn-port", "0", "--data-dir"])
        .arg(dir);
    (cmd, port)
}

/// [`serve_command`] of the test build with `extra` arguments, started with its output
/// discarded; returns it and its HTTP port. It may not listen yet: [`spawn_until_link`] retries.
pub fn serve(dir: &Path, extra: &[&str]) -> (KillOnDrop, u16) {
    let (mut cmd, port) = serve_command(&crate::doomlink(), dir);
    let child = cmd
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (KillOnDrop(child), port)
}

/// Reads a started `doomlink serve`'s stdout (piped) until it is listening and has printed the
/// "NAME LINK" lines of `standing` standing rooms; returns those (name, link) pairs and drains
/// the rest. A failure message carries `log` (where its stderr goes).
pub fn serve_rooms(child: &mut Child, standing: usize, log: &Path) -> Vec<(String, String)> {
    let mut out = BufReader::new(child.stdout.take().expect("stdout piped"));
    let mut links = Vec::new();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("doomlink serve: listening"),
        "{line}\n{}",
        read_log(log)
    );
    while links.len() < standing {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!("serve ended: {}", read_log(log));
        }
        if let Some((name, link)) = line.trim().rsplit_once(' ') {
            links.push((name.to_string(), link.to_string()));
        }
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    links
}

/// Whether `line` (a host's stderr) is its lobby listing a player called `name`:
/// `doomlink: lobby player I NAME ADDRESS`, which a host prints as it polls its lobby.
pub fn is_lobby_player(line: &str, name: &str) -> bool {
    let mut f = line.split(' ');
    f.next() == Some("doomlink:")
        && f.next() == Some("lobby")
        && f.next() == Some("player")
        && f.nth(1) == Some(name)
}
