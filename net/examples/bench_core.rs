//! Datagrams per second through the sans-IO core (no transport, no sockets):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target cargo run -p doomlink-net --release --example bench_core
//! ```
//!
//! - "hub forward": a client's encoded datagram frame into the hub (`handle_frame`: parse,
//!   source check, route) and the forwarded frame out (`poll_output`).
//! - "end to end": guest A → client session A → hub → client session B → delivery for guest B,
//!   i.e. everything but the two transports.
//! - "broadcast": one client's broadcast into a hub with `n` clients, fanned out.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use doomlink_net::relay::wire::DatagramFrame;
use doomlink_net::{Config, LinkId, Output, Session, WadSet};

struct Star {
    now: Instant,
    hub: Session,
    clients: Vec<(Session, LinkId, LinkId)>,
}

fn star(n: usize) -> Star {
    let now = Instant::now();
    let mut hub = Session::hub(Config::new("hub", WadSet::default()), now);
    let mut clients = Vec::new();
    for i in 0..n {
        let mut c = Session::client(Config::new(format!("c{i}"), WadSet::default()), now);
        let hl = hub.link_up(now).unwrap();
        let cl = c.link_up(now).unwrap();
        while let Some(o) = c.poll_output() {
            if let Output::Transmit(t) = o {
                hub.handle_frame(now, hl, &t.frame);
            }
        }
        clients.push((c, cl, hl));
    }
    // Deliver the hub's Welcomes and PeerJoined to the clients.
    while let Some(o) = hub.poll_output() {
        if let Output::Transmit(t) = o {
            if let Some((c, cl, _)) = clients.iter_mut().find(|(_, _, hl)| *hl == t.link) {
                c.handle_frame(now, *cl, &t.frame);
            }
        }
    }
    for (c, _, _) in &mut clients {
        while c.poll_output().is_some() {}
        assert!(c.local_addr().is_some());
    }
    Star { now, hub, clients }
}

fn report(name: &str, n: u64, elapsed: Duration) {
    let per_s = n as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<36} {n:>9} datagrams in {:>7.1} ms: {:>6.2} M/s ({:.0} ns each)",
        elapsed.as_secs_f64() * 1e3,
        per_s / 1e6,
        1e9 / per_s
    );
}

fn hub_forward(payload_len: usize, n: u64) {
    let mut s = star(2);
    let src = s.clients[0].0.local_addr().unwrap();
    let dst = s.clients[1].0.local_addr().unwrap();
    let payload = vec![0xabu8; payload_len];
    let frame = DatagramFrame {
        src: SocketAddrV4::new(src, 2342),
        dst: SocketAddrV4::new(dst, 2342),
        payload: &payload,
    }
    .to_vec()
    .unwrap();
    let hl = s.clients[0].2;
    let mut out = 0u64;
    let t = Instant::now();
    for _ in 0..n {
        s.hub.handle_frame(s.now, hl, &frame);
        while let Some(o) = s.hub.poll_output() {
            if let Output::Transmit(t) = o {
                out += t.frame.len() as u64;
            }
        }
    }
    let e = t.elapsed();
    assert_eq!(out, n * frame.len() as u64);
    report(&format!("hub forward, {payload_len} B payload"), n, e);
}

fn end_to_end(payload_len: usize, n: u64) {
    let mut s = star(2);
    let dst = s.clients[1].0.local_addr().unwrap();
    let payload = vec![0xabu8; payload_len];
    let (hl_a, hl_b, cl_b) = (s.clients[0].2, s.clients[1].2, s.clients[1].1);
    let mut delivered = 0u64;
    let t = Instant::now();
    for _ in 0..n {
        let now = s.now;
        let (a, rest) = s.clients.split_at_mut(1);
        a[0].0
            .send_from_guest(now, 5000, dst, 2342, &payload)
            .unwrap();
        while let Some(o) = a[0].0.poll_output() {
            if let Output::Transmit(t) = o {
                s.hub.handle_frame(now, hl_a, &t.frame);
            }
        }
        while let Some(o) = s.hub.poll_output() {
            if let Output::Transmit(t) = o {
                debug_assert_eq!(t.link, hl_b);
                rest[0].0.handle_frame(now, cl_b, &t.frame);
            }
        }
        while let Some(o) = rest[0].0.poll_output() {
            if let Output::Deliver(d) = o {
                delivered += d.data.len() as u64;
            }
        }
    }
    let e = t.elapsed();
    assert_eq!(delivered, n * payload_len as u64);
    report(&format!("end to end, {payload_len} B payload"), n, e);
}

fn broadcast(clients: usize, n: u64) {
    let mut s = star(clients);
    let src = s.clients[0].0.local_addr().unwrap();
    let frame = DatagramFrame {
        src: SocketAddrV4::new(src, 2342),
        dst: SocketAddrV4::new(Ipv4Addr::BROADCAST, 2342),
        payload: &[0u8; 64],
    }
    .to_vec()
    .unwrap();
    let hl = s.clients[0].2;
    let mut copies = 0u64;
    let t = Instant::now();
    for _ in 0..n {
        s.hub.handle_frame(s.now, hl, &frame);
        while let Some(o) = s.hub.poll_output() {
            copies += 1;
            std::hint::black_box(o);
        }
    }
    let e = t.elapsed();
    assert_eq!(copies, n * clients as u64); // the hub's guest + every other client
    report(&format!("broadcast into {clients} clients, 64 B"), n, e);
}

fn main() {
    // A warm-up, then the figures.
    hub_forward(64, 100_000);
    println!("doomlink-net core, one thread:");
    hub_forward(64, 2_000_000);
    hub_forward(1400, 1_000_000);
    end_to_end(64, 1_000_000);
    end_to_end(1400, 500_000);
    broadcast(3, 500_000);
}
