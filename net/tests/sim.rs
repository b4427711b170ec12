//! Multi-peer runs of the core over the in-memory transport: a simulated network with seeded
//! loss, delay, jitter, reordering and duplication, in virtual time (no sockets, no sleeps).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use doomlink_net::relay::wire::DatagramFrame;
use doomlink_net::sim::{NodeId, PathConfig, SimConfig, SimNet};
use doomlink_net::{ByeReason, Channel, CloseReason, Config, Event, SendError, WadSet};

const DOOM_PORT: u16 = 2342;
/// Chocolate Doom's tic rate: 35 Hz.
const TIC: Duration = Duration::from_millis(28);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn wads() -> WadSet {
    WadSet {
        iwad: [0x42; 32],
        pwads: vec![[1; 32]],
    }
}

fn lossy(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        datagram: PathConfig {
            loss: 0.05,
            delay: ms(20),
            jitter: ms(30),
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            duplicate: 0.0,
        },
        control_delay: ms(25),
    }
}

/// A hub and `clients` clients, joined. Node 0 is the hub.
fn star(clients: usize, cfg: SimConfig) -> (SimNet, Vec<NodeId>) {
    let mut sim = SimNet::new(cfg);
    let hub = sim.add_hub(Config::new("host", wads()));
    let mut nodes = vec![hub];
    for i in 0..clients {
        let c = sim.add_client(Config::new(format!("player{}", i + 2), wads()));
        sim.connect(c, hub);
        nodes.push(c);
    }
    sim.run_for(ms(500));
    for (i, &n) in nodes.iter().enumerate() {
        assert_eq!(
            sim.session(n).local_addr(),
            Some(Ipv4Addr::new(10, 77, 0, 1 + i as u8)),
            "node {n} joined"
        );
    }
    (sim, nodes)
}

fn addr(sim: &SimNet, n: NodeId) -> Ipv4Addr {
    sim.session(n).local_addr().unwrap()
}

/// A test datagram: who sent it to whom, and its sequence number, padded to a Doom-ish size.
fn payload(from: usize, to: usize, seq: u32) -> Vec<u8> {
    let mut p = vec![from as u8, to as u8];
    p.extend_from_slice(&seq.to_be_bytes());
    p.resize(48, 0xd0);
    p
}

#[derive(Default, Debug)]
struct Tally {
    /// (from, to) -> sent
    sent: HashMap<(usize, usize), u32>,
    /// (from, to) -> received
    received: HashMap<(usize, usize), u32>,
    /// deliveries that arrived after a later sequence number of the same pair
    out_of_order: u32,
    last_seq: HashMap<(usize, usize), u32>,
}

/// Every live node sends one datagram to every other live node each tic for `d`, as Doom's
/// peers do; checks every delivery is intact and correctly attributed.
fn exchange(sim: &mut SimNet, nodes: &[NodeId], live: &[bool], d: Duration, t: &mut Tally) {
    let ticks = (d.as_millis() / TIC.as_millis()) as u32;
    for _ in 0..ticks {
        for (i, &a) in nodes.iter().enumerate() {
            if !live[i] {
                continue;
            }
            for (j, &b) in nodes.iter().enumerate() {
                if i == j || !live[j] {
                    continue;
                }
                let seq = t.sent.entry((i, j)).or_default();
                *seq += 1;
                let dst = addr(sim, b);
                sim.guest_send(a, 5000 + i as u16, dst, DOOM_PORT, &payload(i, j, *seq))
                    .unwrap();
            }
        }
        sim.run_for(TIC);
        collect(sim, nodes, t);
    }
}

fn collect(sim: &mut SimNet, nodes: &[NodeId], t: &mut Tally) {
    for (j, &b) in nodes.iter().enumerate() {
        for (_, d) in sim.take_inbox(b) {
            let (from, to) = (d.data[0] as usize, d.data[1] as usize);
            let seq = u32::from_be_bytes(d.data[2..6].try_into().unwrap());
            assert_eq!(to, j, "delivered to the right guest");
            assert_eq!(d.data, payload(from, to, seq), "intact");
            assert_eq!(d.src_ip, Ipv4Addr::new(10, 77, 0, 1 + from as u8), "source");
            assert_eq!(d.src_port, 5000 + from as u16);
            assert_eq!(d.dst_port, DOOM_PORT);
            *t.received.entry((from, to)).or_default() += 1;
            let last = t.last_seq.entry((from, to)).or_default();
            if seq < *last {
                t.out_of_order += 1;
            }
            *last = (*last).max(seq);
        }
    }
}

fn run_lossy_exchange(clients: usize, seed: u64) {
    let (mut sim, nodes) = star(clients, lossy(seed));
    let live = vec![true; nodes.len()];
    let mut t = Tally::default();
    exchange(&mut sim, &nodes, &live, Duration::from_secs(20), &mut t);
    sim.run_for(ms(200)); // let the last datagrams land
    collect(&mut sim, &nodes, &mut t);

    for (&(from, to), &sent) in &t.sent {
        let got = *t.received.get(&(from, to)).unwrap_or(&0);
        // One hop (to or from the hub) loses 5%, client to client crosses two: 9.75%.
        let hops = if from == 0 || to == 0 { 1 } else { 2 };
        let expect = 0.95f64.powi(hops);
        let ratio = f64::from(got) / f64::from(sent);
        assert!(
            got <= sent && (ratio - expect).abs() < 0.03,
            "{from}->{to}: {got}/{sent} = {ratio:.3}, expected ~{expect:.3}"
        );
    }
    if clients >= 1 {
        // 30 ms of jitter against 28 ms between datagrams: some arrive out of order.
        assert!(t.out_of_order > 0, "jitter reorders");
    }
    let hub = sim.session(nodes[0]);
    let mut views = 0;
    for v in hub.links() {
        views += 1;
        let s = v.stats;
        let rtt = s.rtt.expect("rtt measured");
        // 2 × (20 ms + U[0, 30] ms): mean 70 ms.
        assert!(rtt >= ms(50) && rtt <= ms(95), "rtt {rtt:?}");
        assert!(s.pings_sent >= 19, "pinged every second: {}", s.pings_sent);
        let answered = s.pongs_received as f64 / s.pings_sent as f64;
        assert!((0.7..=1.0).contains(&answered), "pong ratio {answered}");
        assert!(s.loss < 0.4, "loss {}", s.loss);
        assert_eq!(s.drops(), 0, "{s:?}");
        assert!(s.dgrams_in > 0 && s.dgrams_out > 0);
        assert!(s.last_heard.unwrap() + ms(1100) >= sim.now());
    }
    assert_eq!(views, clients);
    for &n in &nodes[1..] {
        let c = sim.session(n);
        let v = c.links().next().unwrap();
        assert!(v.stats.rtt.is_some());
        assert_eq!(v.stats.drops(), 0);
        assert_eq!(v.addr, Some(Ipv4Addr::new(10, 77, 0, 1)));
        assert_eq!(v.name, Some("host"));
    }
    // Nobody was declared dead.
    for &n in &nodes {
        assert!(!sim
            .node(n)
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::LinkClosed { .. } | Event::PeerLeft { .. })));
    }
    let st = sim.stats();
    assert!(st.datagram_frames_lost > 0);
}

#[test]
fn two_peers_exchange_datagrams_with_loss_and_jitter() {
    run_lossy_exchange(1, 2);
}

#[test]
fn three_peers_exchange_datagrams_with_loss_and_jitter() {
    run_lossy_exchange(2, 3);
}

#[test]
fn four_peers_exchange_datagrams_with_loss_and_jitter() {
    run_lossy_exchange(3, 4);
}

#[test]
fn broadcast_fans_out_to_every_peer() {
    let cfg = SimConfig {
        datagram: PathConfig::ideal(ms(15)),
        ..SimConfig::default()
    };
    let (mut sim, nodes) = star(3, cfg);
    for (i, &sender) in nodes.iter().enumerate() {
        // Chocolate Doom's -localsearch: a query to 255.255.255.255:2342. Also the subnet's .255.
        for dst in [Ipv4Addr::BROADCAST, Ipv4Addr::new(10, 77, 0, 255)] {
            sim.guest_send(sender, 40000, dst, DOOM_PORT, b"query")
                .unwrap();
            sim.run_for(ms(100));
            for (j, &n) in nodes.iter().enumerate() {
                let got = sim.take_inbox(n);
                if i == j {
                    assert!(got.is_empty(), "the sender does not hear itself");
                } else {
                    assert_eq!(got.len(), 1, "node {j} hears {i}'s broadcast once");
                    assert_eq!(got[0].1.src_ip, addr(&sim, sender));
                    assert_eq!(got[0].1.src_port, 40000);
                    assert_eq!(got[0].1.dst_port, DOOM_PORT);
                }
            }
        }
    }
    // The server answers the searcher by unicast, as Chocolate Doom does.
    let searcher = nodes[3];
    let dst = addr(&sim, searcher);
    sim.guest_send(nodes[0], DOOM_PORT, dst, 40000, b"info")
        .unwrap();
    sim.run_for(ms(100));
    let got = sim.take_inbox(searcher);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.data, b"info");
}

#[test]
fn forged_sources_and_outside_destinations_are_dropped() {
    let (mut sim, nodes) = star(3, SimConfig::default());
    let (hub, mallory, victim, bystander) = (nodes[0], nodes[1], nodes[2], nodes[3]);
    let mallory_link = sim.session(mallory).links().next().unwrap().link;
    let victim_addr = addr(&sim, victim);
    let bystander_addr = addr(&sim, bystander);
    // Mallory's session is bypassed: raw frames claiming to be the victim, the hub, and an
    // outside address.
    for fake in [
        victim_addr,
        Ipv4Addr::new(10, 77, 0, 1),
        Ipv4Addr::new(6, 6, 6, 6),
    ] {
        for dst in [bystander_addr, Ipv4Addr::BROADCAST] {
            let f = DatagramFrame {
                src: std::net::SocketAddrV4::new(fake, DOOM_PORT),
                dst: std::net::SocketAddrV4::new(dst, DOOM_PORT),
                payload: b"you lose",
            };
            sim.inject_frame(
                mallory,
                mallory_link,
                Channel::Datagram,
                f.to_vec().unwrap(),
            );
        }
    }
    // A datagram for the internet (the master server), with an honest source.
    let f = DatagramFrame {
        src: std::net::SocketAddrV4::new(addr(&sim, mallory), DOOM_PORT),
        dst: std::net::SocketAddrV4::new(Ipv4Addr::new(93, 184, 216, 34), DOOM_PORT),
        payload: b"register",
    };
    sim.inject_frame(
        mallory,
        mallory_link,
        Channel::Datagram,
        f.to_vec().unwrap(),
    );
    sim.run_for(ms(100));
    for &n in &nodes {
        assert!(
            sim.take_inbox(n).is_empty(),
            "node {n} got a forged datagram"
        );
    }
    let hub_s = sim.session(hub);
    let v = hub_s
        .links()
        .find(|v| v.addr == Some(addr(&sim, mallory)))
        .unwrap();
    assert_eq!(v.stats.drops_forged, 6);
    assert_eq!(v.stats.drops_out_of_network, 1);
    assert_eq!(v.stats.dgrams_in, 0);
    // Through its own session, the guest cannot even try.
    assert_eq!(
        sim.guest_send(mallory, 1, Ipv4Addr::new(93, 184, 216, 34), DOOM_PORT, b"x"),
        Err(SendError::OutOfNetwork(Ipv4Addr::new(93, 184, 216, 34)))
    );
    assert_eq!(sim.session(mallory).stats().drops_out_of_network, 1);
    // And honest traffic still flows.
    sim.guest_send(mallory, 1, victim_addr, DOOM_PORT, b"hi")
        .unwrap();
    sim.run_for(ms(100));
    assert_eq!(sim.take_inbox(victim).len(), 1);
}

#[test]
fn a_peer_removed_mid_run_is_declared_dead_and_the_others_go_on() {
    let (mut sim, nodes) = star(3, lossy(77));
    let mut live = vec![true; nodes.len()];
    let mut t = Tally::default();
    exchange(&mut sim, &nodes, &live, Duration::from_secs(5), &mut t);
    let victim = 2;
    let victim_addr = addr(&sim, nodes[victim]);
    let killed_at = sim.now();
    sim.kill(nodes[victim]);
    live[victim] = false;
    // Keep playing for 15 s more; the survivors' traffic is tallied afresh.
    let mut after = Tally::default();
    exchange(&mut sim, &nodes, &live, Duration::from_secs(15), &mut after);

    let hub_events = &sim.node(nodes[0]).events;
    let (dead_at, stats) = hub_events
        .iter()
        .find_map(|(at, e)| match e {
            Event::LinkClosed {
                peer: Some(p),
                reason: CloseReason::TimedOut,
                stats,
                ..
            } if p.addr == victim_addr => Some((*at, stats.clone())),
            _ => None,
        })
        .expect("the hub declares the silent peer dead");
    let silence = dead_at - stats.last_heard.unwrap();
    assert!(silence >= Duration::from_secs(10) && silence < Duration::from_secs(11));
    assert!(dead_at > killed_at + Duration::from_secs(9));
    assert!(dead_at < killed_at + Duration::from_secs(11));
    assert!(stats.dgrams_in > 0, "the final figures come with the event");
    assert!(hub_events.iter().any(|(_, e)| matches!(
        e,
        Event::PeerLeft { peer, reason: ByeReason::TimedOut, .. } if peer.addr == victim_addr
    )));
    // The other clients are told, and forget the dead peer.
    for &n in [nodes[1], nodes[3]].iter() {
        assert!(sim.node(n).events.iter().any(|(_, e)| matches!(
            e,
            Event::PeerLeft { peer, reason: ByeReason::TimedOut, .. } if peer.addr == victim_addr
        )));
        assert!(sim.session(n).roster().all(|p| p.addr != victim_addr));
        assert!(!sim
            .node(n)
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::LinkClosed { .. })));
    }
    // The survivors kept exchanging at the usual rate all along.
    for (&(from, to), &sent) in &after.sent {
        let got = *after.received.get(&(from, to)).unwrap_or(&0);
        let ratio = f64::from(got) / f64::from(sent);
        assert!(ratio > 0.85, "{from}->{to}: {got}/{sent}");
    }
    // Datagrams for the dead peer's address now have no route at the hub.
    sim.guest_send(nodes[0], 1, victim_addr, DOOM_PORT, b"x")
        .unwrap_err();
    assert_eq!(sim.session(nodes[0]).links().count(), 2);
}

#[test]
fn clients_notice_a_dead_hub() {
    let (mut sim, nodes) = star(2, lossy(5));
    sim.run_for(Duration::from_secs(3));
    sim.kill(nodes[0]);
    sim.run_for(Duration::from_secs(12));
    for &c in &nodes[1..] {
        assert!(sim.node(c).events.iter().any(|(_, e)| matches!(
            e,
            Event::LinkClosed {
                reason: CloseReason::TimedOut,
                peer: Some(p),
                ..
            } if p.addr == Ipv4Addr::new(10, 77, 0, 1)
        )));
        assert_eq!(sim.session(c).local_addr(), None);
        assert_eq!(
            sim.guest_send(c, 1, Ipv4Addr::new(10, 77, 0, 1), DOOM_PORT, b"x"),
            Err(SendError::NotConnected)
        );
    }
}

#[test]
fn a_clean_leave_is_seen_at_once() {
    let (mut sim, nodes) = star(2, lossy(9));
    let leaver = addr(&sim, nodes[1]);
    sim.act(nodes[1], |s, now| s.close(now, ByeReason::Quit));
    sim.run_for(ms(200));
    assert!(sim.node(nodes[0]).events.iter().any(|(_, e)| matches!(
        e,
        Event::LinkClosed {
            reason: CloseReason::ByeReceived(ByeReason::Quit),
            ..
        }
    )));
    assert!(sim.node(nodes[2]).events.iter().any(|(_, e)| matches!(
        e,
        Event::PeerLeft { peer, reason: ByeReason::Quit, .. } if peer.addr == leaver
    )));
}

#[test]
fn chat_and_lobby_are_reliable_even_when_datagrams_are_not() {
    let mut cfg = lossy(11);
    cfg.datagram.loss = 0.5;
    let (mut sim, nodes) = star(3, cfg);
    sim.act(nodes[0], |s, now| s.set_lobby(now, "map=E1M1 skill=3"))
        .unwrap();
    for i in 0..20 {
        sim.act(nodes[1 + i % 3], |s, now| {
            s.send_chat(now, &format!("line {i}"))
        })
        .unwrap();
        sim.run_for(ms(5));
    }
    sim.run_for(ms(500));
    for (j, &n) in nodes.iter().enumerate() {
        let lines: Vec<String> = sim
            .node(n)
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Chat { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect();
        // Everyone gets every line but their own, in order.
        let expect: Vec<String> = (0..20)
            .filter(|i| j == 0 || 1 + i % 3 != j)
            .map(|i| format!("line {i}"))
            .collect();
        assert_eq!(lines, expect, "node {j}");
        if j > 0 {
            assert_eq!(
                sim.session(n).lobby(Ipv4Addr::new(10, 77, 0, 1)),
                Some("map=E1M1 skill=3")
            );
        }
    }
}

#[test]
fn duplication_and_reordering_are_survived() {
    let cfg = SimConfig {
        seed: 21,
        datagram: PathConfig {
            loss: 0.02,
            delay: ms(10),
            jitter: ms(10),
            reorder: 0.1,
            reorder_delay: ms(60),
            duplicate: 0.1,
        },
        control_delay: ms(10),
    };
    let (mut sim, nodes) = star(2, cfg);
    let live = vec![true; 3];
    let mut t = Tally::default();
    exchange(&mut sim, &nodes, &live, Duration::from_secs(5), &mut t);
    sim.run_for(ms(200));
    collect(&mut sim, &nodes, &mut t);
    let st = sim.stats();
    assert!(st.datagram_frames_duplicated > 0 && st.datagram_frames_reordered > 0);
    assert!(t.out_of_order > 0);
    // UDP semantics: duplicates reach the guest (Doom copes), so some pair gets more than sent.
    let total_sent: u32 = t.sent.values().sum();
    let total_got: u32 = t.received.values().sum();
    assert!(total_got > total_sent * 9 / 10);
    assert!(t.received.iter().any(|(k, &v)| v > t.sent[k] * 95 / 100));
    for &n in &nodes {
        for v in sim.session(n).links() {
            assert_eq!(v.stats.drops(), 0);
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed| {
        let (mut sim, nodes) = star(3, lossy(seed));
        let live = vec![true; 4];
        let mut t = Tally::default();
        exchange(&mut sim, &nodes, &live, Duration::from_secs(3), &mut t);
        let mut received: Vec<_> = t.received.into_iter().collect();
        received.sort();
        (received, sim.stats(), t.out_of_order)
    };
    assert_eq!(run(1234), run(1234));
    assert_ne!(run(1234), run(4321));
}

#[test]
fn a_wrong_wad_cannot_join() {
    let mut sim = SimNet::new(SimConfig::default());
    let hub = sim.add_hub(Config::new("host", wads()));
    let other = WadSet {
        iwad: [0x43; 32],
        pwads: vec![],
    };
    let c = sim.add_client(Config::new("intruder", other));
    sim.connect(c, hub);
    sim.run_for(ms(200));
    assert_eq!(sim.session(c).local_addr(), None);
    assert!(sim.node(c).events.iter().any(|(_, e)| matches!(
        e,
        Event::LinkClosed {
            reason: CloseReason::ByeReceived(ByeReason::WadMismatch),
            ..
        }
    )));
    assert_eq!(sim.session(hub).links().count(), 0);
    assert_eq!(sim.session(hub).roster().count(), 1);
}
