//! Netgames over doomlink-net's relay session core on the in-memory transport: 2, 3 and 4
//! headless peers, each a real Chocolate Doom in its own kernel, with 5% loss and 30 ms jitter
//! between them, play `test_tics()` gametics; every peer's demo must equal the others' but for
//! the consoleplayer byte.
//!
//! Chocolate Doom's server counts a client as connected as soon as it accepts its SYN, before
//! the client has the reply. If that reply is lost, the client's next SYN is refused when the
//! game has launched ("Server is not currently accepting connections") or when the server is
//! full ("Server is full!": with 4 players, the client's own place fills it); the client gives
//! up, and the server drops it 30 s later and aborts the game. That was this test's
//! intermittent failure in CI (by estimate 1 in 40 per client at 5% loss: the reply lost, then
//! the refusal arriving before the server's resent reply). So here:
//! - the game is started from the hub's lobby (`start` on /dev/lobby, as the window's Start
//!   button does) once every client is in the lobby, not by `-nodes N`;
//! - the server guest's network module (assets/chocolate-doom/src/net_posix.c) holds back a
//!   client's SYN that comes again after the server has answered it, so the server's resent
//!   reply lets the client in (`a_full_server_takes_a_client_whose_connect_reply_was_lost`).
//!
//! A failed game prints the seed, every peer's last lines and the relay's account of what each
//! guest sent and received (`SimRelay::report`).

use doomlink_e2e::relay::{GuestDatagram, SimPeer, SimRelay};
use doomlink_e2e::*;
use doomlink_kernel::{CaptureSink, ExitStatus};
use doomlink_net::sim::{PathConfig, SimConfig};
use doomlink_play::guest::{self, DoomConfig, DoomGuest};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn lossy(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        datagram: PathConfig {
            loss: 0.05,
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(30),
            reorder: 0.01,
            reorder_delay: Duration::from_millis(40),
            duplicate: 0.01,
        },
        control_delay: Duration::from_millis(10),
    }
}

/// The first two bytes of the server's answer to a client's SYN: NET_PACKET_TYPE_SYN (0) with
/// NET_RELIABLE_PACKET (0x8000), big-endian (Chocolate Doom's net_defs.h, net_common.c).
const SYN_REPLY: [u8; 2] = [0x80, 0x00];

struct Peer {
    guest: DoomGuest,
    demo: PathBuf,
    log: CaptureSink,
    _dir: Scratch,
}

/// Starts `n` peers; the first hosts (`-server`, the game's controller), the others connect to
/// its virtual address. The game waits in the lobby until [`launch_when_all_in`].
fn start_game(
    relay: &Arc<SimRelay>,
    n: usize,
    tics: u32,
    stop: &Arc<AtomicBool>,
) -> Vec<(Arc<SimPeer>, Peer)> {
    let mut peers = Vec::new();
    let mut hub_addr = None;
    for i in 0..n {
        let peer = relay.add_peer(&format!("player{i}"));
        let dir = Scratch::new(&format!("relay{n}-{i}"));
        let (kernel, module) = guest::boot(peer.clone()).unwrap();
        peer.sink.attach(kernel.clone());
        let mut args: Vec<String> = if i == 0 {
            vec![
                "-server".into(),
                "-deathmatch".into(),
                "-warp".into(),
                "1".into(),
                "1".into(),
            ]
        } else {
            let hub: Ipv4Addr = hub_addr.expect("the hub has an address");
            vec!["-connect".into(), format!("{hub}:2342")]
        };
        args.extend(["-record".into(), format!("peer{i}")]);
        let cfg = DoomConfig {
            iwad: FREEDOOM1.into(),
            pwads: vec![],
            data_dir: dir.path().into(),
            video: false,
            audio_rate: None,
            tics: Some(tics),
            args,
        };
        let (g, log) = start_logged_guest(&kernel, &module, &cfg);
        doomlink_play::bot::spawn(100 + i as u64, g.input.clone(), stop.clone());
        if i == 0 {
            hub_addr = peer.address();
        }
        let demo = dir.path().join(format!("peer{i}.lmp"));
        peers.push((
            peer,
            Peer {
                guest: g,
                demo,
                log,
                _dir: dir,
            },
        ));
    }
    peers
}

/// A peer's latest complete lobby record (assets/chocolate-doom/LOBBY.md): its state and the
/// number of players it sees.
#[derive(Debug, Default, Clone)]
struct LobbyView {
    state: String,
    players: usize,
    partial: (String, usize),
}

impl LobbyView {
    fn feed(&mut self, line: &str) {
        let mut f = line.split(' ');
        match (f.next(), f.next()) {
            (Some("lobby"), _) => self.partial = Default::default(),
            (Some("state"), Some(s)) => self.partial.0 = s.to_owned(),
            (Some("players"), Some(p)) => self.partial.1 = p.parse().unwrap_or(0),
            (Some("end"), _) => (self.state, self.players) = self.partial.clone(),
            _ => {}
        }
    }
}

/// Has the hub's guest start the game once every guest is in the lobby (`state waiting`: its
/// connect handshake is done) and sees all the players. Only then: a client still waiting for
/// the server's reply to its SYN would be refused by a server that has launched.
fn launch_when_all_in(peers: &[(Arc<SimPeer>, Peer)], deadline: Instant) -> Result<(), String> {
    let n = peers.len();
    let mut views = vec![LobbyView::default(); n];
    loop {
        for ((_, p), v) in peers.iter().zip(&mut views) {
            for line in p.guest.lobby.drain() {
                v.feed(&line);
            }
        }
        if views.iter().all(|v| v.state == "waiting" && v.players == n) {
            peers[0].1.guest.lobby.send("start");
            return Ok(());
        }
        if let Some(i) = peers
            .iter()
            .position(|(_, p)| p.guest.process.try_status().is_some())
        {
            return Err(format!("peer {i} ended before the game was started"));
        }
        if Instant::now() >= deadline {
            let seen: Vec<String> = views
                .iter()
                .map(|v| format!("{} with {} players", v.state, v.players))
                .collect();
            return Err(format!(
                "not every peer was in the lobby with {n} players in time; the lobbies: {seen:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The seed of the simulated network: the test's own, or `DOOMLINK_RELAY_SEED` to replay the
/// loss pattern of a failed run (each wire's k-th datagram meets the same fate; the guests run
/// in real time, so the rest of the run is not replayed exactly).
fn seed_for(default: u64) -> u64 {
    match std::env::var("DOOMLINK_RELAY_SEED") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("DOOMLINK_RELAY_SEED={v:?} is not a number")),
        Err(_) => default,
    }
}

/// The last `n` lines of a guest's output.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Plays an `n`-peer game of `tics` gametics over `relay`; every peer must end with status 0
/// and the demos must agree. On failure, panics with every peer's last lines and the relay's
/// report.
fn play_on(relay: Arc<SimRelay>, n: usize, tics: u32) {
    let stop = Arc::new(AtomicBool::new(false));
    let peers = start_game(&relay, n, tics, &stop);
    let limit = Duration::from_secs(60 + tics as u64 / 20);
    let deadline = Instant::now() + limit;
    let launched = launch_when_all_in(&peers, Instant::now() + Duration::from_secs(60));
    // Every peer is waited for, so that a failure shows them all, not just the first to fail;
    // once one has failed, the others get a few seconds to end by themselves.
    let mut failed = launched.is_err();
    let mut outcomes = Vec::new();
    for (_, p) in &peers {
        let wait = if failed {
            Duration::from_secs(5)
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        let st = p.guest.process.wait_timeout(wait);
        failed |= st != Some(ExitStatus::Exited(0));
        outcomes.push(st);
    }
    // A peer that ended well with a short demo fails here too, so that its log and the relay's
    // figures are shown. (Seen twice in CI at 5% loss: one client's demo held 0 tics and the
    // others' 9, every peer exited 0. The cause was a lost game start message:
    // `a_client_whose_game_start_was_lost_plays_from_the_first_tic`.)
    let want_len = 13 + 4 * n * tics as usize + 1;
    let demo_lens: Vec<usize> = peers
        .iter()
        .map(|(_, p)| std::fs::metadata(&p.demo).map_or(0, |m| m.len() as usize))
        .collect();
    failed |= launched.is_ok() && demo_lens.iter().any(|&l| l != want_len);
    if failed {
        for (_, p) in &peers {
            p.guest.process.kill();
        }
        let mut msg = format!("a {n}-peer game over the relay failed");
        if let Err(e) = &launched {
            msg += &format!(" before it started: {e}");
        }
        msg += "\n";
        for (i, ((_, p), st)) in peers.iter().zip(&outcomes).enumerate() {
            let st = st
                .as_ref()
                .map_or_else(|| "did not end in time".to_owned(), |s| format!("{s:?}"));
            msg += &format!(
                "--- peer {i}: {st}; demo {} bytes (want {want_len}); its last lines:\n{}\n",
                demo_lens[i],
                tail(&p.log.text(), 40)
            );
        }
        msg += &format!("--- the relay:\n{}", relay.report());
        stop.store(true, Ordering::Relaxed);
        relay.stop();
        panic!("{msg}");
    }
    if std::env::var_os("DOOMLINK_RELAY_REPORT").is_some() {
        eprintln!(
            "relay_play: {n} peers passed; the relay:\n{}",
            relay.report()
        );
    }
    stop.store(true, Ordering::Relaxed);
    relay.stop();
    let demos: Vec<PathBuf> = peers.iter().map(|(_, p)| p.demo.clone()).collect();
    assert_demos_equal(&demos, n, tics);
}

fn play(n: usize, default_seed: u64) {
    let seed = seed_for(default_seed);
    eprintln!("relay_play: {n} peers, seed {seed} (DOOMLINK_RELAY_SEED={seed} replays its loss)");
    let relay = SimRelay::new(lossy(seed));
    play_on(relay, n, test_tics());
}

#[test]
fn two_peers_over_a_lossy_relay() {
    play(2, 2);
}

#[test]
fn three_peers_over_a_lossy_relay() {
    play(3, 3);
}

#[test]
fn four_peers_over_a_lossy_relay() {
    play(4, 4);
}

fn perfect_path() -> SimConfig {
    SimConfig {
        seed: 5,
        datagram: PathConfig::ideal(Duration::from_millis(10)),
        control_delay: Duration::from_millis(10),
    }
}

/// Plays a short `peers`-player game on a perfect path but for the first `lost` datagrams the
/// hub's guest (the server) sends that `picked` picks, which are lost; checks they were. The
/// start of the game is what these tests are about: a short game is enough.
fn play_losing_servers_first(
    peers: usize,
    lost: u32,
    picked: impl Fn(&GuestDatagram<'_>) -> bool + Send + 'static,
    premise: &str,
) {
    let relay = SimRelay::new(perfect_path());
    let mut to_lose = lost;
    relay.drop_when(move |d| {
        let lose = d.from == 0 && to_lose > 0 && picked(d);
        to_lose -= u32::from(lose);
        lose
    });
    play_on(relay.clone(), peers, test_tics().min(350));
    assert_eq!(
        relay.dropped_by_rule(0),
        u64::from(lost),
        "the premise: {premise}"
    );
}

/// The server's first two answers to the client's SYN are lost (the path is otherwise perfect):
/// the client keeps asking, the server keeps a place for it, and the game starts only once
/// the client is in. (Launched by `-nodes 2` instead, this game failed every time until
/// net_posix.c held back repeated SYNs: the server launched on counting the client, refused its
/// next SYN, and the client exited with "Server is not currently accepting connections".)
#[test]
fn a_client_whose_connect_replies_are_lost_still_plays() {
    play_losing_servers_first(
        2,
        2,
        |d| d.data.starts_with(&SYN_REPLY),
        "two of the server's SYN replies were lost",
    );
}

/// The first two bytes of the server's game start message: NET_PACKET_TYPE_GAMESTART (5) with
/// NET_RELIABLE_PACKET (0x8000), big-endian.
const GAME_START: [u8; 2] = [0x80, 0x05];

/// The server's first game start message to the client is lost. By the time it is resent, a
/// second later, the server has made the client's first tics from the host's (a player is not
/// sent its own) and resends those too (its deadlock breaker), so the game start and the first
/// tics arrive together. Chocolate Doom's client then hands those tics to the game before the
/// game knows which player it is (d_loop.c: D_ReceiveTic runs inside D_StartNetGame's wait,
/// before `localplayer` is set): the host's place in the first tic stays empty, the first tic
/// says the host left, and the client's demo ends at tic 0. That was this file's rare failure
/// in CI (four peers at 5% loss, a 14-byte demo); dl_netstart.c holds such tics back until the
/// game has started.
#[test]
fn a_client_whose_game_start_was_lost_plays_from_the_first_tic() {
    play_losing_servers_first(
        2,
        1,
        |d| d.data.starts_with(&GAME_START),
        "the server's first game start message was lost",
    );
}

/// The fourth player's address in the relay's default subnet (the hub is .1, clients follow in
/// the order they joined).
const FOURTH: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 4);

/// Four players, and the server's first two replies to the last one are lost: its repeated SYN
/// reaches a full server, which would refuse it ("Server is full!": its own place counts) and
/// the game would never start. The server guest's network module holds those SYNs back
/// (net_posix.c, NoteServerAnswer), and the server's own resends let the client in.
#[test]
fn a_full_server_takes_a_client_whose_connect_reply_was_lost() {
    play_losing_servers_first(
        4,
        2,
        |d| d.data.starts_with(&SYN_REPLY) && d.dst_ip == FOURTH,
        "two replies to the fourth player lost",
    );
}
