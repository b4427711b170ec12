//! Netgames over the LAN transport: every peer a separate `doomlink` process, their bridges on
//! 127.0.0.1, Chocolate Doom's own protocol on the wire. 2, 3 and 4 headless peers play
//! `test_tics()` gametics and record demos that must be equal but for the consoleplayer byte; a
//! peer killed mid-game must not stop the others.

use doomlink_e2e::*;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc {
    child: Child,
    dir: Scratch,
    demo: PathBuf,
    name: String,
}

fn spawn(role: &[String], i: usize, tics: u32, tag: &str) -> Proc {
    let dir = Scratch::new(&format!("lan-{tag}-{i}"));
    let child = Command::new(doomlink())
        .args(role)
        .args(peer_args(
            Bind::Lan("127.0.0.1"),
            dir.path(),
            200 + i as u64,
            tics,
            &format!("peer{i}"),
        ))
        .stdin(Stdio::null())
        .stdout(log_file(&dir.path().join("log")))
        .stderr(log_file(&dir.path().join("err")))
        .spawn()
        .unwrap();
    let demo = dir.path().join(format!("peer{i}.lmp"));
    Proc {
        child,
        dir,
        demo,
        name: format!("peer{i}"),
    }
}

fn logs(p: &Proc) -> String {
    let r = |f: &str| read_log(&p.dir.path().join(f));
    format!(
        "--- {} stdout\n{}\n--- {} stderr\n{}",
        p.name,
        r("log"),
        p.name,
        r("err")
    )
}

/// Starts a host and `n - 1` joiners on 127.0.0.1.
fn start(n: usize, tics: u32, tag: &str) -> Vec<Proc> {
    let port = free_server_port();
    let host = vec![
        "host".to_string(),
        "--lan".into(),
        "--port".into(),
        port.to_string(),
        "--players".into(),
        n.to_string(),
        "--deathmatch".into(),
        "--warp".into(),
        "1".into(),
        "1".into(),
    ];
    let mut procs = vec![spawn(&host, 0, tics, tag)];
    for i in 1..n {
        procs.push(spawn(
            &["join".to_string(), format!("127.0.0.1:{port}")],
            i,
            tics,
            tag,
        ));
    }
    procs
}

/// Waits for every peer to end successfully, all within `limit`.
fn wait_all(procs: &mut [Proc], limit: Duration) {
    let start = Instant::now();
    for p in procs.iter_mut() {
        let Some(st) = wait_or_kill(&mut p.child, limit.saturating_sub(start.elapsed())) else {
            panic!("{} did not finish in {limit:?}\n{}", p.name, logs(p));
        };
        assert!(st.success(), "{} exited with {st}\n{}", p.name, logs(p));
    }
}

fn play(n: usize) {
    let tics = test_tics();
    let mut procs = start(n, tics, &format!("{n}p"));
    wait_all(&mut procs, game_limit(tics));
    let demos: Vec<PathBuf> = procs.iter().map(|p| p.demo.clone()).collect();
    assert_demos_equal(&demos, n, tics);
}

#[test]
fn two_lan_peers() {
    play(2);
}

#[test]
fn three_lan_peers() {
    play(3);
}

#[test]
fn four_lan_peers() {
    play(4);
}

/// A joiner killed (SIGKILL: no goodbye) after a few seconds of play: the server waits out
/// Chocolate Doom's connection timeout, then the host and the other joiner play to the end,
/// with equal demos.
#[test]
fn a_peer_killed_mid_game_does_not_stop_the_others() {
    let tics = test_tics().min(1500);
    let mut procs = start(3, tics, "kill");
    std::thread::sleep(Duration::from_secs(8));
    let mut victim = procs.pop().unwrap();
    assert!(
        victim.child.try_wait().unwrap().is_none(),
        "the victim was still playing\n{}",
        logs(&victim)
    );
    victim.child.kill().unwrap();
    let _ = victim.child.wait();
    wait_all(&mut procs, Duration::from_secs(120 + tics as u64 / 20));
    let demos: Vec<PathBuf> = procs.iter().map(|p| p.demo.clone()).collect();
    assert_same_game(&demos, 3);
}
