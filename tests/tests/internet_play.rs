//! Internet play through the real binary on 127.0.0.1: `doomlink serve` (signaling, STUN, TURN),
//! `doomlink host --internet --rendezvous` prints an invite link, `doomlink join LINK` joins over
//! WebRTC, and the two play `test_tics()` gametics with equal demos. A bad link is one line that
//! names what is wrong.

use doomlink_e2e::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peer_args(dir: &Path, seed: u64, tics: u32, record: &str) -> Vec<String> {
    let mut v: Vec<String> = [
        "--rtc-bind",
        "127.0.0.1",
        "--headless",
        "--iwad",
        FREEDOOM1,
        "--bot-input",
    ]
    .map(String::from)
    .to_vec();
    v.push(seed.to_string());
    v.extend([
        "--tics".into(),
        tics.to_string(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--".into(),
        "-record".into(),
        record.into(),
    ]);
    v
}

#[test]
fn serve_host_and_join_a_link_play_a_game() {
    let tics = test_tics();
    let rv_dir = Scratch::new("rv");
    let port = free_tcp_port();
    let _serve = Killed(
        Command::new(doomlink())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--stun-port",
                "0",
                "--turn-port",
                "0",
                "--data-dir",
            ])
            .arg(rv_dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (h, j) = (Scratch::new("inet-host"), Scratch::new("inet-join"));
    let mut host_cmd = Command::new(doomlink());
    host_cmd
        .args([
            "host",
            "--internet",
            "--rendezvous",
            &format!("127.0.0.1:{port}"),
            "--players",
            "2",
            "--deathmatch",
            "--warp",
            "1",
            "1",
        ])
        .args(peer_args(h.path(), 11, tics, "host"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(h.path().join("err")).unwrap(),
        ));
    // The rendezvous may take a moment to listen: the host retries by being started again.
    let start = Instant::now();
    let (mut host, link) = loop {
        let mut child = host_cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        if line.starts_with("doomlink://") {
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            break (Killed(child), line.trim().to_string());
        }
        let _ = child.wait();
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the host printed no link: {line}\n{}",
            std::fs::read_to_string(h.path().join("err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let joined = Instant::now();
    let join = run_with_deadline(
        Command::new(doomlink())
            .args(["join", &link])
            .args(peer_args(j.path(), 12, tics, "join")),
        Duration::from_secs(90 + tics as u64 / 20),
    );
    assert!(
        join.status.success(),
        "join: {}\n{}",
        join.status,
        String::from_utf8_lossy(&join.stderr)
    );
    println!("join to end of game: {:?}", joined.elapsed());
    let deadline = Instant::now() + Duration::from_secs(30);
    let st = loop {
        if let Some(st) = host.0.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the host did not finish");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        st.success(),
        "host: {st}\n{}",
        std::fs::read_to_string(h.path().join("err")).unwrap_or_default()
    );
    assert_demos_equal(
        &[h.path().join("host.lmp"), j.path().join("join.lmp")],
        2,
        tics,
    );
}

#[test]
fn a_bad_link_is_one_line_naming_the_bad_part() {
    let out = run_with_deadline(
        Command::new(doomlink()).args([
            "join",
            "doomlink://join/127.0.0.1:9/room?fp=nonsense#secret",
            "--headless",
            "--iwad",
            FREEDOOM1,
        ]),
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("fingerprint") || err.contains("fp"), "{err}");
}
