//! Netgames over doomlink-net's relay session core on the in-memory transport: 2, 3 and 4
//! headless peers, each a real Chocolate Doom in its own kernel, with 5% loss and 30 ms jitter
//! between them, play `test_tics()` gametics; every peer's demo must equal the others' but for
//! the consoleplayer byte. A peer crashed mid-game must not stop the others.

use doomlink::guest::{self, DoomConfig, DoomGuest};
use doomlink::relay::SimRelay;
use doomlink_e2e::*;
use doomlink_kernel::{CaptureSink, ExitStatus};
use doomlink_net::sim::{PathConfig, SimConfig};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

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

struct Peer {
    guest: DoomGuest,
    demo: PathBuf,
    log: CaptureSink,
    _dir: Scratch,
}

/// Starts `n` peers; the first hosts (`-server -nodes n`), the others connect to its virtual
/// address.
fn start_game(
    relay: &Arc<SimRelay>,
    n: usize,
    tics: u32,
    stop: &Arc<AtomicBool>,
) -> Vec<(Arc<doomlink::relay::SimPeer>, Peer)> {
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
                "-nodes".into(),
                n.to_string(),
                "-deathmatch".into(),
                "-warp".into(),
                "1".into(),
                "1".into(),
            ]
        } else {
            let hub: std::net::Ipv4Addr = hub_addr.expect("the hub has an address");
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
        let log = CaptureSink::new();
        let g = DoomGuest::start(
            &kernel,
            &module,
            &cfg,
            Arc::new(log.clone()),
            Arc::new(log.clone()),
        )
        .unwrap();
        doomlink::bot::spawn(100 + i as u64, g.input.clone(), stop.clone());
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

fn play(n: usize, seed: u64) {
    let tics = test_tics();
    let relay = SimRelay::new(lossy(seed));
    let stop = Arc::new(AtomicBool::new(false));
    let peers = start_game(&relay, n, tics, &stop);
    let limit = Duration::from_secs(60 + tics as u64 / 20);
    for (i, (_, p)) in peers.iter().enumerate() {
        let st = p.guest.process.wait_timeout(limit).unwrap_or_else(|| {
            panic!(
                "peer {i} did not finish in {limit:?}; its log:\n{}",
                p.log.text()
            )
        });
        assert_eq!(st, ExitStatus::Exited(0), "peer {i}: {}", p.log.text());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    relay.stop();
    let demos: Vec<PathBuf> = peers.iter().map(|(_, p)| p.demo.clone()).collect();
    assert_demos_equal(&demos, n, tics);
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
