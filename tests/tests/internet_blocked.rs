//! A joiner whose UDP is blocked entirely gets a clear one-line error within 15 s, not a hang.
//!
//! The setup is one network namespace this test creates and always removes, with only `lo` up:
//! `doomlink serve`, `doomlink host --internet` (WebRTC on 127.0.0.1) and the joiners all run in
//! it. An iptables rule inside the namespace drops every UDP datagram from or to 127.0.0.2, where
//! the blocked joiner binds its WebRTC (`--rtc-bind 127.0.0.2`): it still reaches the rendezvous
//! over TCP (signaling works), but no ICE check, STUN or TURN datagram gets through. A second
//! joiner on 127.0.0.3, which the rule does not touch, then joins and plays a short game: the
//! setup blocks UDP for one address, not the game.
//!
//! Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for `ip netns` and iptables: without it the test
//! fails, loudly.

use doomlink_e2e::netns::{command_in, must, Namespaces};
use doomlink_e2e::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The prefix of every namespace this test makes (`netns::Namespaces`).
const PREFIX: &str = "dlu";

/// The namespace of one test run, with multicast on `lo`: webrtc opens an mDNS socket
/// (224.0.0.251) for every peer connection, and joining the group fails (ENODEV) where no route
/// takes multicast, so it gets `lo`, inside this namespace only.
fn namespace() -> (Namespaces, String) {
    let mut spaces = Namespaces::new(PREFIX);
    let ns = spaces.add("");
    must("ip", &["-n", &ns, "link", "set", "lo", "multicast", "on"]);
    must(
        "ip",
        &["-n", &ns, "route", "add", "224.0.0.0/4", "dev", "lo"],
    );
    (spaces, ns)
}

#[test]
fn a_joiner_with_udp_blocked_gets_a_clear_error_within_15_s() {
    let bin = doomlink();
    let (_spaces, ns) = namespace();
    // Every UDP datagram from or to 127.0.0.2, inside this namespace only.
    for chain in [["OUTPUT", "-s"], ["INPUT", "-d"]] {
        must(
            "ip",
            &[
                "netns",
                "exec",
                &ns,
                "iptables",
                "-A",
                chain[0],
                "-p",
                "udp",
                chain[1],
                "127.0.0.2",
                "-j",
                "DROP",
            ],
        );
    }
    let rv = Scratch::new("blocked-rv");
    let _serve = KillOnDrop(
        command_in(&ns, &bin)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:7342",
                "--stun-port",
                "3478",
                "--turn-port",
                "3479",
                "--data-dir",
            ])
            .arg(rv.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let tics = 70;
    let h = Scratch::new("blocked-host");
    let mut host_cmd = command_in(&ns, &bin);
    host_cmd
        .args([
            "host",
            "--internet",
            "--rendezvous",
            "127.0.0.1:7342",
            "--players",
            "2",
        ])
        .args(peer_args(Bind::Rtc("127.0.0.1"), h.path(), 1, tics, "host"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(&h.path().join("err")));
    // The rendezvous may take a moment to listen: the host retries by being started again.
    let (mut host, link) = spawn_until_link(&mut host_cmd, &h.path().join("err"));

    let blocked = Scratch::new("blocked-join");
    let started = Instant::now();
    let out = run_with_deadline(
        command_in(&ns, &bin).args(["join", &link]).args(peer_args(
            Bind::Rtc("127.0.0.2"),
            blocked.path(),
            2,
            tics,
            "join",
        )),
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    println!(
        "blocked joiner: {} after {took:?}: {}",
        out.status,
        err.trim()
    );
    assert!(!out.status.success(), "the blocked joiner succeeded: {err}");
    assert!(
        took < Duration::from_secs(15),
        "the error took {took:?} (limit 15 s): {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
    assert!(
        err.contains("UDP") && err.contains("could not reach the host"),
        "the error does not say UDP is blocked: {err}"
    );

    // The same host, the same rendezvous, a joiner on an address the rule does not touch: it
    // plays, so what stopped the first one was the blocked UDP.
    let ok = Scratch::new("blocked-ok");
    let out = run_with_deadline(
        command_in(&ns, &bin).args(["join", &link]).args(peer_args(
            Bind::Rtc("127.0.0.3"),
            ok.path(),
            3,
            tics,
            "join",
        )),
        Duration::from_secs(90),
    );
    assert!(
        out.status.success(),
        "the unblocked joiner failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    wait_success(
        &mut host.0,
        Duration::from_secs(30),
        "the host",
        &h.path().join("err"),
    );
    assert_demos_equal(
        &[h.path().join("host.lmp"), ok.path().join("join.lmp")],
        2,
        tics,
    );
}
