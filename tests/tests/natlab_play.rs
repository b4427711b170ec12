//! Full games in the NAT lab, through the real binary: every process runs inside its namespace
//! with `ip netns exec` — `doomlink serve` on the lab's "Internet" (192.0.2.1), `doomlink host
//! --internet` behind NAT 1, `doomlink join LINK` behind NATs 2.. — and the players play
//! `test_tics()` gametics of bot input with identical demos:
//! - two players behind port-preserving NATs (the path is direct);
//! - two players behind symmetric NATs (the path is relayed through the rendezvous's TURN);
//! - four players, a host and three joiners, each behind its own NAT (one of them symmetric);
//! - manual offer/answer codes between two NATed players with STUN only (no signaling at all);
//! - and, without a full game: a joiner behind a router that forwards no UDP gets a clear
//!   one-line error within 15 s (then an ordinary joiner plays a short game with the same host).
//!
//! Each game also checks the path every link took, as both ends print it (`doomlink: net NAME
//! path=…` on stderr): direct between two port-preserving NATs, relayed as soon as one end is
//! symmetric. natlab.rs checks the same at the level of WebRTC nodes. Needs root; fails loudly
//! without. The tests of this file run side by side, each in its own lab.

use doomlink_e2e::natlab::{in_ns, Lab, Nat, INET_IP, INET_NET};
use doomlink_e2e::*;
use doomlink_net::online::manual::{CandidateType, CodeKind, ManualCode};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The rendezvous's signaling port on 192.0.2.1 (the lab's Internet is the test's own).
const RENDEZVOUS_PORT: u16 = 7342;

/// A child process killed and reaped when dropped (`ip netns exec` execs the program, so this is
/// the program itself).
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` to end, up to `limit`.
fn wait_until(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The game and test options of one player; its stderr goes to DIR/err.
fn peer_args(dir: &Path, seed: u64, tics: u32, record: &str) -> Vec<String> {
    let mut v: Vec<String> = ["--headless", "--iwad", FREEDOOM1, "--bot-input"]
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

fn stderr_to(dir: &Path) -> Stdio {
    Stdio::from(std::fs::File::create(dir.join("err")).unwrap())
}

fn err_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("err")).unwrap_or_default()
}

/// The last figures a player reported for peer `name` (`path=… rtt=… loss=…`).
fn last_report(stderr: &str, name: &str) -> Option<String> {
    let prefix = format!("doomlink: net {name} ");
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .next_back()
        .map(str::to_string)
}

/// The last path a player reported for peer `name`: its stderr's `doomlink: net NAME path=P
/// rtt=…` lines (printed every ~2 s by a headless netgame), `-` (not known yet) skipped.
fn last_path(stderr: &str, name: &str) -> Option<String> {
    let prefix = format!("doomlink: net {name} path=");
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| rest.split(" rtt=").next().unwrap_or(rest).to_string())
        .rfind(|p| p != "-")
}

/// `doomlink serve` on the lab's Internet (192.0.2.1: signaling on [`RENDEZVOUS_PORT`], STUN and
/// TURN on 3478), once it listens.
fn serve(lab: &Lab, dir: &Path) -> Killed {
    // TURN relays to the lab's "Internet" (documentation addresses) only when allowed.
    let config = dir.join("serve.toml");
    std::fs::write(&config, format!("turn_allow_peers = [\"{INET_NET}\"]\n")).unwrap();
    let mut serve = Killed(
        lab.command(&lab.inet(), doomlink())
            .args(["serve", "--listen", &format!("{INET_IP}:{RENDEZVOUS_PORT}")])
            .arg("--config")
            .arg(&config)
            .args(["--public-addr", &INET_IP.to_string()])
            .arg("--data-dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(stderr_to(dir))
            .spawn()
            .unwrap(),
    );
    let listening = in_ns(lab.inet(), || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect((INET_IP, RENDEZVOUS_PORT)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    assert!(
        listening.join().unwrap(),
        "the rendezvous did not listen: {:?}\n{}",
        serve.0.try_wait(),
        err_of(dir)
    );
    serve
}

/// Reads `child`'s first non-empty stdout line, then drains the rest in a thread.
fn first_line(child: &mut Child, who: &str, dir: &Path) -> String {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while line.trim().is_empty() {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            panic!(
                "{who} printed nothing: {:?}\n{}",
                child.try_wait(),
                err_of(dir)
            );
        }
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    line.trim().to_string()
}

/// `doomlink host --internet` behind NAT 1, registered at the lab's rendezvous: the child and
/// the invite link it printed.
fn start_host(lab: &Lab, dir: &Path, players: usize, tics: u32) -> (Killed, String) {
    let mut host = Killed(
        lab.command(&lab.host(1), doomlink())
            .args(["host", "--internet", "--rendezvous"])
            .arg(format!("{INET_IP}:{RENDEZVOUS_PORT}"))
            .args(["--players", &players.to_string()])
            .args(["--name", "h1", "--deathmatch", "--warp", "1", "1"])
            .args(peer_args(dir, 21, tics, "host"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_to(dir))
            .spawn()
            .unwrap(),
    );
    let link = first_line(&mut host.0, "the host", dir);
    assert!(link.starts_with("doomlink://"), "the host printed {link}");
    (host, link)
}

/// Plays one game in a lab with one site per entry of `nats`: the host behind site 1, a joiner
/// behind each other site.
fn lab_game(tag: &str, nats: &[Nat]) {
    let tics = test_tics();
    let players = nats.len();
    let bin = doomlink();
    let lab = Lab::build(tag, nats);

    let rv_dir = Scratch::new(&format!("lab-rv-{tag}"));
    let serve = serve(&lab, rv_dir.path());

    let h = Scratch::new(&format!("lab-host-{tag}"));
    let start = Instant::now();
    let (mut host, link) = start_host(&lab, h.path(), players, tics);

    // The joiners, each behind its own NAT.
    let mut joiners: Vec<(Scratch, Killed)> = (2..=players)
        .map(|site| {
            let j = Scratch::new(&format!("lab-join{site}-{tag}"));
            let child = lab
                .command(&lab.host(site), &bin)
                .args(["join", &link, "--name", &format!("h{site}")])
                .args(peer_args(j.path(), 20 + site as u64, tics, "join"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr_to(j.path()))
                .spawn()
                .unwrap();
            (j, Killed(child))
        })
        .collect();

    // Game time is tics/35 s; a loaded 2-core machine may run slower than real time.
    let limit = Duration::from_secs(120 + tics as u64 / 15);
    let mut demos: Vec<PathBuf> = vec![h.path().join("host.lmp")];
    let mut errs = Vec::new();
    for (site, (j, child)) in (2..).zip(joiners.iter_mut()) {
        let st = wait_until(&mut child.0, limit.saturating_sub(start.elapsed()));
        assert!(
            st.is_some_and(|s| s.success()),
            "joiner {site} ({:?} NAT): {st:?}\n{}\nhost: {}",
            lab.nat(site),
            err_of(j.path()),
            err_of(h.path())
        );
        demos.push(j.path().join("join.lmp"));
        errs.push(err_of(j.path()));
    }
    let st = wait_until(&mut host.0, Duration::from_secs(30));
    assert!(
        st.is_some_and(|s| s.success()),
        "host: {st:?}\n{}",
        err_of(h.path())
    );
    errs.insert(0, err_of(h.path()));
    println!(
        "{tag}: {players} players, {tics} tics behind {nats:?}: {:?}",
        start.elapsed()
    );
    assert_demos_equal(&demos, players, tics);
    // The path each link took, as both its ends report it: direct only between two
    // port-preserving NATs, relayed through TURN as soon as one end is symmetric.
    for site in 2..=players {
        let want = if lab.nat(1) == Nat::PortPreserving && lab.nat(site) == Nat::PortPreserving {
            "direct"
        } else {
            "relayed"
        };
        let host_saw = last_path(&errs[0], &format!("h{site}"));
        let joiner_saw = last_path(&errs[site - 1], "h1");
        println!(
            "{tag}: h1 ↔ h{site}: host says {:?}, joiner says {:?}",
            last_report(&errs[0], &format!("h{site}")),
            last_report(&errs[site - 1], "h1")
        );
        for (who, saw) in [("h1", &host_saw), (&format!("h{site}")[..], &joiner_saw)] {
            assert!(
                saw.as_deref().is_some_and(|p| p.starts_with(want)),
                "{who} reports the path h1 ↔ h{site} ({:?} ↔ {:?} NAT) as {saw:?}, want {want}",
                lab.nat(1),
                lab.nat(site)
            );
        }
    }

    // The processes end before the lab that holds their namespaces goes.
    drop(joiners);
    drop(host);
    drop(serve);
    drop(lab);
}

/// The lab's three full games (direct, relayed, four players), side by side (each in its own
/// lab, on its own thread): a game runs at the pace of its gametics, not of the CPU, so on 2
/// cores three at once take about as long as one (measured: ~100 s for 3000 tics with 8 guests
/// running), where libtest's default of one test per core would run them one after another.
/// Each failure names its game.
#[test]
fn lab_games_direct_relayed_and_four_players_play_side_by_side() {
    use Nat::*;
    let games: [(&'static str, &'static str, &'static [Nat]); 3] = [
        (
            "gc",
            "two players behind port-preserving NATs (direct)",
            &[PortPreserving, PortPreserving],
        ),
        (
            "gs",
            "two players behind symmetric NATs (relayed through TURN)",
            &[Symmetric, Symmetric],
        ),
        (
            "g4",
            "four players, each behind its own NAT",
            &[PortPreserving, PortPreserving, Symmetric, PortPreserving],
        ),
    ];
    // Built once before the threads, so its time does not count against a game's deadline.
    let _ = doomlink();
    let running: Vec<_> = games
        .iter()
        .map(|&(tag, what, nats)| {
            let t = std::thread::Builder::new()
                .name(format!("{tag}: {what}"))
                .spawn(move || lab_game(tag, nats))
                .unwrap();
            (what, t)
        })
        .collect();
    let failed: Vec<String> = running
        .into_iter()
        .filter_map(|(what, t)| {
            t.join().err().map(|e| {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("{what}: {msg}")
            })
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// Manual codes between two players behind port-preserving NATs, with no rendezvous: the only
/// server is the lab's STUN (`doomlink serve` on the Internet, its signaling unused). The offer
/// and answer codes carry server-reflexive candidates, ICE punches through, and the two play.
#[test]
fn manual_codes_behind_two_nats_with_stun_only_play_a_game() {
    let tics = test_tics();
    let lab = Lab::build("gm", &[Nat::PortPreserving, Nat::PortPreserving]);
    let rv_dir = Scratch::new("lab-rv-gm");
    let serve = serve(&lab, rv_dir.path());
    let stun = format!("{INET_IP}:3478");
    let (h, j) = (Scratch::new("lab-host-gm"), Scratch::new("lab-join-gm"));
    let mut host = Killed(
        lab.command(&lab.host(1), doomlink())
            .args([
                "host",
                "--internet",
                "--manual",
                "--stun",
                &stun,
                "--players",
                "2",
            ])
            .args(["--name", "h1", "--deathmatch", "--warp", "1", "1"])
            .args(peer_args(h.path(), 31, tics, "host"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr_to(h.path()))
            .spawn()
            .unwrap(),
    );
    let offer = first_line(&mut host.0, "the host", h.path());
    let start = Instant::now();
    let mut join = Killed(
        lab.command(&lab.host(2), doomlink())
            .args(["join", &offer, "--stun", &stun, "--name", "h2"])
            .args(peer_args(j.path(), 32, tics, "join"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_to(j.path()))
            .spawn()
            .unwrap(),
    );
    let answer = first_line(&mut join.0, "the joiner", j.path());
    // Each code carries its peer's public side (its NAT's wan address), which only the lab's
    // STUN could have told it.
    for (what, code, kind, site) in [
        ("offer", &offer, CodeKind::Offer, 1),
        ("answer", &answer, CodeKind::Answer, 2),
    ] {
        let c = ManualCode::decode_kind(code, kind)
            .unwrap_or_else(|e| panic!("the {what} code {code}: {e}"));
        assert!(
            c.candidates
                .iter()
                .any(|k| k.kind == CandidateType::Srflx && k.addr.ip() == Lab::wan_ip(site)),
            "the {what} code has no server-reflexive candidate on {}: {:?}",
            Lab::wan_ip(site),
            c.candidates
        );
    }
    {
        let mut stdin = host.0.stdin.take().unwrap();
        writeln!(stdin, "{answer}").unwrap();
    }
    let limit = Duration::from_secs(120 + tics as u64 / 15);
    let st = wait_until(&mut join.0, limit);
    assert!(
        st.is_some_and(|s| s.success()),
        "joiner: {st:?}\n{}\nhost: {}",
        err_of(j.path()),
        err_of(h.path())
    );
    let st = wait_until(&mut host.0, Duration::from_secs(30));
    assert!(
        st.is_some_and(|s| s.success()),
        "host: {st:?}\n{}",
        err_of(h.path())
    );
    println!("gm: manual codes, {tics} tics: {:?}", start.elapsed());
    assert_demos_equal(
        &[h.path().join("host.lmp"), j.path().join("join.lmp")],
        2,
        tics,
    );
    // No TURN was offered: the game can only have gone direct, through both NATs.
    let (host_saw, joiner_saw) = (
        last_path(&err_of(h.path()), "h2"),
        last_path(&err_of(j.path()), "h1"),
    );
    println!("gm: host says {host_saw:?}, joiner says {joiner_saw:?}");
    for saw in [&host_saw, &joiner_saw] {
        assert_eq!(
            saw.as_deref(),
            Some("direct"),
            "{host_saw:?} {joiner_saw:?}"
        );
    }
    drop((join, host, serve));
    drop(lab);
}

/// A joiner behind a router that forwards no UDP at all reaches the rendezvous (TCP) but no
/// ICE check, STUN or TURN datagram gets through: it ends with a clear one-line error within
/// 15 s, not a hang. Then a joiner behind an ordinary NAT of the same lab joins the same host and
/// plays a short game: what stopped the first was its blocked UDP.
#[test]
fn a_joiner_behind_a_udp_blocking_router_gets_a_clear_error_within_15_s() {
    let tics = 140;
    let lab = Lab::build(
        "gb",
        &[Nat::PortPreserving, Nat::UdpBlocked, Nat::PortPreserving],
    );
    let rv_dir = Scratch::new("lab-rv-gb");
    let serve = serve(&lab, rv_dir.path());
    let h = Scratch::new("lab-host-gb");
    let (mut host, link) = start_host(&lab, h.path(), 2, tics);

    let b = Scratch::new("lab-blocked-gb");
    let started = Instant::now();
    let out = run_with_deadline(
        lab.command(&lab.host(2), doomlink())
            .args(["join", &link, "--name", "h2"])
            .args(peer_args(b.path(), 22, tics, "join"))
            .stdin(Stdio::null()),
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    println!(
        "gb: blocked joiner: {} after {took:?}: {}",
        out.status,
        err.trim()
    );
    assert!(!out.status.success(), "the blocked joiner got in: {err}");
    assert!(
        took < Duration::from_secs(15),
        "the error took {took:?}: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
    assert!(err.contains("UDP"), "the error does not say UDP: {err}");

    let j = Scratch::new("lab-join3-gb");
    let out = run_with_deadline(
        lab.command(&lab.host(3), doomlink())
            .args(["join", &link, "--name", "h3"])
            .args(peer_args(j.path(), 23, tics, "join"))
            .stdin(Stdio::null()),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "the joiner behind an ordinary NAT failed: {}\n{}\nhost: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        err_of(h.path())
    );
    let st = wait_until(&mut host.0, Duration::from_secs(30));
    assert!(
        st.is_some_and(|s| s.success()),
        "host: {st:?}\n{}",
        err_of(h.path())
    );
    assert_demos_equal(
        &[h.path().join("host.lmp"), j.path().join("join.lmp")],
        2,
        tics,
    );
    drop((host, serve));
    drop(lab);
}
