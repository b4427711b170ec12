//! LAN discovery with Chocolate Doom's own query protocol, on a private network this test builds
//! and always removes: four network namespaces (a bridge and three hosts, 192.168.213.0/24
//! inside them only), so no broadcast and no packet of this test ever reaches a real network.
//!
//! - host A: a native `chocolate-server -privateserver` with a doomlink client in its lobby;
//! - host B: `doomlink host --lan --headless --players 3`, with a doomlink client from host C;
//! - host C: `doomlink lan-list` (default broadcast 255.255.255.255, then the subnet's broadcast
//!   from a bound address) and native `chocolate-doom -localsearch` must list both games with
//!   their names, game and player counts.
//!
//! Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for `ip netns`: without it the test fails, loudly.

use doomlink_e2e::netns::{self, Namespaces};
use doomlink_e2e::*;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const NATIVE_DOOM: &str = "/usr/games/chocolate-doom";
const NATIVE_SERVER: &str = "/usr/games/chocolate-server";
/// The prefix of every namespace this test makes (`netns::Namespaces`).
const PREFIX: &str = "dlq";
const SUBNET: &str = "192.168.213";

fn must(args: &[&str]) {
    netns::must("ip", args);
}

/// A bridge namespace and `hosts` host namespaces on it: host i is `SUBNET.(i+1)/24` on its
/// `eth0`, with a default route on the link so 255.255.255.255 has somewhere to go.
fn lan(hosts: usize) -> (Namespaces, Vec<String>) {
    let mut ns = Namespaces::new(PREFIX);
    let br = ns.add("br");
    must(&["-n", &br, "link", "add", "br0", "type", "bridge"]);
    must(&["-n", &br, "link", "set", "br0", "up"]);
    let mut names = Vec::new();
    for i in 0..hosts {
        let h = ns.add(&format!("h{i}"));
        let port = format!("p{i}");
        // Created inside the bridge namespace with its peer straight in the host's: the
        // machine's own namespace never sees either end.
        must(&[
            "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &h,
        ]);
        must(&["-n", &br, "link", "set", &port, "master", "br0", "up"]);
        must(&[
            "-n",
            &h,
            "addr",
            "add",
            &format!("{SUBNET}.{}/24", i + 1),
            "dev",
            "eth0",
        ]);
        must(&["-n", &h, "link", "set", "eth0", "up"]);
        must(&["-n", &h, "route", "add", "default", "dev", "eth0"]);
        names.push(h);
    }
    (ns, names)
}

/// A process in a namespace, killed and reaped when dropped.
struct Proc {
    child: Child,
    name: &'static str,
    dir: Scratch,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn logs(&self) -> String {
        let r = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!(
            "--- {} stdout\n{}--- {} stderr\n{}",
            self.name,
            r("log"),
            self.name,
            r("err")
        )
    }
    fn alive(&mut self) -> bool {
        self.child.try_wait().map(|s| s.is_none()).unwrap_or(false)
    }
}

fn in_ns(ns: &str, name: &'static str, program: &Path, args: &[&str]) -> Proc {
    in_ns_with(
        ns,
        name,
        program,
        args,
        Scratch::new(&format!("disc-{name}")),
    )
}

/// Logs go to `dir` (log, err), which the process keeps as long as it runs.
fn in_ns_with(ns: &str, name: &'static str, program: &Path, args: &[&str], dir: Scratch) -> Proc {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program).args(args);
    // Native Chocolate Doom keeps its config under $HOME; doomlink keeps the user's (its
    // compiled-module cache is there).
    if program != doomlink() {
        cmd.env("HOME", dir.path());
    }
    let child = cmd
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            std::fs::File::create(dir.path().join("log")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    Proc { child, name, dir }
}

/// A headless doomlink (Freedoom 1) whose data dir is its log dir.
fn doomlink_in(ns: &str, name: &'static str, args: &[&str]) -> Proc {
    let dir = Scratch::new(&format!("disc-{name}"));
    let data = dir.path().to_string_lossy().into_owned();
    // Game options first: anything after `--` in `args` goes to Chocolate Doom.
    let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    let mut all: Vec<&str> = args[..split].to_vec();
    all.extend(["--headless", "--iwad", FREEDOOM1, "--data-dir", &data]);
    all.extend(&args[split..]);
    in_ns_with(ns, name, &doomlink(), &all, dir)
}

/// Runs a command in `ns` to its end (killed after a minute).
fn run_in(ns: &str, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = Scratch::new("disc-run");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .env("HOME", dir.path())
        .current_dir(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_deadline(&mut cmd, Duration::from_secs(60))
}

#[test]
fn lan_list_finds_native_and_doomlink_games_with_their_players() {
    let (_ns, hosts) = lan(3);
    let (a, b, c) = (&hosts[0], &hosts[1], &hosts[2]);
    let (ip_a, ip_b) = (format!("{SUBNET}.1"), format!("{SUBNET}.2"));

    // Host A: a native server (private: it must never register with the master server) and
    // one doomlink player waiting in its lobby.
    let mut procs = vec![in_ns(
        a,
        "native-server",
        Path::new(NATIVE_SERVER),
        &["-privateserver", "-servername", "native-test"],
    )];
    std::thread::sleep(Duration::from_millis(300));
    procs.push(doomlink_in(a, "join-native", &["join", &ip_a]));
    // Host B: a doomlink host waiting for 3 players, and one player joining from host C.
    procs.push(doomlink_in(
        b,
        "doomlink-host",
        &[
            "host",
            "--lan",
            "--players",
            "3",
            "--",
            "-servername",
            "doomlink-test",
        ],
    ));
    std::thread::sleep(Duration::from_millis(500));
    procs.push(doomlink_in(c, "join-doomlink", &["join", &ip_b]));

    let want = [
        format!("{ip_a}:2342  native-test  (ultdoom, waiting for players)  1/4 players  "),
        format!("{ip_b}:2342  doomlink-test  (ultdoom, waiting for players)  2/4 players  "),
    ];
    let listed = |out: &str| {
        want.iter().all(|w| {
            out.lines()
                .any(|l| l.starts_with(w.as_str()) && l.ends_with(" ms"))
        })
    };
    let logs = |procs: &[Proc]| procs.iter().map(Proc::logs).collect::<Vec<_>>().join("\n");

    // The players take a few seconds to boot and join: ask until both games show them.
    let start = Instant::now();
    let last = loop {
        for p in procs.iter_mut() {
            assert!(p.alive(), "{} exited early\n{}", p.name, p.logs());
        }
        let out = run_in(c, &doomlink(), &["lan-list", "--timeout-ms", "1000"], &[]);
        assert!(
            out.status.success(),
            "lan-list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if listed(&text) {
            break text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "lan-list never showed both games; last:\n{text}\n{}",
            logs(&procs)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!("lan-list:\n{last}");
    assert_eq!(last.lines().count(), 2, "exactly the two games:\n{last}");

    // The flags: bound to C's address, to the subnet's broadcast, on the game port.
    let out = run_in(
        c,
        &doomlink(),
        &[
            "lan-list",
            "--lan-bind",
            &format!("{SUBNET}.3"),
            "--lan-broadcast",
            &format!("{SUBNET}.255"),
            "--port",
            "2342",
            "--timeout-ms",
            "1000",
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed(&text),
        "with --lan-bind/--lan-broadcast:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing answers on another port.
    let out = run_in(
        c,
        &doomlink(),
        &["lan-list", "--port", "2343", "--timeout-ms", "300"],
        &[],
    );
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");

    // Native Chocolate Doom's own LAN search sees the doomlink host too (the guest's server
    // answers the engine's query through the bridge). It leaves out the default port.
    let out = run_in(
        c,
        Path::new(NATIVE_DOOM),
        &["-localsearch"],
        &[("SDL_VIDEODRIVER", "dummy"), ("SDL_AUDIODRIVER", "dummy")],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for (addr, players, name) in [
        (&ip_a, "1/4", "native-test"),
        (&ip_b, "2/4", "doomlink-test"),
    ] {
        assert!(
            text.lines().any(|l| l.contains(&format!(" {addr} "))
                && l.contains(players)
                && l.contains("(ultdoom)")
                && l.ends_with(name)),
            "chocolate-doom -localsearch did not list {addr} with {players} {name}:\n{text}"
        );
    }
    assert!(text.contains("2 server(s) found"), "{text}");
}
