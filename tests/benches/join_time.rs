//! Time from `doomlink join` starting to the joiner shown in the host's lobby, over the Internet
//! path on 127.0.0.1 (`serve` + `host --internet` + `join LINK`: signaling, ICE, DTLS, SCTP, the
//! session's welcome, then doom.wasm booting and connecting through the link) against the LAN
//! path in the same run (`host --lan` + `join 127.0.0.1:P`) as the anchor. The goal:
//! ≤ 2 s on loopback. Prints p50 and max of each and the difference; asserts nothing.
//!
//! cargo bench -p doomlink-e2e --bench join_time      (JOIN_TIME_K=N joins of each kind, default 9)
//!
//! One join: the joiner process is spawned (the clock starts) and the host's stderr is read until
//! its lobby snapshot lists the joiner by name (`doomlink: lobby player I NAME ADDRESS`, which
//! the host prints as it polls its lobby, every 200 ms at most: part of what a user waits for).
//! The joiner is then killed. A Doom lobby holds 4 players and a killed client's slot stays for
//! Chocolate Doom's 30 s timeout, so each host takes 3 joins and is then replaced (the serve
//! process stays up). Internet and LAN joins alternate, one host of each kind at a time.
//!
//! Measured with a warm doom.wasm compile cache (the platform cache dir; a warm-up join of each
//! kind, not counted, makes sure of it), so the joiner's boot is the cached module, not a compile.

use doomlink_e2e::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// Joins per host: a Doom lobby has 4 slots, one is the host's.
const PER_HOST: usize = 3;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Internet,
    Lan,
}

/// A host whose stderr lines arrive, stamped when read, on `lines`.
struct Host {
    _child: KillOnDrop,
    lines: Receiver<(Instant, String)>,
    /// What `doomlink join` takes: the link, or 127.0.0.1:PORT.
    target: String,
    joins: usize,
}

fn common_args(dir: &Path) -> Vec<String> {
    vec![
        "--headless".into(),
        "--iwad".into(),
        FREEDOOM1.into(),
        "--data-dir".into(),
        dir.display().to_string(),
    ]
}

fn start_host(kind: Kind, rendezvous: u16, dir: &Path) -> Host {
    let mut cmd = Command::new(doomlink());
    cmd.arg("host");
    let lan_port = free_server_port();
    match kind {
        Kind::Internet => {
            cmd.args([
                "--internet",
                "--rendezvous",
                &format!("127.0.0.1:{rendezvous}"),
                "--rtc-bind",
                "127.0.0.1",
            ]);
        }
        Kind::Lan => {
            cmd.args([
                "--lan",
                "--lan-bind",
                "127.0.0.1",
                "--port",
                &lan_port.to_string(),
            ]);
        }
    }
    // No --players: the game never starts, the lobby just fills.
    cmd.args(["--name", "benchhost"])
        .args(common_args(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    loop {
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        let target = match kind {
            Kind::Internet => first_stdout_line(&mut child).trim().to_string(),
            Kind::Lan => format!("127.0.0.1:{lan_port}"),
        };
        if kind == Kind::Lan || target.starts_with("doomlink://") {
            let host = Host {
                _child: KillOnDrop(child),
                lines,
                target,
                joins: 0,
            };
            // The host's own guest is in its lobby before anyone joins.
            wait_for_player(&host, "benchhost", Duration::from_secs(30))
                .expect("the host's lobby shows the host");
            return host;
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the host printed no link"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// When the host's lobby first lists a player called `name`.
fn wait_for_player(host: &Host, name: &str, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, line) = host.lines.recv_timeout(left).ok()?;
        if is_lobby_player(&line, name) {
            return Some(at);
        }
    }
}

/// One join: the joiner's start to its name in the host's lobby.
fn time_join(host: &mut Host, kind: Kind, n: usize, dir: &Path) -> Duration {
    let name = format!("joiner{n}");
    let mut cmd = Command::new(doomlink());
    cmd.args(["join", &host.target, "--name", &name]);
    match kind {
        Kind::Internet => cmd.args(["--rtc-bind", "127.0.0.1"]),
        Kind::Lan => cmd.args(["--lan-bind", "127.0.0.1"]),
    };
    cmd.args(common_args(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let t0 = Instant::now();
    let _joiner = KillOnDrop(cmd.spawn().unwrap());
    let at = wait_for_player(host, &name, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("{name} never showed in the host's lobby"));
    host.joins += 1;
    at - t0
}

fn summary(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[(v.len() - 1) / 2], *v.last().unwrap())
}

fn main() {
    let k: usize = std::env::var("JOIN_TIME_K")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    let rv_dir = Scratch::new("jt-rv");
    let (_serve, rv_port) = serve(rv_dir.path(), &[]);
    let dirs = [Scratch::new("jt-inet-host"), Scratch::new("jt-lan-host")];
    let joiner_dir = Scratch::new("jt-joiner");
    let kinds = [Kind::Internet, Kind::Lan];
    let mut hosts: Vec<Option<Host>> = vec![None, None];
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut n = 0;
    // Round 0 is the warm-up (not counted).
    for round in 0..=k {
        for (i, &kind) in kinds.iter().enumerate() {
            if hosts[i].as_ref().is_none_or(|h| h.joins >= PER_HOST) {
                hosts[i] = None; // the old host goes first (its lobby, its port)
                hosts[i] = Some(start_host(kind, rv_port, dirs[i].path()));
            }
            n += 1;
            let t = time_join(hosts[i].as_mut().unwrap(), kind, n, joiner_dir.path());
            if round > 0 {
                times[i].push(t);
            }
        }
    }
    let (ip50, imax) = summary(times[0].clone());
    let (lp50, lmax) = summary(times[1].clone());
    println!("join → shown in the host's lobby, {k} joins each, warm doom.wasm cache:");
    println!("  Internet (serve + host --internet + join LINK, WebRTC on 127.0.0.1): p50 {ip50:.2?}, max {imax:.2?}");
    println!("  LAN anchor (host --lan + join 127.0.0.1:P):                         p50 {lp50:.2?}, max {lmax:.2?}");
    println!(
        "  Internet adds {:.2?} at p50 (goal: the Internet join ≤ 2 s)",
        ip50.saturating_sub(lp50)
    );
}
